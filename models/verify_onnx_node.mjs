// Runs models/default/model.onnx with onnxruntime-node (the test package's copy) on the 20 committed
// samples and compares the mIoU with the torch figure that models/train_default.py wrote to model.json.
//   node models/verify_onnx_node.mjs            # prints both figures, exits 1 if they differ by > 0.002
//   node models/verify_onnx_node.mjs --write    # also records the figure in model.json
// Run by hand after `train_default.py eval`; the tests of the atrous side are written elsewhere.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { inflateSync } from 'node:zlib';

const here = new URL('./default/', import.meta.url);
const require = createRequire(new URL('../test/package.json', import.meta.url));
const ort = require('onnxruntime-node');

/** Decodes 8-bit, non-interlaced grey / RGB / RGBA PNGs (all five row filters). */
function decodePng(bytes) {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  sig.forEach((b, i) => {
    if (bytes[i] !== b) throw new Error('not a PNG');
  });
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat = [];
  while (pos < bytes.length) {
    const len = bytes.readUInt32BE(pos);
    const tag = bytes.toString('latin1', pos + 4, pos + 8);
    const body = bytes.subarray(pos + 8, pos + 8 + len);
    if (tag === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8];
      const ctype = body[9];
      if (depth !== 8 || body[12] !== 0) throw new Error(`unsupported PNG depth ${depth} / interlace ${body[12]}`);
      channels = { 0: 1, 2: 3, 6: 4 }[ctype];
      if (!channels) throw new Error(`unsupported PNG colour type ${ctype}`);
    } else if (tag === 'IDAT') {
      idat.push(body);
    }
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const ft = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? out[row + i - channels] : 0;
      const b = y > 0 ? out[row - stride + i] : 0;
      const c = y > 0 && i >= channels ? out[row - stride + i - channels] : 0;
      let p = 0;
      if (ft === 1) p = a;
      else if (ft === 2) p = b;
      else if (ft === 3) p = (a + b) >> 1;
      else if (ft === 4) {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[row + i] = (line[i] + p) & 255;
    }
  }
  return { width, height, channels, data: out };
}

const info = JSON.parse(readFileSync(new URL('model.json', here), 'utf8'));
const index = JSON.parse(readFileSync(new URL('samples/index.json', here), 'utf8'));
const nc = info.classes.length;
const session = await ort.InferenceSession.create(readFileSync(new URL(info.file, here)));
const cm = new Float64Array(nc * nc);
for (const s of index.scenes) {
  const img = decodePng(readFileSync(new URL(`samples/${s.image}`, here)));
  const mask = decodePng(readFileSync(new URL(`samples/${s.mask}`, here)));
  const { width: w, height: h } = img;
  const hw = w * h;
  const x = new Float32Array(3 * hw);
  for (let p = 0; p < hw; p++) {
    for (let c = 0; c < 3; c++) {
      x[c * hw + p] = (img.data[p * img.channels + c] / 255 - info.input.mean[c]) / info.input.std[c];
    }
  }
  const out = await session.run({ [info.input.name]: new ort.Tensor('float32', x, [1, 3, h, w]) });
  const logits = out[info.output.name];
  if (logits.dims.join(',') !== [1, nc, h, w].join(',')) throw new Error(`logits dims ${logits.dims}`);
  const l = logits.data;
  for (let p = 0; p < hw; p++) {
    let best = 0;
    for (let c = 1; c < nc; c++) if (l[c * hw + p] > l[best * hw + p]) best = c;
    cm[mask.data[p] * nc + best] += 1;
  }
}
const ious = [];
for (let c = 0; c < nc; c++) {
  let row = 0;
  let col = 0;
  for (let k = 0; k < nc; k++) {
    row += cm[c * nc + k];
    col += cm[k * nc + c];
  }
  const union = row + col - cm[c * nc + c];
  if (union > 0) ious.push(cm[c * nc + c] / union);
}
const miou = ious.reduce((a, b) => a + b, 0) / ious.length;
const torchMiou = info.miou.samples_torch;
console.log(`onnxruntime-node ${ort.env.versions?.common ?? ''} mIoU on ${index.scenes.length} samples: ${miou.toFixed(4)}`);
console.log(`torch (model.json)                    mIoU: ${torchMiou.toFixed(4)}`);
console.log(`per class: ${ious.map((v) => v.toFixed(4)).join(' ')}`);
if (process.argv.includes('--write')) {
  info.miou.samples_onnxruntime_node = Number(miou.toFixed(4));
  writeFileSync(new URL('model.json', here), `${JSON.stringify(info, null, 2)}\n`);
}
if (Math.abs(miou - torchMiou) > 0.002) {
  console.error(`mismatch: |${miou.toFixed(4)} - ${torchMiou.toFixed(4)}| > 0.002`);
  process.exit(1);
}
