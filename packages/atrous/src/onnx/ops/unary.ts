import { attrFloat, attrString } from '../attributes.js';
import { scalarOf, sizeOf } from '../data-types.js';
import { ActivationCode } from '../../wasm/abi.js';
import type { ActivationParams } from '../../ops/activation.js';
import { nodeLabel } from '../graph.js';
import { residesInWasm } from '../value.js';
import { broadcastStrides, withScalar, withScratch } from './elementwise.js';
import { expectFloat, input, opError, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

type IntFn = (x: number) => number;

/**
 * A unary op on the kernels' one activation enum: float32 directly, uint8 widened to float32 in scratch and
 * narrowed back. `int` is its form on integers (int64 / int32 shape math, on the JavaScript side); ops
 * without one take floats only.
 */
function unary(ctx: OpContext, a: ActivationParams, int?: IntFn): PreparedOp {
  const x = input(ctx, 0, 'X');
  const n = sizeOf(x.dims);
  const label = nodeLabel(ctx.node);
  const outputs = [{ type: x.type, dims: [...x.dims] }];
  if (x.type === 'float32') return { outputs, run: ([src], [dst], env) => env.kernels.elementwise.unary(src!.ptr, dst!.ptr, n, a, label), gradient: { kind: 'activation', params: a } };
  if (!int || x.type === 'bool') throw opError(ctx.node, `input ${JSON.stringify(ctx.node.inputs[0])} must be a float tensor, got ${x.type}`);
  if (residesInWasm(x.type)) {
    return {
      outputs,
      run: ([src], [dst], env) => withScratch(env, [n * 4], `${label}: uint8 widened to float32`, ([wide]) => {
        env.kernels.layout.convert(src!.ptr, wide!, n, 'u8ToF32', label);
        env.kernels.elementwise.unary(wide!, wide!, n, a, label);
        env.kernels.layout.convert(wide!, dst!.ptr, n, 'f32ToU8', label);
      }),
    };
  }
  return {
    outputs,
    run([src], [dst]) {
      const s = src!.data, d = dst!.data;
      for (let i = 0; i < n; i++) d[i] = int(s[i]!);
    },
  };
}

const code = (c: number, p0 = 0, p1 = 0): ActivationParams => ({ code: c, p0, p1 });
const identity: IntFn = (v) => v;

/** Not on bool bytes: xor with a broadcast true. */
function not(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'X');
  if (x.type !== 'bool') throw opError(ctx.node, `input must be bool, got ${x.type}`);
  const dims = [...x.dims];
  const own = broadcastStrides(dims, dims);
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: 'bool', dims }],
    run: ([src], [dst], env) => withScalar(env, 1, 'bool', label, (one) => env.kernels.elementwise.binary('xor', src!.ptr, one, dst!.ptr, dims, own, dims.map(() => 0), label)),
  };
}

/** Bounds of a Clip: attributes before opset 11, optional inputs from 11 on. */
export function clipBounds(ctx: OpContext): { min: number; max: number } | undefined {
  if (ctx.opset < 11) {
    return { min: attrFloat(ctx.node, 'min', -3.4028234663852886e38), max: attrFloat(ctx.node, 'max', 3.4028234663852886e38) };
  }
  const bound = (i: number, fallback: number): number | undefined => {
    if (ctx.inputs[i] === undefined) return fallback;
    const c = ctx.consts[i];
    return c === undefined ? undefined : scalarOf(c, `${ctx.node.opType} node ${JSON.stringify(ctx.node.name)} input ${i}`);
  };
  const min = bound(1, -Infinity);
  const max = bound(2, Infinity);
  return min === undefined || max === undefined ? undefined : { min, max };
}

/**
 * Clip: constant bounds as the kernels' clip (min(max(x, lo), hi), so lo > hi gives hi everywhere);
 * bounds computed at run time as a broadcast max with lo, then min with hi, on the binary kernel.
 */
