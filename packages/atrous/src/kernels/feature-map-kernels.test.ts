// The feature-map facade's average pooling on every build against a plain JavaScript AveragePool
// (pads, strides, dilations, ceil_mode overhang, count_include_pad).
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { AtrousError } from '../errors.js';
import { BUILDS } from '../wasm/builds.js';
import { instantiate } from '../wasm/loader.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');

interface Case { planes: number; h: number; w: number; k: [number, number]; s: [number, number]; d: [number, number]; begin: [number, number]; end: [number, number]; ceil: boolean }

function outSize(n: number, k: number, s: number, d: number, b: number, e: number, ceil: boolean): number {
  const span = n + b + e - ((k - 1) * d + 1);
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (o - 1) * s >= n + b) o--;
  return o;
}

function reference(src: Float32Array, c: Case, oh: number, ow: number, includePad: boolean): number[] {
  const out: number[] = [];
  for (let p = 0; p < c.planes; p++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let sum = 0, inside = 0, padded = 0;
        for (let ky = 0; ky < c.k[0]; ky++) {
          for (let kx = 0; kx < c.k[1]; kx++) {
            const y = oy * c.s[0] + ky * c.d[0] - c.begin[0], x = ox * c.s[1] + kx * c.d[1] - c.begin[1];
            if (y < c.h + c.end[0] && x < c.w + c.end[1]) padded++;
            if (y >= 0 && x >= 0 && y < c.h && x < c.w) { sum += src[(p * c.h + y) * c.w + x]!; inside++; }
          }
        }
        const count = includePad ? padded : inside;
        out.push(inside === 0 ? 0 : sum / count);
      }
    }
  }
  return out;
}

describe('feature-map kernels', () => {
  for (const build of BUILDS) {
    it(`${build}: average pooling matches a plain AveragePool`, async () => {
      const engine = await instantiate(build);
      const cases: Case[] = [
        { planes: 3, h: 7, w: 9, k: [3, 3], s: [2, 2], d: [1, 1], begin: [1, 1], end: [1, 1], ceil: false },
        { planes: 2, h: 5, w: 6, k: [2, 3], s: [2, 2], d: [1, 1], begin: [0, 1], end: [1, 0], ceil: true },
        { planes: 1, h: 8, w: 11, k: [2, 2], s: [1, 3], d: [2, 2], begin: [1, 0], end: [0, 1], ceil: true },
        { planes: 4, h: 1, w: 13, k: [1, 5], s: [1, 2], d: [1, 1], begin: [0, 2], end: [0, 2], ceil: false },
      ];
      for (const c of cases) {
        const oh = outSize(c.h, c.k[0], c.s[0], c.d[0], c.begin[0], c.end[0], c.ceil);
        const ow = outSize(c.w, c.k[1], c.s[1], c.d[1], c.begin[1], c.end[1], c.ceil);
        const src = new Float32Array(c.planes * c.h * c.w).map((_, i) => Math.sin(i * 1.7) * 10);
        const ps = engine.upload(src, 'src');
        const pd = engine.alloc(c.planes * oh * ow * 4, 'dst');
        const desc = Uint32Array.of(c.planes, c.h, c.w, oh, ow, c.k[0], c.k[1], c.s[0], c.s[1], c.d[0], c.d[1], c.begin[0], c.begin[1]);
        for (const include of [false, true]) {
          engine.kernels.maps.avgPool2d(ps, pd, desc, c.end, include, 'avg');
          const got = Array.from(engine.f32(pd, c.planes * oh * ow));
          const want = reference(src, c, oh, ow, include);
          got.forEach((g, i) => expect(Math.abs(g - want[i]!), `${JSON.stringify(c)} include ${include} at ${i}`).toBeLessThan(1e-5 * 10));
        }
      }
      expect(() => engine.kernels.maps.avgPool2d(0, 0, Uint32Array.of(1, 2, 2, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0), [0, 0], false, 'bad')).toThrow(AtrousError);
    });
  }
});
