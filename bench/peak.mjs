/**
 * This machine's single-core wasm SIMD peak: the CPU's vector pipes (a table by microarchitecture) times a
 * clock measured here with a chain of dependent i32.add (1 cycle each on every x86 core of the last decade).
 * Two more loops measure what V8 actually sustains for independent f32x4 mul + add, and for relaxed madd.
 * The modules are assembled below byte by byte, so nothing but the engine is involved.
 */
import { readFileSync } from 'node:fs';

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

function uleb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

const section = (id, bytes) => [id, ...uleb(bytes.length), ...bytes];
const vec = (items) => [...uleb(items.length), ...items.flat()];
const name = (s) => vec([...Buffer.from(s)].map((b) => [b]));

/** A module of functions `{ name, params, result, locals: [[count, type]], body }`, all exported. */
function assemble(functions) {
  const types = functions.map((f) => [0x60, ...vec(f.params.map((p) => [p])), 1, f.result]);
  const codes = functions.map((f) => {
    const body = [...vec(f.locals.map(([n, t]) => [...uleb(n), t])), ...f.body, 0x0b];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(codes)),
  ]);
}

const get = (i) => [0x20, ...uleb(i)];
const set = (i) => [0x21, ...uleb(i)];
const simd = (op) => [0xfd, ...uleb(op)];
const F32X4_SPLAT = 0x13;
const F32X4_ADD = 0xe4;
const F32X4_MUL = 0xe6;
const F32X4_EXTRACT_LANE = 0x1f;
const F32X4_RELAXED_MADD = 0x105;

/** `loop { body; n -= 1; br_if n != 0 }` with n in local 0. */
const countedLoop = (body) => [0x03, 0x40, ...body, ...get(0), 0x41, 0x01, 0x6b, ...set(0), ...get(0), 0x0d, 0x00, 0x0b];

const CLOCK_CHAIN = 64;
const MUL_CHAINS = 6;
const ADD_CHAINS = 6;
const MADD_CHAINS = 10;
const UNROLL = 4;

/** (n, y) -> x after n * 64 dependent `x += y`. */
function clockFunction() {
  const x = 2;
  const step = [...get(x), ...get(1), 0x6a, ...set(x)];
  return { name: 'clock', params: [I32, I32], result: I32, locals: [[1, I32]], body: [...countedLoop(Array(CLOCK_CHAIN).fill(step).flat()), ...get(x)] };
}

/**
 * (n, c, d) -> lane sum. 6 chains of `p *= c` and 6 of `s += d`: enough independent work to fill two
 * multiply and two add pipes of 3-cycle latency, with no loads and no loop-invariant operation to hoist.
 */
function mulAddFunction() {
  const first = 3;
  const pc = first + MUL_CHAINS + ADD_CHAINS;
  const pd = pc + 1;
  const init = [...get(1), ...simd(F32X4_SPLAT), ...set(pc), ...get(2), ...simd(F32X4_SPLAT), ...set(pd)];
  for (let i = 0; i < MUL_CHAINS + ADD_CHAINS; i++) init.push(...get(1), ...simd(F32X4_SPLAT), ...set(first + i));
  const step = [];
  for (let i = 0; i < MUL_CHAINS; i++) step.push(...get(first + i), ...get(pc), ...simd(F32X4_MUL), ...set(first + i));
  for (let i = 0; i < ADD_CHAINS; i++) step.push(...get(first + MUL_CHAINS + i), ...get(pd), ...simd(F32X4_ADD), ...set(first + MUL_CHAINS + i));
  const fold = [...get(first)];
  for (let i = 1; i < MUL_CHAINS + ADD_CHAINS; i++) fold.push(...get(first + i), ...simd(F32X4_ADD));
  return {
    name: 'mul_add',
    params: [I32, F32, F32],
    result: F32,
    locals: [[MUL_CHAINS + ADD_CHAINS + 2, V128]],
    body: [...init, ...countedLoop(Array(UNROLL).fill(step).flat()), ...fold, ...simd(F32X4_EXTRACT_LANE), 0x00],
  };
}

