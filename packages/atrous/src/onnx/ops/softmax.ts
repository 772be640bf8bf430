import { attrInt } from '../attributes.js';
import { sizeOf } from '../data-types.js';
import { nodeLabel } from '../graph.js';
import { expectFloat, normAxis, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/**
 * Softmax over one axis (opset 13+, default -1), or before opset 13 over the input flattened to 2-D at
 * `axis` (default 1): the same kernel with a longer axis and a single inner position.
 */
function softmax(ctx: OpContext, log: boolean): PreparedOp {
  const x = expectFloat(ctx, 0);
  const rank = x.dims.length;
  const legacy = ctx.opset < 13;
  const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', legacy ? 1 : -1), Math.max(rank, 1));
  const outer = sizeOf(x.dims.slice(0, axis));
  const len = legacy ? sizeOf(x.dims.slice(axis)) : (x.dims[axis] ?? 1);
  const inner = legacy ? 1 : sizeOf(x.dims.slice(axis + 1));
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: 'float32', dims: [...x.dims] }],
    run: ([a], [out], env) => env.kernels.norm.softmax(a!.ptr, out!.ptr, outer, len, inner, log, label),
  };
}

export const softmaxOps: Record<string, OpPreparer> = {
  Softmax: (ctx) => softmax(ctx, false),
  LogSoftmax: (ctx) => softmax(ctx, true),
};
