// The teach models run by atrous: the extractor's features are the base model's own tensors plus the
// resized image and position planes; the spliced model is exactly extractor -> head -> bilinear resize.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createTrainer, InferenceSession, Tensor } from 'atrous';
import { describe, expect, it } from 'vitest';
import { readOnnxMetadata } from '../onnx-metadata.js';
import { buildFeatureExtractor, buildHead, FEATURES, HEAD_PARAMETERS, spliceTaughtModel } from './teach-models.js';
import { TEACH_FEATURES } from './teach-recipe.js';

const BASE = new Uint8Array(readFileSync(resolve(import.meta.dirname, '../../../../models/default/model.onnx')));
/** The built-in model's last hidden layer: 48 channels at stride 4. */
const DECODER = '/decoder/decoder.1/decoder.1.2/Relu_output_0';

async function run(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Tensor<'float32'>[]> {
  const session = await InferenceSession.create(bytes);
  try {
    const out = await session.run(feeds);
    return session.outputNames.map((n) => out[n] as Tensor<'float32'>);
  } finally {
    session.dispose();
  }
}

function image(h: number, w: number): Tensor<'float32'> {
  const data = new Float32Array(3 * h * w);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 1.5;
  return new Tensor('float32', data, [1, 3, h, w]);
}

/** Bilinear resize, half_pixel, edge-clamped: ONNX Resize's linear mode, written out for the check. */
function resizeBilinear(x: Float32Array, c: number, h: number, w: number, H: number, W: number): Float32Array {
  const out = new Float32Array(c * H * W);
  const src = (o: number, size: number, outSize: number) => Math.min(size - 1, Math.max(0, ((o + 0.5) * size) / outSize - 0.5));
  for (let k = 0; k < c; k++) {
    for (let oy = 0; oy < H; oy++) {
      const sy = src(oy, h, H);
      const y0 = Math.floor(sy);
      const y1 = Math.min(h - 1, y0 + 1);
      const fy = sy - y0;
      for (let ox = 0; ox < W; ox++) {
        const sx = src(ox, w, W);
        const x0 = Math.floor(sx);
        const x1 = Math.min(w - 1, x0 + 1);
        const fx = sx - x0;
        const at = (yy: number, xx: number) => x[k * h * w + yy * w + xx]!;
        out[k * H * W + oy * W + ox] = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
      }
    }
  }
  return out;
}

describe('teach models', () => {
  it("the extractor outputs the base model's tensor, then the image and x, y resized to its grid", async () => {
    const x = image(64, 48);
    const extractor = buildFeatureExtractor(BASE, { tensors: [DECODER], withImage: true, withCoordinates: true });
    const [features] = await run(extractor, { image: x });
    expect(features!.dims).toEqual([1, 48 + 3 + 2, 16, 12]);
    // The first 48 channels are the base model's own decoder output.
    const only = buildFeatureExtractor(BASE, { tensors: [DECODER], withImage: false });
    const [decoder] = await run(only, { image: x });
    expect(decoder!.dims).toEqual([1, 48, 16, 12]);
    const plane = 16 * 12;
    const f = features!.data as Float32Array;
    expect(Array.from(f.subarray(0, 48 * plane))).toEqual(Array.from(decoder!.data as Float32Array));
    // The normalised image, resized to the grid as ONNX's bilinear Resize does it.
    const img = resizeBilinear(x.data as Float32Array, 3, 64, 48, 16, 12);
    for (let i = 0; i < 3 * plane; i++) expect(f[48 * plane + i]).toBeCloseTo(img[i]!, 4);
    // x grows along a row and is the same down a column; y the other way; both within [-1, 1].
    const xs = f.subarray(51 * plane, 52 * plane);
    const ys = f.subarray(52 * plane, 53 * plane);
    expect(xs[11]!).toBeGreaterThan(xs[0]!);
    expect(xs[5 * 12 + 3]).toBeCloseTo(xs[3]!, 6);
    expect(ys[15 * 12]!).toBeGreaterThan(ys[0]!);
    expect(ys[4 * 12 + 7]).toBeCloseTo(ys[4 * 12]!, 6);
    for (const v of [...xs, ...ys]) expect(Math.abs(v)).toBeLessThanOrEqual(1);
  });

  it('the spliced model is extractor, head and a bilinear resize to the input size, with the classes in its metadata', async () => {
    const x = image(40, 56);
    const extractor = buildFeatureExtractor(BASE, TEACH_FEATURES.builtin.extractor);
    const [features] = await run(extractor, { image: x });
    const [, channels, h, w] = features!.dims as number[];
    const head = buildHead({ inChannels: channels!, classes: 3, hidden: 8, kernel: 3, seed: 7 });
    // A few training steps first, so the spliced weights are the tuned ones, not the initial ones.
    const trainer = await createTrainer(head, { trainable: 'all', loss: { type: 'softmaxCrossEntropy', ignoreIndex: 255 }, optimizer: { type: 'adam', learningRate: 0.05 } });
    expect([...trainer.parameterNames].sort()).toEqual([...HEAD_PARAMETERS].sort());
    const labels = new Uint8Array(h! * w!).map((_, i) => (i % 7 === 0 ? 255 : i % 3));
    for (let s = 0; s < 3; s++) trainer.step({ [FEATURES]: features! }, labels);
    const tuned = trainer.exportModel();
    trainer.dispose();
    const [headOut] = await run(tuned, { [FEATURES]: features! });
    const [untuned] = await run(head, { [FEATURES]: features! });
    expect(Array.from(headOut!.data as Float32Array)).not.toEqual(Array.from(untuned!.data as Float32Array));
    const info = { classes: ['background', 'a', 'b'], palette: [[0, 0, 0], [255, 0, 0], [0, 255, 0]] as [number, number, number][], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
    const taught = spliceTaughtModel(extractor, tuned, info);
    const [logits] = await run(taught, { image: x });
    expect(logits!.dims).toEqual([1, 3, 40, 56]);
    const want = resizeBilinear(headOut!.data as Float32Array, 3, h!, w!, 40, 56);
    const got = logits!.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    expect(worst).toBeLessThan(1e-4);
    const metadata = readOnnxMetadata(taught);
    expect(JSON.parse(metadata.classes!)).toEqual(info.classes);
    expect(JSON.parse(metadata.palette!)).toEqual(info.palette);
    expect(JSON.parse(metadata.mean!)).toEqual(info.mean);
  });

  it('names the bad argument', () => {
    expect(() => buildFeatureExtractor(BASE, { tensors: ['/no/such'], withImage: false })).toThrow(/no node of the model outputs "\/no\/such"/);
    expect(() => buildFeatureExtractor(BASE, { tensors: [], withImage: false })).toThrow(/options.tensors must name at least one tensor/);
    expect(() => buildFeatureExtractor(new Uint8Array([1, 2, 3]), { tensors: [DECODER], withImage: false })).toThrow(/buildFeatureExtractor: base: not an ONNX model/);
    expect(() => buildHead({ inChannels: 4, classes: 1, hidden: 8, kernel: 3, seed: 1 })).toThrow(/options.classes must be an integer >= 2, got 1/);
    expect(() => buildHead({ inChannels: 4, classes: 2, hidden: 8, kernel: 2, seed: 1 })).toThrow(/options.kernel must be an odd positive integer, got 2/);
    const extractor = buildFeatureExtractor(BASE, { tensors: [DECODER], withImage: false });
    const head = buildHead({ inChannels: 48, classes: 2, hidden: 4, kernel: 1, seed: 1 });
    expect(() => spliceTaughtModel(extractor, head, { classes: ['a', 'b', 'c'], palette: [], mean: [], std: [] })).toThrow(/the head scores 2 classes but info.classes names 3/);
    expect(() => spliceTaughtModel(head, head, { classes: ['a', 'b'], palette: [], mean: [], std: [] })).toThrow(/the extractor has no output "features"/);
  });
});
