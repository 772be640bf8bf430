// Random convolution configurations for the parity suite, their data, and how to compare results.
// Pure TypeScript with no Node imports: the browser tests import it too.

/** Activations as the parity suite names them; each maps to one ONNX node after the Conv (or none). */
export type CaseActivation =
  | { kind: 'none' }
  | { kind: 'relu' }
  | { kind: 'relu6' }
  | { kind: 'clip'; min: number; max: number }
  | { kind: 'hardSigmoid'; alpha?: number; beta?: number }
  | { kind: 'hardSwish' }
  | { kind: 'sigmoid' }
  | { kind: 'leakyRelu'; alpha?: number };

/** How the case pads: explicit `[top, left, bottom, right]`, or atrous's automatic modes. */
export type CasePads = { kind: 'explicit'; pads: [number, number, number, number] } | { kind: 'same-upper' | 'same-lower' | 'valid' };

export interface ConvCase {
  /** Position in the suite and the seed its data is drawn from. */
  index: number;
  seed: number;
  /** conv2d; conv1d (input [N, C, L], compared with a 1-D ONNX Conv); or a prepared plan run twice. */
  op: 'conv2d' | 'conv1d' | 'plan';
  /** conv1d only: atrous's `causal` option (ONNX: explicit pads [(k - 1) * d, 0]). */
  causal: boolean;
  batch: number;
  inChannels: number;
  outChannels: number;
  groups: number;
  height: number; // 1 for conv1d
  width: number;
  kernel: [number, number]; // [1, k] for conv1d
  strides: [number, number];
  dilations: [number, number];
  pads: CasePads;
  bias: boolean;
  residual: boolean;
  activation: CaseActivation;
  /** Features this case was drawn to exercise, for the test name. */
  tags: string[];
}

/** The arrays one case runs on (the second input only for `op: 'plan'`). */
export interface CaseData {
  input: Float32Array;
  input2: Float32Array | undefined;
  weights: Float32Array;
  bias: Float32Array | undefined;
  residual: Float32Array | undefined;
  residual2: Float32Array | undefined;
}

/** mulberry32: small, fast, and the same sequence in Node and in the browser. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const int = (r: Random, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const chance = (r: Random, p: number): boolean => r() < p;

function effective(k: number, d: number): number {
  return (k - 1) * d + 1;
}

/** ONNX's output size for explicit pads (floor division), or 0 when there is none. */
export function explicitOutputSize(size: number, k: number, s: number, d: number, begin: number, end: number): number {
  const span = size + begin + end - effective(k, d);
  return span < 0 ? 0 : Math.floor(span / s) + 1;
}

/**
 * The pads ONNX's auto_pad SAME_UPPER / SAME_LOWER stands for (onnx/defs/nn/defs.cc): output
 * ceil(size / stride), total padding max(0, (out - 1) * stride + effective kernel - size), the odd one at
 * the end for SAME_UPPER and at the beginning for SAME_LOWER. Returns [begin, end].
 */
export function samePads(size: number, k: number, s: number, d: number, mode: 'same-upper' | 'same-lower'): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max(0, (out - 1) * s + effective(k, d) - size);
  const small = Math.floor(total / 2);
  return mode === 'same-upper' ? [small, total - small] : [total - small, small];
}

/** The explicit `[top, left, bottom, right]` pads a case amounts to. */
export function explicitPads(c: ConvCase): [number, number, number, number] {
  const p = c.pads;
  if (p.kind === 'explicit') return p.pads;
  if (p.kind === 'valid') return [0, 0, 0, 0];
  const [t, b] = samePads(c.height, c.kernel[0], c.strides[0], c.dilations[0], p.kind);
  const [l, r] = samePads(c.width, c.kernel[1], c.strides[1], c.dilations[1], p.kind);
  return [t, l, b, r];
}

/** Output dims `[N, M, OH, OW]` (conv2d) or `[N, M, OW]` (conv1d) by the ONNX formulas. */
export function expectedOutputDims(c: ConvCase): number[] {
  const [t, l, b, r] = explicitPads(c);
  const oh = explicitOutputSize(c.height, c.kernel[0], c.strides[0], c.dilations[0], t, b);
  const ow = explicitOutputSize(c.width, c.kernel[1], c.strides[1], c.dilations[1], l, r);
  return c.op === 'conv1d' ? [c.batch, c.outChannels, ow] : [c.batch, c.outChannels, oh, ow];
}

export function inputDims(c: ConvCase): number[] {
  return c.op === 'conv1d' ? [c.batch, c.inChannels, c.width] : [c.batch, c.inChannels, c.height, c.width];
}

export function weightDims(c: ConvCase): number[] {
  const cpg = c.inChannels / c.groups;
  return c.op === 'conv1d' ? [c.outChannels, cpg, c.kernel[1]] : [c.outChannels, cpg, c.kernel[0], c.kernel[1]];
}

const size = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

function fill(r: Random, n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}

