import { show } from '../../errors.js';
import type { GemmCall, GemmOperand } from '../../kernels/gemm-kernels.js';
import { resolveActivation, type Activation } from '../../ops/activation.js';
import { attrFloat, attrInt, attrString } from '../attributes.js';
import { broadcastDims } from '../broadcast.js';
import { nodeLabel, type NodeIR } from '../graph.js';
import type { Value } from '../value.js';
import { expectFloat, input, opError, unsupported, type LoadContext, type NodeState, type OpContext, type OpDefinition, type PreparedOp } from './op.js';

/** Most batch dims the GEMM kernels walk, after adjacent ones are merged. */
const MAX_BATCH = 4;

/** A constant B packed once for the GEMM kernels (MatMul / Gemm / FusedMatMul with a 2-D initializer B). */
class PackedB implements NodeState {
  readonly consumed = [1];
  constructor(
    private readonly engine: LoadContext['engine'],
    readonly handle: number,
    readonly k: number,
    readonly n: number,
  ) {}
  get bytes(): number {
    return this.engine.kernels.gemm.packedBytes(this.handle);
  }
  dispose(): void {
    this.engine.kernels.gemm.freePacked(this.handle);
  }
}

/** Nothing to pack (B is computed at run time, or is batched): runs read B from memory. */
const UNPACKED: NodeState = { bytes: 0, consumed: [], dispose: () => {} };

function loadPackedB(ctx: LoadContext): NodeState {
  const { node, consts, engine } = ctx;
  const b = consts.get(node.inputs[1] ?? '');
  const a = consts.get(node.inputs[0] ?? '');
  if (!b || a || b.type !== 'float32' || b.dims.length !== 2) return UNPACKED;
  const transposed = node.opType === 'Gemm' && attrInt(node, 'transB', 0) === 1;
  const [k, n] = transposed ? [b.dims[1]!, b.dims[0]!] : [b.dims[0]!, b.dims[1]!];
  if (k === 0 || n === 0) return UNPACKED;
  return new PackedB(engine, engine.kernels.gemm.packB(b.data as Float32Array, k, n, transposed, nodeLabel(node)), k, n);
}

/** Row-major element strides of `dims`, 0 where a dim is 1 (it broadcasts). */
function broadcastStrides(dims: readonly number[], rank: number): number[] {
  const out = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    const r = rank - dims.length + i;
    out[r] = dims[i] === 1 ? 0 : stride;
    stride *= dims[i]!;
  }
  return out;
}

/**
 * Merges adjacent batch dims that every operand walks contiguously (or broadcasts along both), so that
 * any rank of batch dims fits the kernels' four when the layout allows.
 */
function mergeBatch(batch: number[], strides: number[][]): { batch: number[]; strides: number[][] } {
  const b = [...batch];
  const s = strides.map((x) => [...x]);
  for (let i = b.length - 2; i >= 0; i--) {
    if (s.every((x) => x[i] === x[i + 1]! * b[i + 1]!)) {
      b[i] = b[i]! * b[i + 1]!;
      b.splice(i + 1, 1);
      for (const x of s) x.splice(i, 1);
    }
  }
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] === 1) {
      b.splice(i, 1);
      for (const x of s) x.splice(i, 1);
    }
  }
  return { batch: b, strides: s };
}

function activationOf(node: NodeIR): Activation {
  return JSON.parse(attrString(node, 'activation', '"none"')) as Activation;
}

/**
 * numpy matmul (MatMul, and the optimizer's FusedMatMul = MatMul + bias [N] + activation): 1-D operands
 * promoted and their axis removed afterwards, batch dims broadcast through zero strides, one kernel call.
 */
