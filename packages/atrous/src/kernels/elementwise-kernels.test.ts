// The element-wise facade on every build against plain JavaScript references: unary ops, binary ops and
// comparisons with numpy broadcasting (size-1, empty and rank-0 shapes, transposed views), and Where.
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { AtrousError } from '../errors.js';
import { ActivationCode } from '../wasm/abi.js';
import { BUILDS } from '../wasm/builds.js';
import type { Engine } from '../wasm/engine.js';
import { instantiate } from '../wasm/loader.js';
import { xorshift32 as rng } from '../../test-support/seeded-random.js';
import type { BinaryKind } from './elementwise-kernels.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');


/** erf by its Taylor series (|x| <= 4; 1 beyond, where float32 cannot tell the difference). */
export function erf(x: number): number {
  if (Math.abs(x) > 4) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let k = 1; k < 200; k++) {
    term *= (-x * x) / k;
    const t = term / (2 * k + 1);
    sum += t;
    if (Math.abs(t) < 1e-17) break;
  }
  return (sum * 2) / Math.sqrt(Math.PI);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** [name, code, p0, p1, reference] */
const UNARY: [string, number, number, number, (x: number) => number][] = [
  ['relu', ActivationCode.relu, 0, 0, (x) => Math.max(x, 0)],
  ['sigmoid', ActivationCode.sigmoid, 0, 0, (x) => 1 / (1 + Math.exp(-x))],
  ['exp', ActivationCode.exp, 0, 0, Math.exp],
  ['log', ActivationCode.log, 0, 0, Math.log],
  ['sqrt', ActivationCode.sqrt, 0, 0, Math.sqrt],
  ['tanh', ActivationCode.tanh, 0, 0, Math.tanh],
  ['erf', ActivationCode.erf, 0, 0, erf],
  ['gelu', ActivationCode.gelu, 0, 0, (x) => (x / 2) * (1 + erf(x / Math.SQRT2))],
  ['geluTanh', ActivationCode.geluTanh, 0, 0, (x) => (x / 2) * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))],
  ['abs', ActivationCode.abs, 0, 0, Math.abs],
  ['neg', ActivationCode.neg, 0, 0, (x) => -x],
  ['reciprocal', ActivationCode.reciprocal, 0, 0, (x) => 1 / x],
  ['floor', ActivationCode.floor, 0, 0, Math.floor],
  ['ceil', ActivationCode.ceil, 0, 0, Math.ceil],
  ['round', ActivationCode.round, 0, 0, roundHalfEven],
  ['sin', ActivationCode.sin, 0, 0, Math.sin],
  ['cos', ActivationCode.cos, 0, 0, Math.cos],
  ['softplus', ActivationCode.softplus, 0, 0, softplus],
  ['softsign', ActivationCode.softsign, 0, 0, (x) => x / (1 + Math.abs(x))],
  ['elu', ActivationCode.elu, 0.7, 0, (x) => (x > 0 ? x : 0.7 * Math.expm1(x))],
  ['selu', ActivationCode.selu, 1.67326, 1.0507, (x) => 1.0507 * (x > 0 ? x : 1.67326 * Math.expm1(x))],
  ['celu', ActivationCode.celu, 1.3, 0, (x) => Math.max(0, x) + Math.min(0, 1.3 * Math.expm1(x / 1.3))],
  ['thresholdedRelu', ActivationCode.thresholdedRelu, 0.4, 0, (x) => (x > 0.4 ? x : 0)],
  ['sign', ActivationCode.sign, 0, 0, Math.sign],
  ['pow 3', ActivationCode.pow, 3, 0, (x) => x ** 3],
  ['pow 1.5', ActivationCode.pow, 1.5, 0, (x) => x ** 1.5],
  ['mish', ActivationCode.mish, 0, 0, (x) => x * Math.tanh(softplus(x))],
];

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  let scale = 0;
  for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i]!)) scale = Math.max(scale, Math.abs(want[i]!));
  scale = Math.max(scale, 1e-30);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (Number.isNaN(w)) expect(Number.isNaN(g), `${what} at ${i}: ${g}, want NaN`).toBe(true);
    else if (!Number.isFinite(w)) expect(g, `${what} at ${i}`).toBe(w);
    else if (Math.abs(g - w) > tol * scale) expect.fail(`${what} at ${i}: ${g}, want ${w}`);
  }
}

function f32(engine: Engine, data: Float32Array): number {
  return engine.upload(data, 'test input');
}

/** Row-major strides of `shape` placed against the trailing axes of `dims`, 0 on broadcast axes. */
function broadcastStrides(shape: number[], rank: number): number[] {
  const s = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let i = shape.length - 1, j = rank - 1; i >= 0; i--, j--) {
    s[j] = shape[i] === 1 ? 0 : acc;
    acc *= shape[i]!;
  }
  return s;
}

function offsetOf(index: number, dims: number[], strides: number[]): number {
  let rem = index;
  let at = 0;
  for (let d = dims.length - 1; d >= 0; d--) {
    at += (rem % dims[d]!) * strides[d]!;
    rem = Math.floor(rem / dims[d]!);
  }
  return at;
}

