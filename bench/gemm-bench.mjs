/**
 * MatMul on one core: atrous' GEMM kernel (engine.kernels.gemm, relaxed build unless --build) against
 * onnxruntime-web (wasm, 1 thread) on the same shapes in the same process, in GFLOP/s (2 M N K per matrix),
 * median of --runs timed runs after 2 warm-ups. Run: node --experimental-wasm-relaxed-simd gemm-bench.mjs
 *
 * - square cases: B constant (atrous packs it once, onnxruntime gets it as an initializer and may prepack);
 * - attention case: both operands are inputs ([8, M, K] x [8, K, N]); atrous packs B panels on the fly.
 * atrous is timed twice: the kernel on operands already in wasm memory, and with the copies a session run
 * makes (A in, output out to a new Float32Array), which is what the onnxruntime column includes.
 */
import { createRequire } from 'node:module';
import { init } from 'atrous';
import { measurePeak } from './peak.mjs';
import { loadOrtWeb } from './runtimes/ort.mjs';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const RUNS = Number(opt('runs', 10));
const BUILD = opt('build', 'relaxed');
const WITH_ORT = !args.includes('--no-ort');

const CASES = [
  { id: 'matmul 512^3', batch: [], m: 512, k: 512, n: 512, constB: true },
  { id: 'matmul 1024^3', batch: [], m: 1024, k: 1024, n: 1024, constB: true },
  { id: 'attention [8,1024,32]x[8,32,1024]', batch: [8], m: 1024, k: 32, n: 1024, constB: false },
];

function random(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time(fn) {
  await fn();
  await fn();
  const ms = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

function matmulModel(c, b) {
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const info = (name, dims) => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  const graph = {
    name: 'matmul',
    node: [{ opType: 'MatMul', input: ['A', 'B'], output: ['Y'] }],
    initializer: c.constB ? [{ name: 'B', dims: [...c.batch, c.k, c.n], dataType: FLOAT, rawData: new Uint8Array(b.buffer) }] : [],
    input: [info('A', [...c.batch, c.m, c.k]), ...(c.constB ? [] : [info('B', [...c.batch, c.k, c.n])])],
    output: [info('Y', [...c.batch, c.m, c.n])],
  };
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], graph })).finish();
}

async function benchAtrous(engine, c, a, b) {
  const g = engine.kernels.gemm;
  const count = c.batch.reduce((p, x) => p * x, 1);
  const outLen = count * c.m * c.n;
  const aPtr = engine.upload(a, 'A');
  const bPtr = engine.upload(b, 'B');
  const out = engine.alloc(outLen * 4, 'out');
  const packed = c.constB ? g.packB(b, c.k, c.n, false, c.id) : 0;
  const batchStrides = (rows, cols) => (c.batch.length ? [rows * cols] : undefined);
  const call = {
    m: c.m,
    n: c.n,
    k: c.k,
    batch: c.batch,
    a: { ptr: aPtr, rowStride: c.k, colStride: 1, batchStrides: batchStrides(c.m, c.k) },
    b: c.constB ? { packed } : { ptr: bPtr, rowStride: c.n, colStride: 1, batchStrides: batchStrides(c.k, c.n) },
    out,
  };
  const kernel = await time(() => g.run(call, c.id));
  const withCopies = await time(() => {
    engine.f32(aPtr, a.length).set(a);
    if (!c.constB) engine.f32(bPtr, b.length).set(b);
    g.run(call, c.id);
    return engine.f32(out, outLen).slice();
  });
  const result = engine.f32(out, outLen).slice();
  g.freePacked(packed);
  engine.free(aPtr, a.byteLength);
  engine.free(bPtr, b.byteLength);
  engine.free(out, outLen * 4);
  return { kernel, withCopies, result };
}

async function benchOrt(ort, c, a, b) {
  const session = await ort.InferenceSession.create(matmulModel(c, b), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const feeds = { A: new ort.Tensor('float32', a, [...c.batch, c.m, c.k]) };
  if (!c.constB) feeds.B = new ort.Tensor('float32', b, [...c.batch, c.k, c.n]);
  let last;
  const ms = await time(async () => {
    last = (await session.run(feeds)).Y.data;
  });
  await session.release();
  return { ms, result: last };
}

const engine = await init({ build: BUILD });
const peak = await measurePeak({ budgetMs: 500 });
const peakOf = BUILD === 'relaxed' ? peak.peak.relaxed : peak.peak.simd128;
const ort = WITH_ORT ? await loadOrtWeb() : undefined;
const cpu = (await import('node:fs')).readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1] ?? 'unknown CPU';
console.log(`${cpu}, ${peak.pipes.arch}; clock ${peak.ghz.toFixed(2)} GHz; peak ${peakOf.toFixed(1)} GFLOP/s (${BUILD}); node ${process.version}; median of ${RUNS}`);
console.log('case | atrous kernel GFLOP/s (% peak) | atrous + copies | onnxruntime-web | ratio (kernel / ort, copies / ort) | max |diff|');
for (const c of CASES) {
  const count = c.batch.reduce((p, x) => p * x, 1);
  const a = random(count * c.m * c.k, 1);
  const b = random((c.constB ? 1 : count) * c.k * c.n, 2);
  const gflop = (2 * count * c.m * c.n * c.k) / 1e9;
  const at = await benchAtrous(engine, c, a, b);
  const rate = (ms) => gflop / (ms / 1e3);
  let ortCells = ['-', '-', '-'];
  if (ort) {
    const o = await benchOrt(ort, c, a, b);
    let diff = 0;
    for (let i = 0; i < o.result.length; i++) diff = Math.max(diff, Math.abs(o.result[i] - at.result[i]));
    ortCells = [rate(o.ms).toFixed(1), `${(o.ms / at.kernel).toFixed(2)}x, ${(o.ms / at.withCopies).toFixed(2)}x`, diff.toExponential(1)];
  }
  console.log(
    `${c.id} | ${rate(at.kernel).toFixed(1)} (${((100 * rate(at.kernel)) / peakOf).toFixed(0)} %) | ${rate(at.withCopies).toFixed(1)} | ${ortCells.join(' | ')}`,
  );
}
