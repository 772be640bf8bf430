// The normalisation facade on every build against plain JavaScript (float64) references: softmax and
// log-softmax (inner 1 and > 1, long rows of large values), layer / group / instance norm, every reduction.
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { AtrousError } from '../errors.js';
import { BUILDS } from '../wasm/builds.js';
import type { Engine } from '../wasm/engine.js';
import { instantiate } from '../wasm/loader.js';
import { xorshift32 as rng } from '../../test-support/seeded-random.js';
import type { ReduceKind } from './normalization-kernels.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');


function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  let scale = 1e-30;
  for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i]!)) scale = Math.max(scale, Math.abs(want[i]!));
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (Number.isNaN(w)) expect(Number.isNaN(g), `${what} at ${i}: ${g}, want NaN`).toBe(true);
    else if (!Number.isFinite(w)) expect(g, `${what} at ${i}`).toBe(w);
    else if (Math.abs(g - w) > tol * scale) expect.fail(`${what} at ${i}: ${g}, want ${w}`);
  }
}

/** Calls `f(o, i, values along len)` for each column of `[outer, len, inner]`. */
function columns(x: Float32Array, outer: number, len: number, inner: number, f: (o: number, i: number, at: number[]) => void): void {
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) f(o, i, Array.from({ length: len }, (_, l) => (o * len + l) * inner + i));
}

function softmaxRef(x: Float32Array, outer: number, len: number, inner: number, log: boolean): number[] {
  const out = new Array<number>(x.length).fill(0);
  columns(x, outer, len, inner, (_o, _i, at) => {
    const m = Math.max(...at.map((j) => x[j]!));
    const s = at.reduce((acc, j) => acc + Math.exp(x[j]! - m), 0);
    for (const j of at) out[j] = log ? x[j]! - m - Math.log(s) : Math.exp(x[j]! - m) / s;
  });
  return out;
}

function reduceRef(kind: ReduceKind, v: number[], selectLast: boolean): number {
  const sum = (f: (x: number) => number) => v.reduce((a, x) => a + f(x), 0);
  switch (kind) {
    case 'sum': return sum((x) => x);
    case 'mean': return sum((x) => x) / v.length;
    case 'max': return v.reduce((a, x) => Math.max(a, x), -Infinity);
    case 'min': return v.reduce((a, x) => Math.min(a, x), Infinity);
    case 'prod': return v.reduce((a, x) => a * x, 1);
    case 'l1': return sum(Math.abs);
    case 'l2': return Math.sqrt(sum((x) => x * x));
    case 'logSum': return Math.log(sum((x) => x));
    case 'logSumExp': {
      const m = v.reduce((a, x) => Math.max(a, x), -Infinity);
      return m === -Infinity ? m : m + Math.log(sum((x) => Math.exp(x - m)));
    }
    case 'sumSquare': return sum((x) => x * x);
    case 'argMax':
    case 'argMin': {
      const best = kind === 'argMax' ? Math.max(...v) : Math.min(...v);
      return selectLast ? v.lastIndexOf(best) : v.indexOf(best);
    }
  }
}

const KINDS: ReduceKind[] = ['sum', 'mean', 'max', 'min', 'prod', 'l1', 'l2', 'logSum', 'logSumExp', 'sumSquare', 'argMax', 'argMin'];

const up = (engine: Engine, data: Float32Array) => engine.upload(data, 'test input');

