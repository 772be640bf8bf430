import { attrInt } from '../attributes.js';
import { sizeOf } from '../data-types.js';
import { expectFloat, normAxis, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/**
 * Softmax over one axis (opset 13+, default -1), or before opset 13 over the input flattened to 2-D at
 * `axis` (default 1): the same loop with a longer axis and a single inner position.
 */
function softmax(ctx: OpContext, log: boolean): PreparedOp {
  const x = expectFloat(ctx, 0);
  const rank = x.dims.length;
  const legacy = ctx.opset < 13;
  const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', legacy ? 1 : -1), Math.max(rank, 1));
  const outer = sizeOf(x.dims.slice(0, axis));
  const len = legacy ? sizeOf(x.dims.slice(axis)) : x.dims[axis]!;
  const inner = legacy ? 1 : sizeOf(x.dims.slice(axis + 1));
  return {
    outputs: [{ type: 'float32', dims: [...x.dims] }],
    run([a], [out]) {
      const src = a!.data, dst = out!.data;
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * len * inner + i;
          let max = -Infinity;
          for (let k = 0; k < len; k++) max = Math.max(max, src[base + k * inner]!);
          let sum = 0;
          for (let k = 0; k < len; k++) { const e = Math.exp(src[base + k * inner]! - max); dst[base + k * inner] = e; sum += e; }
          if (log) { const ls = Math.log(sum); for (let k = 0; k < len; k++) dst[base + k * inner] = src[base + k * inner]! - max - ls; }
          else for (let k = 0; k < len; k++) dst[base + k * inner]! /= sum;
        }
      }
    },
  };
}

export const softmaxOps: Record<string, OpPreparer> = {
  Softmax: (ctx) => softmax(ctx, false),
  LogSoftmax: (ctx) => softmax(ctx, true),
};
