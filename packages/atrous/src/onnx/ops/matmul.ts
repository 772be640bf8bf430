import { show } from '../../errors.js';
import { attrFloat, attrInt } from '../attributes.js';
import { broadcastDims } from '../broadcast.js';
import { sizeOf } from '../data-types.js';
import { nodeLabel } from '../graph.js';
import { expectFloat, input, opError, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/** `out[m][n] += sum_k a[m][k] * b[k][n]` with row strides; the i-k-j order keeps the inner loop contiguous. */
function gemmInto(out: ArrayLike<number> & { [i: number]: number }, o: number, a: ArrayLike<number>, ao: number, aRow: number, aCol: number,
  b: ArrayLike<number>, bo: number, bRow: number, bCol: number, m: number, n: number, k: number, alpha: number): void {
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const av = alpha * a[ao + i * aRow + p * aCol]!;
      if (av === 0) continue;
      const bb = bo + p * bRow;
      const oo = o + i * n;
      for (let j = 0; j < n; j++) out[oo + j] += av * b[bb + j * bCol]!;
    }
  }
}

/** numpy matmul: 1-D operands promoted and their axis removed afterwards, batch dims broadcast. */
function matmul(ctx: OpContext): PreparedOp {
  const a = expectFloat(ctx, 0), b = expectFloat(ctx, 1);
  if (a.dims.length === 0 || b.dims.length === 0) throw opError(ctx.node, 'operands must have rank 1 or more');
  const ad = a.dims.length === 1 ? [1, a.dims[0]!] : a.dims;
  const bd = b.dims.length === 1 ? [b.dims[0]!, 1] : b.dims;
  const [m, k] = ad.slice(-2) as [number, number];
  const [k2, n] = bd.slice(-2) as [number, number];
  if (k !== k2) throw opError(ctx.node, `inner dims differ: A ${show(a.dims)} and B ${show(b.dims)}`);
  const batch = broadcastDims([ad.slice(0, -2), bd.slice(0, -2)], nodeLabel(ctx.node));
  const dims = [...batch, ...(a.dims.length === 1 ? [] : [m]), ...(b.dims.length === 1 ? [] : [n])];
  const aBatch = ad.slice(0, -2), bBatch = bd.slice(0, -2);
  const count = sizeOf(batch);
  const index = (sub: number[], i: number) => {
    // Offset of batch entry i in an operand whose batch dims broadcast to `batch`.
    let off = 0, stride = 1, rest = i;
    const pos: number[] = [];
    for (let d = batch.length - 1; d >= 0; d--) { pos[d] = rest % batch[d]!; rest = Math.floor(rest / batch[d]!); }
    for (let d = sub.length - 1; d >= 0; d--) {
      const bdim = batch.length - sub.length + d;
      off += (sub[d] === 1 ? 0 : pos[bdim]!) * stride;
      stride *= sub[d]!;
    }
    return off;
  };
  return {
    outputs: [{ type: 'float32', dims }],
    run([x, y], [out]) {
      out!.data.fill(0);
      for (let i = 0; i < count; i++) {
        gemmInto(out!.data, i * m * n, x!.data, index(aBatch, i) * m * k, k, 1, y!.data, index(bBatch, i) * k * n, n, 1, m, n, k, 1);
      }
    },
  };
}

/** Y = alpha * A' B' + beta * C, A' and B' optionally transposed, C broadcast to [M, N]. */
function gemm(ctx: OpContext): PreparedOp {
  const a = expectFloat(ctx, 0), b = expectFloat(ctx, 1);
  if (a.dims.length !== 2 || b.dims.length !== 2) throw opError(ctx.node, `A ${show(a.dims)} and B ${show(b.dims)} must be 2-D`);
  const ta = attrInt(ctx.node, 'transA', 0) === 1, tb = attrInt(ctx.node, 'transB', 0) === 1;
  const alpha = attrFloat(ctx.node, 'alpha', 1), beta = attrFloat(ctx.node, 'beta', 1);
  const [m, k] = ta ? [a.dims[1]!, a.dims[0]!] : [a.dims[0]!, a.dims[1]!];
  const [k2, n] = tb ? [b.dims[1]!, b.dims[0]!] : [b.dims[0]!, b.dims[1]!];
  if (k !== k2) throw opError(ctx.node, `inner dims differ: A ${show(a.dims)}${ta ? ' (transposed)' : ''} and B ${show(b.dims)}${tb ? ' (transposed)' : ''}`);
  const c = ctx.inputs[2] ? input(ctx, 2, 'C') : undefined;
  if (c) broadcastDims([c.dims, [m, n]], nodeLabel(ctx.node));
  return {
    outputs: [{ type: 'float32', dims: [m, n] }],
    run([x, y, z], [out]) {
      const o = out!.data;
      o.fill(0);
      if (z && beta !== 0) {
        const [cr, cc] = z.dims.length === 2 ? z.dims : z.dims.length === 1 ? [1, z.dims[0]!] : [1, 1];
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) o[i * n + j] = beta * z.data[(cr === 1 ? 0 : i) * cc! + (cc === 1 ? 0 : j)]!;
      }
      gemmInto(o, 0, x!.data, 0, ta ? 1 : k, ta ? m : 1, y!.data, 0, tb ? 1 : n, tb ? k : 1, m, n, k, alpha);
    },
  };
}

export const matmulOps: Record<string, OpPreparer> = { MatMul: matmul, Gemm: gemm };
