import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto');

export const TIMING =
  'tfjs: `optimizer.minimize(f, true)` (tf.train.momentum: the same SGD with momentum) over the ONNX graph ' +
  'mapped op by op to tfjs in NHWC (Conv weights OIHW -> HWIO tf.variables, `tf.conv2d` with the file\'s ' +
  'strides, pads, dilations; Resize linear half_pixel = `tf.image.resizeBilinear(x, size, false, true)`), ' +
  'loss `tf.losses.softmaxCrossEntropy` with one-hot labels (mean over the pixels), then `dataSync()` of the loss';

let tf;

/** tfjs with the cpu and wasm backends registered (the wasm one single-threaded, as in conv-bench). */
export async function loadTfjs() {
  if (tf) return tf;
  // The @tensorflow/tfjs bundle: tfjs-core, the cpu backend and the gradient functions (tfjs-core's own
  // CommonJS build registers no gradients).
  tf = require('@tensorflow/tfjs');
  require('@tensorflow/tfjs-backend-wasm');
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  return tf;
}

/** Switches tfjs to `backend` ('cpu' | 'wasm'), failing if it did not take. */
export async function useBackend(backend) {
  const t = await loadTfjs();
  if (t.getBackend() === backend) return t;
  if (!(await t.setBackend(backend))) throw new Error(`tfjs: the ${backend} backend failed to initialise`);
  await t.ready();
  if (t.getBackend() !== backend) throw new Error(`tfjs: backend is ${t.getBackend()}, not ${backend}`);
  return t;
}

const num = (v) => (typeof v === 'number' ? v : Number(v));

function attrsOf(node) {
  const out = {};
  for (const a of node.attribute) {
    if (a.ints?.length) out[a.name] = a.ints.map(num);
    else if (a.s?.length) out[a.name] = new TextDecoder().decode(a.s);
    else if (a.t) out[a.name] = a.t;
    else out[a.name] = num(a.i ?? a.f ?? 0);
  }
  return out;
}

/** An int64 / float tensor proto as a JS array (shape values) or Float32Array (weights). */
function protoValues(t) {
  const raw = t.rawData?.length ? t.rawData : undefined;
  if (t.dataType === onnx.TensorProto.DataType.INT64) {
    if (raw) {
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      return Array.from({ length: raw.byteLength / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true)));
    }
    return t.int64Data.map(num);
  }
  if (t.dataType === onnx.TensorProto.DataType.FLOAT) {
    if (raw) return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    return Float32Array.from(t.floatData);
  }
  throw new Error(`tfjs-training: initializer ${t.name} has data type ${t.dataType}`);
}

const SHAPE_OPS = new Set(['Shape', 'Gather', 'Unsqueeze', 'Slice', 'Cast', 'Constant']);
const OPS = new Set([...SHAPE_OPS, 'Conv', 'Relu', 'Add', 'Concat', 'GlobalAveragePool', 'Resize']);

/**
 * The ONNX graph as a tfjs function of its NHWC input. Shape values are JS arrays in the ONNX (NCHW) order;
 * tensors are NHWC, so a channel Concat is axis 3 and a Resize to NCHW sizes [n, c, h, w] resizes to [h, w].
 */