function clip(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'input');
  const bounds = clipBounds(ctx);
  const label = nodeLabel(ctx.node);
  if (bounds) {
    // The kernels clamp to finite bounds; float32's largest value stands in for an infinite one.
    const f32max = 3.4028234663852886e38;
    const hi = Math.min(bounds.max, f32max);
    const lo = Math.min(Math.max(bounds.min, -f32max), hi);
    return unary(ctx, code(ActivationCode.clip, lo, hi), (v) => Math.min(Math.max(v, bounds.min), bounds.max));
  }
  for (const i of [1, 2]) {
    const b = ctx.inputs[i];
    if (b && sizeOf(b.dims) !== 1) throw opError(ctx.node, `input ${i} must be a scalar, got dims ${JSON.stringify(b.dims)}`);
    if (b && b.type !== x.type) throw opError(ctx.node, `input ${i} must be ${x.type}, got ${b.type}`);
  }
  const dims = [...x.dims];
  const outputs = [{ type: x.type, dims }];
  if (x.type === 'float32') {
    const own = broadcastStrides(dims, dims);
    const scalar = dims.map(() => 0);
    return {
      outputs,
      run([src, lo, hi], [dst], env) {
        const k = env.kernels.elementwise;
        let from = src!.ptr;
        if (lo) { k.binary('max', from, lo.ptr, dst!.ptr, dims, own, scalar, label); from = dst!.ptr; }
        if (hi) { k.binary('min', from, hi.ptr, dst!.ptr, dims, own, scalar, label); from = dst!.ptr; }
        if (from !== dst!.ptr) env.kernels.layout.copyStrided(from, dst!.ptr, dims, own, own, label);
      },
    };
  }
  if (residesInWasm(x.type)) throw opError(ctx.node, `Clip of ${x.type} with bounds computed at run time is not supported`);
  return {
    outputs,
    run([src, lo, hi], [dst]) {
      const min = lo ? lo.data[0]! : -Infinity, max = hi ? hi.data[0]! : Infinity;
      const s = src!.data, d = dst!.data, n = d.length;
      for (let i = 0; i < n; i++) d[i] = Math.min(Math.max(s[i]!, min), max);
    },
  };
}

/** GELU (opset 20): exact (`approximate` "none") or the tanh approximation, one kernel pass. */
function gelu(ctx: OpContext): PreparedOp {
  expectFloat(ctx, 0);
  const approximate = attrString(ctx.node, 'approximate', 'none');
  if (approximate !== 'none' && approximate !== 'tanh') throw opError(ctx.node, `approximate ${JSON.stringify(approximate)} must be "none" or "tanh"`);
  return unary(ctx, code(approximate === 'tanh' ? ActivationCode.geluTanh : ActivationCode.gelu));
}

const A = ActivationCode;

export const unaryOps: Record<string, OpPreparer> = {
  Relu: (ctx) => unary(ctx, code(A.relu), (v) => Math.max(v, 0)),
  Sigmoid: (ctx) => unary(ctx, code(A.sigmoid)),
  Tanh: (ctx) => unary(ctx, code(A.tanh)),
  Exp: (ctx) => unary(ctx, code(A.exp)),
  Log: (ctx) => unary(ctx, code(A.log)),
  Sqrt: (ctx) => unary(ctx, code(A.sqrt)),
  Neg: (ctx) => unary(ctx, code(A.neg), (v) => -v),
  Abs: (ctx) => unary(ctx, code(A.abs), Math.abs),
  Floor: (ctx) => unary(ctx, code(A.floor), identity),
  Ceil: (ctx) => unary(ctx, code(A.ceil), identity),
  Round: (ctx) => unary(ctx, code(A.round), identity),
  Reciprocal: (ctx) => unary(ctx, code(A.reciprocal)),
  Erf: (ctx) => unary(ctx, code(A.erf)),
  Not: not,
  Softplus: (ctx) => unary(ctx, code(A.softplus)),
  Elu: (ctx) => unary(ctx, code(A.elu, attrFloat(ctx.node, 'alpha', 1))),
  LeakyRelu: (ctx) => unary(ctx, code(A.leakyRelu, attrFloat(ctx.node, 'alpha', 0.01))),
  HardSigmoid: (ctx) => unary(ctx, code(A.hardSigmoid, attrFloat(ctx.node, 'alpha', 0.2), attrFloat(ctx.node, 'beta', 0.5))),
  HardSwish: (ctx) => unary(ctx, code(A.hardSwish)),
  Gelu: gelu,
  // The optimizer's fusion of the Erf pattern (transformer-fusions.ts): the same op.
  'atrous.Gelu': gelu,
  Clip: clip,
};
