// The GEMM facade on every build against a plain float64 JavaScript reference: random shapes with tails,
// transposed and broadcast operands, batch broadcasting, packed and unpacked B, C, bias, activations.
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { AtrousError } from '../errors.js';
import { resolveActivation, type Activation, type ActivationParams } from '../ops/activation.js';
import { ActivationCode } from '../wasm/abi.js';
import { BUILDS } from '../wasm/builds.js';
import type { Engine } from '../wasm/engine.js';
import { instantiate } from '../wasm/loader.js';
import type { GemmCall, GemmOperand } from './gemm-kernels.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');

function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return { unit: () => next() * 2 - 1, int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)), coin: () => next() < 0.5 };
}

function activate(a: ActivationParams, x: number): number {
  switch (a.code) {
    case ActivationCode.relu:
      return Math.max(x, 0);
    case ActivationCode.clip:
      return Math.min(Math.max(x, a.p0), a.p1);
    case ActivationCode.sigmoid:
      return 1 / (1 + Math.exp(-x));
    case ActivationCode.leakyRelu:
      return x > 0 ? x : a.p0 * x;
    case ActivationCode.hardSigmoid:
      return Math.min(Math.max(a.p0 * x + a.p1, 0), 1);
    case ActivationCode.hardSwish:
      return x * Math.min(Math.max(x / 6 + 0.5, 0), 1);
    default:
      return x;
  }
}

/** An operand's floats on the JS side and in wasm memory, with the strides that address them. */
interface Placed {
  data: Float32Array;
  op: GemmOperand;
}

/** `rows x cols` per batch; `transposed` stores it column-major; batch dims shared where `shared`. */
function place(e: Engine, r: ReturnType<typeof rng>, batch: number[], shared: boolean[], rows: number, cols: number, transposed: boolean, owned: [number, number][]): Placed {
  const strides = batch.map(() => 0);
  let size = Math.max(rows * cols, 1);
  for (let d = batch.length - 1; d >= 0; d--) {
    if (!shared[d]) {
      strides[d] = size;
      size *= batch[d]!;
    }
  }
  const data = Float32Array.from({ length: size }, () => r.unit());
  const ptr = e.upload(data, 'test operand');
  owned.push([ptr, data.byteLength]);
  return { data, op: { ptr, rowStride: transposed ? 1 : cols, colStride: transposed ? rows : 1, batchStrides: strides } };
}

function offset(op: GemmOperand, batch: number[], index: number): number {
  let off = 0;
  for (let d = batch.length - 1; d >= 0; d--) {
    off += (index % batch[d]!) * (op.batchStrides?.[d] ?? 0);
    index = Math.floor(index / batch[d]!);
  }
  return off;
}

const at = (p: Placed, off: number, i: number, j: number) => p.data[off + i * p.op.rowStride + j * p.op.colStride]!;

const ACTIVATIONS: Activation[] = ['none', 'relu', 'relu6', 'sigmoid', 'leakyRelu', 'hardSwish', { type: 'clip', min: -0.5, max: 0.25 }];

