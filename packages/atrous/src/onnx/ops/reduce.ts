import { attrInt, attrInts } from '../attributes.js';
import { numbersOf, sizeOf } from '../data-types.js';
import { constInput, input, normAxis, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

type Reducer = 'mean' | 'sum' | 'max' | 'min' | 'prod' | 'sumSquare' | 'l2';

/** Reduce ops take axes as an attribute until opset 18 (ReduceSum: until 13), as an input after. */
function reduce(ctx: OpContext, kind: Reducer, axesAsInputFrom: number): PreparedOp {
  const x = input(ctx, 0, 'data');
  const rank = x.dims.length;
  const keep = attrInt(ctx.node, 'keepdims', 1) === 1;
  const raw = ctx.opset < axesAsInputFrom ? attrInts(ctx.node, 'axes') : ctx.inputs[1] ? numbersOf(constInput(ctx, 1, 'axes')!) : undefined;
  const noop = attrInt(ctx.node, 'noop_with_empty_axes', 0) === 1;
  const axes = raw && raw.length > 0 ? raw.map((a) => normAxis(ctx.node, a, rank)) : noop ? [] : x.dims.map((_, i) => i);
  const reduced = x.dims.map((_, i) => axes.includes(i));
  const dims = keep ? x.dims.map((d, i) => (reduced[i] ? 1 : d)) : x.dims.filter((_, i) => !reduced[i]);
  const count = sizeOf(x.dims.filter((_, i) => reduced[i]));
  const outStrides: number[] = [];
  for (let i = rank - 1, acc = 1; i >= 0; i--) { outStrides[i] = reduced[i] ? 0 : acc; if (!reduced[i]) acc *= x.dims[i]!; }
  const init = kind === 'max' ? -Infinity : kind === 'min' ? Infinity : kind === 'prod' ? 1 : 0;
  return {
    outputs: [{ type: x.type, dims }],
    run([a], [out]) {
      const dst = out!.data, src = a!.data, n = src.length, idx = new Array<number>(rank).fill(0);
      dst.fill(init);
      let o = 0;
      for (let s = 0; s < n; s++) {
        const v = src[s]!;
        switch (kind) {
          case 'max': if (v > dst[o]!) dst[o] = v; break;
          case 'min': if (v < dst[o]!) dst[o] = v; break;
          case 'prod': dst[o]! *= v; break;
          case 'sumSquare': case 'l2': dst[o]! += v * v; break;
          default: dst[o]! += v;
        }
        for (let i = rank - 1; i >= 0; i--) {
          o += outStrides[i]!;
          if (++idx[i]! < x.dims[i]!) break;
          o -= outStrides[i]! * x.dims[i]!;
          idx[i] = 0;
        }
      }
      if (kind === 'mean') for (let i = 0; i < dst.length; i++) dst[i]! /= count;
      if (kind === 'l2') for (let i = 0; i < dst.length; i++) dst[i] = Math.sqrt(dst[i]!);
    },
  };
}

function argExtreme(ctx: OpContext, max: boolean): PreparedOp {
  const x = input(ctx, 0, 'data');
  const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', 0), x.dims.length);
  const keep = attrInt(ctx.node, 'keepdims', 1) === 1;
  const last = attrInt(ctx.node, 'select_last_index', 0) === 1;
  const dims = keep ? x.dims.map((d, i) => (i === axis ? 1 : d)) : x.dims.filter((_, i) => i !== axis);
  const outer = sizeOf(x.dims.slice(0, axis));
  const inner = sizeOf(x.dims.slice(axis + 1));
  const len = x.dims[axis]!;
  return {
    outputs: [{ type: 'int64', dims }],
    run([a], [out]) {
      const src = a!.data, dst = out!.data;
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          let best = 0;
          let bestV = src[o * len * inner + i]!;
          for (let k = 1; k < len; k++) {
            const v = src[(o * len + k) * inner + i]!;
            if (max ? v > bestV || (last && v === bestV) : v < bestV || (last && v === bestV)) { best = k; bestV = v; }
          }
          dst[o * inner + i] = best;
        }
      }
    },
  };
}

export const reduceOps: Record<string, OpPreparer> = {
  ReduceMean: (ctx) => reduce(ctx, 'mean', 18),
  ReduceSum: (ctx) => reduce(ctx, 'sum', 13),
  ReduceMax: (ctx) => reduce(ctx, 'max', 18),
  ReduceMin: (ctx) => reduce(ctx, 'min', 18),
  ReduceProd: (ctx) => reduce(ctx, 'prod', 18),
  ReduceSumSquare: (ctx) => reduce(ctx, 'sumSquare', 18),
  ReduceL2: (ctx) => reduce(ctx, 'l2', 18),
  ArgMax: (ctx) => argExtreme(ctx, true),
  ArgMin: (ctx) => argExtreme(ctx, false),
};