const BINARY: [BinaryKind, (a: number, b: number) => number][] = [
  ['add', (a, b) => a + b],
  ['sub', (a, b) => a - b],
  ['mul', (a, b) => a * b],
  ['div', (a, b) => a / b],
  ['pow', (a, b) => a ** b],
  ['max', Math.max],
  ['min', Math.min],
  ['mod', (a, b) => { const r = a % b; return r !== 0 && r < 0 !== b < 0 ? r + b : r; }],
  ['fmod', (a, b) => a % b],
  ['prelu', (a, b) => (a >= 0 ? a : a * b)],
];
const COMPARE: [BinaryKind, (a: number, b: number) => boolean][] = [
  ['equal', (a, b) => a === b],
  ['less', (a, b) => a < b],
  ['lessOrEqual', (a, b) => a <= b],
  ['greater', (a, b) => a > b],
  ['greaterOrEqual', (a, b) => a >= b],
];

/** Output dims and two operand shapes that broadcast to them (numpy rules: 1s, fewer leading axes). */
const SHAPES: [number[], number[], number[]][] = [
  [[], [], []],
  [[7], [7], [1]],
  [[1], [1], [1]],
  [[0], [0], [1]],
  [[2, 3, 0, 4], [2, 3, 0, 4], [4]],
  [[2, 3, 4, 5], [2, 3, 4, 5], [1, 3, 1, 1]],
  [[2, 3, 4, 5], [3, 1, 5], [2, 1, 4, 1]],
  [[4, 1, 9], [4, 1, 9], [9]],
  [[3, 37], [3, 37], [3, 1]],
  [[5, 6, 7], [1, 6, 1], [5, 1, 7]],
  [[2, 2, 2, 2, 2, 3], [2, 1, 2, 1, 2, 3], [1, 2, 1, 2, 1, 1]],
  [[1, 1, 1000], [1000], [1]],
];

