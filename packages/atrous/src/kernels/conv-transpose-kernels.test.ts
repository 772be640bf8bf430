// The ConvTranspose facade on every build against a plain JavaScript scatter (every input pixel times
// every tap, added where it lands), on random shapes with strides, dilations, pads, groups, output
// padding, kernels smaller than the stride, activations and batch 2.
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { resolveActivation, type Activation } from '../ops/activation.js';
import { BUILDS } from '../wasm/builds.js';
import { instantiate } from '../wasm/loader.js';
import { xorshift32 as rng } from '../../test-support/seeded-random.js';
import type { ConvTransposeSpec } from './conv-transpose-kernels.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');


function scatter(s: ConvTransposeSpec, x: Float32Array, w: Float32Array, bias: Float32Array | undefined, act: (v: number) => number, n: number, h: number, wd: number, oh: number, ow: number): Float32Array {
  const m = s.outChannels, cg = s.inChannels / s.groups, mg = m / s.groups;
  const [kh, kw] = s.kernel;
  const acc = new Float64Array(n * m * oh * ow);
  for (let b = 0; b < n; b++)
    for (let c = 0; c < s.inChannels; c++)
      for (let mo = 0; mo < mg; mo++) {
        const oc = Math.floor(c / cg) * mg + mo;
        for (let iy = 0; iy < h; iy++)
          for (let ix = 0; ix < wd; ix++) {
            const v = x[((b * s.inChannels + c) * h + iy) * wd + ix]!;
            for (let ky = 0; ky < kh; ky++) {
              const oy = iy * s.strides[0] + ky * s.dilations[0] - s.padsBegin[0];
              if (oy < 0 || oy >= oh) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ox = ix * s.strides[1] + kx * s.dilations[1] - s.padsBegin[1];
                if (ox < 0 || ox >= ow) continue;
                acc[((b * m + oc) * oh + oy) * ow + ox]! += v * w[((c * mg + mo) * kh + ky) * kw + kx]!;
              }
            }
          }
      }
  return Float32Array.from(acc, (a, i) => act(a + (bias ? bias[Math.floor(i / (oh * ow)) % m]! : 0)));
}

const ACTIVATIONS: [Activation, (v: number) => number][] = [
  ['none', (v) => v],
  ['relu', (v) => Math.max(v, 0)],
  [{ type: 'clip', min: -0.25, max: 0.5 }, (v) => Math.min(Math.max(v, -0.25), 0.5)],
  ['sigmoid', (v) => 1 / (1 + Math.exp(-v))],
];

describe('conv transpose kernels', () => {
  for (const build of BUILDS) {
    it(`${build}: plans match a scatter reference on random shapes`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.convTranspose;
      const r = rng(build.length * 1009 + 7);
      const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
      const vec = (len: number) => Float32Array.from({ length: len }, () => r() * 2 - 1);
      for (let trial = 0; trial < 40; trial++) {
        const oneD = trial % 5 === 4;
        const groups = [1, 1, 2, 3][int(0, 3)]!;
        const depthwise = trial % 7 === 3;
        const [g, cg, mg] = depthwise ? [int(2, 5), 1, int(1, 2)] : [groups, int(1, 5), int(1, 6)];
        const axis = (flat: boolean) => {
          if (flat) return { k: 1, s: 1, d: 1, pb: 0, size: 1, out: 1 };
          const [kk, s, d] = [int(1, 4), int(1, 3), int(1, 2)];
          const [pb, pe, size] = [int(0, 3), int(0, 3), int(1, 9)];
          const op = int(0, Math.max(s, d) - 1);
          return { k: kk, s, d, pb, size, out: s * (size - 1) + op + (kk - 1) * d + 1 - pb - pe };
        };
        const [y, x] = [axis(oneD), axis(false)];
        if (y.out < 1 || x.out < 1) continue;
        const [activation, act] = ACTIVATIONS[trial % ACTIVATIONS.length]!;
        const spec: ConvTransposeSpec = {
          inChannels: g * cg,
          outChannels: g * mg,
          kernel: [y.k, x.k],
          strides: [y.s, x.s],
          dilations: [y.d, x.d],
          padsBegin: [y.pb, x.pb],
          groups: g,
          activation: resolveActivation(activation, 'activation'),
        };
        const batch = int(1, 2);
        const input = vec(batch * spec.inChannels * y.size * x.size);
        const weights = vec(spec.inChannels * mg * y.k * x.k);
        const bias = trial % 3 === 0 ? undefined : vec(spec.outChannels);
        const want = scatter(spec, input, weights, bias, act, batch, y.size, x.size, y.out, x.out);
        const plan = k.createPlan(spec, weights, bias, 'ConvTranspose_1');
        const inPtr = engine.upload(input, 'input');
        const outPtr = engine.upload(new Float32Array(want.length).fill(Number.NaN), 'output');
        try {
          expect(k.planBytes(plan)).toBeGreaterThanOrEqual(weights.byteLength);
          k.run(plan, inPtr, batch, y.size, x.size, outPtr, y.out, x.out, 'ConvTranspose_1');
          const got = engine.f32(outPtr, want.length);
          const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-3);
          let worst = 0;
          for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / scale);
          expect(worst, JSON.stringify({ spec, batch, y, x })).toBeLessThanOrEqual(1e-5);
        } finally {
          engine.free(inPtr, input.byteLength);
          engine.free(outPtr, want.length * 4);
          k.freePlan(plan);
        }
      }
    });

    it(`${build}: bad specs and sizes are AtrousErrors naming the op`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.convTranspose;
      const spec: ConvTransposeSpec = {
        inChannels: 4,
        outChannels: 6,
        kernel: [3, 3],
        strides: [2, 2],
        dilations: [1, 1],
        padsBegin: [1, 1],
        groups: 2,
        activation: resolveActivation('none', 'a'),
      };
      expect(() => k.createPlan(spec, new Float32Array(10), undefined, 'Up_3')).toThrow(/Up_3: weights hold 10 floats/);
      expect(() => k.createPlan({ ...spec, strides: [0, 2] }, new Float32Array(4 * 3 * 9), undefined, 'Up_3')).toThrow(/Up_3: a stride is not positive/);
      const plan = k.createPlan(spec, new Float32Array(4 * 3 * 9), new Float32Array(6), 'Up_3');
      try {
        expect(() => k.run(plan, 64, 1, 2, 2, 1024, 0, 4, 'Up_3')).toThrow(/Up_3: a dimension is zero/);
      } finally {
        k.freePlan(plan);
      }
    });
  }
});