/** (n, c, d) -> lane sum after 10 chains of `a = a * c + d` (f32x4.relaxed_madd, FMA where the CPU has it). */
function maddFunction() {
  const first = 3;
  const pc = first + MADD_CHAINS;
  const pd = pc + 1;
  const init = [...get(1), ...simd(F32X4_SPLAT), ...set(pc), ...get(2), ...simd(F32X4_SPLAT), ...set(pd)];
  for (let i = 0; i < MADD_CHAINS; i++) init.push(...get(1), ...simd(F32X4_SPLAT), ...set(first + i));
  const step = [];
  for (let i = 0; i < MADD_CHAINS; i++) step.push(...get(first + i), ...get(pc), ...get(pd), ...simd(F32X4_RELAXED_MADD), ...set(first + i));
  const fold = [...get(first)];
  for (let i = 1; i < MADD_CHAINS; i++) fold.push(...get(first + i), ...simd(F32X4_ADD));
  return {
    name: 'madd',
    params: [I32, F32, F32],
    result: F32,
    locals: [[MADD_CHAINS + 2, V128]],
    body: [...init, ...countedLoop(Array(UNROLL).fill(step).flat()), ...fold, ...simd(F32X4_EXTRACT_LANE), 0x00],
  };
}

/** Loop count for which one call of `fn(n)` takes about `targetMs`. */
function calibrate(fn, targetMs) {
  let n = 1 << 10;
  for (;;) {
    const t = performance.now();
    fn(n);
    const ms = performance.now() - t;
    if (ms > targetMs / 4 || n > 1 << 28) return Math.max(1, Math.round((n * targetMs) / Math.max(ms, 1e-3)));
    n *= 2;
  }
}

/**
 * Shortest time of each loop over `rounds` interleaved rounds of short calls: on a shared, virtualised
 * machine a short call is likelier to run undisturbed, and the best one is the one that did.
 */
function bestTimes(loops, rounds) {
  const best = loops.map(() => Infinity);
  for (let r = 0; r < rounds; r++) {
    loops.forEach(({ fn, n }, i) => {
      const t = performance.now();
      fn(n);
      best[i] = Math.min(best[i], performance.now() - t);
    });
  }
  return best;
}

/**
 * Flop per cycle per core for wasm f32x4 code, by vector pipes. simd128 has no FMA, so a multiply-add is
 * two instructions: the rate is min(mul pipes, add pipes) pairs of 4 lanes. relaxed_madd becomes one FMA.
 */
function vectorPipes(cpu) {
  if (cpu.vendor === 'AuthenticAMD' && cpu.family >= 0x17) {
    // Zen 1-5: FP0/FP1 multiply or FMA, FP2/FP3 add (Zen 1 ran 256-bit ops as two halves; 128-bit f32x4 is native).
    const zen = cpu.family === 0x17 ? (cpu.model >= 0x30 ? 'Zen 2' : 'Zen 1') : cpu.family === 0x19 ? ((cpu.model >= 0x10 && cpu.model <= 0x1f) || (cpu.model >= 0x60 && cpu.model <= 0xaf) ? 'Zen 4' : 'Zen 3') : 'Zen 5 or later';
    return {
      arch: `AMD ${zen} (family 0x${cpu.family.toString(16)}, model 0x${cpu.model.toString(16)})`,
      pipes: '2 FMA/multiply pipes (FP0, FP1) + 2 add pipes (FP2, FP3)',
      simd128: { perCycle: 16, how: '2 f32x4.mul (FP0, FP1) + 2 f32x4.add (FP2, FP3) per cycle = 4 instructions x 4 lanes = 16 flop/cycle' },
      relaxed: { perCycle: cpu.fma ? 16 : 16, how: cpu.fma ? '2 f32x4.relaxed_madd -> vfmadd (FP0, FP1) per cycle = 2 x 4 lanes x 2 = 16 flop/cycle (FP2/FP3 stay idle)' : 'no FMA: relaxed_madd is mul + add, as simd128' },
    };
  }
  if (cpu.vendor === 'GenuineIntel') {
    return {
      arch: `Intel (family ${cpu.family}, model 0x${cpu.model.toString(16)}), assumed Skylake-like`,
      pipes: '2 FMA pipes (port 0, port 1) that also do every multiply and add',
      simd128: { perCycle: 8, how: '2 vector FP instructions per cycle (mul or add on port 0/1) x 4 lanes = 8 flop/cycle' },
      relaxed: { perCycle: cpu.fma ? 16 : 8, how: cpu.fma ? '2 vfmadd per cycle x 4 lanes x 2 = 16 flop/cycle' : 'no FMA: as simd128' },
    };
  }
  return {
    arch: `unknown (${cpu.vendor} family ${cpu.family} model ${cpu.model}): assumed 2 vector pipes`,
    pipes: 'assumed 2 vector FP pipes',
    simd128: { perCycle: 8, how: 'assumed 2 f32x4 instructions per cycle x 4 lanes = 8 flop/cycle' },
    relaxed: { perCycle: cpu.fma ? 16 : 8, how: 'assumed 2 FMA per cycle x 8 = 16 flop/cycle' },
  };
}