function graphFunction(t, model) {
  const g = model.graph;
  const bad = g.node.filter((n) => !OPS.has(n.opType)).map((n) => n.opType);
  if (bad.length) throw new Error(`tfjs-training: no mapping for ONNX ops ${[...new Set(bad)].join(', ')}`);
  const inits = new Map(g.initializer.map((i) => [i.name, i]));
  const variables = new Map();
  for (const n of g.node) {
    if (n.opType !== 'Conv') continue;
    const [, wName, bName] = n.input;
    const w = inits.get(wName);
    const [m, cg, kh, kw] = w.dims.map(num);
    const oihw = protoValues(w);
    const hwio = new Float32Array(oihw.length);
    for (let o = 0; o < m; o++) for (let i = 0; i < cg; i++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
      hwio[((y * kw + x) * cg + i) * m + o] = oihw[((o * cg + i) * kh + y) * kw + x];
    }
    variables.set(wName, t.variable(t.tensor4d(hwio, [kh, kw, cg, m]), true));
    if (bName) variables.set(bName, t.variable(t.tensor1d(protoValues(inits.get(bName))), true));
  }
  const inputName = g.input[0].name;
  const outputName = g.output[0].name;
  const run = (x) => {
    const env = new Map([[inputName, x]]);
    const get = (name) => env.get(name) ?? (inits.has(name) ? protoValues(inits.get(name)) : undefined);
    for (const n of g.node) {
      const a = attrsOf(n);
      const ins = n.input.map((i) => (i ? get(i) : undefined));
      let y;
      switch (n.opType) {
        case 'Conv': {
          const pads = a.pads ?? [0, 0, 0, 0];
          if ((a.group ?? 1) !== 1) throw new Error(`tfjs-training: ${n.name}: grouped conv not mapped`);
          y = t.conv2d(ins[0], variables.get(n.input[1]), a.strides ?? [1, 1], [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]], 'NHWC', a.dilations ?? [1, 1]);
          if (n.input[2]) y = t.add(y, variables.get(n.input[2]));
          break;
        }
        case 'Relu': y = t.relu(ins[0]); break;
        case 'Add': y = t.add(ins[0], ins[1]); break;
        case 'Concat':
          y = Array.isArray(ins[0]) ? ins.flat() : t.concat(ins, a.axis === 1 ? 3 : (() => { throw new Error(`tfjs-training: ${n.name}: Concat axis ${a.axis}`); })());
          break;
        case 'GlobalAveragePool': y = t.mean(ins[0], [1, 2], true); break;
        case 'Resize': {
          if (a.mode !== 'linear' || a.coordinate_transformation_mode !== 'half_pixel') throw new Error(`tfjs-training: ${n.name}: only linear half_pixel Resize is mapped`);
          const size = ins[3];
          y = t.image.resizeBilinear(ins[0], [size[2], size[3]], false, true);
          break;
        }
        case 'Shape': { const [nn, h, w, c] = ins[0].shape; y = [nn, c, h, w]; break; }
        case 'Constant': y = protoValues(a.value); if (!a.value.dims?.length) y = y[0]; break;
        case 'Gather': y = Array.isArray(ins[1]) ? ins[1].map((i) => ins[0][i]) : ins[0][ins[1]]; break;
        case 'Unsqueeze': y = [ins[0]]; break;
        case 'Slice': y = ins[0].slice(ins[1][0], ins[2][0]); break;
        case 'Cast': y = ins[0]; break;
      }
      env.set(n.output[0], y);
    }
    return env.get(outputName);
  };
  return { run, variables };
}

/** NCHW -> NHWC */
function toNHWC(data, [n, c, h, w]) {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++) for (let ci = 0; ci < c; ci++) for (let p = 0; p < h * w; p++) out[(b * h * w + p) * c + ci] = data[(b * c + ci) * h * w + p];
  return out;
}

/**
 * A training step runner on one tfjs backend: `step()` is one forward + loss + backward + SGD-momentum update
 * and returns the loss (read with dataSync, which also waits for the backend).
 */
export async function prepareTfjsTraining(backend, onnxBytes, input, inputDims, labels, classes, optimizer) {
  const t = await useBackend(backend);
  const model = onnx.ModelProto.decode(onnxBytes);
  const { run, variables } = graphFunction(t, model);
  const x = t.tensor4d(toNHWC(input, inputDims), [inputDims[0], inputDims[2], inputDims[3], inputDims[1]]);
  const onehot = t.tidy(() => t.oneHot(t.tensor1d(Int32Array.from(labels), 'int32'), classes));
  const opt = t.train.momentum(optimizer.learningRate, optimizer.momentum ?? 0);
  return {
    backend,
    async step() {
      await useBackend(backend);
      const loss = opt.minimize(() => {
        const logits = run(x);
        return t.losses.softmaxCrossEntropy(onehot, t.reshape(logits, [-1, classes]));
      }, true);
      const value = loss.dataSync()[0];
      loss.dispose();
      return value;
    },
    dispose() {
      x.dispose();
      onehot.dispose();
      opt.dispose();
      for (const v of variables.values()) v.dispose();
    },
  };
}
