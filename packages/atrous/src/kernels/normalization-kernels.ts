import { AtrousError } from '../errors.js';
import { ReduceOpCode } from '../wasm/abi.js';
import type { Engine } from '../wasm/engine.js';
import { check } from './status.js';

/** Reductions of `reduce` (float32 out; argMax / argMin write int32 indices):
 * 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'l1' | 'l2' | 'logSum' | 'logSumExp' | 'sumSquare' | 'argMax' | 'argMin' (the ABI table's keys). */
export type ReduceKind = keyof typeof ReduceOpCode;

/**
 * Softmax, the normalisations and the reductions. Each works on a `[outer, len, inner]` view of a buffer:
 * the axis (or the contiguous run of axes) being reduced is `len`, everything before it `outer`, after it
 * `inner`.
 */
export class NormalizationKernels {
  constructor(private readonly engine: Engine) {}

  /** Softmax (LogSoftmax when `log`) along `len`; `src` may equal `dst`. */
  softmax(src: number, dst: number, outer: number, len: number, inner: number, log: boolean, op: string): void {
    check(this.engine.exports.atrous_softmax(src, dst, outer, len, inner, log ? 1 : 0), op, () => `[${outer}, ${len}, ${inner}]`);
  }

  /** LayerNormalization of `rows` rows of `len`: `scale` `[len]`, `bias` `[len]` or 0 for none. */
  layerNorm(src: number, dst: number, rows: number, len: number, scale: number, bias: number, epsilon: number, op: string): void {
    check(this.engine.exports.atrous_layer_norm(src, dst, rows, len, scale, bias, epsilon), op, () => `${rows} rows of ${len}`);
  }

  /** GroupNormalization of `[batch, channels, spatial]` (InstanceNormalization: groups = channels); `scale`, `bias` `[channels]`, bias 0 for none. */
  groupNorm(src: number, dst: number, batch: number, groups: number, channels: number, spatial: number, scale: number, bias: number, epsilon: number, op: string): void {
    check(this.engine.exports.atrous_group_norm(src, dst, batch, groups, channels, spatial, scale, bias, epsilon), op, () => `[${batch}, ${channels}, ${spatial}] in ${groups} groups`);
  }

  /** `dst[outer, inner] = kind over len`; argMax/argMin write int32 (the last of equal ones when `selectLast`). */
  reduce(kind: ReduceKind, src: number, dst: number, outer: number, len: number, inner: number, op: string, selectLast = false): void {
    const code = ReduceOpCode[kind];
    if (code === undefined) throw new AtrousError('INVALID_ARGUMENT', `${op}: unknown reduction ${JSON.stringify(kind)}`);
    check(this.engine.exports.atrous_reduce(code, src, dst, outer, len, inner, selectLast ? 1 : 0), op, () => `${kind} over [${outer}, ${len}, ${inner}]`);
  }
}