export function cpuIdentity() {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: no table entry, the measured loops still say something
  }
  const field = (key) => text.match(new RegExp(`^${key}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim() ?? '';
  const flags = new Set(field('flags').split(/\s+/));
  return {
    vendor: field('vendor_id'),
    family: Number(field('cpu family')) || 0,
    model: Number(field('model')) || 0,
    nominalMHz: Number(field('cpu MHz')) || undefined,
    fma: flags.has('fma'),
    flags,
  };
}

/** Measures the clock and the vector loops (about `budgetMs` in total). `relaxed` if the engine validates it. */
export async function measurePeak({ budgetMs = 1500 } = {}) {
  const cpu = cpuIdentity();
  const pipes = vectorPipes(cpu);
  const base = await WebAssembly.instantiate(assemble([clockFunction(), mulAddFunction()]));
  const { clock, mul_add: mulAdd } = base.instance.exports;
  const loops = [
    { fn: (n) => clock(n, 3), flopPerIteration: 0 },
    { fn: (n) => mulAdd(n, 1, 1e-7), flopPerIteration: UNROLL * (MUL_CHAINS + ADD_CHAINS) * 4 },
  ];
  try {
    const fma = await WebAssembly.instantiate(assemble([maddFunction()]));
    const madd = fma.instance.exports.madd;
    loops.push({ fn: (n) => madd(n, 1, 1e-7), flopPerIteration: UNROLL * MADD_CHAINS * 8 });
  } catch {
    // the engine has no relaxed SIMD (Node without --experimental-wasm-relaxed-simd)
  }
  const callMs = 4;
  // Calibrate twice: the first pass also gets the functions tiered up to optimised code.
  for (const loop of loops) loop.n = calibrate(loop.fn, callMs);
  for (const loop of loops) loop.n = calibrate(loop.fn, callMs);
  const rounds = Math.max(5, Math.round(budgetMs / (callMs * loops.length)));
  const best = bestTimes(loops, rounds);
  const ghz = (loops[0].n * CLOCK_CHAIN) / (best[0] * 1e6);
  const rate = (i) => (loops[i].n * loops[i].flopPerIteration) / (best[i] * 1e6);
  return {
    cpu,
    pipes,
    ghz,
    clockHow:
      `a loop of ${CLOCK_CHAIN} dependent i32.add (1 cycle each on x86), ${loops[0].n} iterations, ` +
      `best of ${rounds} calls interleaved with the vector loops: ${best[0].toFixed(2)} ms`,
    peak: { simd128: pipes.simd128.perCycle * ghz, relaxed: pipes.relaxed.perCycle * ghz },
    measured: {
      simd128: rate(1),
      relaxed: loops.length > 2 ? rate(2) : undefined,
    },
    loopsHow:
      `simd128: ${MUL_CHAINS} chains of f32x4.mul + ${ADD_CHAINS} of f32x4.add (independent, in registers); ` +
      `relaxed: ${MADD_CHAINS} chains of f32x4.relaxed_madd; best of ${rounds} calls`,
  };
}
