#!/usr/bin/env node
// Measures what teach mode's head should sit on: for each candidate (tensors of the built-in model, with or
// without the image, head kernel, input size), trains a fresh head on the features of astronaut.png from the
// scribbles in teach-strokes.mjs and scores the taught mask against MediaPipe's selfie mask (person IoU and
// pixel agreement). Not a pass/fail test: its numbers are in examples/segment-web/README.md.
//   node test/apps/measure-teach.mjs <selfie-mask.png> [steps]
// (the mask from `node examples/segment-node/dist/cli.js astronaut.png --model selfie --out <dir>`)
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createTrainer, InferenceSession, Tensor } from 'atrous';
import { buildFeatureExtractor, buildHead, decodeMask, imageToPlanes, labelsOnGrid, maskIoU, readOnnxMetadata, ScribbleMap, specForUnknownModel, spliceTaughtModel, UNPAINTED } from 'segment-core';
import { PNG } from 'pngjs';
import { ASTRONAUT_STROKES } from './teach-strokes.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const png = PNG.sync.read(readFileSync('/usr/lib/python3/dist-packages/skimage/data/astronaut.png'));
const image = { width: png.width, height: png.height, data: new Uint8ClampedArray(png.data) };
const refPng = PNG.sync.read(readFileSync(process.argv[2]));
const reference = new Uint8Array(refPng.width * refPng.height);
for (let i = 0; i < reference.length; i++) reference[i] = refPng.data[4 * i] > 127 ? 1 : 0;
const steps = Number(process.argv[3] ?? 60);
const base = new Uint8Array(readFileSync(join(ROOT, 'models/default/model.onnx')));
const MEAN = [0.5, 0.5, 0.5];
const STD = [0.25, 0.25, 0.25];

const map = new ScribbleMap(image.width, image.height);
const RADIUS = 6;
const seed = process.env.STROKES_SEED;
if (seed === undefined) {
  for (const [x0, y0, x1, y1] of ASTRONAUT_STROKES.background) map.stroke(x0, y0, x1, y1, RADIUS, 0);
  for (const [x0, y0, x1, y1] of ASTRONAUT_STROKES.person) map.stroke(x0, y0, x1, y1, RADIUS, 1);
} else {
  for (const [x0, y0, x1, y1, c] of randomStrokes(Number(seed))) map.stroke(x0, y0, x1, y1, RADIUS, c);
}

/**
 * Other scribbles for the same photo (STROKES_SEED=n): 5 strokes per class, 60 px long, each well inside
 * its class of the reference mask (every pixel within 16 px of the stroke's ends and middle is that class).
 */
function randomStrokes(seed) {
  const { width: w, height: h } = image;
  const r = 16;
  // Integral image of the person mask: a box is one class when its sum is 0 or its area.
  const sum = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) sum[(y + 1) * (w + 1) + x + 1] = reference[y * w + x] + sum[y * (w + 1) + x + 1] + sum[(y + 1) * (w + 1) + x] - sum[y * (w + 1) + x];
  const deep = (x, y, c) => {
    x = Math.round(x); y = Math.round(y);
    if (x - r < 0 || y - r < 0 || x + r >= w || y + r >= h) return false;
    const s = sum[(y + r + 1) * (w + 1) + x + r + 1] - sum[(y - r) * (w + 1) + x + r + 1] - sum[(y + r + 1) * (w + 1) + x - r] + sum[(y - r) * (w + 1) + x - r];
    return s === (c === 1 ? (2 * r + 1) ** 2 : 0);
  };
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const strokes = [];
  for (const c of [0, 1]) {
    let found = 0;
    while (found < 5) {
      const x0 = random() * w, y0 = random() * h, angle = random() * Math.PI;
      const x1 = x0 + 60 * Math.cos(angle), y1 = y0 + 60 * Math.sin(angle);
      if (deep(x0, y0, c) && deep(x1, y1, c) && deep((x0 + x1) / 2, (y0 + y1) / 2, c)) {
        strokes.push([x0, y0, x1, y1, c]);
        found++;
      }
    }
  }
  return strokes;
}

