import { show } from '../../errors.js';
import { attrInt } from '../attributes.js';
import { scalarOf, sizeOf } from '../data-types.js';
import { nodeLabel } from '../graph.js';
import { take, withTemps } from './data-movement.js';
import { constInput, input, normAxis, opError, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/**
 * Ops that select by rank along an axis: TopK (values and indices) and Hardmax (one-hot of the first
 * maximum). Float32 rows are ranked by the select kernel (`kernels.select.topK`); its int32 indices come
 * back to the JavaScript side, where indices live. Integer inputs are ranked in JavaScript.
 */

/** Rank order of the select kernel: NaN greatest, then ascending; ties by lower index. */
const rank = (a: number, b: number) => (Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : Number.isNaN(b) ? -1 : a - b);

function topK(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'X');
  const rankX = x.dims.length;
  const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', -1), Math.max(1, rankX));
  const k = ctx.opset < 10 ? attrInt(ctx.node, 'k') : scalarOf(constInput(ctx, 1, 'K')!, `${nodeLabel(ctx.node)} K`);
  const len = x.dims[axis]!;
  if (!Number.isInteger(k) || k < 0 || k > len) throw opError(ctx.node, `K ${k} must be in [0, ${len}] (axis ${axis} of dims ${show(x.dims)})`);
  const largest = attrInt(ctx.node, 'largest', 1) === 1;
  const outer = sizeOf(x.dims.slice(0, axis)), inner = sizeOf(x.dims.slice(axis + 1));
  const dims = x.dims.map((d, i) => (i === axis ? k : d));
  const m = outer * k * inner;
  const label = nodeLabel(ctx.node);
  const wantIndices = ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '';
  return {
    outputs: [{ type: x.type, dims }, ...(ctx.node.outputs.length > 1 ? [{ type: 'int64' as const, dims: [...dims] }] : [])],
    run([data], [values, indices], env) {
      if (m === 0) return;
      if (x.type !== 'float32') {
        for (let o = 0; o < outer; o++) {
          for (let i = 0; i < inner; i++) {
            const at = (j: number) => data!.data[(o * len + j) * inner + i]!;
            const order = Array.from({ length: len }, (_, j) => j).sort((a, b) => (largest ? rank(at(b), at(a)) : rank(at(a), at(b))) || a - b);
            for (let r = 0; r < k; r++) {
              values!.data[(o * k + r) * inner + i] = at(order[r]!);
              if (wantIndices) indices!.data[(o * k + r) * inner + i] = order[r]!;
            }
          }
        }
        return;
      }
      const e = env.engine;
      withTemps(e, (temp) => {
        const ix = temp(m * 4, `${label}: indices`);
        env.kernels.select.topK(data!.ptr, values!.ptr, ix, outer, len, inner, k, largest, label);
        // The Indices output lives on the JavaScript side (absent when the node leaves it out).
        if (wantIndices) indices!.data.set(new Int32Array(e.exports.memory.buffer, ix, m));
      });
    },
  };
}

function hardmax(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'input');
  if (x.type !== 'float32') throw opError(ctx.node, `input must be a float tensor, got ${x.type}`);
  const rankX = x.dims.length;
  const legacy = ctx.opset < 13;
  const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', legacy ? 1 : -1), Math.max(1, rankX));
  // Before opset 13 the input is flattened to 2-D at the axis: one row of everything after it.
  const outer = sizeOf(x.dims.slice(0, axis));
  const len = legacy ? sizeOf(x.dims.slice(axis)) : x.dims[axis]!;
  const inner = legacy ? 1 : sizeOf(x.dims.slice(axis + 1));
  const rows = outer * inner;
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: 'float32', dims: [...x.dims] }],
    run([data], [out], env) {
      if (rows === 0 || len === 0) return;
      const e = env.engine;
      withTemps(e, (temp) => {
        const best = temp(rows * 4, `${label}: maxima`);
        const ix = temp(rows * 4, `${label}: argmax`);
        const table = temp(8, `${label}: zero and one`);
        env.kernels.select.topK(data!.ptr, best, ix, outer, len, inner, 1, true, label);
        const argmax = Int32Array.from(new Int32Array(e.exports.memory.buffer, ix, rows));
        // Every element takes 0 or 1 from [0, 1]: 1 at its row's first maximum.
        const pick = new Int32Array(outer * len * inner);
        for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) pick[(o * len + argmax[o * inner + i]!) * inner + i] = 1;
        env.kernels.layout.fill(table, 1, 0, label);
        env.kernels.layout.fill(table + 4, 1, 1, label);
        take(env, { type: 'float32', dims: [2], ptr: table, data: new Float32Array(0) }, out!, pick, label);
      });
    },
  };
}

export const selectionOps: Record<string, OpPreparer> = {
  TopK: topK,
  Hardmax: hardmax,
};
