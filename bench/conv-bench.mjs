#!/usr/bin/env node
/**
 * Single-thread convolution benchmark (issue 3): atrous (best build and simd128) against tfjs-backend-wasm
 * (XNNPACK), onnxruntime-web (wasm) and onnxruntime-node (native), in one process, interleaved, after warm-up.
 * Prints markdown. Run from the workspace root with `pnpm bench`; `--help` lists the flags.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { CASES, caseData, describe, gflop, outputHW, tapsInInput } from './cases.mjs';
import { atrousWasmFiles, cpuModel, load, packageVersions, simdFlags } from './machine.mjs';
import { measurePeak } from './peak.mjs';
import { TIMING_NODE, TIMING_WEB, prepareOrtNode, prepareOrtWeb } from './runtimes/ort.mjs';
import { TIMING as TIMING_TFJS, prepareTfjs, tfjsDetails, tfjsUnsupported } from './runtimes/tfjs.mjs';

const TOLERANCE = 1e-4;
const SECTION = '## Convolutions, single thread';
const RUNTIMES = ['atrous', 'tfjs', 'ortweb', 'ortnode'];

const HELP = `usage: node --experimental-wasm-relaxed-simd bench/conv-bench.mjs [flags]
  --case <id[,id]>        only these cases (${CASES.map((k) => k.id).join(', ')})
  --runtimes <list>       subset of ${RUNTIMES.join(',')} (atrous = its best build and simd128;
                          atrous-best or atrous-simd128 for one of them). ortnode always computes the
                          reference output; it is timed only if listed.
  --min-reps <n>          at least n timed calls per runtime per case (default 10)
  --min-time <s>          and at least s seconds of timed calls per runtime per case (default 2)
  --warmup <s>            untimed calls per runtime per case before timing, at least 3 (default 0.5)
  --slice <ms>            each round gives every runtime about this much time (default 100)
  --results <file>        also write the output as the "${SECTION}" section of a markdown file
                          (bench/RESULTS.md), replacing that section and keeping the others
  --quick                 --min-reps 3 --min-time 0.2 --warmup 0.1 --slice 20 (numbers only indicative)
  --help`;

/** A bad command line: printed without a stack trace. */
class UsageError extends Error {}

function parseArgs(argv) {
  const o = { minReps: 10, minTime: 2, warmup: 0.5, slice: 100, cases: undefined, runtimes: undefined, quick: false };
  const number = (flag, v) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} needs a non-negative number, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--help':
      case '-h':
        console.log(HELP);
        process.exit(0);
        break;
      case '--quick':
        Object.assign(o, { minReps: 3, minTime: 0.2, warmup: 0.1, slice: 20, quick: true });
        break;
      case '--case':
      case '--cases':
        o.cases = value().split(',').filter(Boolean);
        break;
      case '--runtimes':
        o.runtimes = value().split(',').filter(Boolean);
        break;
      case '--results':
        o.results = value();
        if (!o.results) throw new UsageError('--results needs a file name');
        break;
      case '--min-reps':
        o.minReps = Math.max(1, Math.round(number(flag, value())));
        break;
      case '--min-time':
        o.minTime = number(flag, value());
        break;
      case '--warmup':
        o.warmup = number(flag, value());
        break;
      case '--slice':
        o.slice = Math.max(1, number(flag, value()));
        break;
      default:
        throw new UsageError(`unknown flag ${a}\n${HELP}`);
    }
  }
  const known = new Set(CASES.map((k) => k.id));
  for (const id of o.cases ?? []) if (!known.has(id)) throw new UsageError(`--case: no case ${id}; cases are ${[...known].join(', ')}`);
  const runtimeNames = new Set([...RUNTIMES, 'atrous-best', 'atrous-simd128']);
  for (const r of o.runtimes ?? []) if (!runtimeNames.has(r)) throw new UsageError(`--runtimes: no runtime ${r}; runtimes are ${[...runtimeNames].join(', ')}`);
  return o;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const geomean = (xs) => (xs.length ? Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length) : undefined);