describe('normalization kernels', () => {
  for (const build of BUILDS) {
    it(`${build}: softmax and log-softmax, inner 1 and inner > 1, in place`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.norm;
      const r = rng(5);
      for (const [outer, len, inner] of [[1, 1, 1], [3, 10, 1], [2, 33, 1], [2, 7, 5], [1, 19, 16], [2, 1, 3], [2, 0, 4], [3, 150, 37]] as const) {
        const n = outer * len * inner;
        const x = new Float32Array(n).map(() => (r() - 0.5) * 30);
        for (const log of [false, true]) {
          const src = up(engine, x);
          const dst = engine.alloc(Math.max(n, 1) * 4, 'out');
          k.softmax(src, dst, outer, len, inner, log, 'softmax');
          expectClose(engine.f32(dst, n), softmaxRef(x, outer, len, inner, log), 2e-6, `${build} softmax log=${log} [${outer}, ${len}, ${inner}]`);
          k.softmax(src, src, outer, len, inner, log, 'softmax in place');
          expect(Array.from(engine.f32(src, n))).toEqual(Array.from(engine.f32(dst, n)));
        }
      }
    });

    it(`${build}: softmax is stable on a row of 10^5 large values`, async () => {
      const engine = await instantiate(build);
      const r = rng(6);
      for (const inner of [1, 3]) {
        const len = inner === 1 ? 100_000 : 30_000;
        const x = new Float32Array(len * inner).map(() => 5e4 + (r() - 0.5) * 2e4);
        const src = up(engine, x);
        const dst = engine.alloc(x.byteLength, 'out');
        for (const log of [false, true]) {
          engine.kernels.norm.softmax(src, dst, 1, len, inner, log, 'long softmax');
          const got = engine.f32(dst, x.length);
          expect(got.every(Number.isFinite)).toBe(true);
          expectClose(got, softmaxRef(x, 1, len, inner, log), 2e-6, `${build} long softmax log=${log} inner ${inner}`);
        }
      }
    });

    it(`${build}: layer norm (with and without bias), group norm and instance norm`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.norm;
      const r = rng(7);
      for (const [rows, len, offset] of [[1, 1, 0], [3, 7, 0], [4, 64, 3], [2, 100_000, 1e4], [0, 5, 0]] as const) {
        const x = new Float32Array(rows * len).map(() => offset + (r() - 0.5) * 4);
        const scale = new Float32Array(len).map(() => 0.5 + r());
        const bias = new Float32Array(len).map(() => r() - 0.5);
        const [px, ps, pb] = [x, scale, bias].map((a) => up(engine, a)) as [number, number, number];
        const dst = engine.alloc(Math.max(x.length, 1) * 4, 'out');
        for (const withBias of [true, false]) {
          k.layerNorm(px, dst, rows, len, ps, withBias ? pb : 0, 1e-5, 'layerNorm');
          const want = new Array<number>(x.length);
          for (let row = 0; row < rows; row++) {
            const v = Array.from(x.subarray(row * len, (row + 1) * len));
            const mean = v.reduce((a, b) => a + b, 0) / len;
            const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / len;
            for (let i = 0; i < len; i++) want[row * len + i] = ((v[i]! - mean) / Math.sqrt(variance + 1e-5)) * scale[i]! + (withBias ? bias[i]! : 0);
          }
          expectClose(engine.f32(dst, x.length), want, 3e-6, `${build} layerNorm [${rows}, ${len}] mean ${offset}`);
        }
      }
      for (const [batch, groups, channels, spatial] of [[1, 1, 1, 1], [2, 2, 4, 9], [2, 3, 3, 50], [1, 4, 8, 1], [1, 2, 4, 0]] as const) {
        const n = batch * channels * spatial;
        const x = new Float32Array(n).map(() => 2 + (r() - 0.5) * 6);
        const scale = new Float32Array(channels).map(() => 0.5 + r());
        const bias = new Float32Array(channels).map(() => r());
        const [px, ps, pb] = [x, scale, bias].map((a) => up(engine, a)) as [number, number, number];
        const dst = engine.alloc(Math.max(n, 1) * 4, 'out');
        k.groupNorm(px, dst, batch, groups, channels, spatial, ps, pb, 1e-5, 'groupNorm');
        const per = channels / groups;
        const want = new Array<number>(n);
        for (let b = 0; b < batch; b++)
          for (let g = 0; g < groups; g++) {
            const at = (b * groups + g) * per * spatial;
            const v = Array.from(x.subarray(at, at + per * spatial));
            const mean = v.reduce((s, t) => s + t, 0) / v.length;
            const variance = v.reduce((s, t) => s + (t - mean) ** 2, 0) / v.length;
            for (let c = 0; c < per; c++)
              for (let s = 0; s < spatial; s++) {
                const i = at + c * spatial + s;
                want[i] = ((x[i]! - mean) / Math.sqrt(variance + 1e-5)) * scale[g * per + c]! + bias[g * per + c]!;
              }
          }
        expectClose(engine.f32(dst, n), want, 3e-6, `${build} groupNorm [${batch}, ${channels}, ${spatial}] / ${groups}`);
      }
      expect(() => k.groupNorm(0, 0, 1, 3, 4, 1, 0, 0, 1e-5, 'bad groups')).toThrow(AtrousError);
    });

    it(`${build}: every reduction, inner 1 and inner > 1, empty axes, arg ties`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.norm;
      const r = rng(8);
      for (const [outer, len, inner] of [[1, 1, 1], [3, 9, 1], [2, 1000, 1], [2, 7, 5], [3, 20, 9], [2, 0, 3], [0, 4, 2]] as const) {
        const n = outer * len * inner;
        // Values on a coarse grid so that arg ties happen; products near 1; log-sums of positives.
        const x = new Float32Array(n).map(() => Math.round((r() - 0.5) * 8) / 4);
        for (const kind of KINDS) {
          const input = kind === 'prod' ? x.map((v) => 1 + v / 50) : kind === 'logSum' ? x.map((v) => Math.abs(v) + 0.25) : x;
          const arg = kind === 'argMax' || kind === 'argMin';
          if (arg && len === 0) {
            if (outer * inner > 0) expect(() => k.reduce(kind, up(engine, input), 0, outer, len, inner, kind)).toThrow(AtrousError);
            continue;
          }
          for (const selectLast of arg ? [false, true] : [false]) {
            const src = up(engine, input);
            const dst = engine.alloc(Math.max(outer * inner, 1) * 4, 'out');
            k.reduce(kind, src, dst, outer, len, inner, kind, selectLast);
            const want: number[] = [];
            columns(input, outer, len, inner, (_o, _i, at) => want.push(reduceRef(kind, at.map((j) => input[j]!), selectLast)));
            const got = arg ? Array.from(new Int32Array(engine.exports.memory.buffer, dst, outer * inner)) : engine.f32(dst, outer * inner);
            if (arg) expect(got, `${kind} last=${selectLast} [${outer}, ${len}, ${inner}]`).toEqual(want);
            else expectClose(got, want.map(Math.fround), 2e-6, `${build} ${kind} [${outer}, ${len}, ${inner}]`);
          }
        }
      }
      expect(() => k.reduce('nope' as ReduceKind, 0, 0, 1, 1, 1, 'bad')).toThrow(AtrousError);
    });
  }
});
