#!/usr/bin/env node
/**
 * The transformer-era ops of issue 9, one ONNX node each, through each runtime's session API (what a model
 * run pays per op): atrous's InferenceSession against onnxruntime-web (wasm, 1 thread) and onnxruntime-node
 * (native, 1 thread: the ceiling), in one process, interleaved round by round after a warm-up; medians and
 * ratios as a markdown table for bench/RESULTS.md. Every runtime's output is checked against
 * onnxruntime-node's before timing. Run from the workspace root:
 *   node --experimental-wasm-relaxed-simd bench/ops-bench.mjs [--reps N] [--cases id,id]
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { cpuModel, load, packageVersions } from './machine.mjs';
import { loadOrtNode, loadOrtWeb } from './runtimes/ort.mjs';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto');
const FLOAT = onnx.TensorProto.DataType.FLOAT;

function random(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

const info = (name, dims) => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
const init = (name, dims, data) => ({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
const attr = (name, v) =>
  Array.isArray(v)
    ? { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v }
    : Number.isInteger(v)
      ? { name, type: onnx.AttributeProto.AttributeType.INT, i: v }
      : { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v };

/** A one-node model: `inputs` are graph inputs (fed each run), `consts` initializers (prepackable). */
function model({ op, opset = 17, inputs, consts = [], output, attrs = {} }) {
  return onnx.ModelProto.encode(
    onnx.ModelProto.fromObject({
      irVersion: 8,
      producerName: 'atrous-bench',
      opsetImport: [{ domain: '', version: opset }],
      graph: {
        name: op,
        node: [{ opType: op, input: [...inputs.map((i) => i.name), ...consts.map((c) => c.name)], output: ['Y'], attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) }],
        initializer: consts.map((c) => init(c.name, c.dims, c.data)),
        input: inputs.map((i) => info(i.name, i.dims)),
        output: [info('Y', output)],
      },
    }),
  ).finish();
}

const CASES = [
  { id: 'matmul 512^3 (B const)', flops: 2 * 512 ** 3, inputs: [['A', [512, 512]]], consts: [['B', [512, 512]]], op: 'MatMul', output: [512, 512] },
  { id: 'matmul 1024^3 (B const)', flops: 2 * 1024 ** 3, inputs: [['A', [1024, 1024]]], consts: [['B', [1024, 1024]]], op: 'MatMul', output: [1024, 1024] },
  { id: 'attention QK^T [8,1024,32]x[8,32,1024]', flops: 2 * 8 * 1024 * 1024 * 32, inputs: [['A', [8, 1024, 32]], ['B', [8, 32, 1024]]], op: 'MatMul', output: [8, 1024, 1024] },
  { id: 'attention PV [8,1024,1024]x[8,1024,32]', flops: 2 * 8 * 1024 * 1024 * 32, inputs: [['A', [8, 1024, 1024]], ['B', [8, 1024, 32]]], op: 'MatMul', output: [8, 1024, 32] },
  { id: 'softmax rows [8192, 1024]', inputs: [['X', [8192, 1024]]], op: 'Softmax', attrs: { axis: -1 }, output: [8192, 1024] },
  { id: 'layernorm rows [16384, 256]', inputs: [['X', [16384, 256]]], consts: [['S', [256]], ['Bias', [256]]], op: 'LayerNormalization', attrs: { axis: -1, epsilon: 1e-5 }, output: [16384, 256] },
  {
    id: 'convtranspose s2 64->32 3x3 on 64x64',
    inputs: [['X', [1, 64, 64, 64]]],
    consts: [['W', [64, 32, 3, 3]], ['Bias', [32]]],
    op: 'ConvTranspose',
    attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1], kernel_shape: [3, 3] },
    output: [1, 32, 128, 128],
  },
];