function fixed(x, digits) {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x.toFixed(digits);
}
const ms = (x) => fixed(x, x < 10 ? 2 : 1);
const rate = (x) => fixed(x, 1);
const ratio = (x) => (x === undefined ? '-' : `${x.toFixed(2)}x`);

/** max |y - ref| / max |ref| */
function disagreement(y, ref) {
  if (y.length !== ref.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(y[i] - ref[i]);
    if (!(d <= diff)) diff = d; // NaN propagates as a disagreement
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

function gitDescribe() {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** Times `runner.run` calls, interleaved across runners in time slices, until every one has enough. */
async function measure(runners, o) {
  // Warm-up: untimed, also lets V8 tier the wasm up to optimised code. The last calls estimate the call time.
  for (const r of runners) {
    const times = [];
    const until = performance.now() + o.warmup * 1000;
    while (times.length < 3 || performance.now() < until) {
      const t = performance.now();
      await r.run();
      times.push(performance.now() - t);
    }
    r.estimate = median(times.slice(-3));
    r.samples = [];
    r.cpu = [];
    r.total = 0;
  }
  const done = (r) => r.samples.length >= o.minReps && r.total >= o.minTime * 1000;
  while (!runners.every(done)) {
    for (const r of runners) {
      const calls = Math.max(1, Math.round(o.slice / Math.max(r.estimate, 1e-3)));
      for (let i = 0; i < calls; i++) {
        const c = process.cpuUsage();
        const t = performance.now();
        await r.run();
        const dt = performance.now() - t;
        const dc = process.cpuUsage(c);
        r.samples.push(dt);
        r.cpu.push((dc.user + dc.system) / 1000);
        r.total += dt;
      }
      // Keep the slices equal in time as the picture changes (the warm-up estimate may have been disturbed).
      r.estimate = median(r.samples.slice(-Math.max(calls, 5)));
    }
  }
}

/** The atrous runtime, with a hint when the workspace package has not been built. */
async function loadAtrousRuntime() {
  try {
    return await import('./runtimes/atrous.mjs');
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('atrous')) {
      throw new Error(`${error.message}\nbuild the package first: bash scripts/build-wasm.sh && pnpm --filter atrous build`);
    }
    throw error;
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const { TIMING: TIMING_ATROUS, atrousBuilds, prepareAtrous } = await loadAtrousRuntime();
  const wanted = new Set(o.runtimes ?? RUNTIMES);
  const cases = CASES.filter((k) => !o.cases || o.cases.includes(k.id));
  const { best, builds } = atrousBuilds();
  const atrousColumns = [];
  if (wanted.has('atrous') || wanted.has('atrous-best')) atrousColumns.push({ id: `atrous-${best}`, build: best, label: `atrous ${best}` });
  if ((wanted.has('atrous') || wanted.has('atrous-simd128')) && builds.includes('simd128') && best !== 'simd128') {
    atrousColumns.push({ id: 'atrous-simd128', build: 'simd128', label: 'atrous simd128' });
  }
  if (wanted.has('atrous-simd128') && best === 'simd128' && atrousColumns.length === 0) {
    atrousColumns.push({ id: 'atrous-simd128', build: 'simd128', label: 'atrous simd128' });
  }
  const columns = [
    ...atrousColumns,
    ...(wanted.has('tfjs') ? [{ id: 'tfjs', label: 'tfjs-wasm' }] : []),
    ...(wanted.has('ortweb') ? [{ id: 'ortweb', label: 'ort-web' }] : []),
    ...(wanted.has('ortnode') ? [{ id: 'ortnode', label: 'ort-node' }] : []),
  ];

  const loadBefore = load();
  const lines = [];
  const out = (s = '') => {
    lines.push(s);
    console.log(s);
  };
  const command = `node ${process.execArgv.join(' ')} ${relative(process.cwd(), process.argv[1])} ${process.argv.slice(2).join(' ')}`.replace(/\s+/g, ' ').trim();

  // Peak first, on a quiet process: nothing else has been loaded yet.
  const peak = await measurePeak({ budgetMs: o.quick ? 500 : 1500 });

  out(`- date: ${new Date().toISOString()}, workspace ${gitDescribe()}`);
  const pnpmCommand = `pnpm bench ${process.argv.slice(2).join(' ')}`.trim();
  const viaPnpm = process.env.npm_lifecycle_event === 'bench' ? `\`${pnpmCommand}\` = ` : '';
  out(`- command: ${viaPnpm}\`${command}\`${o.quick ? ' (QUICK: few repetitions, numbers only indicative)' : ''}`);
  out(`- machine: ${cpuModel()}, ${peak.pipes.arch}; SIMD flags: ${simdFlags(peak.cpu)}`);
  out(`- Node ${process.version} (V8 ${process.versions.v8}), flags: ${process.execArgv.join(' ') || 'none'}; atrous builds this engine validates: best = ${best}${best === 'simd128' ? ' (no relaxed SIMD: run Node with --experimental-wasm-relaxed-simd)' : ''}`);
  out(`- packages: ${packageVersions().join(', ')}`);
  out(`- atrous kernels measured: ${atrousWasmFiles().join('; ')}`);
  out(`- load before: \`${loadBefore}\``);
  out(
    `- peak (one core, wasm f32x4): ${peak.pipes.pipes}. simd128: ${peak.pipes.simd128.how}; relaxed: ${peak.pipes.relaxed.how}. ` +
      `Clock ${peak.ghz.toFixed(2)} GHz measured by ${peak.clockHow}. ` +
      `Peak = flop/cycle x clock = **${peak.peak.simd128.toFixed(1)} GFLOP/s simd128, ${peak.peak.relaxed.toFixed(1)} GFLOP/s relaxed**. ` +
      `Check, measured with register-only loops (${peak.loopsHow}): simd128 ${rate(peak.measured.simd128)} GFLOP/s, relaxed ${rate(peak.measured.relaxed)} GFLOP/s.`,
  );
  out(`- repetitions: after >= ${o.warmup} s and >= 3 untimed calls per runtime, rounds give each runtime a ~${o.slice} ms slice (at least one call) in turn ` +
      `(${columns.map((c) => c.label).join(', ')}, then again), until each has >= ${o.minReps} timed calls and >= ${o.minTime} s of them; each call timed alone with performance.now(); median reported.`);

  // Prepare atrous plans per build (a plan keeps the engine of the init() before it).
  const datas = new Map(cases.map((k) => [k.id, caseData(k)]));
  const atrousRunners = new Map();
  for (const col of atrousColumns) {
    atrousRunners.set(col.id, await prepareAtrous(col.build, cases.map((k) => ({ k, data: datas.get(k.id) }))));
  }
  if (wanted.has('tfjs')) out(`- tfjs-backend-wasm: ${await tfjsDetails()}`);

  const results = [];
  let failed = false;
  for (const k of cases) {
    const data = datas.get(k.id);
    const [oh, ow] = outputHW(k);
    const outDims = [1, k.m, oh, ow];
    const reference = await prepareOrtNode(k, data, outDims);
    if (reference.session.handler?.constructor?.name && reference.session.handler.constructor.name !== 'OnnxruntimeSessionHandler') {
      throw new Error(`ortnode: the session runs on ${reference.session.handler.constructor.name}, not onnxruntime-node`);
    }
    const runners = [];
    const row = { k, cells: new Map() };
    for (const col of columns) {
      let runner;
      if (col.id.startsWith('atrous-')) runner = atrousRunners.get(col.id).get(k.id);
      else if (col.id === 'tfjs') {
        const why = tfjsUnsupported(k);
        if (why) {
          row.cells.set(col.id, { unsupported: why });
          continue;
        }
        runner = await prepareTfjs(k, data, outDims);
      } else if (col.id === 'ortweb') {
        runner = await prepareOrtWeb(k, data, outDims);
        const handler = runner.session.handler?.constructor?.name;
        if (handler === 'OnnxruntimeSessionHandler') throw new Error('ortweb: the session landed on onnxruntime-node\'s native backend');
      } else runner = reference;
      runner.column = col;
      runners.push(runner);
    }
    await measure(runners, o);
    await reference.run();
    const ref = reference.output();
    let worst = { value: 0, who: '-' };
    for (const r of runners) {
      const med = median(r.samples);
      const cell = {
        median: med,
        gflops: gflop(k) / (med / 1000),
        min: Math.min(...r.samples),
        p90: quantile(r.samples, 0.9),
        cpu: median(r.cpu),
        reps: r.samples.length,
        total: r.total,
      };
      if (r.column.id !== 'ortnode') {
        cell.disagreement = disagreement(r.output(), ref);
        if (!(cell.disagreement <= worst.value)) worst = { value: cell.disagreement, who: r.column.label };
      }
      row.cells.set(r.column.id, cell);
    }
    row.worst = worst;
    if (!(worst.value <= TOLERANCE)) failed = true;
    // atrous plans belong to their engine's map and are freed at the end.
    for (const r of runners) if (r !== reference && !r.column.build) await r.dispose();
    await reference.dispose();
    results.push(row);
    process.stderr.write(`  ${k.id} done\n`);
  }
  for (const runners of atrousRunners.values()) for (const r of runners.values()) r.dispose();

  const bestCol = atrousColumns[0];
  const simdCol = atrousColumns.find((c) => c.build === 'simd128');
  const cell = (row, id) => row.cells.get(id);
  const speedup = (row, a, b, key = 'median') => {
    const x = a && cell(row, a.id ?? a);
    const y = cell(row, b);
    return x?.[key] && y?.[key] ? y[key] / x[key] : undefined;
  };
  const peakOf = (col) => (col.build === 'relaxed' ? peak.peak.relaxed : peak.peak.simd128);

  out();
  const head = ['case', 'conv (M<-C, k, d, s, p, g, HxW)', 'GFLOP', 'taps in input'];
  for (const col of columns) {
    head.push(`${col.label} ms`, `${col.label} GFLOP/s`);
    if (col.build) head.push(`${col.label} % peak`);
  }
  const ratios = [];
  if (bestCol && columns.some((c) => c.id === 'tfjs')) ratios.push({ label: `A/B (${bestCol.label} vs tfjs)`, a: bestCol, b: 'tfjs' });
  if (bestCol && columns.some((c) => c.id === 'ortweb')) ratios.push({ label: `A/C (${bestCol.label} vs ort-web)`, a: bestCol, b: 'ortweb' });
  if (simdCol && simdCol !== bestCol && columns.some((c) => c.id === 'tfjs')) ratios.push({ label: 'simd128/B (vs tfjs)', a: simdCol, b: 'tfjs' });
  if (simdCol && simdCol !== bestCol && columns.some((c) => c.id === 'ortweb')) ratios.push({ label: 'simd128/C (vs ort-web)', a: simdCol, b: 'ortweb' });
  head.push(...ratios.map((r) => r.label), 'max rel. diff vs ort-node');
  out(`| ${head.join(' | ')} |`);
  out(`|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`);
  for (const row of results) {
    const cells = [row.k.id, describe(row.k), fixed(gflop(row.k), 3), `${fixed(100 * tapsInInput(row.k), 0)} %`];
    for (const col of columns) {
      const c = cell(row, col.id);
      if (c?.unsupported) cells.push(c.unsupported, c.unsupported);
      else cells.push(ms(c.median), rate(c.gflops));
      if (col.build) cells.push(c?.gflops ? `${fixed((100 * c.gflops) / peakOf(col), 0)} %` : '-');
    }
    for (const r of ratios) cells.push(ratio(speedup(row, r.a, r.b)));
    const w = row.worst;
    cells.push(w.value <= TOLERANCE ? w.value.toExponential(1) : `**FAIL ${w.value.toExponential(1)} (${w.who})**`);
    out(`| ${cells.join(' | ')} |`);
  }
  if (ratios.length) {
    const cells = ['geomean', '', '', ''];
    for (const col of columns) cells.push('', '', ...(col.build ? [''] : []));
    for (const r of ratios) {
      const xs = results.map((row) => speedup(row, r.a, r.b)).filter((x) => x !== undefined);
      cells.push(`**${ratio(geomean(xs))}** (${xs.length})`);
    }
    cells.push('');
    out(`| ${cells.join(' | ')} |`);
  }
  out();
  out('Ratios are speed-ups: the peer\'s median ms / atrous\'s median ms (> 1: atrous is faster). GFLOP counts every nominal tap, ' +
      'padding included (2·M·(C/g)·kH·kW·OH·OW), so a runtime that skips all-padding taps can exceed the peak on paper; ' +
      '"taps in input" is the share of those taps that read the input, not the zero padding. ' +
      '% peak is against the peak of the build\'s instruction set above. The disagreement is max |y - y_ortnode| / max |y_ortnode| ' +
      `over every other runtime (tolerance ${TOLERANCE}). Layout: atrous and ONNX Runtime NCHW; tfjs NHWC (it requires it), ` +
      'so its input is transposed before timing and its output after.');
  out();
  out('How each runtime was timed (model/plan creation and making the input tensor excluded everywhere; whether a run then copies the input into its wasm memory depends on the runtime\'s API, said per runtime):');
  if (atrousColumns.length) out(`- ${TIMING_ATROUS}.`);
  if (wanted.has('tfjs')) out(`- ${TIMING_TFJS}.`);
  if (wanted.has('ortweb')) out(`- ${TIMING_WEB}.`);
  out(`- ${TIMING_NODE}.`);
  out();
  out(
    'Spread per runtime: timed calls: min / median / p90 wall ms (seconds timed); cpu = median process CPU time per call ' +
      '(getrusage: time the process was not running, e.g. while other jobs had the core, is not in it). ' +
      'Where the median wall time exceeds the CPU time by more than 10 % the row is marked *disturbed*: rerun it at a quieter moment.',
  );
  out();
  out(`| case | ${columns.map((c) => c.label).join(' | ')} |`);
  out(`|---|${columns.map(() => '---:').join('|')}|`);
  let disturbed = false;
  for (const row of results) {
    const cells = columns.map((col) => {
      const c = cell(row, col.id);
      if (c?.unsupported) return c.unsupported;
      if (c.median > 1.1 * c.cpu) disturbed = true;
      return `${c.reps}: ${ms(c.min)} / ${ms(c.median)} / ${ms(c.p90)} (${fixed(c.total / 1000, 1)} s), cpu ${ms(c.cpu)}${c.median > 1.1 * c.cpu ? ' *disturbed*' : ''}`;
    });
    out(`| ${row.k.id} | ${cells.join(' | ')} |`);
  }
  out();
  if (ratios.length) {
    const byCpu = ratios.map((r) => {
      const xs = results.map((row) => speedup(row, r.a, r.b, 'cpu')).filter((x) => x !== undefined);
      return `${r.label} ${ratio(geomean(xs))}`;
    });
    out(`- the same geomean ratios from the CPU-time medians (less sensitive to other processes): ${byCpu.join(', ')}`);
  }
  out(`- load after: \`${load()}\``);
  if (disturbed) out('- some timings were disturbed by other processes (marked above): medians of those runtimes are pessimistic.');
  if (failed) {
    out();
    out(`**DISAGREEMENT ABOVE ${TOLERANCE}: see the FAIL cells above. These outputs are wrong; their timings do not count.**`);
    console.error(`\nconv-bench: outputs disagree with onnxruntime-node by more than ${TOLERANCE} (FAIL cells in the table)`);
    process.exitCode = 1;
  }
  if (o.results) {
    writeSection(o.results, lines);
    console.error(`conv-bench: wrote the "${SECTION}" section of ${o.results}`);
  }
}

/** Replaces (or appends) this benchmark's section of a markdown file; other sections stay as they are. */
function writeSection(file, lines) {
  const body = `${SECTION}\n\n${lines.join('\n').trim()}\n`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# atrous benchmarks\n\nEach section is the latest output of one benchmark, with the command that made it.\n';
  const start = text.indexOf(`${SECTION}\n`);
  if (start === -1) {
    text = `${text.trimEnd()}\n\n${body}`;
  } else {
    const next = text.indexOf('\n## ', start + SECTION.length);
    text = `${text.slice(0, start)}${body}${next === -1 ? '' : `\n${text.slice(next + 1)}`}`;
  }
  writeFileSync(file, text);
}

main().catch((error) => {
  console.error(error instanceof UsageError ? `conv-bench: ${error.message}` : error);
  process.exit(2);
});
