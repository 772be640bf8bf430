/**
 * MatMul on one core: atrous' GEMM kernel (engine.kernels.gemm, relaxed build unless --build) against
 * onnxruntime-web (wasm, 1 thread) on the same shapes in the same process, in GFLOP/s (2 M N K per matrix).
 * Run: node --experimental-wasm-relaxed-simd gemm-bench.mjs [--runs 10] [--build simd128] [--no-ort]
 *
 * - square cases: B constant (atrous packs it once, onnxruntime gets it as an initializer and may prepack);
 * - attention case: both operands are inputs ([8, M, K] x [8, K, N]); atrous packs B panels on the fly.
 * atrous is timed twice: the kernel on operands already in wasm memory, and with the copies a session run
 * makes (A and B in, the output out to a new Float32Array), which is what the onnxruntime column includes.
 * The three are timed round-robin (see timeTogether), so a change in the machine's load hits all alike.
 */
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
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

/**
 * Times the runners round-robin, one call each per round, so a machine whose load changes affects them
 * alike: RUNS rounds after at least 300 ms of warm-up rounds (V8 tiers wasm up in the background).
 * Returns per runner the median and the best call in ms.
 */
async function timeTogether(runners) {
  const start = performance.now();
  for (let i = 0; i < 2 || performance.now() - start < 300; i++) for (const r of runners) await r();
  const ms = runners.map(() => []);
  for (let i = 0; i < RUNS; i++) {
    for (const [j, r] of runners.entries()) {
      const t0 = performance.now();
      await r();
      ms[j].push(performance.now() - t0);
    }
  }
  return ms.map((xs) => ({ median: median(xs), best: Math.min(...xs) }));
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

function prepareAtrous(engine, c, a, b) {
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
  return {
    kernel: () => g.run(call, c.id),
    withCopies: () => {
      engine.f32(aPtr, a.length).set(a);
      if (!c.constB) engine.f32(bPtr, b.length).set(b);
      g.run(call, c.id);
      return engine.f32(out, outLen).slice();
    },
    result: () => engine.f32(out, outLen).slice(),
    dispose() {
      g.freePacked(packed);
      engine.free(aPtr, a.byteLength);
      engine.free(bPtr, b.byteLength);
      engine.free(out, outLen * 4);
    },
  };
}

async function prepareOrt(ort, c, a, b) {
  const session = await ort.InferenceSession.create(matmulModel(c, b), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const feeds = { A: new ort.Tensor('float32', a, [...c.batch, c.m, c.k]) };
  if (!c.constB) feeds.B = new ort.Tensor('float32', b, [...c.batch, c.k, c.n]);
  let last;
  return {
    run: async () => {
      last = (await session.run(feeds)).Y.data;
    },
    result: () => last,
    dispose: () => session.release(),
  };
}

const engine = await init({ build: BUILD });
const peak = await measurePeak({ budgetMs: 500 });
const peakOf = BUILD === 'relaxed' ? peak.peak.relaxed : peak.peak.simd128;
const ort = WITH_ORT ? await loadOrtWeb() : undefined;
const cpu = (await import('node:fs')).readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1] ?? 'unknown CPU';
console.log(`${cpu}, ${peak.pipes.arch}; clock ${peak.ghz.toFixed(2)} GHz; peak ${peakOf.toFixed(1)} GFLOP/s (${BUILD}); node ${process.version}; median of ${RUNS}; load average ${loadavg()[0].toFixed(1)} on ${(await import('node:os')).cpus().length} cores`);
console.log('GFLOP/s as median (best) of the rounds; ratio = onnxruntime-web time / atrous time, medians');
console.log('case | atrous kernel (% peak) | atrous + copies | onnxruntime-web | ratio kernel | ratio with copies | max |diff|');
for (const c of CASES) {
  const count = c.batch.reduce((p, x) => p * x, 1);
  const a = random(count * c.m * c.k, 1);
  const b = random((c.constB ? 1 : count) * c.k * c.n, 2);
  const gflop = (2 * count * c.m * c.n * c.k) / 1e9;
  const at = prepareAtrous(engine, c, a, b);
  const o = ort ? await prepareOrt(ort, c, a, b) : undefined;
  const t = await timeTogether([at.kernel, at.withCopies, ...(o ? [o.run] : [])]);
  const rate = (ms) => (gflop / (ms / 1e3)).toFixed(1);
  const cell = (x) => `${rate(x.median)} (${rate(x.best)})`;
  const pct = (ms) => ((100 * gflop) / (ms / 1e3) / peakOf).toFixed(0);
  const cells = [c.id, `${cell(t[0])} (${pct(t[0].median)} %, best ${pct(t[0].best)} %)`, cell(t[1])];
  if (o) {
    const want = o.result();
    const got = at.result();
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(want[i] - got[i]));
    cells.push(cell(t[2]), `${(t[2].median / t[0].median).toFixed(2)}x`, `${(t[2].median / t[1].median).toFixed(2)}x`, diff.toExponential(1));
    await o.dispose();
  }
  at.dispose();
  console.log(cells.join(' | '));
}