const size = (dims) => dims.reduce((a, b) => a * b, 1);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const { values } = parseArgs({ options: { reps: { type: 'string', default: '10' }, cases: { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log('usage: node --experimental-wasm-relaxed-simd bench/ops-bench.mjs [--reps N] [--cases <substring>,...]');
    return;
  }
  const reps = Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps needs a positive integer, got ${values.reps}`);
  const picked = values.cases ? CASES.filter((c) => values.cases.split(',').some((s) => c.id.includes(s))) : CASES;
  const atrous = await import('atrous');
  await atrous.init();
  const ortWeb = await loadOrtWeb();
  const ortNode = loadOrtNode();
  const rows = [];
  for (const [i, c] of picked.entries()) {
    const inputs = c.inputs.map(([name, dims], j) => ({ name, dims, data: random(size(dims), 17 + 31 * i + j) }));
    const consts = (c.consts ?? []).map(([name, dims], j) => ({ name, dims, data: random(size(dims), 1000 + 31 * i + j) }));
    const bytes = model({ op: c.op, inputs, consts, output: c.output, attrs: c.attrs });
    const runners = {};
    const a = await atrous.InferenceSession.create(bytes, { intraOpNumThreads: 1 }); // one thread, as the peers here
    const aFeeds = Object.fromEntries(inputs.map((x) => [x.name, new atrous.Tensor('float32', x.data, x.dims)]));
    runners.atrous = async () => (await a.run(aFeeds)).Y.data;
    const w = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const wFeeds = Object.fromEntries(inputs.map((x) => [x.name, new ortWeb.Tensor('float32', x.data, x.dims)]));
    runners.ortweb = async () => (await w.run(wFeeds)).Y.data;
    const n = await ortNode.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 });
    const nFeeds = Object.fromEntries(inputs.map((x) => [x.name, new ortNode.Tensor('float32', x.data, x.dims)]));
    runners.ortnode = async () => (await n.run(nFeeds)).Y.data;
    const ref = await runners.ortnode();
    let maxRef = 0;
    for (const v of ref) maxRef = Math.max(maxRef, Math.abs(v));
    const errors = {};
    for (const [name, run] of Object.entries(runners)) {
      const out = await run();
      let e = 0;
      for (let j = 0; j < ref.length; j++) e = Math.max(e, Math.abs(out[j] - ref[j]));
      errors[name] = e / (maxRef || 1);
      if (!(errors[name] <= 1e-4)) throw new Error(`${c.id}: ${name} differs from onnxruntime-node by ${errors[name]} of max |ref|`);
    }
    const times = { atrous: [], ortweb: [], ortnode: [] };
    for (let r = 0; r < reps; r++) {
      for (const [name, run] of Object.entries(runners)) {
        const t0 = performance.now();
        await run();
        times[name].push(performance.now() - t0);
      }
    }
    const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
    rows.push({ id: c.id, flops: c.flops, med, err: errors.atrous });
    await a.release();
    await w.release();
    await n.release();
    console.error(`[ops-bench] ${c.id}: atrous ${med.atrous.toFixed(2)} ms, ortweb ${med.ortweb.toFixed(2)} ms, ortnode ${med.ortnode.toFixed(2)} ms`);
  }
  console.log(`Machine: ${cpuModel()}; ${load()}; atrous build ${atrous.loadedBuild()}; ${packageVersions().filter((p) => !p.includes('tfjs')).join(', ')}`);
  console.log(`Command: node --experimental-wasm-relaxed-simd bench/ops-bench.mjs --reps ${reps}; one process, runtimes interleaved per round, medians of ${reps} runs after one untimed run each; the session run includes each runtime's input and output copies.\n`);
  console.log('| op | atrous ms | ortweb ms | ortnode ms | atrous / ortweb | atrous / ortnode | atrous GFLOP/s | max diff vs ortnode |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const g = r.flops ? (r.flops / r.med.atrous / 1e6).toFixed(1) : '-';
    console.log(`| ${r.id} | ${r.med.atrous.toFixed(2)} | ${r.med.ortweb.toFixed(2)} | ${r.med.ortnode.toFixed(2)} | ${(r.med.ortweb / r.med.atrous).toFixed(2)}x | ${(r.med.ortnode / r.med.atrous).toFixed(2)}x | ${g} | ${r.err.toExponential(1)} |`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
