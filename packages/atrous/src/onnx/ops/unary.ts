import { attrFloat, attrString } from '../attributes.js';
import type { ElemType, HostTensor } from '../data-types.js';
import { scalarOf, sizeOf } from '../data-types.js';
import { ActivationCode } from '../../wasm/abi.js';
import { nodeLabel } from '../graph.js';
import { expectFloat, input, opError, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/** erf from the Numerical Recipes erfc Chebyshev fit (fractional error below 1.2e-7, under float32 rounding). */
function erf(x: number): number {
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y = 1 - t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? y : -y;
}

type Fn = (x: number) => number;

function map(ctx: OpContext, fn: Fn, outType?: ElemType): PreparedOp {
  const x = input(ctx, 0, 'X');
  return {
    outputs: [{ type: outType ?? x.type, dims: [...x.dims] }],
    run([a], [out]) {
      const src = a!.data, dst = out!.data, n = dst.length;
      for (let i = 0; i < n; i++) dst[i] = fn(src[i]!);
    },
  };
}

type F32Loop = (src: Float32Array, dst: Float32Array, p0: number, p1: number) => void;

/**
 * The activations a feature map goes through when they could not be fused into a conv, as their own
 * loops: a callback shared by every op would not be inlined, and a float32 map of a 1024x1024 map would
 * cost tens of ns per pixel.
 */
const F32_ACTIVATIONS: Record<string, F32Loop> = {
  Relu: (s, d) => { for (let i = 0; i < d.length; i++) { const v = s[i]!; d[i] = v > 0 ? v : 0; } },
  Sigmoid: (s, d) => { for (let i = 0; i < d.length; i++) d[i] = 1 / (1 + Math.exp(-s[i]!)); },
  Tanh: (s, d) => { for (let i = 0; i < d.length; i++) d[i] = Math.tanh(s[i]!); },
  LeakyRelu: (s, d, a) => { for (let i = 0; i < d.length; i++) { const v = s[i]!; d[i] = v >= 0 ? v : a * v; } },
  HardSigmoid: (s, d, a, b) => { for (let i = 0; i < d.length; i++) { const v = a * s[i]! + b; d[i] = v < 0 ? 0 : v > 1 ? 1 : v; } },
  HardSwish: (s, d) => { for (let i = 0; i < d.length; i++) { const x = s[i]!, v = x / 6 + 0.5; d[i] = v <= 0 ? 0 : v >= 1 ? x : x * v; } },
};

/** The kernels' activation code of each op (Tanh has none: it stays in JavaScript). */
const WASM_CODES: Record<string, number> = {
  Relu: ActivationCode.relu,
  Sigmoid: ActivationCode.sigmoid,
  LeakyRelu: ActivationCode.leakyRelu,
  HardSigmoid: ActivationCode.hardSigmoid,
  HardSwish: ActivationCode.hardSwish,
  Clip: ActivationCode.clip,
};

/** Activation `code` on the kernels, over the whole feature map. */
function kernelActivation(ctx: OpContext, code: number, size: number, p0: number, p1: number): PreparedOp['run'] {
  const label = nodeLabel(ctx.node);
  return ([src], [dst], env) => env.kernels.maps.activate(src!.ptr, dst!.ptr, size, { code, p0, p1 }, label);
}

function activation(ctx: OpContext, fn: Fn, p0 = 0, p1 = 0): PreparedOp {
  const prepared = map(ctx, fn);
  const code = WASM_CODES[ctx.node.opType];
  if (prepared.outputs[0]!.type === 'float32' && code !== undefined) {
    return { outputs: prepared.outputs, run: kernelActivation(ctx, code, sizeOf(prepared.outputs[0]!.dims), p0, p1) };
  }
  const loop = F32_ACTIVATIONS[ctx.node.opType]!;
  const generic = prepared.run;
  prepared.run = (inputs, outputs, env) => {
    const src = inputs[0]!.data, dst = outputs[0]!.data;
    if (src instanceof Float32Array && dst instanceof Float32Array) loop(src, dst, p0, p1);
    else generic(inputs, outputs, env);
  };
  return prepared;
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

function clip(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'input');
  const bounds = clipBounds(ctx);
  // The kernels clamp to finite bounds; float32's largest value stands in for an infinite one.
  const f32max = 3.4028234663852886e38;
  const finite = bounds && bounds.min <= bounds.max && x.type === 'float32';
  const outputs = [{ type: x.type, dims: [...x.dims] }];
  if (finite) return { outputs, run: kernelActivation(ctx, ActivationCode.clip, sizeOf(x.dims), Math.max(bounds.min, -f32max), Math.min(bounds.max, f32max)) };
  return {
    outputs,
    run(inputs: (HostTensor | undefined)[], [out]) {
      const min = bounds?.min ?? (inputs[1] ? inputs[1].data[0]! : -Infinity);
      const max = bounds?.max ?? (inputs[2] ? inputs[2].data[0]! : Infinity);
      const src = inputs[0]!.data, dst = out!.data, n = dst.length;
      for (let i = 0; i < n; i++) { const v = src[i]!; dst[i] = v < min ? min : v > max ? max : v; }
    },
  };
}

const sigmoid: Fn = (v) => 1 / (1 + Math.exp(-v));

/** GELU (opset 20): exact (`approximate` "none") or the tanh approximation, one kernel pass. */
function gelu(ctx: OpContext): PreparedOp {
  const x = expectFloat(ctx, 0);
  const approximate = attrString(ctx.node, 'approximate', 'none');
  if (approximate !== 'none' && approximate !== 'tanh') throw opError(ctx.node, `approximate ${JSON.stringify(approximate)} must be "none" or "tanh"`);
  const code = approximate === 'tanh' ? ActivationCode.geluTanh : ActivationCode.gelu;
  return { outputs: [{ type: 'float32', dims: [...x.dims] }], run: kernelActivation(ctx, code, sizeOf(x.dims), 0, 0) };
}

export const unaryOps: Record<string, OpPreparer> = {
  Relu: (ctx) => activation(ctx, (v) => (v > 0 ? v : 0)),
  Sigmoid: (ctx) => activation(ctx, sigmoid),
  Tanh: (ctx) => activation(ctx, Math.tanh),
  Exp: (ctx) => map(ctx, Math.exp),
  Log: (ctx) => map(ctx, Math.log),
  Sqrt: (ctx) => map(ctx, Math.sqrt),
  Neg: (ctx) => map(ctx, (v) => -v),
  Abs: (ctx) => map(ctx, Math.abs),
  Floor: (ctx) => map(ctx, Math.floor),
  Ceil: (ctx) => map(ctx, Math.ceil),
  Round: (ctx) => map(ctx, (v) => { const r = Math.round(v); return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; }),
  Reciprocal: (ctx) => map(ctx, (v) => 1 / v),
  Erf: (ctx) => map(ctx, erf),
  Not: (ctx) => map(ctx, (v) => (v ? 0 : 1), 'bool'),
  Softplus: (ctx) => map(ctx, (v) => (v > 20 ? v : Math.log1p(Math.exp(v)))),
  Elu: (ctx) => { const a = attrFloat(ctx.node, 'alpha', 1); return map(ctx, (v) => (v > 0 ? v : a * (Math.exp(v) - 1))); },
  LeakyRelu: (ctx) => { const a = attrFloat(ctx.node, 'alpha', 0.01); return activation(ctx, (v) => (v >= 0 ? v : a * v), a); },
  HardSigmoid: (ctx) => {
    const a = attrFloat(ctx.node, 'alpha', 0.2), b = attrFloat(ctx.node, 'beta', 0.5);
    return activation(ctx, (v) => Math.max(0, Math.min(1, a * v + b)), a, b);
  },
  HardSwish: (ctx) => activation(ctx, (v) => v * Math.max(0, Math.min(1, v / 6 + 0.5))),
  Gelu: gelu,
  // The optimizer's fusion of the Erf pattern (transformer-fusions.ts): the same op.
  'atrous.Gelu': gelu,
  Clip: clip,
};
