#!/usr/bin/env node
/**
 * One training step (forward + loss + backward + SGD-with-momentum update), single thread (issue 12, Speed):
 * atrous's `createTrainer` against PyTorch CPU (torch.set_num_threads(1): native, the ceiling), tfjs on its
 * cpu backend (the JS peer that trains convs on the CPU) and tfjs-backend-wasm, in one run, interleaved
 * round by round, medians. Every runtime trains the same ONNX graph from the same float32 weights on the
 * same batch, so after the same number of steps their losses must agree: the table says how well.
 * Run from the workspace root with `pnpm bench:training` (or in bench/); `--help` lists the flags.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CASES, caseData, describe, gflop, outputHW } from './cases.mjs';
import { atrousWasmFiles, cpuModel, load, packageVersions } from './machine.mjs';
import { convModel } from './onnx-model.mjs';
import { TIMING as TIMING_TFJS, prepareTfjsTraining } from './runtimes/tfjs-training.mjs';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto');
const { PNG } = require('pngjs');
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

const RUNTIMES = ['atrous', 'torch', 'tfjs-cpu', 'tfjs-wasm'];
const OPTIMIZER = { type: 'sgd', learningRate: 0.01, momentum: 0.9 };
const GOAL_TORCH = 0.5;
const GOAL_TFJS = 10;
/** Loss agreement with PyTorch at the first step (same weights, same batch): above it the row FAILs. */
const FIRST_LOSS_TOLERANCE = 1e-4;
const MODEL_PATH = resolve(root, 'models/default/model.onnx');
const MODEL_BATCH = 4;
const MODEL_SIZE = 256;

const layer = (id) => CASES.find((k) => k.id === id);
/** A conv case with every dilation 1 and the pads that keep its output size (tfjs trains only those). */
function undilatedConv(k) {
  const half = k.kernel.map((s) => (s - 1) >> 1);
  return { ...k, id: `${k.id}-undilated`, dilations: [1, 1], pads: [...half, ...half] };
}

/** The cases: two dilated conv layers of bench/cases.mjs, the built-in model, each with its undilated twin. */
const CASE_DEFS = [
  { id: 'aspp16', kind: 'conv', conv: layer('aspp16') },
  { id: 'aspp16-undilated', kind: 'conv', conv: undilatedConv(layer('aspp16')), variantOf: 'aspp16' },
  { id: 'backbone', kind: 'conv', conv: layer('backbone') },
  { id: 'backbone-undilated', kind: 'conv', conv: layer('undilated'), variantOf: 'backbone' },
  { id: 'model', kind: 'model' },
  // tfjs-cpu's Conv2DBackpropFilter runs at a few MFLOP/s (the layer rows): one step here would take ~25 min.
  { id: 'model-undilated', kind: 'model', undilated: true, variantOf: 'model', skip: { 'tfjs-cpu': 'not run: one step would take about 25 minutes at the rate tfjs-cpu trains the undilated layers above; model-undilated-small measures it' } },
  // Small enough for one tfjs-cpu step in a few minutes: batch 1, the top-left 128x128 of the first scene.
  { id: 'model-undilated-small', kind: 'model', undilated: true, batch: 1, size: 128, variantOf: 'model' },
];

const HELP = `usage: node --experimental-wasm-relaxed-simd bench/training-bench.mjs [flags]
  --case <id[,id]>     subset of ${CASE_DEFS.map((c) => c.id).join(', ')}
  --runtimes <list>    subset of ${RUNTIMES.join(',')}
  --reps <n>           timed steps per runtime per case (default 7 for the layers, 4 for the models)
  --warmup <n>         untimed steps per runtime before timing (default 2 for the layers, 1 for the models)
  --tfjs-steps <n>     steps of tfjs-cpu per case, all timed, from the first round on (default 1: its
                       Conv2DBackpropFilter takes minutes per step)
  --results <file>     also write the output as the "## Training step" section of a markdown file
  --help

Layers: batch 1 (bench/cases.mjs's shapes), logits = the conv's output (M classes), labels seeded random.
Models: the built-in model (models/default/model.onnx), batch ${MODEL_BATCH} at ${MODEL_SIZE}x${MODEL_SIZE}, the first ${MODEL_BATCH}
held-out sample scenes and their masks; all 27 convs train. "-undilated" cases set every dilation to 1 (pads
keep the sizes): a different network of the same cost, measured because tfjs refuses dilated gradients.`;

class UsageError extends Error {}