describe('elementwise kernels', () => {
  for (const build of BUILDS) {
    it(`${build}: unary ops match JavaScript on odd lengths, in place and on empty buffers`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.elementwise;
      const r = rng(1);
      const n = 1001;
      const x = new Float32Array(n).map(() => (r() - 0.5) * 12);
      x.set([0.5, 1.5, 2.5, -0.5, -2.5, 0], 0);
      for (const [name, code, p0, p1, ref] of UNARY) {
        const positive = name === 'log' || name === 'sqrt' || name === 'pow 1.5';
        const input = positive ? x.map(Math.abs) : x;
        const src = f32(engine, input);
        const dst = engine.alloc(n * 4, 'out');
        k.unary(src, dst, n, { code, p0, p1 }, name);
        const want = Array.from(input, (v) => Math.fround(ref(v)));
        expectClose(engine.f32(dst, n), want, 2e-6, `${build} ${name}`);
        k.unary(src, src, n, { code, p0, p1 }, name);
        expect(Array.from(engine.f32(src, n)), `${name} in place`).toEqual(Array.from(engine.f32(dst, n)));
        k.unary(src, dst, 0, { code, p0, p1 }, name);
      }
      expect(() => k.unary(0, 0, 0, { code: 999, p0: 0, p1: 0 }, 'bad')).toThrow(AtrousError);
    });

    it(`${build}: binary ops and comparisons broadcast like numpy`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.elementwise;
      const r = rng(2);
      for (const [dims, aShape, bShape] of SHAPES) {
        const rank = dims.length;
        const n = dims.reduce((p, d) => p * d, 1);
        const aLen = aShape.reduce((p, d) => p * d, 1);
        const bLen = bShape.reduce((p, d) => p * d, 1);
        const as = broadcastStrides(aShape, rank);
        const bs = broadcastStrides(bShape, rank);
        const a = new Float32Array(aLen).map(() => Math.round((r() - 0.5) * 16) / 2);
        const b = new Float32Array(bLen).map(() => Math.round((r() - 0.5) * 16) / 2 || 0.5);
        const pa = f32(engine, a);
        const pb = f32(engine, b);
        const pbAbs = f32(engine, b.map((v) => Math.abs(v) < 1 ? 1.5 : v));
        const out = engine.alloc(Math.max(n, 1) * 4, 'out');
        for (const [kind, ref] of BINARY) {
          // Pow of negative bases with fractional exponents is NaN on both sides; keep exponents half-integers.
          const bp = kind === 'pow' ? pbAbs : pb;
          const bv = kind === 'pow' ? b.map((v) => Math.abs(v) < 1 ? 1.5 : v) : b;
          k.binary(kind, pa, bp, out, dims, as, bs, kind);
          const want = Array.from({ length: n }, (_, i) => Math.fround(ref(a[offsetOf(i, dims, as)]!, bv[offsetOf(i, dims, bs)]!)));
          expectClose(engine.f32(out, n), want, 2e-6, `${build} ${kind} [${dims}] <- [${aShape}] [${bShape}]`);
        }
        for (const [kind, ref] of COMPARE) {
          k.binary(kind, pa, pb, out, dims, as, bs, kind);
          const want = Array.from({ length: n }, (_, i) => (ref(a[offsetOf(i, dims, as)]!, b[offsetOf(i, dims, bs)]!) ? 1 : 0));
          expect(Array.from(new Uint8Array(engine.exports.memory.buffer, out, n)), `${kind} [${dims}]`).toEqual(want);
        }
      }
      // A transposed view: b is [4, 3] stored, read as [3, 4].
      const a = new Float32Array(12).map((_, i) => i);
      const b = new Float32Array(12).map((_, i) => 100 * i);
      const pa = f32(engine, a);
      const pb = f32(engine, b);
      const out = engine.alloc(48, 'out');
      k.binary('add', pa, pb, out, [3, 4], [4, 1], [1, 3], 'transposed');
      expect(Array.from(engine.f32(out, 12))).toEqual(Array.from({ length: 12 }, (_, i) => i + 100 * ((i % 4) * 3 + Math.floor(i / 4))));
      expect(() => k.binary('add', pa, pb, out, [1, 1, 1, 1, 1, 1, 1], new Array(7).fill(0), new Array(7).fill(0), 'rank 7')).toThrow(AtrousError);
      expect(() => k.binary('nope' as BinaryKind, pa, pb, out, [1], [0], [0], 'bad kind')).toThrow(AtrousError);
    });

    it(`${build}: and / or / xor on bool bytes broadcast like numpy`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.elementwise;
      const r = rng(4);
      const bytes = (n: number) => {
        const p = engine.alloc(Math.max(n, 1), 'bytes');
        const v = new Uint8Array(n).map(() => [0, 1, 1, 2][Math.floor(r() * 4)]!);
        new Uint8Array(engine.exports.memory.buffer, p, n).set(v);
        return { p, v };
      };
      const refs: [BinaryKind, (a: boolean, b: boolean) => boolean][] = [['and', (a, b) => a && b], ['or', (a, b) => a || b], ['xor', (a, b) => a !== b]];
      for (const [dims, aShape, bShape] of SHAPES) {
        const rank = dims.length;
        const n = dims.reduce((p, d) => p * d, 1);
        const as = broadcastStrides(aShape, rank);
        const bs = broadcastStrides(bShape, rank);
        const a = bytes(aShape.reduce((p, d) => p * d, 1));
        const b = bytes(bShape.reduce((p, d) => p * d, 1));
        const out = engine.alloc(Math.max(n, 1), 'out');
        for (const [kind, ref] of refs) {
          k.binary(kind, a.p, b.p, out, dims, as, bs, kind);
          const want = Array.from({ length: n }, (_, i) => (ref(a.v[offsetOf(i, dims, as)]! !== 0, b.v[offsetOf(i, dims, bs)]! !== 0) ? 1 : 0));
          expect(Array.from(new Uint8Array(engine.exports.memory.buffer, out, n)), `${kind} [${dims}] <- [${aShape}] [${bShape}]`).toEqual(want);
        }
      }
    });

    it(`${build}: where broadcasts its condition and both sides`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.elementwise;
      const r = rng(3);
      const cases: [number[], number[], number[], number[]][] = [
        [[2, 3, 5], [2, 3, 5], [2, 3, 5], [2, 3, 5]],
        [[2, 3, 5], [1, 1, 5], [2, 3, 5], [1]],
        [[4, 1, 7], [4, 1, 1], [7], [4, 1, 7]],
        [[0, 3], [3], [0, 3], [1]],
        [[], [], [], []],
      ];
      for (const [dims, cShape, xShape, yShape] of cases) {
        const rank = dims.length;
        const n = dims.reduce((p, d) => p * d, 1);
        const size = (s: number[]) => s.reduce((p, d) => p * d, 1);
        const cond = new Uint8Array(size(cShape)).map(() => (r() < 0.5 ? 1 : 0));
        const x = new Float32Array(size(xShape)).map(() => r());
        const y = new Float32Array(size(yShape)).map(() => -r());
        const pc = engine.alloc(Math.max(cond.length, 1), 'cond');
        new Uint8Array(engine.exports.memory.buffer, pc, cond.length).set(cond);
        const px = f32(engine, x);
        const py = f32(engine, y);
        const out = engine.alloc(Math.max(n, 1) * 4, 'out');
        const [cs, xs, ys] = [cShape, xShape, yShape].map((s) => broadcastStrides(s, rank)) as [number[], number[], number[]];
        k.where(pc, px, py, out, dims, cs, xs, ys, 'where');
        const want = Array.from({ length: n }, (_, i) => (cond[offsetOf(i, dims, cs)] ? x[offsetOf(i, dims, xs)]! : y[offsetOf(i, dims, ys)]!));
        expect(Array.from(engine.f32(out, n)), `where [${dims}]`).toEqual(want);
      }
    });
  }
});
