import type { ActivationParams } from '../../ops/activation.js';

/**
 * What a prepared op tells a trainer (src/training) about itself, for its backward, when its dims and
 * constants are not enough: the numbers its forward kernel call was given, so that the backward runs on
 * exactly the forward's geometry (one place decides it).
 */
export type GradientInfo =
  /** An element-wise activation on float32, `y = f(x)`. */
  | { kind: 'activation'; params: ActivationParams }
  /** A linear or cubic Resize: the `resize_desc` descriptor and source coordinates of its kernel call. */
  | { kind: 'resize'; desc: Uint32Array; coords: Float64Array }
  /** MaxPool or AveragePool on float32: the `pool_desc` descriptor, end pads and divisor rule. */
  | { kind: 'pool'; max: boolean; desc: Uint32Array; padEnd: [number, number]; includePad: boolean }
  /** Concat along `axis` (normalized). */
  | { kind: 'concat'; axis: number };
