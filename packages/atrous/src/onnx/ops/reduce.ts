import { show } from '../../errors.js';
import { attrInt, attrInts } from '../attributes.js';
import { numbersOf, sizeOf } from '../data-types.js';
import { nodeLabel } from '../graph.js';
import type { ReduceKind } from '../../kernels/normalization-kernels.js';
import { MAX_LAYOUT_RANK } from '../../kernels/layout-kernels.js';
import { residesInWasm, type RunEnv } from '../value.js';
import { withScratch } from './elementwise.js';
import { constInput, input, normAxis, opError, stridesOf, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

type Reducer = Exclude<ReduceKind, 'argMax' | 'argMin'>;

/**
 * The reduction as the kernel sees it: `[outer, len, inner]` when the reduced axes are one contiguous run
 * (size-1 axes ignored), else a transpose `perm` of the merged dims that puts the kept axes first and the
 * reduced ones last (one strided copy into scratch, then rows of `len`). A reduction of non-adjacent axes is
 * thereby one pass, exact for every kind (log-sum and L2 do not decompose into successive reductions).
 */
interface ReducePlan {
  outer: number;
  len: number;
  inner: number;
  transpose?: { dims: number[]; srcStrides: number[] };
}

function planReduce(dims: readonly number[], reduced: readonly boolean[]): ReducePlan {
  // Merge adjacent axes of the same kind, dropping size-1 axes (they change no layout).
  const groups: { size: number; reduced: boolean }[] = [];
  dims.forEach((d, i) => {
    if (d === 1) return;
    const last = groups[groups.length - 1];
    if (last && last.reduced === reduced[i]) last.size *= d;
    else groups.push({ size: d, reduced: reduced[i]! });
  });
  const total = sizeOf(dims);
  const len = sizeOf(groups.filter((g) => g.reduced).map((g) => g.size));
  const runs = groups.filter((g) => g.reduced).length;
  if (runs <= 1) {
    const at = groups.findIndex((g) => g.reduced);
    const outer = at < 0 ? total : sizeOf(groups.slice(0, at).map((g) => g.size));
    return { outer, len, inner: at < 0 ? 1 : sizeOf(groups.slice(at + 1).map((g) => g.size)), transpose: undefined };
  }
  const gd = groups.map((g) => g.size);
  const gs = stridesOf(gd);
  const order = [...groups.keys()].filter((i) => !groups[i]!.reduced).concat([...groups.keys()].filter((i) => groups[i]!.reduced));
  const kept = sizeOf(groups.filter((g) => !g.reduced).map((g) => g.size));
  return { outer: kept, len, inner: 1, transpose: { dims: order.map((i) => gd[i]!), srcStrides: order.map((i) => gs[i]!) } };
}

// Integer (shape-math) reductions on the JavaScript side; floats and bytes never come here.
const INT_STEP: Partial<Record<Reducer, [number, (acc: number, v: number) => number]>> = {
  sum: [0, (a, v) => a + v],
  mean: [0, (a, v) => a + v],
  max: [-Infinity, (a, v) => (v > a ? v : a)],
  min: [Infinity, (a, v) => (v < a ? v : a)],
  prod: [1, (a, v) => a * v],
  sumSquare: [0, (a, v) => a + v * v],
  l1: [0, (a, v) => a + Math.abs(v)],
};

/** Reduce ops take axes as an attribute until opset 18 (ReduceSum: until 13), as an input after. */
function reduce(ctx: OpContext, kind: Reducer, axesAsInputFrom: number): PreparedOp {
  const { node } = ctx;
  const x = input(ctx, 0, 'data');
  const rank = x.dims.length;
  const keep = attrInt(node, 'keepdims', 1) === 1;
  const raw = ctx.opset < axesAsInputFrom ? attrInts(node, 'axes') : ctx.inputs[1] ? numbersOf(constInput(ctx, 1, 'axes')!) : undefined;
  const noop = attrInt(node, 'noop_with_empty_axes', 0) === 1;
  const axes = raw && raw.length > 0 ? raw.map((a) => normAxis(node, a, rank)) : noop ? [] : x.dims.map((_, i) => i);
  const reduced = x.dims.map((_, i) => axes.includes(i));
  const dims = keep ? x.dims.map((d, i) => (reduced[i] ? 1 : d)) : x.dims.filter((_, i) => !reduced[i]);
  const outputs = [{ type: x.type, dims }];
  const label = nodeLabel(node);
  const plan = planReduce(x.dims, reduced);
  if (plan.transpose && plan.transpose.dims.length > MAX_LAYOUT_RANK) {
    throw unsupported(node, `reducing axes ${show(axes)} of dims ${show(x.dims)}: more than ${MAX_LAYOUT_RANK} alternating kept and reduced axis runs`);
  }
  const n = sizeOf(x.dims);

  /** One reduction of float32 `src` into float32 `dst`. */
  const run = (env: RunEnv, src: number, dst: number) => {
    const t = plan.transpose;
    if (!t) return env.kernels.norm.reduce(kind, src, dst, plan.outer, plan.len, plan.inner, label);
    withScratch(env, [n * 4], `${label}: reduced axes moved last`, ([moved]) => {
      env.kernels.layout.copyStrided(src, moved!, t.dims, t.srcStrides, stridesOf(t.dims), label);
      env.kernels.norm.reduce(kind, moved!, dst, plan.outer, plan.len, 1, label);
    });
  };

  if (x.type === 'float32') return { outputs, run: ([a], [out], env) => run(env, a!.ptr, out!.ptr) };
  if (x.type === 'bool') throw opError(node, `input must be numeric, got ${x.type}`);
  if (residesInWasm(x.type)) {
    // uint8: widened to float32 (exact), reduced, narrowed back (wrapping as integer arithmetic does).
    const m = sizeOf(dims);
    return {
      outputs,
      run: ([a], [out], env) => withScratch(env, [n * 4, m * 4], `${label}: uint8 widened to float32`, ([wide, res]) => {
        env.kernels.layout.convert(a!.ptr, wide!, n, 'u8ToF32', label);
        run(env, wide!, res!);
        env.kernels.layout.convert(res!, out!.ptr, m, 'f32ToU8', label);
      }),
    };
  }
  const step = INT_STEP[kind];
  if (!step) throw opError(node, `${node.opType} of ${x.type} is not defined`);
  const [init, f] = step;
  const outStrides: number[] = [];
  for (let i = rank - 1, acc = 1; i >= 0; i--) { outStrides[i] = reduced[i] ? 0 : acc; if (!reduced[i]) acc *= x.dims[i]!; }
  const count = sizeOf(x.dims.filter((_, i) => reduced[i]));
  return {
    outputs,
    run([a], [out]) {
      const dst = out!.data, src = a!.data, idx = new Array<number>(rank).fill(0);
      dst.fill(init);
      let o = 0;
      for (let s = 0; s < n; s++) {
        dst[o] = f(dst[o]!, src[s]!);
        for (let i = rank - 1; i >= 0; i--) {
          o += outStrides[i]!;
          if (++idx[i]! < x.dims[i]!) break;
          o -= outStrides[i]! * x.dims[i]!;
          idx[i] = 0;
        }
      }
      if (kind === 'mean') for (let i = 0; i < dst.length; i++) dst[i] = Math.trunc(dst[i]! / count);
    },
  };
}

/** ArgMax / ArgMin: float32 on the kernel (int32 indices in scratch, copied to the int64 output). */
function argExtreme(ctx: OpContext, max: boolean): PreparedOp {
  const { node } = ctx;
  const x = input(ctx, 0, 'data');
  const axis = normAxis(node, attrInt(node, 'axis', 0), x.dims.length);
  const keep = attrInt(node, 'keepdims', 1) === 1;
  const last = attrInt(node, 'select_last_index', 0) === 1;
  const dims = keep ? x.dims.map((d, i) => (i === axis ? 1 : d)) : x.dims.filter((_, i) => i !== axis);
  const outer = sizeOf(x.dims.slice(0, axis));
  const inner = sizeOf(x.dims.slice(axis + 1));
  const len = x.dims[axis]!;
  const m = outer * inner;
  if (len === 0 && m > 0) throw opError(node, `the reduced axis ${axis} of dims ${show(x.dims)} is empty`);
  const outputs = [{ type: 'int64' as const, dims }];
  const label = nodeLabel(node);
  const kind = max ? 'argMax' : 'argMin';
  if (residesInWasm(x.type)) {
    if (x.type === 'bool') throw opError(node, `input must be numeric, got ${x.type}`);
    const n = sizeOf(x.dims);
    return {
      outputs,
      run: ([a], [out], env) => withScratch(env, [m * 4, x.type === 'float32' ? 0 : n * 4], `${label}: indices`, ([indices, wide]) => {
        let src = a!.ptr;
        if (x.type !== 'float32') { env.kernels.layout.convert(src, wide!, n, 'u8ToF32', label); src = wide!; }
        env.kernels.norm.reduce(kind, src, indices!, outer, len, inner, label, last);
        out!.data.set(new Int32Array(env.engine.exports.memory.buffer, indices!, m));
      }),
    };
  }
  return {
    outputs,
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
  ReduceL1: (ctx) => reduce(ctx, 'l1', 18),
  ReduceL2: (ctx) => reduce(ctx, 'l2', 18),
  ReduceLogSum: (ctx) => reduce(ctx, 'logSum', 18),
  ReduceLogSumExp: (ctx) => reduce(ctx, 'logSumExp', 18),
  ArgMax: (ctx) => argExtreme(ctx, true),
  ArgMin: (ctx) => argExtreme(ctx, false),
};
