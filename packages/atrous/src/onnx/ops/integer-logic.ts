import { show } from '../../errors.js';
import { attrString } from '../attributes.js';
import { broadcastDims, forEachRun, planBroadcast } from '../broadcast.js';
import { sizeOf, type ElemType, type HostData } from '../data-types.js';
import { nodeLabel } from '../graph.js';
import { constInput, input, opError, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/**
 * Element-wise ops on integers (BitShift) and NonZero: integer metadata, held on the
 * JavaScript side (int32 / int64 as float64 numbers) or as bytes (uint8), computed in JavaScript.
 */

type Fn = (a: number, b: number) => number;

function binaryInts(ctx: OpContext, types: readonly ElemType[], fn: (type: ElemType) => Fn, outType?: ElemType): PreparedOp {
  const a = input(ctx, 0, 'A');
  const b = input(ctx, 1, 'B');
  if (a.type !== b.type) throw opError(ctx.node, `inputs must have one element type, got ${a.type} and ${b.type}`);
  if (!types.includes(a.type)) {
    throw unsupported(ctx.node, `${ctx.node.opType} on ${a.type} tensors is not supported (${types.join(', ')} are)`);
  }
  const dims = broadcastDims([a.dims, b.dims], nodeLabel(ctx.node));
  const f = fn(a.type);
  return {
    outputs: [{ type: outType ?? a.type, dims }],
    run([x, y], [out]) {
      if (sizeOf(dims) === 0) return;
      const plan = planBroadcast(dims, [x!.dims, y!.dims]);
      const [as, bs] = plan.innerStrides as [number, number];
      const ad: HostData = x!.data, bd: HostData = y!.data, od: HostData = out!.data;
      forEachRun(plan, ([ai0, bi0], o) => {
        let ai = ai0!, bi = bi0!;
        for (let i = 0; i < plan.inner; i++, ai += as, bi += bs) od[o + i] = f(ad[ai]!, bd[bi]!);
      });
    },
  };
}

const INTEGERS: readonly ElemType[] = ['int64', 'int32', 'uint8'];

/**
 * BitShift takes unsigned integers: uint8 as bytes (which wrap by themselves), uint16 held as int32 (wrapped
 * here to 16 bits) and uint32 / uint64 held as int64 numbers (exact below 2^53: a left shift past 2^32 is
 * refused, as the width the model declared is not kept).
 */
function bitShift(ctx: OpContext): PreparedOp {
  const direction = attrString(ctx.node, 'direction');
  if (direction !== 'LEFT' && direction !== 'RIGHT') throw opError(ctx.node, `direction must be "LEFT" or "RIGHT", got ${show(direction)}`);
  return binaryInts(ctx, INTEGERS, (type) => (x, y) => {
    if (!(y >= 0)) throw opError(ctx.node, `shift ${y} is negative`);
    if (direction === 'RIGHT') return Math.floor(x / 2 ** y);
    const v = x * 2 ** y;
    if (type === 'uint8') return v % 256;
    if (type === 'int32') return v % 65536;
    if (v >= 2 ** 32) throw unsupported(ctx.node, `left shift of ${x} by ${y} exceeds 2^32, which atrous cannot wrap to the declared width`);
    return v;
  });
}

/** NonZero's output dims are its count of non-zeros: the input must be known when the session is prepared. */
function nonZero(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'X');
  const c = constInput(ctx, 0, 'X')!;
  const rank = x.dims.length;
  const hits: number[] = [];
  for (let i = 0; i < c.data.length; i++) if (c.data[i]) hits.push(i);
  const count = hits.length;
  const out = new Float64Array(rank * count);
  hits.forEach((flat, j) => {
    let rest = flat;
    for (let a = rank - 1; a >= 0; a--) {
      out[a * count + j] = rest % x.dims[a]!;
      rest = Math.floor(rest / x.dims[a]!);
    }
  });
  const dims = [rank, count];
  return { outputs: [{ type: 'int64', dims }], run: (_, [o]) => o!.data.set(out) };
}

// Mod and Xor are elementwise.ts's (float Mod on the kernels, integer Mod on the host, bool Xor on bytes).
export const integerLogicOps: Record<string, OpPreparer> = {
  BitShift: bitShift,
  NonZero: nonZero,
};