/** The case's arrays, drawn from its own seed (so one case reproduces alone). */
export function caseData(c: ConvCase): CaseData {
  const r = rng(c.seed ^ 0x5eed);
  const inputLength = size(inputDims(c));
  const outLength = size(expectedOutputDims(c));
  // Weights scaled by 1/sqrt(fan-in) keep outputs of order 1 whatever the kernel size, so activations with
  // a knee (clip, hardSigmoid, hardSwish) see values on both sides of it.
  const fanIn = (c.inChannels / c.groups) * c.kernel[0] * c.kernel[1];
  return {
    input: fill(r, inputLength, 1),
    input2: c.op === 'plan' ? fill(r, inputLength, 2) : undefined,
    weights: fill(r, size(weightDims(c)), 1.5 / Math.sqrt(fanIn)),
    bias: c.bias ? fill(r, c.outChannels, 0.5) : undefined,
    residual: c.residual ? fill(r, outLength, 1) : undefined,
    residual2: c.residual && c.op === 'plan' ? fill(r, outLength, 1) : undefined,
  };
}

const ACTIVATIONS: ((r: Random) => CaseActivation)[] = [
  () => ({ kind: 'none' }),
  () => ({ kind: 'relu' }),
  () => ({ kind: 'relu6' }),
  (r) => {
    const min = Math.round((r() * 1.2 - 0.9) * 100) / 100;
    return { kind: 'clip', min, max: Math.round((min + 0.1 + r() * 1.2) * 100) / 100 };
  },
  () => ({ kind: 'hardSigmoid' }),
  (r) => ({ kind: 'hardSigmoid', alpha: Math.round((0.1 + r() * 0.4) * 100) / 100, beta: Math.round((0.2 + r() * 0.6) * 100) / 100 }),
  () => ({ kind: 'hardSwish' }),
  () => ({ kind: 'sigmoid' }),
  () => ({ kind: 'leakyRelu' }),
  (r) => ({ kind: 'leakyRelu', alpha: Math.round((0.05 + r() * 0.3) * 100) / 100 }),
];

/** Draws the channel layout: groups 1, depthwise (multiplier 1..3), or a count in between. */
function drawChannels(r: Random, tags: string[]): { inChannels: number; outChannels: number; groups: number } {
  const kind = r();
  if (kind < 0.45) {
    // Now and then wide enough to fill several 4x8 tiles and panels.
    const wide = chance(r, 0.2);
    return { inChannels: wide ? int(r, 17, 40) : int(r, 1, 9), outChannels: wide ? int(r, 9, 36) : int(r, 1, 12), groups: 1 };
  }
  if (kind < 0.75) {
    const g = int(r, 1, 12);
    const multiplier = chance(r, 0.6) ? 1 : int(r, 2, 3);
    tags.push(multiplier > 1 ? `depthwise x${multiplier}` : 'depthwise');
    return { inChannels: g, outChannels: g * multiplier, groups: g };
  }
  const g = int(r, 2, 4);
  tags.push('grouped');
  return { inChannels: g * int(r, 1, 4), outChannels: g * int(r, 1, 4), groups: g };
}

