import { AtrousError } from '../errors.js';
import type { ActivationParams } from '../ops/activation.js';
import { BinaryOpCode, BroadcastDesc } from '../wasm/abi.js';
import type { Engine } from '../wasm/engine.js';
import { check } from './status.js';

/**
 * Binary ops of `binary` (arithmetic writes float32; the comparisons write u8, 0 or 1; 'and' | 'or' | 'xor'
 * read bool bytes, nonzero true, and write u8):
 * 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'max' | 'min' | 'mod' | 'fmod' | 'prelu' | 'equal' | 'less' |
 * 'lessOrEqual' | 'greater' | 'greaterOrEqual' | 'and' | 'or' | 'xor': the keys of the ABI's code table,
 * so the two cannot differ.
 */
export type BinaryKind = keyof typeof BinaryOpCode;

/**
 * Element-wise kernels: every unary op (an `ActivationCode` with its parameters), binary ops and Where with
 * numpy broadcasting. Broadcasting is described by the output dims and, per operand, element strides over
 * those dims (0 where the operand is broadcast); the kernels coalesce dims themselves.
 */
export class ElementwiseKernels {
  /** One descriptor reused by every call (calls on one engine never nest). */
  private readonly desc = new Uint32Array(BroadcastDesc.LEN);

  constructor(private readonly engine: Engine) {}

  /** `dst = op(src)` over `n` floats; `src` may equal `dst`. */
  unary(src: number, dst: number, n: number, a: ActivationParams, op: string): void {
    check(this.engine.exports.atrous_activate(src, dst, n, a.code, a.p0, a.p1), op, () => `activation code ${a.code} over ${n} elements`);
  }

  /** `dst = a kind b` over `dims` (rank <= 6); `dst` float32, or u8 for the comparisons; and/or/xor on bytes. */
  binary(kind: BinaryKind, a: number, b: number, dst: number, dims: number[], aStrides: number[], bStrides: number[], op: string): void {
    const code = BinaryOpCode[kind];
    if (code === undefined) throw new AtrousError('INVALID_ARGUMENT', `${op}: unknown binary kind ${JSON.stringify(kind)}`);
    const d = this.describe(dims, [aStrides, bStrides], op);
    check(this.engine.exports.atrous_binary(code, a, b, dst, d), op, () => `${kind} over [${dims.join(', ')}], strides [${aStrides.join(', ')}] and [${bStrides.join(', ')}]`);
  }

  /** `dst = cond ? x : y` over `dims` (rank <= 6); `cond` u8 (nonzero true), `x`, `y`, `dst` float32. */
  where(cond: number, x: number, y: number, dst: number, dims: number[], condStrides: number[], xStrides: number[], yStrides: number[], op: string): void {
    const d = this.describe(dims, [condStrides, xStrides, yStrides], op);
    check(this.engine.exports.atrous_where(cond, x, y, dst, d), op, () => `where over [${dims.join(', ')}]`);
  }

  private describe(dims: number[], strides: number[][], op: string): number {
    const r = dims.length;
    if (r > BroadcastDesc.MAX_RANK) {
      throw new AtrousError('INVALID_SHAPE', `${op}: rank ${r} exceeds the element-wise kernels' maximum of ${BroadcastDesc.MAX_RANK} (dims [${dims.join(', ')}])`);
    }
    const d = this.desc;
    d.fill(0);
    d[BroadcastDesc.RANK] = r;
    for (let i = 0; i < r; i++) d[BroadcastDesc.DIMS + i] = dims[i]!;
    strides.forEach((s, k) => {
      if (s.length !== r) throw new AtrousError('INVALID_SHAPE', `${op}: operand ${k} has ${s.length} strides for ${r} dims`);
      for (let i = 0; i < r; i++) d[BroadcastDesc.STRIDES + k * BroadcastDesc.MAX_RANK + i] = s[i]!;
    });
    return this.engine.scratchU32(d);
  }
}
