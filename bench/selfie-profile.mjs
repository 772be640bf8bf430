#!/usr/bin/env node
/**
 * Where a selfie-segmenter frame's time goes in atrous, in Node (issues 11 and 13): the model through
 * `InferenceSession`, per op type and per node (the session's `profile: true`), the whole-run median of an
 * unprofiled session, and the time outside the kernels: every wasm export is wrapped with a clock, so
 * run time - time inside wasm = JavaScript dispatch, view and descriptor set-up, feeds and output copies.
 * With `--against <dir>` a second atrous package (a snapshot of another build's dist/ + wasm/) runs the same
 * frames interleaved with this one, so an A/B ratio comes from one process on a shared machine. Whole runs
 * are timed by the wall clock and by the process's CPU time (user + system, so time the scheduler gave
 * other processes is left out: steadier on a loaded machine).
 *
 *   node --experimental-wasm-relaxed-simd bench/selfie-profile.mjs [--model general|landscape] [--runs 60]
 *        [--against /tmp/base/atrous] [--top 25]
 */
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const selfieDir = dirname(require.resolve('@mediapipe/selfie_segmentation/package.json'));
const MODELS = {
  general: { file: 'selfie_segmentation.tflite', dims: [1, 256, 256, 3] },
  landscape: { file: 'selfie_segmentation_landscape.tflite', dims: [1, 144, 256, 3] },
};

function parseArgs(argv) {
  const o = { model: 'general', runs: 60, against: undefined, top: 25, warmup: 10, file: undefined, dims: undefined };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i], value = () => argv[++i];
    if (flag === '--model') o.model = value();
    else if (flag === '--runs') o.runs = Number(value());
    else if (flag === '--warmup') o.warmup = Number(value());
    else if (flag === '--against') o.against = value();
    else if (flag === '--top') o.top = Number(value());
    else if (flag === '--file') o.file = resolve(value());
    else if (flag === '--dims') o.dims = value().split('x').map(Number);
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!MODELS[o.model]) throw new Error(`--model must be one of ${Object.keys(MODELS).join(', ')}, got ${o.model}`);
  return o;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f = (x, d = 3) => x.toFixed(d);

/** A deterministic frame in [0, 1] (the content does not change the work). */
function frame(n) {
  const x = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = (s >>> 8) / 16777216;
  }
  return x;
}

/** Wraps each wasm export of the session's engine with a clock; returns the accumulated wasm ms per export. */
function clockExports(session) {
  const engine = session.engine;
  const raw = engine.exports;
  const spent = new Map();
  const wrapped = {};
  for (const [name, fn] of Object.entries(raw)) {
    if (typeof fn !== 'function') {
      wrapped[name] = fn;
      continue;
    }
    const entry = { calls: 0, ms: 0 };
    spent.set(name, entry);
    wrapped[name] = (...args) => {
      const t0 = performance.now();
      try {
        return fn(...args);
      } finally {
        entry.ms += performance.now() - t0;
        entry.calls++;
      }
    };
  }
  Object.defineProperty(engine, 'exports', { value: wrapped, configurable: true });
  return {
    spent,
    reset() {
      for (const e of spent.values()) (e.calls = 0), (e.ms = 0);
    },
    restore() {
      Object.defineProperty(engine, 'exports', { value: raw, configurable: true });
    },
  };
}