function parseArgs(argv) {
  const o = { cases: CASE_DEFS.map((c) => c.id), runtimes: RUNTIMES };
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
    } else if (flag === '--case') o.cases = value().split(',').filter(Boolean);
    else if (flag === '--runtimes') o.runtimes = value().split(',').filter(Boolean);
    else if (flag === '--reps') o.reps = int(flag, value(), 1);
    else if (flag === '--warmup') o.warmup = int(flag, value(), 0);
    else if (flag === '--tfjs-steps') o.tfjsSteps = int(flag, value(), 1);
    else if (flag === '--results') o.results = value();
    else throw new UsageError(`unknown flag ${argv[i]}\n${HELP}`);
  }
  for (const c of o.cases) if (!CASE_DEFS.some((d) => d.id === c)) throw new UsageError(`--case: no case ${c}`);
  for (const r of o.runtimes) if (!RUNTIMES.includes(r)) throw new UsageError(`--runtimes: no runtime ${r}`);
  return o;
}

/** Seeded class ids in [0, classes). */
function randomLabels(count, classes, seed) {
  let s = seed >>> 0 || 1;
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s % classes;
  }
  return out;
}

/** The model file with every Conv's dilations set to 1 and its pads to (k - 1) / 2 (same output sizes). */
function undilatedModel(bytes) {
  const m = onnx.ModelProto.decode(bytes);
  for (const n of m.graph.node) {
    if (n.opType !== 'Conv') continue;
    const kernel = n.attribute.find((a) => a.name === 'kernel_shape').ints.map(Number);
    for (const a of n.attribute) {
      if (a.name === 'dilations') a.ints = [1, 1];
      if (a.name === 'pads' && kernel.every((s) => s === 3)) a.ints = [1, 1, 1, 1];
    }
  }
  return onnx.ModelProto.encode(m).finish();
}

/**
 * The first `count` held-out samples, their top-left `size` x `size`: normalised NCHW input (model.json's
 * mean/std) and class ids.
 */
function sampleBatch(count, size) {
  const spec = JSON.parse(readFileSync(resolve(root, 'models/default/model.json'), 'utf8'));
  const { mean, std } = spec.input;
  const index = JSON.parse(readFileSync(resolve(root, 'models/default/samples/index.json'), 'utf8'));
  const input = new Float32Array(count * 3 * size * size);
  const labels = new Int32Array(count * size * size);
  index.scenes.slice(0, count).forEach((s, b) => {
    const img = PNG.sync.read(readFileSync(resolve(root, 'models/default/samples', s.image)));
    const mask = PNG.sync.read(readFileSync(resolve(root, 'models/default/samples', s.mask)));
    if (img.width < size || img.height < size) throw new Error(`${s.image}: ${img.width}x${img.height}, smaller than ${size}x${size}`);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const src = (y * img.width + x) * 4;
        const p = y * size + x;
        for (let c = 0; c < 3; c++) input[(b * 3 + c) * size * size + p] = (img.data[src + c] / 255 - mean[c]) / std[c];
        labels[b * size * size + p] = mask.data[src];
      }
    }
  });
  return { input, labels, classes: spec.classes.length };
}

/** Everything every runtime trains on in one case. */
function caseInputs(def) {
  if (def.kind === 'conv') {
    const k = def.conv;
    const data = caseData(k);
    const [oh, ow] = outputHW(k);
    return {
      bytes: convModel(k, data, [1, k.m, oh, ow]),
      input: data.input,
      inputDims: [1, k.c, k.hw[0], k.hw[1]],
      labels: randomLabels(oh * ow, k.m, 11),
      labelDims: [1, oh, ow],
      classes: k.m,
      what: `Conv ${describe(k)}, batch 1, ${(3 * gflop(k)).toFixed(2)} GFLOP/step (fwd + dx + dW)`,
    };
  }
  const original = new Uint8Array(readFileSync(MODEL_PATH));
  const [batch, size] = [def.batch ?? MODEL_BATCH, def.size ?? MODEL_SIZE];
  const { input, labels, classes } = sampleBatch(batch, size);
  return {
    bytes: def.undilated ? undilatedModel(original) : original,
    input,
    inputDims: [batch, 3, size, size],
    labels,
    labelDims: [batch, size, size],
    classes,
    what: `built-in model${def.undilated ? ' with every dilation 1' : ''}, ${batch}x3x${size}x${size}, all 27 convs trained`,
  };
}

