import { show } from '../../errors.js';
import { attrInt, attrInts } from '../attributes.js';
import { numbersOf, sizeOf } from '../data-types.js';
import { constInput, input, normAxis, opError, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

function gather(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'data');
  const idx = input(ctx, 1, 'indices');
  const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', 0), x.dims.length);
  const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
  const outer = sizeOf(x.dims.slice(0, axis));
  const inner = sizeOf(x.dims.slice(axis + 1));
  const axisLen = x.dims[axis]!;
  return {
    outputs: [{ type: x.type, dims }],
    run([data, indices], [out]) {
      const n = indices!.data.length;
      for (let j = 0; j < n; j++) {
        let k = indices!.data[j]!;
        if (k < 0) k += axisLen;
        if (!(k >= 0 && k < axisLen)) throw opError(ctx.node, `index ${indices!.data[j]} is out of range for axis ${axis} of size ${axisLen}`);
        for (let o = 0; o < outer; o++) {
          const src = (o * axisLen + k) * inner;
          const dst = (o * n + j) * inner;
          out!.data.set(data!.data.subarray(src, src + inner), dst);
        }
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
  const inStrides: number[] = [];
  for (let i = rank - 1, acc = 1; i >= 0; i--) { inStrides[i] = acc; acc *= x.dims[i]!; }
  return {
    outputs: [{ type: x.type, dims }],
    run([data], [out]) {
      const n = out!.data.length;
      if (n === 0) return;
      const last = rank - 1;
      const innerLen = rank === 0 ? 1 : dims[last]!;
      const innerStep = rank === 0 ? 1 : step[last]! * inStrides[last]!;
      const idx = new Array<number>(rank).fill(0);
      const src = data!.data, dst = out!.data;
      for (let o = 0; o < n; o += innerLen) {
        let base = 0;
        for (let i = 0; i < last; i++) base += (start[i]! + idx[i]! * step[i]!) * inStrides[i]!;
        base += rank === 0 ? 0 : start[last]! * inStrides[last]!;
        if (innerStep === 1) dst.set(src.subarray(base, base + innerLen), o);
        else for (let j = 0; j < innerLen; j++) dst[o + j] = src[base + j * innerStep]!;
        for (let i = last - 1; i >= 0 && ++idx[i]! === dims[i]; i--) idx[i] = 0;
      }
    },
  };
}

export const indexingOps: Record<string, OpPreparer> = { Gather: gather, Slice: slice };