function prepareMatMul(ctx: OpContext): PreparedOp {
  const { node } = ctx;
  // A packed B's initializer may be released: its dims are the state's.
  const packed = ctx.state instanceof PackedB ? ctx.state : undefined;
  const a = expectFloat(ctx, 0), b = packed ? { dims: [packed.k, packed.n] } : expectFloat(ctx, 1);
  if (a.dims.length === 0 || b.dims.length === 0) throw opError(node, 'operands must have rank 1 or more');
  const ad = a.dims.length === 1 ? [1, a.dims[0]!] : a.dims;
  const bd = b.dims.length === 1 ? [b.dims[0]!, 1] : b.dims;
  const [m, k] = ad.slice(-2) as [number, number];
  const [k2, n] = bd.slice(-2) as [number, number];
  if (k !== k2) throw opError(node, `inner dims differ: A ${show(a.dims)} and B ${show(b.dims)}`);
  const batchDims = broadcastDims([ad.slice(0, -2), bd.slice(0, -2)], nodeLabel(node));
  const dims = [...batchDims, ...(a.dims.length === 1 ? [] : [m]), ...(b.dims.length === 1 ? [] : [n])];
  const rank = batchDims.length;
  const merged = mergeBatch(batchDims, [broadcastStrides(ad.slice(0, -2), rank).map((s) => s * m * k), broadcastStrides(bd.slice(0, -2), rank).map((s) => s * k * n)]);
  if (merged.batch.length > MAX_BATCH) throw unsupported(node, `batch dims ${show(batchDims)} do not merge into ${MAX_BATCH} (A ${show(a.dims)}, B ${show(b.dims)})`);
  const [aBatch, bBatch] = merged.strides as [number[], number[]];
  // A packed B is one matrix that every batch of A reads (B has no batch dims, or it would not be packed).
  const fused = node.opType === 'FusedMatMul';
  if (fused && ctx.inputs[2]?.dims.reduce((p, d) => p * d, 1) !== n) throw opError(node, `bias ${show(ctx.inputs[2]?.dims)} must hold N = ${n} values`);
  const activation = fused ? resolveActivation(activationOf(node), nodeLabel(node)) : undefined;
  const label = nodeLabel(node);
  return {
    outputs: [{ type: 'float32', dims }],
    run([x, y, bias], [out], env) {
      const call: GemmCall = {
        m, n, k,
        a: { ptr: x!.ptr, rowStride: k, colStride: 1, batchStrides: aBatch },
        b: packed ? { packed: packed.handle } : { ptr: y!.ptr, rowStride: n, colStride: 1, batchStrides: bBatch },
        out: out!.ptr,
        batch: merged.batch,
        bias: bias?.ptr,
        activation,
      };
      env.kernels.gemm.run(call, label);
    },
  };
}

/** `Y = alpha * A' B' + beta * C`, A' and B' optionally transposed (by strides, never copied), C broadcast to [M, N]. */
function prepareGemm(ctx: OpContext): PreparedOp {
  const { node } = ctx;
  const a = expectFloat(ctx, 0);
  const b = ctx.state instanceof PackedB ? undefined : expectFloat(ctx, 1);
  const ta = attrInt(node, 'transA', 0) === 1, tb = attrInt(node, 'transB', 0) === 1;
  const alpha = attrFloat(node, 'alpha', 1), beta = attrFloat(node, 'beta', 1);
  if (a.dims.length !== 2 || (b && b.dims.length !== 2)) throw opError(node, `A ${show(a.dims)} and B ${show(b?.dims)} must be 2-D`);
  const [m, k] = ta ? [a.dims[1]!, a.dims[0]!] : [a.dims[0]!, a.dims[1]!];
  const packed = ctx.state instanceof PackedB ? ctx.state : undefined;
  const [k2, n] = packed ? [packed.k, packed.n] : tb ? [b!.dims[1]!, b!.dims[0]!] : [b!.dims[0]!, b!.dims[1]!];
  if (k !== k2) throw opError(node, `inner dims differ: A ${show(a.dims)}${ta ? ' (transposed)' : ''} and B of ${k2} x ${n}${tb ? ' (transposed)' : ''}`);
  const c = ctx.inputs[2] ? input(ctx, 2, 'C') : undefined;
  if (c) {
    if (c.type !== 'float32') throw opError(node, `C must be float, got ${c.type}`);
    broadcastDims([c.dims, [m, n]], nodeLabel(node));
  }
  const cd = c ? c.dims : [];
  const cStrides = broadcastStrides(cd, 2);
  const label = nodeLabel(node);
  const aOp: (v: Value) => GemmOperand = (v) => ({ ptr: v.ptr, rowStride: ta ? 1 : k, colStride: ta ? m : 1 });
  return {
    outputs: [{ type: 'float32', dims: [m, n] }],
    run([x, y, z], [out], env) {
      env.kernels.gemm.run({
        m, n, k,
        a: aOp(x!),
        b: packed ? { packed: packed.handle } : { ptr: y!.ptr, rowStride: tb ? 1 : n, colStride: tb ? k : 1 },
        out: out!.ptr,
        alpha,
        ...(z && beta !== 0 ? { c: { ptr: z.ptr, rowStride: cStrides[0]!, colStride: cStrides[1]! }, beta } : {}),
      }, label);
    },
  };
}

const matmul: OpDefinition = { load: loadPackedB, prepare: prepareMatMul };

export const matmulOps: Record<string, OpDefinition> = {
  MatMul: matmul,
  'atrous.FusedMatMul': matmul,
  Gemm: { load: loadPackedB, prepare: prepareGemm },
};

