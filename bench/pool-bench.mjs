// Throughput of the worker pool (issue 4): a batch of 32 `aspp16` convolutions (256<-256, 3x3, dilation 12,
// pads 12, 33x33, bias) through a prepared plan, with 1 and 2 workers, against the same batch run on the
// calling thread. Rounds alternate between the setups so that a change in the machine's load hits them alike.
//
//   pnpm bench:pool                 # node --experimental-wasm-relaxed-simd bench/pool-bench.mjs
//   pnpm bench:pool --rounds 9      # more rounds
//   pnpm bench:pool --record        # also write the table into bench/RESULTS.md, section "## Worker pool"
//   pnpm bench:pool --record --note "..."   # with a remark on the conditions under the table
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { CASES, caseData, describe, gflop, tapsInInput } from './cases.mjs';
import { cpuModel, load } from './machine.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
if (args.includes('--help')) {
  console.log('usage: node --experimental-wasm-relaxed-simd bench/pool-bench.mjs [--rounds N] [--batch N] [--workers 1,2] [--record [--note TEXT]]');
  process.exit(0);
}
const rounds = Number(option('--rounds', '5'));
const batch = Number(option('--batch', '32'));
const workerCounts = option('--workers', '1,2').split(',').map(Number);
const record = args.includes('--record');
const note = option('--note', '');

let atrous;
try {
  atrous = await import('atrous');
} catch (error) {
  console.error(`cannot import atrous (${error.message}); build it first: bash scripts/build-wasm.sh && pnpm --filter atrous build`);
  process.exit(1);
}
const { Tensor, init, prepareConv2d, createWorkerPool } = atrous;

const k = CASES.find((c) => c.id === 'aspp16');
const options = { dilations: k.dilations, strides: k.strides, pads: k.pads, groups: k.groups };
const inputs = Array.from({ length: batch }, (_, i) => new Tensor('float32', caseData(k, i + 1).input, [1, k.c, ...k.hw]));
const { weights, bias } = caseData(k, 1);
const w = new Tensor('float32', weights, [k.m, k.c / k.groups, ...k.kernel]);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const loadBefore = load();
const engine = await init();
const local = prepareConv2d(w, { ...options, bias });
const pools = new Map();
for (const n of workerCounts) {
  const pool = await createWorkerPool({ size: n, maxQueue: batch });
  if (pool.stats().build !== engine.build) {
    console.error(`FAIL: the workers loaded the ${pool.stats().build} build, this thread ${engine.build}`);
    process.exit(1);
  }
  pools.set(n, { pool, plan: await pool.prepareConv2d(w, { ...options, bias }) });
}

// Every setup computes the same numbers (same build): check once, before timing.
const reference = local.run(inputs[0]);
for (const [n, { plan }] of pools) {
  const y = await plan.run(inputs[0]);
  if (!y.data.every((v, i) => Object.is(v, reference.data[i]))) {
    console.error(`FAIL: ${n} worker(s) disagree with the calling thread`);
    process.exit(1);
  }
}

const setups = [
  { name: 'calling thread (no pool)', workers: 0, run: async () => inputs.forEach((x) => local.run(x)) },
  ...[...pools].map(([n, { plan }]) => ({
    name: `pool, ${n} worker${n > 1 ? 's' : ''}`,
    workers: n,
    run: () => Promise.all(inputs.map((x) => plan.run(x))),
  })),
];
const times = new Map(setups.map((s) => [s.name, []]));
// CPU time of the whole process (every thread, workers included) per round: cores actually used = cpu / wall.
const cpu = new Map(setups.map((s) => [s.name, []]));
for (const s of setups) await s.run(); // warm-up: tier-up in every worker, memory grown to its peak
for (let r = 0; r < rounds; r++) {
  for (const s of setups) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await s.run();
    times.get(s.name).push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.get(s.name).push((c.user + c.system) / 1000);
  }
}
const loadAfter = load();
for (const { pool, plan } of pools.values()) {
  await plan.dispose();
  await pool.terminate();
}
local.dispose();

const nominal = gflop(k) * batch;
const oneWorker = median(times.get(setups.find((s) => s.workers === 1)?.name) ?? [NaN]);
const lines = [
  `Batch of ${batch} \`aspp16\` convolutions (${describe(k)}, bias; ${(nominal).toFixed(1)} GFLOP nominal, ` +
    `${(tapsInInput(k) * 100).toFixed(0)} % of the taps read the input), one prepared plan, ${rounds} rounds after a warm-up, ` +
    `build \`${engine.build}\`, Node ${process.version}, ${cpuModel()} (${availableParallelism()} cores).`,
  '',
  `Load before: \`${loadBefore}\``,
  `Load after: \`${loadAfter}\``,
  '',
  '| setup | median ms per batch | min ms | max ms | convs/s | nominal GFLOP/s | cores used (CPU / wall) | vs 1 worker |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...setups.map((s) => {
    const t = times.get(s.name);
    const m = median(t);
    const used = median(cpu.get(s.name).map((c, i) => c / t[i]));
    return `| ${s.name} | ${m.toFixed(0)} | ${Math.min(...t).toFixed(0)} | ${Math.max(...t).toFixed(0)} | ${((batch * 1000) / m).toFixed(1)} | ${(nominal / (m / 1000)).toFixed(1)} | ${used.toFixed(2)} | ${(oneWorker / m).toFixed(2)}x |`;
  }),
];
console.log(lines.join('\n'));
const two = times.get('pool, 2 workers');
const one = times.get('pool, 1 worker');
if (two && one) {
  const speedup = median(one) / median(two);
  const note = speedup < 1.7 ? ' -- below the goal: see the load and the cores used above' : '';
  lines.push(
    '',
    `Speedup with 2 workers: ${speedup.toFixed(2)}x from the medians (goal >= 1.7x)${note}; ` +
      `${(Math.min(...one) / Math.min(...two)).toFixed(2)}x from the fastest rounds (the least disturbed).`,
  );
  console.log(lines.at(-1));
}

if (record) {
  const file = new URL('./RESULTS.md', import.meta.url);
  const command = ['pnpm bench:pool', ...args.filter((a, i) => a !== '--record' && a !== '--note' && args[i - 1] !== '--note')].join(' ');
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const section = ['## Worker pool', '', `\`${command}\` (bench/pool-bench.mjs), ${when} UTC.`, '', ...lines, ...(note ? ['', note] : []), ''].join('\n');
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const start = text.indexOf('\n## Worker pool\n');
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start + 1) + section + (next >= 0 ? text.slice(next + 1) : '');
  } else {
    text = text.replace(/\n*$/, '\n\n') + section;
  }
  writeFileSync(file, text);
  console.log(`\nrecorded in ${file.pathname}`);
}