async function loadPackage(dir) {
  return import(pathToFileURL(join(resolve(dir), 'dist', 'index.js')).href);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const m = o.file ? { file: o.file, dims: o.dims } : MODELS[o.model];
  if (o.file && !(o.dims?.length > 0 && o.dims.every((d) => Number.isInteger(d) && d > 0))) throw new Error(`--file needs --dims like 1x3x256x256, got ${o.dims}`);
  const path = o.file ?? join(selfieDir, m.file);
  const packs = [{ label: 'this', atrous: await loadPackage(join(here, '..', 'packages', 'atrous')) }];
  if (o.against) packs.push({ label: 'against', atrous: await loadPackage(o.against) });
  const x = frame(m.dims.reduce((a, b) => a * b, 1));

  for (const p of packs) {
    const { InferenceSession, Tensor, init } = p.atrous;
    await init();
    p.session = await InferenceSession.create(path, { intraOpNumThreads: 1 }); // a lone session would take min(cores, 8)
    p.input = p.session.inputNames[0];
    p.feed = () => ({ [p.input]: new Tensor('float32', x, m.dims) });
    p.times = [];
    p.cpu = [];
  }
  // Whole runs, unprofiled, interleaved between packages (order alternates per round).
  for (let i = 0; i < o.warmup; i++) for (const p of packs) await p.session.run(p.feed());
  for (let r = 0; r < o.runs; r++) {
    for (const p of r % 2 ? [...packs].reverse() : packs) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await p.session.run(p.feed());
      p.times.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      p.cpu.push((c.user + c.system) / 1000);
    }
  }
  console.log(`# ${m.file} ${m.dims.join('x')}, Node ${process.version}, build ${packs[0].atrous.loadedBuild()}, ${o.runs} runs`);
  for (const p of packs) {
    console.log(`whole run (${p.label}): wall median ${f(median(p.times), 2)} ms, min ${f(Math.min(...p.times), 2)} ms; CPU median ${f(median(p.cpu), 2)} ms, min ${f(Math.min(...p.cpu), 2)} ms`);
  }
  if (packs.length === 2) {
    const ratio = (k) => `ratio of medians ${f(median(packs[1][k]) / median(packs[0][k]))}, of minima ${f(Math.min(...packs[1][k]) / Math.min(...packs[0][k]))}`;
    console.log(`against/this: wall ${ratio('times')}; CPU ${ratio('cpu')}`);
  }

  // Profiled runs of this package: per node and per op type, and wasm time vs the rest.
  const { InferenceSession, Tensor } = packs[0].atrous;
  const prof = await InferenceSession.create(path, { profile: true, intraOpNumThreads: 1 });
  const clock = clockExports(prof);
  const feed = () => ({ [prof.inputNames[0]]: new Tensor('float32', x, m.dims) });
  for (let i = 0; i < o.warmup; i++) await prof.run(feed());
  const nodeMs = [], wasmMs = [], runMs = [], stepMs = [];
  const perExport = new Map();
  for (let r = 0; r < o.runs; r++) {
    clock.reset();
    const t0 = performance.now();
    await prof.run(feed());
    runMs.push(performance.now() - t0);
    const nodes = prof.nodeProfile;
    nodeMs.push(nodes.map((n) => n.ms));
    stepMs.push(nodes.reduce((a, n) => a + n.ms, 0));
    let w = 0;
    for (const [name, e] of clock.spent) {
      w += e.ms;
      if (e.calls === 0) continue;
      const acc = perExport.get(name) ?? { calls: 0, ms: [] };
      acc.calls = e.calls;
      acc.ms.push(e.ms);
      perExport.set(name, acc);
    }
    wasmMs.push(w);
  }
  const nodes = prof.nodeProfile.map((n, i) => ({ ...n, ms: median(nodeMs.map((row) => row[i])) }));
  const total = nodes.reduce((a, n) => a + n.ms, 0);
  const run = median(runMs), wasm = median(wasmMs), steps = median(stepMs);
  console.log(`\nprofiled run (clocks on): median ${f(run, 2)} ms; steps ${f(steps, 2)} ms; inside wasm ${f(wasm, 2)} ms (${f((100 * wasm) / run, 1)} %); ` +
    `outside wasm ${f(run - wasm, 2)} ms (${f((100 * (run - wasm)) / run, 1)} %), of which outside steps (feeds, outputs, set-up) ${f(run - steps, 2)} ms`);
  console.log(`${nodes.length} steps`);

  const byType = new Map();
  for (const n of nodes) {
    const e = byType.get(n.opType) ?? { count: 0, ms: 0 };
    e.count++;
    e.ms += n.ms;
    byType.set(n.opType, e);
  }
  console.log('\n| op type | steps | ms | share |\n|---|---:|---:|---:|');
  for (const [t, e] of [...byType].sort((a, b) => b[1].ms - a[1].ms)) console.log(`| ${t} | ${e.count} | ${f(e.ms)} | ${f((100 * e.ms) / total, 1)} % |`);

  console.log('\n| wasm export | calls/run | ms | share of run |\n|---|---:|---:|---:|');
  for (const [name, e] of [...perExport].map(([k, v]) => [k, { calls: v.calls, ms: median(v.ms) }]).sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`| ${name} | ${e.calls} | ${f(e.ms)} | ${f((100 * e.ms) / run, 1)} % |`);
  }

  console.log(`\n| # | node | op | output dims | ms | share |\n|---:|---|---|---|---:|---:|`);
  const ranked = nodes.map((n, i) => ({ ...n, i })).sort((a, b) => b.ms - a.ms).slice(0, o.top);
  for (const n of ranked) console.log(`| ${n.i} | ${n.name} | ${n.opType} | ${n.outputDims.join('x')} | ${f(n.ms)} | ${f((100 * n.ms) / total, 1)} % |`);
  clock.restore();
  for (const p of packs) p.session.dispose();
  prof.dispose();
}

await main();
