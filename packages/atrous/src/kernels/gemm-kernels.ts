import { AtrousError, show } from '../errors.js';
import type { ActivationParams } from '../ops/activation.js';
import { ActivationCode, GemmDesc } from '../wasm/abi.js';
import type { Engine } from '../wasm/engine.js';
import { makeHandle, withUploads } from './handles.js';
import { check } from './status.js';

/**
 * A strided matrix in wasm memory: `ptr` is a byte address, strides count floats. Element (i, j) of batch
 * b is at `ptr + 4 * (i * rowStride + j * colStride + sum(b[d] * batchStrides[d]))`. A stride of 0
 * broadcasts; `batchStrides` omitted means all 0 (one matrix for every batch).
 */
export interface GemmOperand {
  ptr: number;
  rowStride: number;
  colStride: number;
  batchStrides?: number[];
}

/** `out = activation(alpha * A B + beta * C + bias)` for each of the `batch` matrices. */
export interface GemmCall {
  m: number;
  n: number;
  k: number;
  a: GemmOperand;
  /** `packed`: a handle from `packB` (one matrix, shared by every batch). */
  b: GemmOperand | { packed: number };
  /** Row-major M x N per batch, batches contiguous; overlaps no operand. */
  out: number;
  /** Outer batch dims (<= 4); their product is the number of M x N outputs. */
  batch?: number[];
  /** Default 1. */
  alpha?: number;
  /** Addend (broadcast through 0 strides); `beta` defaults to 1. */
  c?: GemmOperand;
  beta?: number;
  /** Address of N floats added to every row. */
  bias?: number;
  /** From ops/activation.ts `resolveActivation`; default none. */
  activation?: ActivationParams;
}

/** A B matrix packed in wasm memory (an opaque handle). */
export type PackedBHandle = number;

const MAX_BATCH_DIMS = 4;
const NO_ACTIVATION: ActivationParams = { code: ActivationCode.none, p0: 0, p1: 0 };

/** Matrix multiply (MatMul, Gemm, attention products) on the register-tiled GEMM kernels. */
export class GemmKernels {
  private readonly desc = new Uint32Array(GemmDesc.LEN);
  private readonly descF32 = new Float32Array(this.desc.buffer);

  constructor(private readonly engine: Engine) {}

  /** Packs a constant B once: `data` is `[k, n]` row-major, or `[n, k]` when `transposed`. */
  packB(data: Float32Array, k: number, n: number, transposed: boolean, op: string): PackedBHandle {
    const e = this.engine;
    if (data.length !== k * n) {
      throw new AtrousError('INVALID_TENSOR', `${op}: B holds ${data.length} floats, expected ${k} x ${n} = ${k * n}`);
    }
    const [rowStride, colStride] = transposed ? [1, k] : [n, 1];
    const context = () => `B of ${k} x ${n}${transposed ? ' (transposed)' : ''}`;
    return withUploads(e, [data], () => `${op}: ${context()}`, ([b]) =>
      makeHandle(e, op, context, (out) => e.exports.atrous_gemm_pack_b(b!, k, n, rowStride, colStride, out)),
    );
  }

  /** Bytes the packed B occupies. */
  packedBytes(handle: PackedBHandle): number {
    return this.engine.exports.atrous_gemm_packed_bytes(handle);
  }

  freePacked(handle: PackedBHandle): void {
    if (handle !== 0) this.engine.exports.atrous_gemm_packed_free(handle);
  }

  run(call: GemmCall, op: string): void {
    const d = this.desc;
    const f = this.descF32;
    d.fill(0);
    const u = (slot: number, value: number, name: string) => {
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
        throw new AtrousError('INVALID_ARGUMENT', `${op}: gemm ${name} must be an integer in [0, 2^32), got ${show(value)}`);
      }
      d[slot] = value;
    };
    const batch = call.batch ?? [];
    if (batch.length > MAX_BATCH_DIMS) {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: gemm takes at most ${MAX_BATCH_DIMS} batch dims, got ${show(batch)}`);
    }
    const operand = (o: GemmOperand, ptr: number, row: number, col: number, strides: number, name: string) => {
      u(ptr, o.ptr, `${name}.ptr`);
      u(row, o.rowStride, `${name}.rowStride`);
      u(col, o.colStride, `${name}.colStride`);
      const bs = o.batchStrides ?? [];
      if (bs.length !== 0 && bs.length !== batch.length) {
        throw new AtrousError('INVALID_ARGUMENT', `${op}: gemm ${name}.batchStrides ${show(bs)} must have one stride per batch dim ${show(batch)}`);
      }
      bs.forEach((s, i) => u(strides + i, s, `${name}.batchStrides[${i}]`));
    };
    u(GemmDesc.M, call.m, 'm');
    u(GemmDesc.N, call.n, 'n');
    u(GemmDesc.K, call.k, 'k');
    operand(call.a, GemmDesc.A_PTR, GemmDesc.A_ROW_STRIDE, GemmDesc.A_COL_STRIDE, GemmDesc.A_BATCH_STRIDES, 'a');
    if ('packed' in call.b) u(GemmDesc.B_PACKED, call.b.packed, 'b.packed');
    else operand(call.b, GemmDesc.B_PTR, GemmDesc.B_ROW_STRIDE, GemmDesc.B_COL_STRIDE, GemmDesc.B_BATCH_STRIDES, 'b');
    if (call.c) operand(call.c, GemmDesc.C_PTR, GemmDesc.C_ROW_STRIDE, GemmDesc.C_COL_STRIDE, GemmDesc.C_BATCH_STRIDES, 'c');
    f[GemmDesc.ALPHA] = call.alpha ?? 1;
    f[GemmDesc.BETA] = call.beta ?? 1;
    if (call.bias !== undefined) u(GemmDesc.BIAS, call.bias, 'bias');
    u(GemmDesc.OUT, call.out, 'out');
    const act = call.activation ?? NO_ACTIVATION;
    d[GemmDesc.ACTIVATION] = act.code;
    f[GemmDesc.ACTIVATION_P0] = act.p0;
    f[GemmDesc.ACTIVATION_P1] = act.p1;
    d[GemmDesc.BATCH_RANK] = batch.length;
    batch.forEach((n, i) => u(GemmDesc.BATCH_DIMS + i, n, `batch[${i}]`));
    d[GemmDesc.TEAM] = this.engine.teamPtr;
    check(this.engine.exports.atrous_gemm_run(this.engine.scratchU32(d)), op, () => describe(call));
  }
}

function describe(call: GemmCall): string {
  const batch = call.batch?.length ? `[${call.batch.join(', ')}] x ` : '';
  return `${batch}${call.m} x ${call.k} times ${call.k} x ${call.n}${'packed' in call.b ? ' (packed B)' : ''}`;
}
