import { attrInt } from '../attributes.js';
import { scalarOf, sizeOf } from '../data-types.js';
import { nodeLabel } from '../graph.js';
import { withTemps } from './data-movement.js';
import { constInput, input, normAxis, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/**
 * CumSum (running sums along an axis; transformer exports compute position ids with it). Integers, held
 * on the JavaScript side, are summed there. Float32 runs on the kernels: the axis is moved outermost
 * (`layout.copyStrided`) so each step along it is one contiguous row, the rows are summed one after the
 * other with `maps.combine` (in the reference's order), and the result is moved back.
 */
function cumSum(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'x');
  const rank = x.dims.length;
  const axis = normAxis(ctx.node, scalarOf(constInput(ctx, 1, 'axis')!, `${nodeLabel(ctx.node)} axis`), Math.max(1, rank));
  const exclusive = attrInt(ctx.node, 'exclusive', 0) === 1;
  const reverse = attrInt(ctx.node, 'reverse', 0) === 1;
  const len = rank === 0 ? 1 : x.dims[axis]!;
  const outer = sizeOf(x.dims.slice(0, axis)), inner = sizeOf(x.dims.slice(axis + 1));
  const row = outer * inner;
  const n = len * row;
  const label = nodeLabel(ctx.node);
  // Step order along the axis, and which input step each output step adds.
  const steps = Array.from({ length: len }, (_, k) => (reverse ? len - 1 - k : k));
  return {
    outputs: [{ type: x.type, dims: [...x.dims] }],
    run([data], [out], env) {
      if (n === 0) return;
      if (x.type !== 'float32') {
        const s = data!.data, d = out!.data;
        for (let o = 0; o < outer; o++) {
          for (let i = 0; i < inner; i++) {
            let acc = 0;
            for (const k of steps) {
              const at = (o * len + k) * inner + i;
              if (exclusive) { d[at] = acc; acc += s[at]!; } else { acc += s[at]!; d[at] = acc; }
            }
          }
        }
        return;
      }
      const { layout, maps } = env.kernels;
      withTemps(env.engine, (temp) => {
        const t = temp(n * 4, `${label}: input with the axis outermost`);
        const o = temp(n * 4, `${label}: sums with the axis outermost`);
        const along = [len, outer, inner], moved = [row, inner, 1], natural = [inner, len * inner, 1];
        layout.copyStrided(data!.ptr, t, along, natural, moved, label);
        const rowAt = (base: number, k: number) => base + k * row * 4;
        let prev = -1;
        for (const k of steps) {
          if (exclusive) {
            if (prev < 0) layout.fill(rowAt(o, k), row, 0, label);
            else maps.combine(rowAt(o, prev), rowAt(t, prev), rowAt(o, k), row, false, label);
          } else if (prev < 0) {
            layout.copyStrided(rowAt(t, k), rowAt(o, k), [row], [1], [1], label);
          } else {
            maps.combine(rowAt(o, prev), rowAt(t, k), rowAt(o, k), row, false, label);
          }
          prev = k;
        }
        layout.copyStrided(o, out!.ptr, along, moved, natural, label);
      });
    },
  };
}

export const cumulativeOps: Record<string, OpPreparer> = {
  CumSum: cumSum,
};
