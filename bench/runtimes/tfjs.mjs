import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const TIMING =
  'tfjs: `tf.tensor4d` of the NHWC input (a copy into the wasm heap, as atrous and onnxruntime-web copy theirs; ' +
  'the NCHW->NHWC transpose is done once, outside the timing), `tf.fused.conv2d` / `tf.fused.depthwiseConv2d` ' +
  'with bias, `dataSync()` (copies the output out into a new array) and `dispose()` of both tensors; the output ' +
  'is transposed back to NCHW only for the comparison, outside the timing';

let tf;

/** Loads tfjs-core with the wasm backend, single-threaded (XNNPACK). */
export async function loadTfjs() {
  if (tf) return tf;
  tf = require('@tensorflow/tfjs-core');
  require('@tensorflow/tfjs-backend-wasm');
  // tfjs already reports no threads under Node; set it anyway so a future version cannot pick the threaded build.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend failed to initialise');
  await tf.ready();
  if (tf.getBackend() !== 'wasm') throw new Error(`tfjs: backend is ${tf.getBackend()}, not wasm`);
  return tf;
}

export async function tfjsDetails() {
  const t = await loadTfjs();
  return `simd ${await t.env().getAsync('WASM_HAS_SIMD_SUPPORT')}, threads ${await t.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')}`;
}

/** NCHW -> NHWC */
function toNHWC(data, c, h, w) {
  const out = new Float32Array(data.length);
  for (let ci = 0; ci < c; ci++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(y * w + x) * c + ci] = data[(ci * h + y) * w + x];
  return out;
}

function toNCHW(data, c, h, w) {
  const out = new Float32Array(data.length);
  for (let ci = 0; ci < c; ci++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(ci * h + y) * w + x] = data[(y * w + x) * c + ci];
  return out;
}

/** Why tfjs cannot run the case, or undefined. */
export function tfjsUnsupported(k) {
  const strided = k.strides.some((s) => s > 1);
  const dilated = k.dilations.some((d) => d > 1);
  if (strided && dilated) return 'unsupported';
  if (k.groups !== 1 && !(k.groups === k.c && k.m === k.c)) return 'unsupported';
  return undefined;
}

export async function prepareTfjs(k, data, outDims) {
  const t = await loadTfjs();
  const [, m, oh, ow] = outDims;
  const [kh, kw] = k.kernel;
  const depthwise = k.groups !== 1;
  const cg = k.c / k.groups;
  // OIHW -> HWIO ([kH, kW, C/g, M]); depthwise: [kH, kW, C, 1].
  const filter = new Float32Array(data.weights.length);
  for (let o = 0; o < k.m; o++) for (let i = 0; i < cg; i++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
    const src = ((o * cg + i) * kh + y) * kw + x;
    filter[depthwise ? (y * kw + x) * k.c + o : ((y * kw + x) * cg + i) * k.m + o] = data.weights[src];
  }
  // The input is uploaded inside every timed call, like every other runtime's (before 2026-12-02 it was
  // made once, resident, so tfjs skipped the copy the others pay: 9.4 MB, about 1 ms, on dw3s2).
  const nhwc = toNHWC(data.input, k.c, k.hw[0], k.hw[1]);
  const inputShape = [1, k.hw[0], k.hw[1], k.c];
  const w = t.tensor4d(filter, depthwise ? [kh, kw, k.c, 1] : [kh, kw, cg, k.m]);
  const bias = t.tensor1d(data.bias);
  const pad = [[0, 0], [k.pads[0], k.pads[2]], [k.pads[1], k.pads[3]], [0, 0]];
  const options = { filter: w, bias, strides: k.strides, pad, dataFormat: 'NHWC', dilations: k.dilations };
  let last;
  return {
    run() {
      const x = t.tensor4d(nhwc, inputShape);
      const args = { x, ...options };
      const y = depthwise ? t.fused.depthwiseConv2d(args) : t.fused.conv2d(args);
      last = y.dataSync();
      y.dispose();
      x.dispose();
    },
    output() {
      return toNCHW(last, m, oh, ow);
    },
    dispose() {
      w.dispose();
      bias.dispose();
    },
  };
}