const CANDIDATES = {
  'skip (stride 4, 24 ch)': ['/low/low.2/Relu_output_0'],
  'decoder input /Concat_2 (ASPP + skip, 88 ch)': ['/Concat_2_output_0'],
  'decoder output (48 ch)': ['/decoder/decoder.1/decoder.1.2/Relu_output_0'],
  'hypercolumn: skip, layer2, layer3, ASPP (200 ch)': ['/low/low.2/Relu_output_0', '/layer2/layer2.1/Relu_1_output_0', '/layer3/layer3.2/Relu_1_output_0', '/aspp/project/project.2/Relu_output_0'],
};
const only = process.env.ONLY;
const configs = [];
// ISNET=<isnet_fp16.onnx>: ISNet's decoder stage 2 (64 channels at a quarter of its fixed 1024 x 1024 input).
if (process.env.ISNET) configs.push({ name: 'ISNet stage2d (64 ch)', tensors: ['graph_output_cast_7'], withImage: true, withCoordinates: true, size: 1024, kernel: 1, base: new Uint8Array(readFileSync(process.env.ISNET)), mean: [0.5, 0.5, 0.5], std: [1, 1, 1] });
else
for (const [name, tensors] of Object.entries(CANDIDATES)) for (const withImage of [false, true]) for (const size of [256, 512]) for (const kernel of [1, 3]) for (const withCoordinates of [false, true]) {
  if (name.startsWith('skip') && !withImage) continue;
  configs.push({ name, tensors, withImage, withCoordinates, size, kernel });
}

async function runOnce(bytes, input) {
  const session = await InferenceSession.create(bytes);
  try {
    const out = await session.run({ [session.inputNames[0]]: input });
    return out[session.outputNames[0]];
  } finally {
    session.dispose();
  }
}

console.log(`scribbles: ${map.counts(2).join(' / ')} px (background / person) of ${map.ids.length}; ${steps} steps of Adam`);
for (const c of configs) {
  const label = `${c.name}${c.withImage ? ' + image' : ''}${c.withCoordinates ? ' + xy' : ''} | ${c.size} px | ${c.kernel}x${c.kernel} head`;
  if (only && !label.includes(only)) continue;
  const [h, w] = [c.size, c.size];
  const input = new Tensor('float32', imageToPlanes(image, w, h, c.mean ?? MEAN, c.std ?? STD), [1, 3, h, w]);
  const extractor = buildFeatureExtractor(c.base ?? base, { tensors: c.tensors, withImage: c.withImage, withCoordinates: c.withCoordinates });
  const t0 = performance.now();
  const features = await runOnce(extractor, input);
  const featureMs = performance.now() - t0;
  const [, f, gh, gw] = features.dims;
  const labels = labelsOnGrid(map, gw, gh, 2);
  const head = buildHead({ inChannels: f, classes: 2, hidden: 32, kernel: c.kernel, seed: 1 });
  const trainer = await createTrainer(head, { trainable: 'all', loss: { type: 'softmaxCrossEntropy', ignoreIndex: UNPAINTED }, optimizer: { type: 'adam', learningRate: Number(process.env.LR ?? 0.01) } });
  const losses = [];
  const t1 = performance.now();
  for (let s = 0; s < steps; s++) losses.push((await trainer.step({ features }, labels)).loss);
  const stepMs = (performance.now() - t1) / steps;
  const tuned = trainer.exportModel();
  trainer.dispose();
  const taught = spliceTaughtModel(extractor, tuned, { classes: ['background', 'person'], palette: [[0, 0, 0], [255, 64, 160]], mean: MEAN, std: STD });
  const scores = await runOnce(taught, input);
  const spec = specForUnknownModel({ name: 'taught', outputChannels: 2, metadata: readOnnxMetadata(taught) });
  const mask = decodeMask({ data: scores.data, dims: scores.dims }, spec, image.width, image.height);
  const iou = maskIoU(mask, { width: image.width, height: image.height, data: reference }, 2);
  if (process.env.SAVE) {
    const out = new PNG({ width: image.width, height: image.height });
    for (let i = 0; i < mask.data.length; i++) {
      const k = mask.data[i] === 1 ? 1 : 0.35;
      out.data[4 * i] = image.data[4 * i] * k + (mask.data[i] !== reference[i] ? 255 * (1 - k) : 0);
      out.data[4 * i + 1] = image.data[4 * i + 1] * k;
      out.data[4 * i + 2] = image.data[4 * i + 2] * k;
      out.data[4 * i + 3] = 255;
    }
    writeFileSync(process.env.SAVE, PNG.sync.write(out));
  }
  console.log(`${label.padEnd(90)} F=${String(f).padStart(3)} grid ${gw}x${gh} | features ${featureMs.toFixed(0)} ms | step ${stepMs.toFixed(1)} ms | loss ${losses[0].toFixed(3)} -> ${losses.at(-1).toFixed(4)} | person IoU ${iou.perClass[1].toFixed(3)} mIoU ${iou.mean.toFixed(3)} agree ${(iou.pixelAgreement * 100).toFixed(1)} %`);
}