describe('gemm kernels', () => {
  for (const build of BUILDS) {
    it(`${build}: random products match the reference`, async () => {
      const e = await instantiate(build);
      const r = rng(build.length * 7919);
      for (let trial = 0; trial < 80; trial++) {
        const owned: [number, number][] = [];
        const dim = (hi: number) => (r.int(0, 4) === 0 ? 1 : r.int(1, hi));
        const m = dim(21);
        const n = dim(30);
        const k = trial % 9 === 0 ? r.int(0, 1) * r.int(257, 1100) : dim(40);
        const batch = Array.from({ length: r.int(0, 3) }, () => r.int(1, 3));
        const count = batch.reduce((p, x) => p * x, 1);
        const shared = () => batch.map(() => r.int(0, 2) === 0);
        const packed = r.coin();
        const a = place(e, r, batch, shared(), m, k, r.coin(), owned);
        const bShared = packed ? batch.map(() => true) : shared();
        const bT = r.coin();
        const b = place(e, r, batch, bShared, k, n, bT, owned);
        const cKind = r.int(0, 3);
        const c = cKind === 0 ? undefined : place(e, r, batch, shared(), m, n, false, owned);
        if (c && cKind === 2) c.op.rowStride = 0; // C of [n]
        if (c && cKind === 3) c.op.colStride = 0; // C of [m, 1]
        const bias = r.coin() ? Float32Array.from({ length: n }, () => r.unit()) : undefined;
        const biasPtr = bias ? e.upload(bias, 'bias') : undefined;
        if (bias) owned.push([biasPtr!, bias.byteLength]);
        const activation = resolveActivation(ACTIVATIONS[r.int(0, ACTIVATIONS.length - 1)], 'activation');
        const alpha = r.coin() ? undefined : r.unit() * 2;
        const beta = r.coin() ? undefined : r.unit() * 2;
        const outLen = count * m * n;
        const out = e.alloc(Math.max(outLen, 1) * 4, 'out');
        owned.push([out, Math.max(outLen, 1) * 4]);
        let handle = 0;
        if (packed) {
          // packB takes [k, n], or [n, k] when transposed: exactly how `b` is stored.
          handle = e.kernels.gemm.packB(b.data.subarray(0, k * n), k, n, bT, 'test');
          expect(e.kernels.gemm.packedBytes(handle)).toBe(Math.ceil(n / 8) * 8 * k * 4);
        }
        const call: GemmCall = { m, n, k, a: a.op, b: packed ? { packed: handle } : b.op, out, batch, alpha, beta, activation };
        if (c) call.c = c.op;
        if (biasPtr !== undefined) call.bias = biasPtr;
        e.kernels.gemm.run(call, 'test');
        const got = e.f32(out, outLen).slice();
        e.kernels.gemm.freePacked(handle);
        for (const [p, bytes] of owned) e.free(p, bytes);

        const want = new Float64Array(outLen);
        let scale = 1e-3;
        for (let index = 0; index < count; index++) {
          const [oa, ob] = [offset(a.op, batch, index), offset(b.op, batch, index)];
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let s = 0;
              for (let t = 0; t < k; t++) s += at(a, oa, i, t) * at(b, ob, t, j);
              let x = (alpha ?? 1) * s;
              if (c) x += (beta ?? 1) * at(c, offset(c.op, batch, index), i, j);
              if (bias) x += bias[j]!;
              scale = Math.max(scale, Math.abs(x));
              want[(index * m + i) * n + j] = activate(activation, x);
            }
          }
        }
        let worst = 0;
        for (let i = 0; i < outLen; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / scale);
        expect(worst, `trial ${trial}: ${m}x${n}x${k} batch [${batch}]`).toBeLessThan(2e-5);
      }
    });

    it(`${build}: bad calls throw an AtrousError naming the op`, async () => {
      const e = await instantiate(build);
      const a = e.upload(new Float32Array(16), 'a');
      const out = e.alloc(64, 'out');
      const op = { ptr: a, rowStride: 4, colStride: 1 };
      const packed = e.kernels.gemm.packB(new Float32Array(12), 3, 4, false, 'Gemm_1');
      expect(() => e.kernels.gemm.run({ m: 4, n: 4, k: 4, a: op, b: { packed }, out }, 'Gemm_1')).toThrow(/Gemm_1: the operand shapes do not fit/);
      expect(() => e.kernels.gemm.run({ m: 4, n: 4, k: 4, a: op, b: op, out, batch: [1, 1, 1, 1, 1] }, 'Gemm_2')).toThrow(AtrousError);
      expect(() => e.kernels.gemm.run({ m: 4, n: 4, k: 4, a: { ...op, rowStride: 1 << 30 }, b: op, out }, 'MatMul_3')).toThrow(/MatMul_3: the input length/);
      expect(() => e.kernels.gemm.run({ m: 4, n: 4, k: 4, a: { ...op, rowStride: -1 }, b: op, out }, 'MatMul_4')).toThrow(/rowStride/);
      expect(() => e.kernels.gemm.packB(new Float32Array(5), 2, 3, false, 'MatMul_5')).toThrow(/MatMul_5/);
      e.kernels.gemm.freePacked(packed);
      e.free(a, 64);
      e.free(out, 64);
    });
  }
});
