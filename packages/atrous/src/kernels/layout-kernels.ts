import { AtrousError, show } from '../errors.js';
import { ConvertKind, PadDesc, PadKind, StridedDesc } from '../wasm/abi.js';
import type { Engine } from '../wasm/engine.js';
import { check } from './status.js';

/** Highest rank the layout kernels take (the descriptor slots of `strided_desc` and `pad_desc`). */
export const MAX_LAYOUT_RANK = 6;

/** Bytes of one element: 4 for float32, 1 for bool and uint8 (the types that live in wasm memory). */
export type ElemBytes = 4 | 1;

const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;

/**
 * Data movement on buffers in wasm memory: strided N-D copies (Transpose, Slice with any step, Expand,
 * Concat and Split slabs), Pad, Gather and Fill, and Cast's conversions. Strides and sizes are in
 * elements; addresses in bytes. Copies, pads and gathers move float32 elements, or bytes (bool, uint8)
 * when `elemBytes` is 1.
 */
export class LayoutKernels {
  private readonly strided = new Uint32Array(StridedDesc.LEN);
  private readonly padded = new Uint32Array(PadDesc.LEN);
  private readonly bits = new DataView(new ArrayBuffer(4));

  constructor(private readonly engine: Engine) {}

  /**
   * `dst[i · dstStrides] = src[i · srcStrides]` for every index `i` of `dims`. `src` and `dst` are the
   * addresses of element 0 of each region; source strides may be negative (a reversed slice) or 0 (a
   * broadcast); destination strides may address a slab of a larger tensor. The regions must not overlap.
   */
  copyStrided(src: number, dst: number, dims: number[], srcStrides: number[], dstStrides: number[], op: string, elemBytes: ElemBytes = 4): void {
    this.checkRank(dims, op, 'dims');
    const rank = dims.length;
    if (srcStrides.length !== rank || dstStrides.length !== rank) {
      throw new AtrousError('INVALID_SHAPE', `${op}: dims ${show(dims)} need ${rank} source and destination strides, got ${show(srcStrides)} and ${show(dstStrides)}`);
    }
    for (const [name, list] of [['source strides', srcStrides], ['destination strides', dstStrides]] as const) {
      if (list.some((s) => !Number.isInteger(s) || s < I32_MIN || s > I32_MAX)) {
        throw new AtrousError('INVALID_ARGUMENT', `${op}: ${name} must be 32-bit integers, got ${show(list)}`);
      }
    }
    const d = this.strided;
    d.fill(0);
    d[StridedDesc.RANK] = rank;
    d[StridedDesc.ELEM_BYTES] = elemBytes;
    for (let i = 0; i < rank; i++) {
      d[StridedDesc.DIMS + i] = dims[i]!;
      d[StridedDesc.SRC_STRIDES + i] = srcStrides[i]! >>> 0;
      d[StridedDesc.DST_STRIDES + i] = dstStrides[i]! >>> 0;
    }
    const e = this.engine;
    check(e.exports.atrous_copy_strided(src, dst, e.scratchU32(d)), op, () => `dims ${show(dims)}, source strides ${show(srcStrides)}, destination strides ${show(dstStrides)}`);
  }

  /**
   * Pads `src` (contiguous `dims`) into `dst` (contiguous `dims[i] + begin[i] + end[i]`). Pads are
   * non-negative (a negative ONNX pad is a slice: copyStrided). `reflect` needs pads below the dim.
   */
  pad(src: number, dst: number, dims: number[], begin: number[], end: number[], mode: 'constant' | 'reflect' | 'edge', value: number, op: string, elemBytes: ElemBytes = 4): void {
    this.checkRank(dims, op, 'dims');
    const rank = dims.length;
    if (begin.length !== rank || end.length !== rank) {
      throw new AtrousError('INVALID_SHAPE', `${op}: dims ${show(dims)} need ${rank} begin and end pads, got ${show(begin)} and ${show(end)}`);
    }
    for (const [name, list] of [['begin pads', begin], ['end pads', end]] as const) {
      if (list.some((p) => !Number.isInteger(p) || p < 0 || p > 0xffffffff)) throw new AtrousError('INVALID_ARGUMENT', `${op}: ${name} must be non-negative integers, got ${show(list)}`);
    }
    const code = PadKind[mode];
    if (code === undefined) throw new AtrousError('INVALID_ARGUMENT', `${op}: pad mode must be "constant", "reflect" or "edge", got ${show(mode)}`);
    const d = this.padded;
    d.fill(0);
    d[PadDesc.RANK] = rank;
    d[PadDesc.MODE] = code;
    d[PadDesc.ELEM_BYTES] = elemBytes;
    this.bits.setFloat32(0, value, true);
    d[PadDesc.VALUE] = this.bits.getUint32(0, true);
    for (let i = 0; i < rank; i++) {
      d[PadDesc.DIMS + i] = dims[i]!;
      d[PadDesc.BEGIN + i] = begin[i]!;
      d[PadDesc.END + i] = end[i]!;
    }
    const e = this.engine;
    check(e.exports.atrous_pad(src, dst, e.scratchU32(d)), op, () => `${mode} pad of dims ${show(dims)} by ${show(begin)} / ${show(end)}`);
  }

  /**
   * `dst[o][c][i] = src[o][indices[c]][i]`: `src` `[outer, axisLen, inner]`, `indices` the address of
   * `count` i32s (already non-negative; any outside `[0, axisLen)` is an error), `dst` `[outer, count, inner]`.
   */
  gather(src: number, indices: number, dst: number, outer: number, axisLen: number, inner: number, count: number, op: string, elemBytes: ElemBytes = 4): void {
    check(this.engine.exports.atrous_gather(src, indices, dst, outer, axisLen, inner, count, elemBytes), op, () => `${count} indices into [${outer}, ${axisLen}, ${inner}]`);
  }

  /** `dst[0..n) = value`. */
  fill(dst: number, n: number, value: number, op: string): void {
    check(this.engine.exports.atrous_fill(dst, n, value), op, () => `${n} elements`);
  }

  /**
   * Cast of `n` elements between float32 and the byte types: `f32ToU8` truncates toward zero and keeps the
   * low byte (NaN to 0), `f32ToBool` and `u8ToBool` are `x != 0`, `u8ToF32` widens (bool too).
   */
  convert(src: number, dst: number, n: number, kind: keyof typeof ConvertKind, op: string): void {
    const code = ConvertKind[kind];
    if (code === undefined) throw new AtrousError('INVALID_ARGUMENT', `${op}: conversion must be one of ${Object.keys(ConvertKind).join(', ')}, got ${show(kind)}`);
    check(this.engine.exports.atrous_convert(src, dst, n, code), op, () => `${kind} of ${n} elements`);
  }

  private checkRank(dims: number[], op: string, name: string): void {
    if (dims.length > MAX_LAYOUT_RANK) throw new AtrousError('INVALID_SHAPE', `${op}: ${name} ${show(dims)} have rank ${dims.length}, above the maximum ${MAX_LAYOUT_RANK}`);
    if (dims.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) throw new AtrousError('INVALID_ARGUMENT', `${op}: ${name} must be non-negative integers, got ${show(dims)}`);
  }
}
