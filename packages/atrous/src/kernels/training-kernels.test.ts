// The training facade on every build: the loss against its definition (ignored pixels, class weights),
// pooling and BatchNorm gradients against plain JavaScript, a bad label an AtrousError naming the op.
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { BUILDS } from '../wasm/builds.js';
import { instantiate } from '../wasm/loader.js';
import { xorshift32 as rng } from '../../test-support/seeded-random.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');

describe('training kernels', () => {
  for (const build of BUILDS) {
    it(`${build}: cross-entropy, pooling and BatchNorm gradients`, async () => {
      const e = await instantiate(build);
      const k = e.kernels.training;
      const r = rng(build.length * 7 + 3);
      const [n, c, s] = [2, 3, 7];
      const logits = Float32Array.from({ length: n * c * s }, () => r() * 6 - 3);
      const labels = Int32Array.from({ length: n * s }, (_, i) => (i % 5 === 4 ? 255 : Math.floor(r() * c)));
      const weights = Float32Array.of(0.5, 2, 1);
      const pLogits = e.upload(logits, 'logits');
      const pWeights = e.upload(weights, 'weights');
      const pLabels = e.alloc(labels.byteLength, 'labels');
      new Int32Array(e.exports.memory.buffer, pLabels, labels.length).set(labels);
      const pGrad = e.alloc(logits.byteLength, 'grad');
      const sums = k.softmaxCrossEntropy(pLogits, pLabels, pWeights, pGrad, n, c, s, 255, 'test');
      let total = 0, loss = 0;
      const want = new Float64Array(logits.length);
      for (let b = 0; b < n; b++)
        for (let p = 0; p < s; p++) {
          const t = labels[b * s + p]!;
          if (t !== 255) total += weights[t]!;
        }
      for (let b = 0; b < n; b++)
        for (let p = 0; p < s; p++) {
          const t = labels[b * s + p]!;
          if (t === 255) continue;
          const x = (j: number) => logits[(b * c + j) * s + p]!;
          const z = [0, 1, 2].reduce((a, j) => a + Math.exp(x(j)), 0);
          loss += (weights[t]! * (Math.log(z) - x(t))) / total;
          for (let j = 0; j < c; j++) want[(b * c + j) * s + p] = (weights[t]! * (Math.exp(x(j)) / z - (j === t ? 1 : 0))) / total;
        }
      expect(sums.counted).toBe(labels.filter((t) => t !== 255).length);
      expect(sums.weightSum).toBeCloseTo(total, 5);
      expect(sums.loss).toBeCloseTo(loss, 5);
      const grad = e.f32(pGrad, logits.length);
      for (let i = 0; i < grad.length; i++) expect(Math.abs(grad[i]! - want[i]!)).toBeLessThan(1e-6);
      new Int32Array(e.exports.memory.buffer, pLabels, labels.length)[0] = 3;
      expect(() => k.softmaxCrossEntropy(pLogits, pLabels, 0, 0, n, c, s, 255, 'lossTest')).toThrow(/lossTest: an index table points outside/);

      // Max pool 2x2 stride 2 over one 2x4 plane, then the mean of two planes of 4.
      const desc = Uint32Array.of(1, 2, 4, 1, 2, 2, 2, 2, 2, 1, 1, 0, 0);
      const x = e.upload(Float32Array.of(1, 5, 2, 0, 3, 4, 9, 2), 'x');
      const dy = e.upload(Float32Array.of(10, 20), 'dy');
      const dx = e.alloc(32, 'dx');
      k.maxPool2d(x, dy, dx, desc, 'test');
      expect(Array.from(e.f32(dx, 8))).toEqual([0, 10, 0, 0, 0, 0, 20, 0]);
      k.avgPool2d(dy, dx, desc, [0, 0], false, 'test');
      expect(Array.from(e.f32(dx, 8))).toEqual([2.5, 2.5, 5, 5, 2.5, 2.5, 5, 5]);
      k.meanPlanes(dy, dx, 2, 4, 'test');
      expect(Array.from(e.f32(dx, 8))).toEqual([2.5, 2.5, 2.5, 2.5, 5, 5, 5, 5]);

      // BatchNorm over [1, 2, 4] (x as above): scale 2 and -1, inv_std 4 and 0.5, mean 1 and 3.
      const [scale, invStd, mean] = [e.upload(Float32Array.of(2, -1), 's'), e.upload(Float32Array.of(4, 0.5), 'i'), e.upload(Float32Array.of(1, 3), 'm')];
      const g = e.upload(Float32Array.of(1, 1, 1, 1, 1, 2, 3, 4), 'g');
      const [gg, gb] = [e.alloc(8, 'gg'), e.alloc(8, 'gb')];
      k.batchNorm(x, g, { gradInput: dx, gradGamma: gg, gradBeta: gb }, 1, 2, 4, scale, invStd, mean, 'test');
      expect(Array.from(e.f32(dx, 8))).toEqual([2, 2, 2, 2, -1, -2, -3, -4]);
      expect(Array.from(e.f32(gb, 2))).toEqual([4, 10]);
      // gamma: 4 * ((1-1) + (5-1) + (2-1) + (0-1)) = 16; 0.5 * (0*1 + 1*2 + 6*3 + -1*4) = 8.
      expect(Array.from(e.f32(gg, 2))).toEqual([16, 8]);
    });
  }
});
