// The layout facade on every build against plain JavaScript index loops: transposes of rank 1-6, slices
// with negative steps, broadcasts, slabs of a larger tensor, every pad mode, gather with a bad index, fill.
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { AtrousError } from '../errors.js';
import { BUILDS } from '../wasm/builds.js';
import type { Engine } from '../wasm/engine.js';
import { instantiate } from '../wasm/loader.js';
import { xorshift32 as rng } from '../../test-support/seeded-random.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');


const contiguous = (dims: number[]) => {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
};

/** Calls `f` with every multi-index of `dims`, row-major. */
function eachIndex(dims: number[], f: (idx: number[]) => void): void {
  const total = dims.reduce((a, b) => a * b, 1);
  const idx = new Array<number>(dims.length).fill(0);
  for (let n = 0; n < total; n++) {
    f(idx);
    for (let a = dims.length - 1; a >= 0; a--) {
      if (++idx[a]! < dims[a]!) break;
      idx[a] = 0;
    }
  }
}

const dot = (idx: number[], strides: number[]) => idx.reduce((acc, i, a) => acc + i * strides[a]!, 0);

/** Buffers in one engine's memory, freed after the test body. */
function withBuffers(engine: Engine, body: (put: (data: Float32Array | Int32Array) => number, get: (ptr: number, n: number) => Float32Array) => void): void {
  const live: [number, number][] = [];
  const put = (data: Float32Array | Int32Array) => {
    const ptr = engine.alloc(Math.max(4, data.byteLength), 'test buffer');
    live.push([ptr, Math.max(4, data.byteLength)]);
    new Uint8Array(engine.exports.memory.buffer, ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return ptr;
  };
  const get = (ptr: number, n: number) => engine.f32(ptr, n).slice();
  try {
    body(put, get);
  } finally {
    for (const [p, b] of live) engine.free(p, b);
  }
}

describe('layout kernels', () => {
  for (const build of BUILDS) {
    it(`${build}: copyStrided transposes, slices backwards, broadcasts and writes slabs like an index loop`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.layout;
      const r = rng(17);
      const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
      for (let trial = 0; trial < 150; trial++) {
        const rank = int(1, 6);
        const hi = [0, 40, 24, 9, 6, 4, 3][rank]!;
        const full = Array.from({ length: rank }, () => int(1, hi));
        const src = Float32Array.from({ length: full.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1);
        const fs = contiguous(full);
        // A random view: per axis a permuted source axis read forwards, backwards (step -1..-3) or broadcast.
        const perm = full.map((_, i) => i).sort(() => r() - 0.5);
        const dims: number[] = [];
        const ss: number[] = [];
        let origin = 0;
        for (const a of perm) {
          const kind = int(0, 3);
          if (kind === 0) {
            origin += int(0, full[a]! - 1) * fs[a]!;
            dims.push(int(1, 4));
            ss.push(0);
          } else {
            const step = int(1, 3) * (kind === 1 ? -1 : 1);
            const start = int(0, full[a]! - 1);
            const room = step > 0 ? Math.floor((full[a]! - 1 - start) / step) : Math.floor(start / -step);
            dims.push(int(1, room + 1));
            origin += start * fs[a]!;
            ss.push(step * fs[a]!);
          }
        }
        // Into a slab of a larger destination: one axis grown by a margin on each side.
        const grow = int(0, rank - 1);
        const outDims = dims.slice();
        const before = int(0, 2);
        outDims[grow]! += before + int(0, 2);
        const ds = contiguous(outDims);
        const dstLen = outDims.reduce((a, b) => a * b, 1);
        const dstOrigin = before * ds[grow]!;
        const want = new Float32Array(dstLen).fill(-9);
        eachIndex(dims, (idx) => (want[dstOrigin + dot(idx, ds)] = src[origin + dot(idx, ss)]!));
        withBuffers(engine, (put, get) => {
          const s = put(src);
          const d = put(new Float32Array(dstLen).fill(-9));
          k.copyStrided(s + 4 * origin, d + 4 * dstOrigin, dims, ss, ds, 'test');
          expect(get(d, dstLen), `dims ${dims} src ${ss} dst ${ds}`).toEqual(want);
        });
      }
    });

    it(`${build}: pad matches an index loop in every mode`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.layout;
      const r = rng(99);
      const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
      for (let trial = 0; trial < 120; trial++) {
        const mode = (['constant', 'reflect', 'edge'] as const)[trial % 3]!;
        const rank = int(1, 5);
        const dims = Array.from({ length: rank }, () => int(1, rank > 3 ? 3 : 7));
        const pick = (n: number) => (r() < 0.3 ? 0 : mode === 'reflect' ? int(0, n - 1) : int(0, 4));
        const begin = dims.map(pick);
        const end = dims.map(pick);
        const out = dims.map((d, i) => d + begin[i]! + end[i]!);
        const src = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1);
        const ss = contiguous(dims);
        const want: number[] = [];
        eachIndex(out, (idx) => {
          let at = 0;
          for (let a = 0; a < rank; a++) {
            let i = idx[a]! - begin[a]!;
            const n = dims[a]!;
            if (i < 0 || i >= n) {
              if (mode === 'constant') return void want.push(0.75);
              i = mode === 'edge' ? Math.min(Math.max(i, 0), n - 1) : i < 0 ? -i : 2 * (n - 1) - i;
            }
            at += i * ss[a]!;
          }
          want.push(src[at]!);
        });
        withBuffers(engine, (put, get) => {
          const s = put(src);
          const d = put(new Float32Array(want.length));
          k.pad(s, d, dims, begin, end, mode, 0.75, 'test');
          expect(get(d, want.length), `${mode} ${dims} ${begin} ${end}`).toEqual(Float32Array.from(want));
        });
      }
    });

    it(`${build}: gather and fill; bad indices and ranks are AtrousErrors naming the op`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.layout;
      const r = rng(5);
      const [outer, axis, inner] = [3, 7, 5];
      const src = Float32Array.from({ length: outer * axis * inner }, () => r());
      const idx = Int32Array.from([6, 0, 3, 3, 1, 6, 2, 5, 4]);
      const want: number[] = [];
      for (let o = 0; o < outer; o++) for (const c of idx) for (let i = 0; i < inner; i++) want.push(src[(o * axis + c) * inner + i]!);
      withBuffers(engine, (put, get) => {
        const s = put(src);
        const ip = put(idx);
        const d = put(new Float32Array(want.length));
        k.gather(s, ip, d, outer, axis, inner, idx.length, 'Gather_1');
        expect(get(d, want.length)).toEqual(Float32Array.from(want));
        const bad = put(Int32Array.from([0, 7]));
        expect(() => k.gather(s, bad, d, outer, axis, inner, 2, 'Gather_1')).toThrow(/Gather_1: an index table points outside its source/);
        k.fill(d, 13, -3.5, 'Fill');
        expect(Array.from(get(d, 14))).toEqual([...new Array<number>(13).fill(-3.5), want[13]!]);
        expect(() => k.copyStrided(s, d, [1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0], 'T')).toThrow(AtrousError);
        expect(() => k.pad(s, d, [3], [4], [0], 'reflect', 0, 'P')).toThrow(/P: the operand shapes do not fit together/);
        // A reach beyond the wasm memory is a status, not a trap.
        expect(() => k.copyStrided(s, d, [4], [-(2 ** 30)], [1], 'Slice_9')).toThrow(/Slice_9/);
      });
    });

    it(`${build}: byte elements (bool/uint8) through copyStrided, pad and gather; convert follows Cast`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.layout;
      const r = rng(23);
      const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
      const region = (n: number) => {
        const ptr = engine.alloc(Math.max(16, n * 4), 'test buffer');
        return { ptr, free: () => engine.free(ptr, Math.max(16, n * 4)) };
      };
      const u8 = (ptr: number, n: number) => new Uint8Array(engine.exports.memory.buffer, ptr, n);
      // Transpose [5, 7, 3] -> [3, 5, 7], read backwards along the middle axis.
      const dims = [5, 7, 3];
      const src = bytes(105);
      const out = [3, 5, 7];
      const ss = [1, 21, -3];
      const origin = 6 * 3;
      const want = new Uint8Array(105);
      eachIndex(out, (idx) => (want[dot(idx, contiguous(out))] = src[origin + dot(idx, ss)]!));
      const a = region(105), b = region(200);
      try {
        u8(a.ptr, 105).set(src);
        k.copyStrided(a.ptr + origin, b.ptr, out, ss, contiguous(out), 'T', 1);
        expect(u8(b.ptr, 105).slice()).toEqual(want);
        // Edge pad by 1 at both ends of the last axis of [5, 7, 3].
        k.pad(a.ptr, b.ptr, dims, [0, 0, 1], [0, 0, 1], 'edge', 0, 'P', 1);
        const padded: number[] = [];
        for (let row = 0; row < 35; row++) padded.push(src[row * 3]!, ...src.subarray(row * 3, row * 3 + 3), src[row * 3 + 2]!);
        expect(Array.from(u8(b.ptr, 175))).toEqual(padded);
        // Gather rows 4, 0 of [5, 21].
        const ip = region(2);
        try {
          new Int32Array(engine.exports.memory.buffer, ip.ptr, 2).set([4, 0]);
          k.gather(a.ptr, ip.ptr, b.ptr, 1, 5, 21, 2, 'G', 1);
          expect(Array.from(u8(b.ptr, 42))).toEqual([...src.subarray(84, 105), ...src.subarray(0, 21)]);
        } finally {
          ip.free();
        }
        // Cast.
        const f = Float32Array.from([0, -0, 1, 2.9, -1.5, 255, 256, Number.NaN]);
        engine.f32(a.ptr, 8).set(f);
        k.convert(a.ptr, b.ptr, 8, 'f32ToU8', 'Cast');
        expect(Array.from(u8(b.ptr, 8))).toEqual([0, 0, 1, 2, 255, 255, 0, 0]);
        k.convert(a.ptr, b.ptr, 8, 'f32ToBool', 'Cast');
        expect(Array.from(u8(b.ptr, 8))).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);
        u8(a.ptr, 4).set([0, 3, 200, 255]);
        k.convert(a.ptr, b.ptr, 4, 'u8ToF32', 'Cast');
        expect(Array.from(engine.f32(b.ptr, 4))).toEqual([0, 3, 200, 255]);
        k.convert(a.ptr, b.ptr, 4, 'u8ToBool', 'Cast');
        expect(Array.from(u8(b.ptr, 4))).toEqual([0, 1, 1, 1]);
        expect(() => k.copyStrided(a.ptr, b.ptr, [2], [1], [1], 'T', 3 as 1)).toThrow(/T:/);
      } finally {
        a.free();
        b.free();
      }
    });
  }
});
