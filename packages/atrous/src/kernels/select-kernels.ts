import type { Engine } from '../wasm/engine.js';
import { check } from './status.js';

/** Selection along an axis on float32 buffers in wasm memory (TopK, ArgMax). */
export class SelectKernels {
  constructor(private readonly engine: Engine) {}

  /**
   * For every row of `src` `[outer, len, inner]` along the middle axis: its `k` largest (or smallest)
   * values, sorted, into `values` (float32) and their positions into `indices` (int32), both
   * `[outer, k, inner]`. NaN ranks above every number; equal values keep the lower index first.
   */
  topK(src: number, values: number, indices: number, outer: number, len: number, inner: number, k: number, largest: boolean, op: string): void {
    check(this.engine.exports.atrous_top_k(src, outer, len, inner, k, largest ? 1 : 0, values, indices), op, () => `top ${k} of [${outer}, ${len}, ${inner}]`);
  }
}
