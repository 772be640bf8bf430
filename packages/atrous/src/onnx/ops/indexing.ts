import { show } from '../../errors.js';
import { attrInt, attrInts } from '../attributes.js';
import { numbersOf, sizeOf } from '../data-types.js';
import type { ElemBytes } from '../../kernels/layout-kernels.js';
import { nodeLabel } from '../graph.js';
import { elemBytes, residesInWasm, type Value } from '../value.js';
import { copyRegion } from './layout.js';
import { constInput, input, normAxis, opError, stridesOf, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

function gather(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'data');
  const idx = input(ctx, 1, 'indices');
  if (residesInWasm(idx.type)) throw opError(ctx.node, `indices ${show(ctx.node.inputs[1])} must be integers, got ${idx.type}`);
  const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', 0), x.dims.length);
  const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
  const outer = sizeOf(x.dims.slice(0, axis));
  const inner = sizeOf(x.dims.slice(axis + 1));
  const axisLen = x.dims[axis]!;
  const count = sizeOf(idx.dims);
  const label = nodeLabel(ctx.node);
  /** The indices (host integers, metadata) checked and made non-negative. */
  const normalised = (indices: Value): Int32Array => {
    const out = new Int32Array(count);
    for (let j = 0; j < count; j++) {
      let k = indices.data[j]!;
      if (k < 0) k += axisLen;
      if (!(k >= 0 && k < axisLen)) throw opError(ctx.node, `index ${indices.data[j]} is out of range for axis ${axis} of size ${axisLen}`);
      out[j] = k;
    }
    return out;
  };
  return {
    outputs: [{ type: x.type, dims }],
    run([data, indices], [out], env) {
      const ks = normalised(indices!);
      if (sizeOf(dims) === 0) return;
      if (!residesInWasm(x.type)) {
        for (let j = 0; j < count; j++) {
          for (let o = 0; o < outer; o++) {
            const src = (o * axisLen + ks[j]!) * inner;
            out!.data.set(data!.data.subarray(src, src + inner), (o * count + j) * inner);
          }
        }
        return;
      }
      // The indices go to the kernel as i32s in a buffer of their own, for this step only.
      const e = env.engine;
      const bytes = Math.max(16, count * 4);
      const ptr = e.alloc(bytes, `${label}: indices`);
      try {
        new Int32Array(e.exports.memory.buffer, ptr, count).set(ks);
        env.kernels.layout.gather(data!.ptr, ptr, out!.ptr, outer, axisLen, inner, count, label, elemBytes(x.type) as ElemBytes);
      } finally {
        e.free(ptr, bytes);
      }
    },
  };
}

/** Slice parameters resolved against the input dims: per axis start, step and output length. */
function slice(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'data');
  const rank = x.dims.length;
  let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
  if (ctx.opset < 10) {
    starts = attrInts(ctx.node, 'starts', []);
    ends = attrInts(ctx.node, 'ends', []);
    axes = attrInts(ctx.node, 'axes');
  } else {
    starts = numbersOf(constInput(ctx, 1, 'starts')!);
    ends = numbersOf(constInput(ctx, 2, 'ends')!);
    axes = ctx.inputs[3] ? numbersOf(constInput(ctx, 3, 'axes')!) : undefined;
    steps = ctx.inputs[4] ? numbersOf(constInput(ctx, 4, 'steps')!) : undefined;
  }
  if (starts.length !== ends.length) throw opError(ctx.node, `starts ${show(starts)} and ends ${show(ends)} differ in length`);
  const start = new Array<number>(rank).fill(0);
  const step = new Array<number>(rank).fill(1);
  const dims = [...x.dims];
  (axes ?? starts.map((_, i) => i)).forEach((rawAxis, i) => {
    const a = normAxis(ctx.node, rawAxis, rank, 'axes value');
    const d = x.dims[a]!;
    const s = steps?.[i] ?? 1;
    if (s === 0) throw opError(ctx.node, 'steps must not be 0');
    let b = starts[i]!, e = ends[i]!;
    if (b < 0) b += d;
    if (e < 0) e += d;
    if (s > 0) {
      b = Math.min(Math.max(b, 0), d);
      e = Math.min(Math.max(e, 0), d);
      dims[a] = Math.max(0, Math.ceil((e - b) / s));
    } else {
      b = Math.min(Math.max(b, -1), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
      dims[a] = Math.max(0, Math.ceil((b - e) / -s));
    }
    start[a] = b;
    step[a] = s;
  });
  // One strided copy: element 0 at the starts, each axis stepping by its step (negative: backwards).
  const inStrides = stridesOf(x.dims);
  const origin = start.reduce((acc, b, a) => acc + b * inStrides[a]!, 0);
  const ss = step.map((st, a) => st * inStrides[a]!);
  const ds = stridesOf(dims);
  return {
    outputs: [{ type: x.type, dims }],
    run: ([data], [out], env) => copyRegion(env, ctx.node, x.type, data!, origin, out!, 0, dims, ss, ds),
  };
}

export const indexingOps: Record<string, OpPreparer> = { Gather: gather, Slice: slice };
