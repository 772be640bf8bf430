// The selection facade on every build against a plain JavaScript stable sort: random rows with ties, NaN
// and infinities, every k, both directions, strided rows; k above the axis length is refused.
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { AtrousError } from '../errors.js';
import { BUILDS } from '../wasm/builds.js';
import { instantiate } from '../wasm/loader.js';
import { xorshift32 as rng } from '../../test-support/seeded-random.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');


/** NaN greatest; ascending. */
const rank = (a: number, b: number) => (Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : Number.isNaN(b) ? -1 : a - b);

function reference(src: Float32Array, outer: number, len: number, inner: number, k: number, largest: boolean) {
  const values = new Float32Array(outer * k * inner), indices = new Int32Array(outer * k * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (j: number) => src[(o * len + j) * inner + i]!;
      const order = Array.from({ length: len }, (_, j) => j).sort((x, y) => (largest ? rank(at(y), at(x)) : rank(at(x), at(y))) || x - y);
      for (let r = 0; r < k; r++) {
        values[(o * k + r) * inner + i] = at(order[r]!);
        indices[(o * k + r) * inner + i] = order[r]!;
      }
    }
  }
  return { values, indices };
}

describe.each(BUILDS)('select kernels (%s)', (build) => {
  it('topK matches a stable sort on random rows with ties, NaN and infinities', async () => {
    const engine = await instantiate(build);
    const next = rng(7);
    for (let c = 0; c < 120; c++) {
      const outer = 1 + Math.floor(next() * 3), len = 1 + Math.floor(next() * 30), inner = 1 + Math.floor(next() * 3);
      const k = Math.floor(next() * (len + 1));
      const largest = c % 2 === 0;
      const src = Float32Array.from({ length: outer * len * inner }, () => {
        const r = Math.floor(next() * 20);
        return r === 0 ? NaN : r === 1 ? Infinity : r === 2 ? -Infinity : (r % 7) - 3 + (r > 15 ? 0.5 : 0);
      });
      const m = outer * k * inner;
      const s = engine.upload(src, 'src');
      const v = engine.alloc(Math.max(16, m * 4), 'values');
      const ix = engine.alloc(Math.max(16, m * 4), 'indices');
      engine.kernels.select.topK(s, v, ix, outer, len, inner, k, largest, 'test');
      const want = reference(src, outer, len, inner, k, largest);
      expect(Array.from(new Int32Array(engine.exports.memory.buffer, ix, m)), `case ${c}`).toEqual(Array.from(want.indices));
      expect(Array.from(engine.f32(v, m))).toEqual(Array.from(want.values));
      engine.free(s, src.byteLength);
      engine.free(v, Math.max(16, m * 4));
      engine.free(ix, Math.max(16, m * 4));
    }
  });

  it('refuses k above the axis length with an error naming the op', async () => {
    const engine = await instantiate(build);
    const s = engine.upload(new Float32Array(3), 'src');
    const o = engine.alloc(64, 'out');
    let error: unknown;
    try {
      engine.kernels.select.topK(s, o, o + 32, 1, 3, 1, 4, true, 'TopK node "t"');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AtrousError);
    expect((error as AtrousError).message).toMatch(/TopK node "t".*top 4 of \[1, 3, 1\]/);
  });
});
