import { show } from '../../errors.js';
import type { GemmCall, GemmOperand } from '../../kernels/gemm-kernels.js';
import { resolveActivation, type Activation } from '../../ops/activation.js';
import { attrFloat, attrInt, attrInts, attrString } from '../attributes.js';
import { broadcastDims } from '../broadcast.js';
import { nodeLabel, type NodeIR } from '../graph.js';
import type { Value } from '../value.js';
import { expectFloat, input, opError, stridesOf, unsupported, type LoadContext, type NodeState, type OpContext, type OpDefinition, type PreparedOp } from './op.js';

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
  // A B read through a folded permutation is an activation, never packed.
  if (!b || a || b.type !== 'float32' || b.dims.length !== 2 || node.attributes.has('perm_b')) return UNPACKED;
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
/**
 * An operand as the GEMM reads it: its logical dims (after an optional permutation the optimizer folded in,
 * `perm_a` / `perm_b`: a Transpose feeding the MatMul becomes strides, never a copy) and the element
 * strides of those dims in the stored tensor.
 */
function operandView(stored: readonly number[], perm: number[] | undefined): { dims: number[]; strides: number[] } {
  const own = stridesOf(stored);
  if (!perm) return { dims: [...stored], strides: own };
  return { dims: perm.map((p) => stored[p]!), strides: perm.map((p) => own[p]!) };
}

/** Batch strides of an operand right-aligned to `rank` batch dims; 0 where it broadcasts (dim 1 or absent). */
function batchStrides(view: { dims: number[]; strides: number[] }, rank: number): number[] {
  const bd = view.dims.slice(0, -2);
  const out = new Array<number>(rank).fill(0);
  bd.forEach((d, i) => (out[rank - bd.length + i] = d === 1 ? 0 : view.strides[i]!));
  return out;
}

/**
 * numpy matmul (MatMul, and the optimizer's FusedMatMul: MatMul + bias [N] + activation, with transposed
 * operands folded in as strides): 1-D operands promoted and their axis removed afterwards, batch dims
 * broadcast through zero strides, one kernel call.
 */
function prepareMatMul(ctx: OpContext): PreparedOp {
  const { node } = ctx;
  // A packed B's initializer may be released: its dims are the state's.
  const packed = ctx.state instanceof PackedB ? ctx.state : undefined;
  const a = expectFloat(ctx, 0), b = packed ? { dims: [packed.k, packed.n] } : expectFloat(ctx, 1);
  if (a.dims.length === 0 || b.dims.length === 0) throw opError(node, 'operands must have rank 1 or more');
  const permA = attrInts(node, 'perm_a'), permB = attrInts(node, 'perm_b');
  for (const [perm, dims, what] of [[permA, a.dims, 'perm_a'], [permB, b.dims, 'perm_b']] as const) {
    if (perm && (perm.length !== dims.length || [...perm].sort((x, y) => x - y).some((p, i) => p !== i))) throw opError(node, `${what} ${show(perm)} is not a permutation of the ${dims.length} dims of ${show(dims)}`);
  }
  const av = operandView(a.dims, permA), bv = operandView(b.dims, permB);
  // 1-D operands: A as a row [1, K], B as a column [K, 1].
  if (av.dims.length === 1) { av.dims.unshift(1); av.strides.unshift(0); }
  if (bv.dims.length === 1) { bv.dims.push(1); bv.strides.push(0); }
  const [m, k] = av.dims.slice(-2) as [number, number];
  const [k2, n] = bv.dims.slice(-2) as [number, number];
  if (k !== k2) throw opError(node, `inner dims differ: A ${show(av.dims)} and B ${show(bv.dims)}`);
  const batchDims = broadcastDims([av.dims.slice(0, -2), bv.dims.slice(0, -2)], nodeLabel(node));
  const dims = [...batchDims, ...(a.dims.length === 1 ? [] : [m]), ...(b.dims.length === 1 ? [] : [n])];
  const rank = batchDims.length;
  const merged = mergeBatch(batchDims, [batchStrides(av, rank), batchStrides(bv, rank)]);
  if (merged.batch.length > MAX_BATCH) throw unsupported(node, `batch dims ${show(batchDims)} do not merge into ${MAX_BATCH} (A ${show(a.dims)}, B ${show(b.dims)})`);
  const [aBatch, bBatch] = merged.strides as [number[], number[]];
  const [aRow, aCol] = av.strides.slice(-2) as [number, number];
  const [bRow, bCol] = bv.strides.slice(-2) as [number, number];
  const fused = node.opType === 'FusedMatMul';
  const bias = ctx.inputs[2];
  if (fused && bias && bias.dims.reduce((p, d) => p * d, 1) !== n) throw opError(node, `bias ${show(bias.dims)} must hold N = ${n} values`);
  const activation = fused ? resolveActivation(activationOf(node), nodeLabel(node)) : undefined;
  const label = nodeLabel(node);
  return {
    outputs: [{ type: 'float32', dims }],
    run([x, y, z], [out], env) {
      const call: GemmCall = {
        m, n, k,
        // A packed B is one matrix that every batch of A reads (B has no batch dims, or it would not be packed).
        a: { ptr: x!.ptr, rowStride: aRow, colStride: aCol, batchStrides: aBatch },
        b: packed ? { packed: packed.handle } : { ptr: y!.ptr, rowStride: bRow, colStride: bCol, batchStrides: bBatch },
        out: out!.ptr,
        batch: merged.batch,
        bias: z?.ptr,
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

