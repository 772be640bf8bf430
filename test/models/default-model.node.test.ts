// The built-in model through atrous on its 20 committed held-out scenes: the mIoU must be within 0.02 of
// the figure its model card (model.json) records, and each pixel's class must agree with onnxruntime-node.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { InferenceSession, Tensor, init } from 'atrous';

const modelDir = fileURLToPath(new URL('../../models/default/', import.meta.url));
const card = JSON.parse(readFileSync(`${modelDir}model.json`, 'utf8'));
const samples: { image: string; mask: string }[] = JSON.parse(readFileSync(`${modelDir}samples/index.json`, 'utf8')).scenes;

function readPng(path: string): PNG {
  return PNG.sync.read(readFileSync(path));
}

/** RGB planes normalised as the card says: (pixel / 255 - mean) / std. */
function toInput(png: PNG): Float32Array {
  const { width, height, data } = png;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const [mean, std] = [card.input.mean[c], card.input.std[c]];
    for (let i = 0; i < plane; i++) out[c * plane + i] = (data[4 * i + c]! / 255 - mean) / std;
  }
  return out;
}

function argmax(logits: Float32Array, classes: number, plane: number): Uint8Array {
  const out = new Uint8Array(plane);
  for (let i = 0; i < plane; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[c * plane + i]! > logits[best * plane + i]!) best = c;
    out[i] = best;
  }
  return out;
}

describe('built-in model on its held-out samples', () => {
  let session: InferenceSession;
  let oracle: ort.InferenceSession;
  beforeAll(async () => {
    await init();
    const bytes = readFileSync(`${modelDir}model.onnx`);
    session = await InferenceSession.create(new Uint8Array(bytes));
    oracle = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  });

  it(`mIoU through atrous is within 0.02 of the card's ${card.miou.samples_torch}`, async () => {
    expect(samples).toHaveLength(20);
    const classes: number = card.classes.length;
    const confusion = new Float64Array(classes * classes);
    let agree = 0;
    let pixels = 0;
    for (const sample of samples) {
      const png = readPng(`${modelDir}samples/${sample.image}`);
      const truth = readPng(`${modelDir}samples/${sample.mask}`);
      const dims = [1, 3, png.height, png.width];
      const input = toInput(png);
      const { [card.output.name]: logits } = await session.run({ [card.input.name]: new Tensor('float32', input, dims) });
      expect(logits!.dims).toEqual([1, classes, png.height, png.width]);
      const plane = png.width * png.height;
      const predicted = argmax(logits!.data as Float32Array, classes, plane);
      const reference = await oracle.run({ [card.input.name]: new ort.Tensor('float32', input, dims) });
      const expected = argmax(reference[card.output.name]!.data as Float32Array, classes, plane);
      for (let i = 0; i < plane; i++) {
        confusion[truth.data[4 * i]! * classes + predicted[i]!]!++;
        if (predicted[i] === expected[i]) agree++;
      }
      pixels += plane;
    }
    let total = 0;
    let present = 0;
    for (let c = 0; c < classes; c++) {
      let row = 0;
      let col = 0;
      for (let k = 0; k < classes; k++) {
        row += confusion[c * classes + k]!;
        col += confusion[k * classes + c]!;
      }
      const union = row + col - confusion[c * classes + c]!;
      if (union > 0) {
        total += confusion[c * classes + c]! / union;
        present++;
      }
    }
    const miou = total / present;
    console.log(`[default model] mIoU through atrous ${miou.toFixed(4)} (card ${card.miou.samples_torch}), class agreement with onnxruntime-node ${((100 * agree) / pixels).toFixed(3)} %`);
    expect(Math.abs(miou - card.miou.samples_torch)).toBeLessThanOrEqual(0.02);
    expect(agree / pixels).toBeGreaterThanOrEqual(0.999);
  });
});
