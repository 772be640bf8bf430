#!/usr/bin/env node
/**
 * Intra-op threads (issue 10): single-image latency of atrous with 1 and 2 threads (`intraOpNumThreads`)
 * against onnxruntime-web with numThreads 1 and 2, on the large convolutions (aspp16, backbone, pointwise, as
 * one-Conv ONNX models) and whole networks. atrous's two counts run interleaved in one process;
 * onnxruntime-web reads numThreads once per process, so each of its counts runs in a process of its own,
 * one after the other, on the same files and inputs. Medians of wall time; prints markdown for RESULTS.md.
 * Run from the workspace root with `pnpm bench:threads` (`--help` lists the flags).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CASES, outputHW } from './cases.mjs';
import { convModel } from './onnx-model.mjs';
import { cpuModel, load } from './machine.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const HELP = `usage: node --experimental-wasm-relaxed-simd bench/threads-bench.mjs [--only id,id] [--reps n] [--rounds n]
--rounds n: run the three processes (atrous 1t+2t, ort-web 1t, ort-web 2t) n times, in a rotated order, and report
the median over the rounds of each one's median (the machine's speed drifts between processes; default 1)
workloads: aspp16 backbone pointwise deeplabv3_mobilenet_v3_large builtin isnet`;

/** Seeded uniform values in [-0.5, 0.5). */
function values(length, seed) {
  let a = seed >>> 0;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  }
  return out;
}

function lastLine(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1);
}

/** Every workload as an .onnx file and input dims. */
function workloads(dir) {
  const out = [];
  for (const id of ['aspp16', 'backbone', 'pointwise']) {
    const k = CASES.find((c) => c.id === id);
    const [oh, ow] = outputHW(k);
    const bytes = convModel(k, { weights: values(k.m * (k.c / k.groups) * k.kernel[0] * k.kernel[1], 1), bias: values(k.m, 2) }, [1, k.m, oh, ow]);
    const path = join(dir, `${id}.onnx`);
    writeFileSync(path, bytes);
    out.push({ id, path, dims: [1, k.c, k.hw[0], k.hw[1]], reps: 15, what: `conv ${k.c}->${k.m} ${k.kernel.join('x')} d${k.dilations[0]} on ${k.hw.join('x')}` });
  }
  out.push({ id: 'deeplabv3_mobilenet_v3_large', path: () => lastLine('/usr/bin/python3', [resolve(root, 'tools/export-torchvision.py'), 'deeplabv3_mobilenet_v3_large', '--opset', '13']), dims: [1, 3, 513, 513], reps: 7, what: 'DeepLabV3 MobileNetV3-L 513x513' });
  out.push({ id: 'builtin', path: resolve(root, 'models/default/model.onnx'), dims: [1, 3, 512, 512], reps: 9, what: 'built-in model 512x512' });
  out.push({ id: 'isnet', path: () => lastLine(process.execPath, [resolve(root, 'tools/fetch-isnet.mjs')]), dims: [1, 3, 1024, 1024], reps: 5, what: 'ISNet 1024x1024' });
  return out;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Child: times one runtime configuration on one workload; prints { label: median ms } as JSON. */
async function child(runtime, path, dims, reps) {
  const input = values(dims.reduce((a, b) => a * b), 5);
  const bytes = new Uint8Array(readFileSync(path));
  const runners = {};
  if (runtime === 'atrous') {
    const atrous = await import('atrous');
    for (const threads of [1, 2]) {
      const s = await atrous.InferenceSession.create(bytes, { intraOpNumThreads: threads });
      if (s.intraOpNumThreads !== threads) throw new Error(`atrous ran ${s.intraOpNumThreads} threads, not ${threads}: ${s.threadsUnavailable}`);
      const feeds = { [s.inputNames[0]]: new atrous.Tensor('float32', input, dims) };
      runners[`atrous ${threads}t`] = () => s.run(feeds);
    }
  } else {
    const threads = Number(runtime.split(':')[1]);
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.proxy = false;
    const s = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', input, dims) };
    runners[`ort-web ${threads}t`] = () => s.run(feeds);
  }
  const times = Object.fromEntries(Object.keys(runners).map((k) => [k, []]));
  for (const run of Object.values(runners)) await run(); // warm-up
  for (let r = 0; r < reps; r++) {
    for (const [k, run] of Object.entries(runners)) {
      const t0 = performance.now();
      await run();
      times[k].push(performance.now() - t0);
    }
  }
  console.log(JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]))));
  process.exit(0);
}

async function main(argv) {
  if (argv.includes('--help')) return console.log(HELP);
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1].split(',') : undefined;
  const repsFlag = argv.includes('--reps') ? Number(argv[argv.indexOf('--reps') + 1]) : undefined;
  const rounds = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) : 1;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number >= 1, got ${argv[argv.indexOf('--rounds') + 1]}`);
  const dir = mkdtempSync(join(tmpdir(), 'atrous-threads-bench-'));
  const rows = [];
  const loadBefore = load();
  for (const w of workloads(dir).filter((w) => !only || only.includes(w.id))) {
    const path = typeof w.path === 'function' ? w.path() : w.path;
    const reps = repsFlag ?? w.reps;
    const runtimes = ['atrous', 'ortweb:1', 'ortweb:2'];
    const seen = {};
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < runtimes.length; i++) {
        const runtime = runtimes[(i + round) % runtimes.length];
        const out = lastLine(process.execPath, ['--experimental-wasm-relaxed-simd', fileURLToPath(import.meta.url), '--child', runtime, path, JSON.stringify(w.dims), String(reps)]);
        for (const [k, v] of Object.entries(JSON.parse(out))) (seen[k] ??= []).push(v);
      }
    }
    const m = Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, median(v)]));
    rows.push({ w, m, reps, seen });
    console.error(`${w.id}: ${JSON.stringify(seen)}`);
  }
  const f = (x) => x.toFixed(1);
  const r = (a, b) => `${(a / b).toFixed(2)}x`;
  console.log(`\nCPU: ${cpuModel()}; before: ${loadBefore.trim()}; after: ${load().trim()}. Median ms per run${rounds > 1 ? `; median over ${rounds} rounds of processes of each one's median` : ''}.\n`);
  console.log('| workload | atrous 1t | atrous 2t | 2t speed-up | ort-web 1t | ort-web 2t | atrous 2t vs ort-web 2t | reps |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const { w, m, reps } of rows) {
    const [a1, a2, o1, o2] = [m['atrous 1t'], m['atrous 2t'], m['ort-web 1t'], m['ort-web 2t']];
    console.log(`| ${w.id} (${w.what}) | ${f(a1)} | ${f(a2)} | ${r(a1, a2)} | ${f(o1)} | ${f(o2)} | ${r(o2, a2)} | ${reps} |`);
  }
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') await child(argv[1], argv[2], JSON.parse(argv[3]), Number(argv[4]));
else await main(argv);
