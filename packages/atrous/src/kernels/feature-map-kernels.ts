import type { ActivationParams } from '../ops/activation.js';
import type { Engine } from '../wasm/engine.js';
import { check } from './status.js';

/** Whole-feature-map kernels that are not convolutions: resize, pooling, per-plane and element-wise ops. */
export class FeatureMapKernels {
  constructor(private readonly engine: Engine) {}

  /** Bilinear resize of `planes` maps; `tables` as `atrous_resize_bilinear` documents (i0, i1, w1 rows then columns). */
  resizeBilinear(src: number, dst: number, planes: number, h: number, w: number, oh: number, ow: number, tables: Uint32Array, op: string): void {
    const e = this.engine;
    const t = e.alloc(tables.byteLength, `${op}: resize tables`);
    try {
      e.u32(t, tables.length).set(tables);
      check(e.exports.atrous_resize_bilinear(src, dst, planes, h, w, oh, ow, t), op, () => `[${planes}, ${h}, ${w}] -> [${oh}, ${ow}]`);
    } finally {
      e.free(t, tables.byteLength);
    }
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