/** One random case; retries the draw until the output has at least one pixel. */
export function drawCase(index: number, seed: number): ConvCase {
  const r = rng(seed);
  const op: ConvCase['op'] = chance(r, 0.18) ? 'conv1d' : chance(r, 0.15) ? 'plan' : 'conv2d';
  for (;;) {
    const tags: string[] = [];
    const { inChannels, outChannels, groups } = drawChannels(r, tags);
    const batch = chance(r, 0.3) ? 2 : 1;
    const oneD = op === 'conv1d';
    let kernel: [number, number];
    const shape = r();
    // 1x1 convolutions, half of them plain matrix products (stride 1, no padding).
    const pointwise = !oneD && shape < 0.08;
    const plainPointwise = pointwise && chance(r, 0.5);
    if (oneD) kernel = [1, int(r, 1, 5)];
    else if (pointwise) (kernel = [1, 1]), tags.push(plainPointwise ? '1x1 plain' : '1x1');
    else if (shape < 0.2) (kernel = [1, int(r, 2, 5)]), tags.push('1xN');
    else if (shape < 0.32) (kernel = [int(r, 2, 5), 1]), tags.push('Nx1');
    else kernel = [int(r, 1, 5), int(r, 1, 5)];
    const strides: [number, number] = plainPointwise ? [1, 1] : oneD ? [1, int(r, 1, 3)] : [int(r, 1, 3), int(r, 1, 3)];
    const dil = (): number => (chance(r, 0.25) ? 1 : int(r, 1, 6));
    const dilations: [number, number] = oneD ? [1, dil()] : [dil(), dil()];
    // Tiny inputs (the kernel outgrows them), larger ones (outputs spanning several panel blocks), or between.
    const sizeKind = r();
    const small = sizeKind < 0.15;
    const large = sizeKind > 0.9;
    if (large) tags.push('large');
    const height = oneD ? 1 : small ? int(r, 1, 3) : large ? int(r, 24, 48) : int(r, 1, 18);
    const width = small ? int(r, 1, 3) : large ? int(r, 24, oneD ? 200 : 48) : int(r, 1, oneD ? 40 : 18);

    let causal = false;
    let pads: CasePads;
    const padKind = r();
    if (plainPointwise) {
      pads = chance(r, 0.5) ? { kind: 'explicit', pads: [0, 0, 0, 0] } : { kind: 'valid' };
    } else if (oneD && padKind < 0.3) {
      causal = true;
      tags.push('causal');
      pads = { kind: 'explicit', pads: [0, (kernel[1] - 1) * dilations[1], 0, 0] };
    } else if (padKind < 0.18) {
      pads = { kind: 'same-upper' };
    } else if (padKind < 0.32) {
      pads = { kind: 'same-lower' };
    } else if (padKind < 0.38) {
      pads = { kind: 'valid' };
    } else {
      // Explicit and asymmetric; sometimes far larger than the (dilated) kernel.
      const big = chance(r, 0.25);
      if (big) tags.push('pads > kernel');
      const p = (k: number, d: number): number => (big ? int(r, effective(k, d), effective(k, d) + 4) : int(r, 0, effective(k, d)));
      pads = oneD
        ? { kind: 'explicit', pads: [0, p(kernel[1], dilations[1]), 0, p(kernel[1], dilations[1])] }
        : { kind: 'explicit', pads: [p(kernel[0], dilations[0]), p(kernel[1], dilations[1]), p(kernel[0], dilations[0]), p(kernel[1], dilations[1])] };
    }
    if (pads.kind !== 'explicit') tags.push(pads.kind);
    if (pads.kind.startsWith('same') && (dilations[0] > 1 || dilations[1] > 1)) tags.push('auto_pad with dilation');

    const c: ConvCase = {
      index,
      seed,
      op,
      causal,
      batch,
      inChannels,
      outChannels,
      groups,
      height,
      width,
      kernel,
      strides,
      dilations,
      pads,
      bias: chance(r, 0.6),
      residual: chance(r, 0.3),
      activation: pick(r, ACTIVATIONS)(r),
      tags,
    };
    const out = expectedOutputDims(c);
    if (out.some((d) => d < 1)) continue;
    const [oh, ow] = op === 'conv1d' ? [1, out[2]!] : [out[2]!, out[3]!];
    if (effective(kernel[0], dilations[0]) > height || effective(kernel[1], dilations[1]) > width) {
      tags.push(kernel[0] > height || kernel[1] > width ? 'kernel > input' : 'dilated kernel > input');
    }
    if (oh === 1 && ow === 1) tags.push('output 1x1');
    else if (oh === 1 || ow === 1) tags.push('output size 1');
    if (c.residual) tags.push('residual');
    return c;
  }
}

/** `count` cases from one base seed: case i draws from seed `base + i`. */
export function drawCases(count: number, baseSeed: number): ConvCase[] {
  return Array.from({ length: count }, (_, i) => drawCase(i, (baseSeed + i) >>> 0));
}

function showActivation(a: CaseActivation): string {
  const params = Object.entries(a)
    .filter(([k]) => k !== 'kind')
    .map(([k, v]) => `${k}=${v}`);
  return params.length ? `${a.kind}(${params.join(',')})` : a.kind;
}

/** A one-line description for the test name and failure messages. */
export function describeCase(c: ConvCase): string {
  const pads = c.causal ? 'causal' : c.pads.kind === 'explicit' ? `pads[${c.pads.pads.join(',')}]` : c.pads.kind;
  const shape =
    c.op === 'conv1d'
      ? `x[${inputDims(c).join(',')}] w[${weightDims(c).join(',')}] s${c.strides[1]} d${c.dilations[1]}`
      : `x[${inputDims(c).join(',')}] w[${weightDims(c).join(',')}] s${c.strides.join(',')} d${c.dilations.join(',')}`;
  return (
    `#${c.index} ${c.op} ${shape} g${c.groups} ${pads} ${showActivation(c.activation)}` +
    `${c.bias ? ' +bias' : ''}${c.residual ? ' +residual' : ''}${c.tags.length ? ` {${c.tags.join('; ')}}` : ''}`
  );
}

export interface Comparison {
  maxError: number;
  maxAbs: number;
  tolerance: number;
  worstIndex: number;
  ok: boolean;
}

/**
 * The suite's criterion: every element within 1e-4 of max |reference| (1e-7 absolute when the reference is
 * all zeros), no NaN, and the same length.
 */
export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>): Comparison {
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) maxAbs = Math.max(maxAbs, Math.abs(expected[i]!));
  const tolerance = maxAbs > 0 ? 1e-4 * maxAbs : 1e-7;
  let maxError = actual.length === expected.length ? 0 : Infinity;
  let worstIndex = -1;
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    const e = Math.abs(actual[i]! - expected[i]!);
    if (!(e <= maxError) || Number.isNaN(e)) {
      maxError = Number.isNaN(e) ? NaN : e;
      worstIndex = i;
      if (Number.isNaN(e)) break;
    }
  }
  return { maxError, maxAbs, tolerance, worstIndex, ok: maxError <= tolerance };
}
