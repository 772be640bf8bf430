// One brief measurement (issue 9): ConvTranspose stride 2 through today's session path (input spread
// with zeros in JavaScript, then a stride-1 conv) against the direct phase-decomposed kernel
// (engine.kernels.convTranspose), relaxed build, median of 10 runs after 2 warm-ups. Also checks that
// the two agree. Run: node --experimental-wasm-relaxed-simd bench/conv-transpose-direct.mjs
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { InferenceSession, Tensor } from '../packages/atrous/dist/index.js';
import { instantiate } from '../packages/atrous/dist/wasm/loader.js';
import { resolveActivation } from '../packages/atrous/dist/ops/activation.js';

const require = createRequire(import.meta.url);
const { onnx } = require('../packages/atrous/node_modules/onnx-proto');
const FLOAT = onnx.TensorProto.DataType.FLOAT;

const [C, M, K, S, P, OP, H, W] = [64, 32, 3, 2, 1, 1, 64, 64];
const OH = S * (H - 1) + OP + K - 2 * P;
const OW = S * (W - 1) + OP + K - 2 * P;
let seed = 7;
const rand = (n) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
const weights = rand(C * M * K * K);
const bias = rand(M);
const input = rand(C * H * W);

const raw = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const model = onnx.ModelProto.encode({
  irVersion: 8,
  opsetImport: [{ domain: '', version: 13 }],
  graph: {
    name: 'convtranspose',
    node: [{
      opType: 'ConvTranspose', name: 'up', input: ['X', 'W', 'B'], output: ['Y'],
      attribute: [
        { name: 'strides', type: onnx.AttributeProto.AttributeType.INTS, ints: [S, S] },
        { name: 'pads', type: onnx.AttributeProto.AttributeType.INTS, ints: [P, P, P, P] },
        { name: 'output_padding', type: onnx.AttributeProto.AttributeType.INTS, ints: [OP, OP] },
        { name: 'kernel_shape', type: onnx.AttributeProto.AttributeType.INTS, ints: [K, K] },
      ],
    }],
    initializer: [
      { name: 'W', dims: [C, M, K, K], dataType: FLOAT, rawData: raw(weights) },
      { name: 'B', dims: [M], dataType: FLOAT, rawData: raw(bias) },
    ],
    input: [{ name: 'X', type: { tensorType: { elemType: FLOAT, shape: { dim: [1, C, H, W].map((d) => ({ dimValue: d })) } } } }],
    output: [{ name: 'Y', type: { tensorType: { elemType: FLOAT } } }],
  },
}).finish();

const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
async function time(fn) {
  for (let i = 0; i < 2; i++) await fn();
  const t = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

const session = await InferenceSession.create(model, { build: 'relaxed' });
const feed = { X: new Tensor('float32', input, [1, C, H, W]) };
let sessionOut;
const spread = await time(async () => (sessionOut = (await session.run(feed)).Y.data));

const engine = await instantiate('relaxed');
const k = engine.kernels.convTranspose;
const spec = { inChannels: C, outChannels: M, kernel: [K, K], strides: [S, S], dilations: [1, 1], padsBegin: [P, P], groups: 1, activation: resolveActivation('none', 'a') };
const plan = k.createPlan(spec, weights, bias, 'up');
const x = engine.upload(input, 'x');
const y = engine.alloc(M * OH * OW * 4, 'y');
const direct = await time(() => k.run(plan, x, 1, H, W, y, OH, OW, 'up'));
const got = engine.f32(y, M * OH * OW);
let worst = 0, scale = 0;
for (let i = 0; i < got.length; i++) {
  worst = Math.max(worst, Math.abs(got[i] - sessionOut[i]));
  scale = Math.max(scale, Math.abs(sessionOut[i]));
}
console.log(`ConvTranspose ${C}->${M}, ${K}x${K}, stride ${S}, pads ${P}, output_padding ${OP}: [1, ${C}, ${H}, ${W}] -> [1, ${M}, ${OH}, ${OW}], relaxed build`);
console.log(`CPU: ${cpus()[0].model}`);
console.log(`session (spread + conv): ${spread.toFixed(2)} ms median of 10`);
console.log(`direct plan (phases):    ${direct.toFixed(2)} ms median of 10`);
console.log(`ratio: ${(spread / direct).toFixed(2)}x; max |diff| / max |out| = ${(worst / scale).toExponential(2)}`);
