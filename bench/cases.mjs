/**
 * The convolutions of issue 3, all batch 1, float32, with bias and no activation. Semantics are ONNX Conv's:
 * NCHW input, OIHW weights, pads [top, left, bottom, right].
 */
export const CASES = [
  { id: 'aspp16', m: 256, c: 256, kernel: [3, 3], dilations: [12, 12], strides: [1, 1], pads: [12, 12, 12, 12], groups: 1, hw: [33, 33] },
  { id: 'aspp8', m: 128, c: 128, kernel: [3, 3], dilations: [24, 24], strides: [1, 1], pads: [24, 24, 24, 24], groups: 1, hw: [65, 65] },
  { id: 'backbone', m: 64, c: 64, kernel: [3, 3], dilations: [2, 2], strides: [1, 1], pads: [2, 2, 2, 2], groups: 1, hw: [128, 128] },
  { id: 'undilated', m: 64, c: 64, kernel: [3, 3], dilations: [1, 1], strides: [1, 1], pads: [1, 1, 1, 1], groups: 1, hw: [128, 128] },
  { id: 'dw3', m: 960, c: 960, kernel: [3, 3], dilations: [2, 2], strides: [1, 1], pads: [2, 2, 2, 2], groups: 960, hw: [33, 33] },
  { id: 'dw5', m: 480, c: 480, kernel: [5, 5], dilations: [2, 2], strides: [1, 1], pads: [4, 4, 4, 4], groups: 480, hw: [65, 65] },
  // MobileNetV2/V3 downsampling depthwise (expanded 24 -> 144 channels, stride 2) and a V3 5x5 undilated one.
  { id: 'dw3s2', m: 144, c: 144, kernel: [3, 3], dilations: [1, 1], strides: [2, 2], pads: [1, 1, 1, 1], groups: 144, hw: [128, 128] },
  { id: 'dw5u', m: 240, c: 240, kernel: [5, 5], dilations: [1, 1], strides: [1, 1], pads: [2, 2, 2, 2], groups: 240, hw: [33, 33] },
  { id: 'strided', m: 64, c: 32, kernel: [3, 3], dilations: [2, 2], strides: [2, 2], pads: [2, 2, 2, 2], groups: 1, hw: [128, 128] },
  { id: 'tcn', m: 128, c: 128, kernel: [1, 3], dilations: [1, 64], strides: [1, 1], pads: [0, 64, 0, 64], groups: 1, hw: [1, 4096] },
  { id: 'pointwise', m: 256, c: 960, kernel: [1, 1], dilations: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], groups: 1, hw: [33, 33] },
];

/** Output height and width (ONNX explicit padding). */
export function outputHW(k) {
  return [0, 1].map((axis) => {
    const effective = (k.kernel[axis] - 1) * k.dilations[axis] + 1;
    const span = k.hw[axis] + k.pads[axis] + k.pads[axis + 2];
    return Math.floor((span - effective) / k.strides[axis]) + 1;
  });
}

/** Nominal work: 2 * M * (C/g) * kH * kW * OH * OW flops (taps that only read padding count too). */
export function gflop(k) {
  const [oh, ow] = outputHW(k);
  return (2 * k.m * (k.c / k.groups) * k.kernel[0] * k.kernel[1] * oh * ow) / 1e9;
}

/**
 * Fraction of the nominal taps (output pixel x kernel tap) that read the input rather than the padding:
 * the work left for a runtime that skips all-padding taps (per axis, then multiplied).
 */
export function tapsInInput(k) {
  const [oh, ow] = outputHW(k);
  const out = [oh, ow];
  let fraction = 1;
  for (const axis of [0, 1]) {
    let inside = 0;
    for (let o = 0; o < out[axis]; o++) {
      for (let t = 0; t < k.kernel[axis]; t++) {
        const i = o * k.strides[axis] - k.pads[axis] + t * k.dilations[axis];
        if (i >= 0 && i < k.hw[axis]) inside++;
      }
    }
    fraction *= inside / (out[axis] * k.kernel[axis]);
  }
  return fraction;
}

/** `256<-256 3x3 d12 s1 p12 g1 33x33`: the case in one line. */
export function describe(k) {
  const pair = (v) => (v[0] === v[1] ? `${v[0]}` : `(${v[0]},${v[1]})`);
  const pads = k.pads.every((p) => p === k.pads[0]) ? `${k.pads[0]}` : `(${k.pads.join(',')})`;
  return `${k.m}<-${k.c} ${k.kernel[0]}x${k.kernel[1]} d${pair(k.dilations)} s${pair(k.strides)} p${pads} g${k.groups} ${k.hw[0]}x${k.hw[1]}`;
}

/** Deterministic data (xorshift32), uniform in [-scale, scale), so every runtime sees the same numbers. */
export function randomFloats(length, seed, scale = 1) {
  const out = new Float32Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 2 ** 32) * 2 * scale - scale;
  }
  return out;
}

/** Input `[1, C, H, W]`, weights `[M, C/g, kH, kW]` scaled by 1/sqrt(fan-in), bias `[M]`. */
export function caseData(k, seed = 1) {
  const fanIn = (k.c / k.groups) * k.kernel[0] * k.kernel[1];
  return {
    input: randomFloats(k.c * k.hw[0] * k.hw[1], seed * 3 + 1),
    weights: randomFloats(k.m * fanIn, seed * 3 + 2, 1 / Math.sqrt(fanIn)),
    bias: randomFloats(k.m, seed * 3 + 3, 0.1),
  };
}
