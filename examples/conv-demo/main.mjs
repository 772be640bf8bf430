// A tour of dilated convolution: each layer runs in atrous and in onnxruntime-node (the native oracle)
// on the same random data, and the demo prints the output shape, the time, and how far apart they are.
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { init, prepareConv2d, Tensor } from 'atrous';

const { onnx } = onnxProto;

function random(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** A one-node ONNX Conv model with explicit pads, for onnxruntime-node. */
function convModel(weights, bias, { strides, dilations, pads, groups }) {
  const tensor = (name, t) => onnx.TensorProto.create({ name, dims: t.dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: Array.from(t.data) });
  const attr = (name, ints) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'conv',
      node: [{
        opType: 'Conv', input: ['x', 'w', 'b'], output: ['y'],
        attribute: [attr('strides', strides), attr('dilations', dilations), attr('pads', pads),
          onnx.AttributeProto.create({ name: 'group', type: onnx.AttributeProto.AttributeType.INT, i: groups })],
      }],
      initializer: [tensor('w', weights), tensor('b', bias)],
      input: [{ name: 'x', type: { tensorType: { elemType: 1 } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

const layers = [
  { name: 'classic: 5x5, dilation 2, SAME (a 9x9 window from 25 weights)', c: 1, m: 1, k: 5, h: 28, w: 28, d: 2, s: 1, g: 1, pads: 'same-upper' },
  { name: 'ASPP branch: 3x3, rate 12, on a 33x33 feature map', c: 256, m: 256, k: 3, h: 33, w: 33, d: 12, s: 1, g: 1, pads: [12, 12, 12, 12] },
  { name: 'stride 2 with dilation 2 (tfjs refuses this)', c: 32, m: 64, k: 3, h: 128, w: 128, d: 2, s: 2, g: 1, pads: [2, 2, 2, 2] },
  { name: 'depthwise 3x3, dilation 2', c: 960, m: 960, k: 3, h: 33, w: 33, d: 2, s: 1, g: 960, pads: [2, 2, 2, 2] },
];

const engine = await init();
console.log(`atrous: wasm build "${engine.build}"\n`);
const rows = [];
for (const [i, L] of layers.entries()) {
  const x = new Tensor('float32', random(L.c * L.h * L.w, 1 + i), [1, L.c, L.h, L.w]);
  const w = new Tensor('float32', random(L.m * (L.c / L.g) * L.k * L.k, 100 + i).map((v) => v * 0.2), [L.m, L.c / L.g, L.k, L.k]);
  const b = new Tensor('float32', random(L.m, 200 + i), [L.m]);
  const plan = prepareConv2d(w, { bias: b, dilations: [L.d, L.d], strides: [L.s, L.s], pads: L.pads, groups: L.g });
  plan.run(x); // warm-up
  const t0 = performance.now();
  const y = plan.run(x);
  const ms = performance.now() - t0;
  // The oracle gets explicit pads: onnxruntime rejects auto_pad SAME together with dilation.
  const eff = (L.k - 1) * L.d + 1;
  const pads = L.pads === 'same-upper' ? (() => { const t = Math.max(0, (Math.ceil(L.h / L.s) - 1) * L.s + eff - L.h); return [t >> 1, t >> 1, t - (t >> 1), t - (t >> 1)]; })() : L.pads;
  const session = await ort.InferenceSession.create(convModel(w, b, { strides: [L.s, L.s], dilations: [L.d, L.d], pads, groups: L.g }));
  const { y: want } = await session.run({ x: new ort.Tensor('float32', x.data, x.dims) });
  let maxAbs = 0, maxDiff = 0;
  for (let j = 0; j < want.data.length; j++) {
    maxAbs = Math.max(maxAbs, Math.abs(want.data[j]));
    maxDiff = Math.max(maxDiff, Math.abs(want.data[j] - y.data[j]));
  }
  plan.dispose();
  rows.push({ layer: L.name, input: `[${x.dims}]`, output: `[${y.dims}]`, 'ms': ms.toFixed(2), 'max |diff| / max |y|': (maxDiff / maxAbs).toExponential(1), parity: maxDiff / maxAbs <= 1e-4 ? 'ok' : 'MISMATCH' });
}
console.table(rows);
if (rows.some((r) => r.parity !== 'ok')) process.exitCode = 1;
