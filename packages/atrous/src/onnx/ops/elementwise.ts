import { attrInt } from '../attributes.js';
import { sizeOf, type ElemType, type HostData } from '../data-types.js';
import { broadcastDims, forEachRun, planBroadcast } from '../broadcast.js';
import { nodeLabel } from '../graph.js';
import type { BinaryKind } from '../../kernels/elementwise-kernels.js';
import { residesInWasm, type RunEnv, type Value } from '../value.js';
import { input, opError, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/**
 * Element strides of a contiguous tensor of `dims` read over the broadcast output `outDims` (numpy rules:
 * leading axes it lacks and its size-1 axes stride 0).
 */
export function broadcastStrides(dims: readonly number[], outDims: readonly number[]): number[] {
  const rank = outDims.length;
  const s = new Array<number>(rank).fill(0);
  for (let i = dims.length - 1, acc = 1; i >= 0; i--) {
    const o = rank - dims.length + i;
    if (dims[i] !== 1) s[o] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/** Runs `body(ptrs)` with temporary wasm buffers of the given byte sizes, freed afterwards. */
export function withScratch<T>(env: RunEnv, bytes: number[], what: string, body: (ptrs: number[]) => T): T {
  const e = env.engine;
  const ptrs: number[] = [];
  const sizes = bytes.map((b) => Math.max(16, b));
  try {
    for (const b of sizes) ptrs.push(e.alloc(b, what));
    return body(ptrs);
  } finally {
    ptrs.forEach((p, i) => e.free(p, sizes[i]!));
  }
}

/** A one-byte true (for Not as xor with a broadcast 1) or a float scalar, in a scratch buffer. */
export function withScalar<T>(env: RunEnv, value: number, type: 'float32' | 'bool', what: string, body: (ptr: number) => T): T {
  return withScratch(env, [16], what, ([p]) => {
    if (type === 'float32') env.kernels.layout.fill(p!, 1, value, what);
    else new Uint8Array(env.engine.exports.memory.buffer, p!, 1)[0] = value;
    return body(p!);
  });
}

// Integer (shape-math) loops: int64 / int32 values live on the JavaScript side as float64 numbers, and
// are metadata-sized. Float and byte tensors never come here.
type IntFn = (a: number, b: number) => number;
const INT_OPS: Record<string, IntFn> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => Math.trunc(a / b),
  pow: (a, b) => Math.pow(a, b),
  min: (a, b) => Math.min(a, b),
  max: (a, b) => Math.max(a, b),
  mod: (a, b) => { const r = a % b; return r !== 0 && (r < 0) !== (b < 0) ? r + b : r; },
  fmod: (a, b) => a % b,
  equal: (a, b) => (a === b ? 1 : 0),
  less: (a, b) => (a < b ? 1 : 0),
  lessOrEqual: (a, b) => (a <= b ? 1 : 0),
  greater: (a, b) => (a > b ? 1 : 0),
  greaterOrEqual: (a, b) => (a >= b ? 1 : 0),
};

function intBinary(kind: BinaryKind, out: HostData, outDims: number[], a: Value, b: Value): void {
  const f = INT_OPS[kind]!;
  const plan = planBroadcast(outDims, [a.dims, b.dims]);
  const [as, bs] = plan.innerStrides as [number, number];
  const ad = a.data, bd = b.data;
  forEachRun(plan, ([ai, bi], o) => {
    let i0 = ai!, i1 = bi!;
    for (let i = 0; i < plan.inner; i++, i0 += as, i1 += bs) out[o + i] = f(ad[i0]!, bd[i1]!);
  });
}

const COMPARISONS: Record<string, BinaryKind> = { Equal: 'equal', Less: 'less', LessOrEqual: 'lessOrEqual', Greater: 'greater', GreaterOrEqual: 'greaterOrEqual' };
const ARITHMETIC: Record<string, BinaryKind> = { Add: 'add', Sub: 'sub', Mul: 'mul', Div: 'div', Pow: 'pow', Min: 'min', Max: 'max', Sum: 'add', Mean: 'add', PRelu: 'prelu' };
const LOGICAL: Record<string, BinaryKind> = { And: 'and', Or: 'or', Xor: 'xor' };
const VARIADIC = new Set(['Min', 'Max', 'Sum', 'Mean']);

/**
 * Every binary (and variadic) element-wise op. Float32 on the binary kernel; bool And/Or/Xor/Equal on its
 * byte ops; uint8 widened to float32 in scratch (exact: every uint8 result of these ops is an integer below
 * 2^24), computed there and narrowed back (wrapping, as onnxruntime's uint8 does); int64/int32 shape math
 * on the JavaScript side.
 */
function binary(ctx: OpContext): PreparedOp {
  const { node } = ctx;
  const op = node.opType;
  const variadic = VARIADIC.has(op);
  const metas = variadic ? ctx.inputs.map((_, i) => input(ctx, i)) : [input(ctx, 0, 'A'), input(ctx, 1, 'B')];
  if (metas.length === 0) throw opError(node, 'needs at least one input');
  const type = metas[0]!.type;
  // Pow's exponent may have another numeric type than its base (opset 12+): float base, integer exponent.
  if (op === 'Pow' && type === 'float32' && (metas[1]!.type === 'int64' || metas[1]!.type === 'int32')) return powIntExponent(ctx, metas[0]!.dims, metas[1]!.dims);
  for (const m of metas) {
    if (m.type !== type && !(op === 'Pow' && !residesInWasm(type))) throw opError(node, `inputs must have one element type, got ${metas.map((x) => x.type).join(' and ')}`);
  }
  let kind: BinaryKind;
  if (op === 'Mod') {
    kind = attrInt(node, 'fmod', 0) === 1 ? 'fmod' : 'mod';
  } else {
    kind = (COMPARISONS[op] ?? ARITHMETIC[op] ?? LOGICAL[op])!;
  }
  const logical = op in LOGICAL;
  if (logical && type !== 'bool') throw opError(node, `inputs must be bool, got ${type}`);
  if (!logical && type === 'bool' && op !== 'Equal') throw opError(node, `bool inputs are not valid for ${op}`);
  if (op === 'PRelu' && type !== 'float32') throw unsupported(node, `PRelu of ${type} is not supported`);
  let shapes = metas.map((m) => m.dims);
  // PRelu before opset 7 broadcast a [C] slope over the channel axis of [N, C, ...] ("unidirectional" from axis 1).
  if (op === 'PRelu' && ctx.opset < 7) {
    const [x, s] = shapes as [number[], number[]];
    if (s.length === 1 && x.length >= 2 && s[0] === x[1] && s[0] !== x[x.length - 1]) shapes = [x, [s[0]!, ...new Array<number>(x.length - 2).fill(1)]];
  }
  const dims = broadcastDims(shapes, nodeLabel(node));
  const compare = op in COMPARISONS || logical;
  const outType: ElemType = compare ? 'bool' : type;
  const label = nodeLabel(node);
  const strides = shapes.map((s) => broadcastStrides(s, dims));
  const own = broadcastStrides(dims, dims);
  const n = sizeOf(dims);
  const count = metas.length;

  if (!residesInWasm(type)) {
    return {
      outputs: [{ type: outType, dims }],
      run(inputs, [out]) {
        const o = out!;
        if (count === 1) o.data.set(inputs[0]!.data);
        else {
          intBinary(kind, o.data, dims, inputs[0]!, inputs[1]!);
          for (let i = 2; i < count; i++) intBinary(kind, o.data, dims, { ...o, dims }, inputs[i]!);
        }
        if (op === 'Mean') for (let i = 0; i < o.data.length; i++) o.data[i] = Math.trunc(o.data[i]! / count);
      },
    };
  }

  /** out = a kind b, then out = out kind in_i: float32 addresses (or bytes for the logical kinds). */
  const chain = (env: RunEnv, ptrs: number[], out: number) => {
    const k = env.kernels.elementwise;
    if (count === 1) {
      env.kernels.layout.copyStrided(ptrs[0]!, out, dims, strides[0]!, own, label, type === 'float32' ? 4 : 1);
      return;
    }
    k.binary(kind, ptrs[0]!, ptrs[1]!, out, dims, strides[0]!, strides[1]!, label);
    for (let i = 2; i < count; i++) k.binary(kind, out, ptrs[i]!, out, dims, own, strides[i]!, label);
    if (op === 'Mean') withScalar(env, 1 / count, 'float32', label, (s) => k.binary('mul', out, s, out, dims, own, new Array<number>(dims.length).fill(0), label));
  };

  if (type === 'float32') {
    return { outputs: [{ type: outType, dims }], run: (inputs, [out], env) => chain(env, inputs.map((v) => v!.ptr), out!.ptr) };
  }
  if (type === 'bool') {
    // And / Or / Xor directly; Equal is not Xor.
    return {
      outputs: [{ type: 'bool', dims }],
      run(inputs, [out], env) {
        const [a, b] = inputs as [Value, Value];
        const k = env.kernels.elementwise;
        k.binary(op === 'Equal' ? 'xor' : kind, a.ptr, b.ptr, out!.ptr, dims, strides[0]!, strides[1]!, label);
        if (op === 'Equal') withScalar(env, 1, 'bool', label, (one) => k.binary('xor', out!.ptr, one, out!.ptr, dims, own, new Array<number>(dims.length).fill(0), label));
      },
    };
  }
  // uint8: widened to float32 in scratch.
  const sizes = metas.map((m) => sizeOf(m.dims) * 4);
  return {
    outputs: [{ type: outType, dims }],
    run(inputs, [out], env) {
      withScratch(env, [...sizes, compare ? 0 : n * 4], `${label}: uint8 widened to float32`, (ptrs) => {
        inputs.forEach((v, i) => env.kernels.layout.convert(v!.ptr, ptrs[i]!, sizeOf(v!.dims), 'u8ToF32', label));
        if (compare) {
          env.kernels.elementwise.binary(kind, ptrs[0]!, ptrs[1]!, out!.ptr, dims, strides[0]!, strides[1]!, label);
          return;
        }
        const wide = ptrs[count]!;
        chain(env, ptrs, wide);
        // Integer division and mean truncate; the narrowing conversion truncates toward zero.
        env.kernels.layout.convert(wide, out!.ptr, n, 'f32ToU8', label);
      });
    },
  };
}

/** Pow of a float32 base by an integer exponent (host-held): the exponent written as float32 into scratch. */
function powIntExponent(ctx: OpContext, base: number[], exponent: number[]): PreparedOp {
  const label = nodeLabel(ctx.node);
  const dims = broadcastDims([base, exponent], label);
  const [as, bs] = [broadcastStrides(base, dims), broadcastStrides(exponent, dims)];
  const m = sizeOf(exponent);
  return {
    outputs: [{ type: 'float32', dims }],
    run: ([a, b], [out], env) => withScratch(env, [m * 4], `${label}: exponent as float32`, ([e]) => {
      env.engine.f32(e!, m).set(b!.data);
      env.kernels.elementwise.binary('pow', a!.ptr, e!, out!.ptr, dims, as, bs, label);
    }),
  };
}

/** Where: float32 on the kernel, bytes widened to float32 in scratch, integers on the JavaScript side. */
function where(ctx: OpContext): PreparedOp {
  const [c, x, y] = [input(ctx, 0, 'condition'), input(ctx, 1, 'X'), input(ctx, 2, 'Y')];
  if (x.type !== y.type) throw opError(ctx.node, `X and Y must have one element type, got ${x.type} and ${y.type}`);
  if (c.type !== 'bool') throw opError(ctx.node, `condition must be bool, got ${c.type}`);
  const dims = broadcastDims([c.dims, x.dims, y.dims], nodeLabel(ctx.node));
  const label = nodeLabel(ctx.node);
  const [cs, xs, ys] = [c.dims, x.dims, y.dims].map((s) => broadcastStrides(s, dims)) as [number[], number[], number[]];
  const outputs = [{ type: x.type, dims }];
  if (x.type === 'float32') {
    return { outputs, run: ([cond, a, b], [out], env) => env.kernels.elementwise.where(cond!.ptr, a!.ptr, b!.ptr, out!.ptr, dims, cs, xs, ys, label) };
  }
  if (residesInWasm(x.type)) {
    const n = sizeOf(dims);
    return {
      outputs,
      run([cond, a, b], [out], env) {
        withScratch(env, [sizeOf(x.dims) * 4, sizeOf(y.dims) * 4, n * 4], `${label}: bytes widened to float32`, ([pa, pb, po]) => {
          const l = env.kernels.layout;
          l.convert(a!.ptr, pa!, sizeOf(x.dims), 'u8ToF32', label);
          l.convert(b!.ptr, pb!, sizeOf(y.dims), 'u8ToF32', label);
          env.kernels.elementwise.where(cond!.ptr, pa!, pb!, po!, dims, cs, xs, ys, label);
          l.convert(po!, out!.ptr, n, 'f32ToU8', label);
        });
      },
    };
  }
  return {
    outputs,
    run([cond, a, b], [out]) {
      const plan = planBroadcast(dims, [cond!.dims, a!.dims, b!.dims]);
      const [pc, pa, pb] = plan.innerStrides as [number, number, number];
      const cd = cond!.data, ad = a!.data, bd = b!.data, od = out!.data;
      forEachRun(plan, ([ci, ai, bi], o) => {
        let i0 = ci!, i1 = ai!, i2 = bi!;
        for (let i = 0; i < plan.inner; i++, i0 += pc, i1 += pa, i2 += pb) od[o + i] = cd[i0] ? ad[i1]! : bd[i2]!;
      });
    },
  };
}

export const elementwiseOps: Record<string, OpPreparer> = {
  Where: where,
  ...Object.fromEntries(
    [...Object.keys(ARITHMETIC), ...Object.keys(COMPARISONS), ...Object.keys(LOGICAL), 'Mod'].map((op) => [op, binary]),
  ),
};
