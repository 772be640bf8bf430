// How one output of atrous is compared with onnxruntime's: max |difference| relative to max |reference|,
// non-finite values, and per-pixel agreement of the decision a user takes from it (argmax over classes;
// for a one-channel map, the mask above a threshold: 0 for logits, 0.5 for probabilities).

export interface OutputParity {
  name: string;
  dims: readonly number[];
  maxAbsDiff: number;
  maxAbsRef: number;
  relative: number;
  agreement: number;
  nonFinite: number;
}

/**
 * Compares one output; `actual` and `expected` are laid out `[N, C, H, W]`. `threshold` decides one-channel
 * maps (given, not guessed from the values: an fp16 reference's probabilities can exceed 1 by an ulp).
 */
export function compareOutput(
  name: string,
  actual: Float32Array,
  expected: Float32Array,
  dims: readonly number[],
  threshold = 0,
): OutputParity {
  if (dims.length !== 4) throw new Error(`output ${name}: expected rank 4 [N, C, H, W], got dims [${dims.join(', ')}]`);
  const [n, c, h, w] = dims;
  const plane = h * w;
  let maxAbsDiff = 0;
  let maxAbsRef = 0;
  let nonFinite = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!Number.isFinite(a)) nonFinite++;
    else maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a - e));
    maxAbsRef = Math.max(maxAbsRef, Math.abs(e));
  }
  let agree = 0;
  if (c > 1) {
    for (let b = 0; b < n; b++) {
      const base = b * c * plane;
      for (let p = 0; p < plane; p++) {
        let ia = 0;
        let ie = 0;
        for (let k = 1; k < c; k++) {
          const at = base + k * plane + p;
          if (actual[at] > actual[base + ia * plane + p]) ia = k;
          if (expected[at] > expected[base + ie * plane + p]) ie = k;
        }
        if (ia === ie) agree++;
      }
    }
  } else {
    for (let i = 0; i < expected.length; i++) if (actual[i] > threshold === expected[i] > threshold) agree++;
  }
  return {
    name,
    dims,
    maxAbsDiff,
    maxAbsRef,
    relative: maxAbsRef > 0 ? maxAbsDiff / maxAbsRef : maxAbsDiff,
    agreement: agree / (n * plane),
    nonFinite,
  };
}
