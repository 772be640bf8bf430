import { show } from '../../errors.js';
import { attrInt } from '../attributes.js';
import { elemTypeOf, scalarOf, sizeOf } from '../data-types.js';
import { nodeLabel } from '../graph.js';
import { wasmValue } from '../value.js';
import { fillValue, moveStrided, withTemps } from './data-movement.js';
import { input, opError, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/**
 * Ops shaped by a matrix diagonal: Trilu (keep the upper or lower triangle of the last two axes) and
 * EyeLike (ones on a diagonal). Float32 data is only filled and copied by the layout kernels: a Trilu row
 * keeps one contiguous run of columns, copied for every matrix of the batch at once.
 */

function trilu(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'input');
  const rank = x.dims.length;
  if (rank < 2) throw opError(ctx.node, `input dims ${show(x.dims)} must have rank 2 or more`);
  const upper = attrInt(ctx.node, 'upper', 1) === 1;
  const rows = x.dims[rank - 2]!, cols = x.dims[rank - 1]!;
  const batch = sizeOf(x.dims.slice(0, -2));
  const constK = ctx.inputs[1] === undefined ? 0 : ctx.consts[1] ? scalarOf(ctx.consts[1], `${nodeLabel(ctx.node)} k`) : undefined;
  const label = nodeLabel(ctx.node);
  const size = sizeOf(x.dims);
  return {
    outputs: [{ type: x.type, dims: [...x.dims] }],
    run([data, kv], [out], env) {
      // k is an integer on the JavaScript side: read at run when it was not a constant.
      const k = constK ?? scalarOf(kv!, `${label} k`);
      fillValue(env, out!, size, 0, label);
      for (let i = 0; i < rows; i++) {
        // upper keeps columns j >= i + k, lower keeps j <= i + k.
        const from = upper ? Math.min(cols, Math.max(0, i + k)) : 0;
        const to = upper ? cols : Math.min(cols, Math.max(0, i + k + 1));
        if (to <= from) continue;
        const off = i * cols + from;
        moveStrided(env, data!, off, out!, off, [batch, to - from], [rows * cols, 1], [rows * cols, 1], label);
      }
    },
  };
}

function eyeLike(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'input');
  if (x.dims.length !== 2) throw opError(ctx.node, `input dims ${show(x.dims)} must be 2-D`);
  const code = ctx.node.attributes.has('dtype') ? attrInt(ctx.node, 'dtype') : undefined;
  const type = code === undefined ? x.type : elemTypeOf(code);
  if (type === undefined) throw unsupported(ctx.node, `dtype ${code} is not supported`);
  const [rows, cols] = x.dims as [number, number];
  const k = attrInt(ctx.node, 'k', 0);
  // The diagonal (i, i + k): rows i from max(0, -k), as many as fit.
  const first = Math.max(0, -k);
  const count = Math.max(0, Math.min(rows - first, cols - (first + k)));
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type, dims: [rows, cols] }],
    run(_, [out], env) {
      fillValue(env, out!, rows * cols, 0, label);
      if (count === 0) return;
      const start = first * cols + first + k;
      if (type !== 'float32') {
        for (let i = 0; i < count; i++) out!.data[start + i * (cols + 1)] = 1;
        return;
      }
      withTemps(env.engine, (temp) => {
        const one = temp(4, `${label}: one`);
        env.kernels.layout.fill(one, 1, 1, label);
        const src = wasmValue(env.engine, 'float32', [1], one);
        moveStrided(env, src, 0, out!, start, [count], [0], [cols + 1], label);
      });
    },
  };
}

export const diagonalOps: Record<string, OpPreparer> = {
  Trilu: trilu,
  EyeLike: eyeLike,
};