/** The PyTorch worker (runtimes/torch_training.py): one process, one JSON line per request and answer. */
function startTorch() {
  const env = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  const child = spawn('/usr/bin/python3', [join(here, 'runtimes/torch_training.py')], { stdio: ['pipe', 'pipe', 'inherit'], env });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.resolve(JSON.parse(line)));
  child.on('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`torch_training.py exited with code ${code}`));
  });
  const request = (cmd) =>
    new Promise((resolvePromise, reject) => {
      waiting.push({ resolve: resolvePromise, reject });
      child.stdin.write(`${JSON.stringify(cmd)}\n`);
    }).then((answer) => {
      if (answer.error) throw new Error(answer.error);
      return answer;
    });
  return { request, close: () => child.stdin.end() };
}

const cpuMs = (u) => (u.user + u.system) / 1000;

/** A runner: `step()` resolves to { loss, wall, cpu } of one timed training step. */
async function prepare(runtime, def, inputs, ctx) {
  if (runtime === 'atrous') {
    const trainer = await ctx.atrous.createTrainer(inputs.bytes, { trainable: 'all', loss: { type: 'softmaxCrossEntropy' }, optimizer: OPTIMIZER });
    const feeds = { [def.kind === 'conv' ? 'X' : 'image']: new ctx.atrous.Tensor('float32', inputs.input, inputs.inputDims) };
    return {
      async step() {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const { loss } = await trainer.step(feeds, inputs.labels);
        return { loss, wall: performance.now() - t0, cpu: cpuMs(process.cpuUsage(c0)) };
      },
      dispose: async () => trainer.dispose(),
    };
  }
  if (runtime === 'torch') {
    const id = `${def.id}`;
    const files = { input: join(ctx.dir, `${id}.input.f32`), labels: join(ctx.dir, `${id}.labels.i32`), onnx: join(ctx.dir, `${id}.onnx`) };
    writeFileSync(files.input, inputs.input);
    writeFileSync(files.labels, inputs.labels);
    writeFileSync(files.onnx, inputs.bytes);
    const info = await ctx.torch.request({ cmd: 'prepare', id, ...files, inputDims: inputs.inputDims, labelDims: inputs.labelDims, optimizer: OPTIMIZER });
    ctx.torchInfo = `torch ${info.torch}, torch.get_num_threads() ${info.threads}, OMP/OpenBLAS/MKL_NUM_THREADS=1`;
    return {
      step: () => ctx.torch.request({ cmd: 'step', id }),
      dispose: () => ctx.torch.request({ cmd: 'dispose', id }),
    };
  }
  const backend = runtime === 'tfjs-cpu' ? 'cpu' : 'wasm';
  const r = await prepareTfjsTraining(backend, inputs.bytes, inputs.input, inputs.inputDims, inputs.labels, inputs.classes, OPTIMIZER);
  return {
    async step() {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const loss = await r.step();
      return { loss, wall: performance.now() - t0, cpu: cpuMs(process.cpuUsage(c0)) };
    },
    dispose: async () => r.dispose(),
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const relDiff = (a, b) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
const errorText = (e) => String(e?.message ?? e).split('\n')[0];

async function benchCase(def, o, ctx, log) {
  const inputs = caseInputs(def);
  const result = { def, what: inputs.what, runtimes: {}, refused: {} };
  const runners = {};
  for (const r of o.runtimes) {
    if (def.skip?.[r]) {
      result.skipped = { ...result.skipped, [r]: def.skip[r] };
      continue;
    }
    try {
      runners[r] = await prepare(r, def, inputs, ctx);
      result.runtimes[r] = { wall: [], cpu: [], losses: [] };
    } catch (e) {
      result.refused[r] = `at creation: ${errorText(e)}`;
    }
  }
  const warmup = o.warmup ?? (def.kind === 'conv' ? 2 : 1);
  const reps = o.reps ?? (def.kind === 'conv' ? 7 : 4);
  // Every runtime takes the same steps in lockstep, so the k-th losses compare like for like.
  // tfjs-cpu (minutes per step) takes part in the first `tfjsSteps` rounds only, every one of its steps timed.
  const tfjsSteps = o.tfjsSteps ?? 1;
  for (let round = 0; round < warmup + reps; round++) {
    const names = Object.keys(runners).filter((n) => n !== 'tfjs-cpu' || round < tfjsSteps);
    for (let j = 0; j < names.length; j++) {
      const name = names[(round + j) % names.length];
      try {
        const t = await runners[name].step();
        const rec = result.runtimes[name];
        rec.losses.push(t.loss);
        if (round >= warmup || name === 'tfjs-cpu') {
          rec.wall.push(t.wall);
          rec.cpu.push(t.cpu);
        }
      } catch (e) {
        result.refused[name] = errorText(e);
        delete result.runtimes[name];
        await runners[name].dispose().catch(() => {});
        delete runners[name];
      }
    }
    log(`  ${def.id} ${round < warmup ? 'warm-up' : 'round'} ${round + 1}/${warmup + reps}: ${Object.entries(result.runtimes).map(([n, r]) => `${n} ${r.wall.at(-1)?.toFixed(0) ?? '-'} ms loss ${r.losses.at(-1)?.toFixed(5)}`).join(', ')}`);
  }
  for (const r of Object.values(runners)) await r.dispose();
  return result;
}

const fmtMs = (x) => (x === undefined ? '-' : x < 100 ? x.toFixed(1) : x.toFixed(0));
const fmtRatio = (x) => (x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(2)}x`);

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const log = (s) => process.stderr.write(`${s}\n`);
  const loadBefore = load();
  const ctx = { dir: mkdtempSync(join(tmpdir(), 'atrous-training-bench-')) };
  if (o.runtimes.includes('atrous')) {
    ctx.atrous = await import('atrous');
    await ctx.atrous.init({ intraOpNumThreads: 1 });
  }
  if (o.runtimes.includes('torch')) ctx.torch = startTorch();
  const results = [];
  try {
    for (const id of o.cases) {
      log(`[training-bench] ${id}`);
      results.push(await benchCase(CASE_DEFS.find((d) => d.id === id), o, ctx, log));
    }
  } finally {
    ctx.torch?.close();
    rmSync(ctx.dir, { recursive: true, force: true });
  }
  const loadAfter = load();

  const lines = [];
  const out = (s = '') => {
    lines.push(s);
    console.log(s);
  };
  const command = `node ${process.execArgv.join(' ')} ${relative(process.cwd(), process.argv[1])} ${process.argv.slice(2).join(' ')}`.replace(/\s+/g, ' ').trim();
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  out('## Training step, single thread (issue 12)');
  out();
  out(`- date: ${new Date().toISOString()}`);
  out(`- command: \`${command}\``);
  out(`- machine: ${cpuModel()} (/proc/cpuinfo: ${cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? '?'}, family ${cpuinfo.match(/^cpu family\s*:\s*(.*)$/m)?.[1] ?? '?'} model ${cpuinfo.match(/^model\s*:\s*(.*)$/m)?.[1] ?? '?'}), ${cpuinfo.match(/^processor/gm)?.length ?? '?'} logical cores; Node ${process.version}`);
  out(`- load before: \`${loadBefore}\``);
  out(`- load after: \`${loadAfter}\``);
  out(`- atrous build: ${ctx.atrous ? ctx.atrous.loadedBuild() : '-'}, intraOpNumThreads 1; ${packageVersions().filter((p) => !p.includes('onnxruntime')).join(', ')}, @tensorflow/tfjs ${require('@tensorflow/tfjs/package.json').version}; ${ctx.torchInfo ?? 'torch not run'}`);
  out(`- atrous kernels: ${atrousWasmFiles().slice(0, 1).join('; ')}`);
  out(`- step (every runtime): forward, softmax cross-entropy (mean over pixels), backward to every Conv weight and bias, SGD lr ${OPTIMIZER.learningRate} momentum ${OPTIMIZER.momentum}; same ONNX graph, same float32 initial weights, same batch`);
  out('- atrous: `await trainer.step(feeds, labels)` of `createTrainer(onnx, { trainable: \'all\', ... })`, feeds and labels made once');
  out('- PyTorch: the ONNX graph as an nn.Module (bench/runtimes/torch_training.py: F.conv2d with the file\'s attributes, F.interpolate bilinear align_corners=False), `zero_grad; F.cross_entropy; backward; SGD.step`, timed inside python with perf_counter (the pipe round trip excluded)');
  out(`- ${TIMING_TFJS}`);
  out('- tfjs-cpu on the models: tfjs-backend-cpu 4.22\'s ResizeBilinearGrad ignores halfPixelCenters, so its Resize gradients are those of the non-half-pixel resize (same cost; the forward and so the first loss are exact)');
  out(`- rounds: every runtime takes one step per round, order rotated each round, the warm-up steps untimed; medians of wall ms. tfjs-cpu takes part in the first ${o.tfjsSteps ?? 1} round(s) only, each of its steps timed (no warm-up: one step takes minutes, its Conv2DBackpropFilter being the cost)`);
  out('- ratios > 1: atrous is faster. The CPU-time ratio divides median CPU times per step (node\'s process CPU for atrous, python\'s process_time for PyTorch): on a shared machine it shows what each costs when wall times are stretched by other processes');
  out('- loss agreement: max over the steps of |loss - PyTorch\'s loss at the same step| / PyTorch\'s (the runtimes train in lockstep from the same weights)');
  out();
  out(`| case | what | atrous ms | PyTorch 1T ms | tfjs-cpu ms | tfjs-wasm | atrous speed vs PyTorch (goal >= ${GOAL_TORCH}x) | same, CPU time | vs tfjs-cpu (goal >= ${GOAL_TFJS}x) | loss agreement (step 1 / all) | steps timed |`);
  out('|---|---|---:|---:|---:|---|---:|---:|---:|---|---|');
  const notes = new Map();
  const note = (text) => {
    if (!notes.has(text)) notes.set(text, notes.size + 1);
    return `(${notes.get(text)})`;
  };
  let failed = false;
  for (const r of results) {
    const med = (n) => (r.runtimes[n]?.wall.length ? median(r.runtimes[n].wall) : undefined);
    const cell = (n) =>
      r.refused[n] ? `refused ${note(`${n}: ${r.refused[n]}`)}` : r.skipped?.[n] ? `not run ${note(`${n}: ${r.skipped[n]}`)}` : o.runtimes.includes(n) ? fmtMs(med(n)) : 'not run';
    const a = med('atrous');
    const pt = med('torch');
    const tf = med('tfjs-cpu');
    const vsTorch = a && pt ? `${fmtRatio(pt / a)}${pt / a >= GOAL_TORCH ? '' : ' (below)'}` : '-';
    const cpuMed = (n) => (r.runtimes[n]?.cpu.length ? median(r.runtimes[n].cpu) : undefined);
    const vsTorchCpu = cpuMed('atrous') && cpuMed('torch') ? fmtRatio(cpuMed('torch') / cpuMed('atrous')) : '-';
    const vsTfjs = a && tf ? `${fmtRatio(tf / a)}${tf / a >= GOAL_TFJS ? '' : ' (below)'}` : '-';
    const ref = r.runtimes.torch?.losses;
    const agreement = Object.entries(r.runtimes)
      .filter(([n]) => n !== 'torch' && ref)
      .map(([n, t]) => {
        const first = relDiff(t.losses[0], ref[0]);
        const all = Math.max(...t.losses.map((l, i) => relDiff(l, ref[i])));
        if (n === 'atrous' && !(first <= FIRST_LOSS_TOLERANCE)) failed = true;
        return `${n} ${first.toExponential(1)} / ${all.toExponential(1)}${n === 'atrous' && !(first <= FIRST_LOSS_TOLERANCE) ? ' **FAIL**' : ''}`;
      })
      .join('; ');
    const wasm = r.refused['tfjs-wasm'] ? `refused ${note(`tfjs-wasm: ${r.refused['tfjs-wasm']}`)}` : o.runtimes.includes('tfjs-wasm') ? `${fmtMs(med('tfjs-wasm'))} ms` : 'not run';
    const counts = Object.entries(r.runtimes).map(([n, t]) => `${n} ${t.wall.length}`).join(', ');
    out(`| ${r.def.id} | ${r.what} | ${cell('atrous')} | ${cell('torch')} | ${cell('tfjs-cpu')} | ${wasm} | ${vsTorch} | ${vsTorchCpu} | ${vsTfjs} | ${agreement || '-'} | ${counts} |`);
  }
  out();
  for (const [text, i] of notes) out(`(${i}) ${text}`);
  out();
  out('Spread (min / median / max wall ms; cpu = median process CPU ms per step):');
  out();
  for (const r of results) {
    const parts = Object.entries(r.runtimes).filter(([, t]) => t.wall.length).map(([n, t]) => {
      const s = [...t.wall].sort((x, y) => x - y);
      return `${n} ${fmtMs(s[0])} / ${fmtMs(median(s))} / ${fmtMs(s.at(-1))} (cpu ${fmtMs(median(t.cpu))})`;
    });
    out(`- ${r.def.id}: ${parts.join('; ')}`);
  }
  if (o.results) writeSection(o.results, lines);
  if (failed) process.exitCode = 1;
}

/** Replaces (or appends) this benchmark's section of a markdown file, keeping the others. */
function writeSection(file, lines) {
  const heading = lines[0];
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {}
  const start = text.indexOf(`${heading}\n`);
  const section = `${lines.join('\n')}\n`;
  if (start < 0) {
    writeFileSync(file, `${text.replace(/\n*$/, '\n\n')}${section}`);
    return;
  }
  const next = text.indexOf('\n## ', start + heading.length);
  writeFileSync(file, text.slice(0, start) + section + (next < 0 ? '' : text.slice(next + 1).replace(/^/, '\n')));
}

main().catch((e) => {
  if (e instanceof UsageError) {
    console.error(e.message);
    process.exit(2);
  }
  console.error(e);
  process.exit(1);
});
