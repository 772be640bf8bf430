import type { ActivationParams } from '../ops/activation.js';
import type { Engine } from '../wasm/engine.js';
import { AtrousError } from '../errors.js';
import { ResizeDesc } from '../wasm/abi.js';
import { check } from './status.js';

/** Whole-feature-map kernels that are not convolutions: resize, pooling, per-plane and element-wise ops. */
export class FeatureMapKernels {
  constructor(private readonly engine: Engine) {}

  /**
   * Resize by interpolation under a `resize_desc` descriptor; `coords` the source coordinate of each output
   * row, then of each output column (the kernel turns them into linear or cubic taps).
   */
  resize(src: number, dst: number, desc: Uint32Array, coords: Float64Array, op: string): void {
    const e = this.engine;
    desc[ResizeDesc.TEAM] = e.teamPtr;
    withResizeCoords(e, desc, coords, op, (c) => {
      check(e.exports.atrous_resize(src, dst, e.scratchU32(desc), c), op, () => `descriptor ${Array.from(desc).join(', ')}`);
    });
  }

  /** `dst[p][i] = src[p][i] * scale[p]`. */
  scalePlanes(src: number, scale: number, dst: number, planes: number, len: number, op: string): void {
    check(this.engine.exports.atrous_scale_planes(src, scale, dst, planes, len), op, () => `${planes} planes of ${len}`);
  }

  /** `dst[p] = mean(src[p])`. */
  meanPlanes(src: number, dst: number, planes: number, len: number, op: string): void {
    check(this.engine.exports.atrous_mean_planes(src, dst, planes, len), op, () => `${planes} planes of ${len}`);
  }

  /** `dst = a + b` (or `a * b`) over `n` floats of the same shape. */
  combine(a: number, b: number, dst: number, n: number, multiply: boolean, op: string): void {
    check(this.engine.exports.atrous_combine(a, b, dst, n, multiply ? 1 : 0), op, () => `${n} elements`);
  }

  /** Max pooling under a `pool_desc` descriptor. */
  maxPool2d(src: number, dst: number, desc: Uint32Array, op: string): void {
    const e = this.engine;
    const d = e.scratchU32(desc);
    check(e.exports.atrous_max_pool2d(src, dst, d), op, () => `descriptor ${Array.from(desc).join(', ')}`);
  }

  /**
   * Max pooling that also writes each output's flat input index as an i32 at `indices` (ONNX MaxPool's
   * Indices: row-major, or column-major for storage_order 1).
   */
  maxPool2dWithIndices(src: number, dst: number, indices: number, desc: Uint32Array, columnMajor: boolean, op: string): void {
    const e = this.engine;
    const d = e.scratchU32(desc);
    check(e.exports.atrous_max_pool2d_with_indices(src, dst, indices, d, columnMajor ? 1 : 0), op, () => `descriptor ${Array.from(desc).join(', ')}`);
  }

  /**
   * Average pooling under a `pool_desc` descriptor; `padEnd` the trailing pads [bottom, right], which the
   * divisor counts with `countIncludePad` (taps past them, from ceil_mode, never count).
   */
  avgPool2d(src: number, dst: number, desc: Uint32Array, padEnd: [number, number], countIncludePad: boolean, op: string): void {
    const e = this.engine;
    const d = e.scratchU32(desc);
    check(e.exports.atrous_avg_pool2d(src, dst, d, padEnd[0], padEnd[1], countIncludePad ? 1 : 0), op, () => `descriptor ${Array.from(desc).join(', ')}, end pads ${padEnd.join(', ')}`);
  }

  /** `dst = activation(src)` over `n` floats. */
  activate(src: number, dst: number, n: number, a: ActivationParams, op: string): void {
    check(this.engine.exports.atrous_activate(src, dst, n, a.code, a.p0, a.p1), op, () => `activation code ${a.code}`);
  }
}

/**
 * Checks `coords` against the `resize_desc` descriptor's output size, copies them into wasm memory for
 * the duration of `call(address)` (the forward resize and its gradient both read them there).
 */
export function withResizeCoords(e: Engine, desc: Uint32Array, coords: Float64Array, op: string, call: (address: number) => void): void {
  const [oh, ow] = [desc[ResizeDesc.OUT_H]!, desc[ResizeDesc.OUT_W]!];
  if (coords.length !== oh + ow) {
    throw new AtrousError('INVALID_ARGUMENT', `${op}: resize needs ${oh + ow} coordinates (${oh} rows, ${ow} columns), got ${coords.length}`);
  }
  const bytes = Math.max(8, coords.byteLength);
  const c = e.alloc(bytes, `${op}: resize coordinates`);
  try {
    new Float64Array(e.exports.memory.buffer, c, coords.length).set(coords);
    call(c);
  } finally {
    e.free(c, bytes);
  }
}
