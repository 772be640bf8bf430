import { sizeOf, type ElemType, type HostData, type HostTensor } from '../data-types.js';
import { broadcastDims, forEachRun, planBroadcast } from '../broadcast.js';
import { nodeLabel } from '../graph.js';
import { input, opError, withKernelForm, type KernelForm, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

type BinaryFn = (out: HostData, o: number, a: HostData, ai: number, as: number, b: HostData, bi: number, bs: number, n: number) => void;

// One loop per op so each stays monomorphic and small enough for the JIT to keep tight.
const LOOPS: Record<string, BinaryFn> = {
  Add: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai]! + b[bi]!; },
  Sub: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai]! - b[bi]!; },
  Mul: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai]! * b[bi]!; },
  Div: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai]! / b[bi]!; },
  DivInt: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = Math.trunc(a[ai]! / b[bi]!); },
  Pow: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = Math.pow(a[ai]!, b[bi]!); },
  Min: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = Math.min(a[ai]!, b[bi]!); },
  Max: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = Math.max(a[ai]!, b[bi]!); },
  PRelu: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) { const v = a[ai]!; out[o + i] = v < 0 ? v * b[bi]! : v; } },
  Equal: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai] === b[bi] ? 1 : 0; },
  Less: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai]! < b[bi]! ? 1 : 0; },
  LessOrEqual: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai]! <= b[bi]! ? 1 : 0; },
  Greater: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai]! > b[bi]! ? 1 : 0; },
  GreaterOrEqual: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai]! >= b[bi]! ? 1 : 0; },
  And: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai] && b[bi] ? 1 : 0; },
  Or: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai] || b[bi] ? 1 : 0; },
};

type F32Fn = (out: Float32Array, o: number, a: Float32Array, ai: number, as: number, b: Float32Array, bi: number, bs: number, n: number) => void;

// The float32 feature-map path, kept apart from the loops above (which also see the float64 shape values
// of constant folding) so the JIT sees one array type here.
const F32_LOOPS: Record<string, F32Fn> = {
  Add: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai]! + b[bi]!; },
  Sub: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai]! - b[bi]!; },
  Mul: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai]! * b[bi]!; },
  Div: (out, o, a, ai, as, b, bi, bs, n) => { for (let i = 0; i < n; i++, ai += as, bi += bs) out[o + i] = a[ai]! / b[bi]!; },
};

const COMPARISONS = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or']);

/** out = a (op) b with numpy broadcasting; also used by the session for unfused residual adds. */
export function binaryInto(op: string, out: HostTensor, a: HostTensor, b: HostTensor): void {
  const plan = planBroadcast(out.dims, [a.dims, b.dims]);
  const [as, bs] = plan.innerStrides as [number, number];
  const f32 = F32_LOOPS[op];
  if (f32 && out.data instanceof Float32Array && a.data instanceof Float32Array && b.data instanceof Float32Array) {
    const [od, ad, bd] = [out.data, a.data, b.data];
    forEachRun(plan, (offsets, o) => f32(od, o, ad, offsets[0]!, as, bd, offsets[1]!, bs, plan.inner));
    return;
  }
  const loop = LOOPS[op]!;
  forEachRun(plan, (offsets, o) => loop(out.data, o, a.data, offsets[0]!, as, b.data, offsets[1]!, bs, plan.inner));
}

function binary(ctx: OpContext, op: string): PreparedOp {
  const { node } = ctx;
  const metas = node.opType === 'Min' || node.opType === 'Max' || node.opType === 'Sum' || node.opType === 'Mean'
    ? ctx.inputs.map((_, i) => input(ctx, i))
    : [input(ctx, 0, 'A'), input(ctx, 1, 'B')];
  if (metas.length === 0) throw opError(node, 'needs at least one input');
  for (const m of metas) {
    if (m.type !== metas[0]!.type) throw opError(node, `inputs must have one element type, got ${metas.map((x) => x.type).join(' and ')}`);
  }
  const dims = broadcastDims(metas.map((m) => m.dims), nodeLabel(node));
  const integer = metas[0]!.type !== 'float32';
  const loopName = op === 'Div' && integer ? 'DivInt' : op === 'Sum' || op === 'Mean' ? 'Add' : op;
  const type: ElemType = COMPARISONS.has(op) ? 'bool' : metas[0]!.type;
  return withKernelForm({
    outputs: [{ type, dims }],
    run(inputs, [out]) {
      const first = inputs[0]!;
      if (inputs.length === 1) {
        out!.data.set(first.data);
      } else {
        binaryInto(loopName, out!, first, inputs[1]!);
        for (let i = 2; i < inputs.length; i++) binaryInto(loopName, out!, out!, inputs[i]!);
      }
      if (op === 'Mean') for (let i = 0; i < out!.data.length; i++) out!.data[i]! /= inputs.length;
    },
  }, metas.length === 2 && type === 'float32' && (op === 'Add' || op === 'Mul') ? wasmBinary(op, metas[0]!.dims, metas[1]!.dims, dims) : undefined);
}

/**
 * Add and Mul of feature maps in wasm memory: same-shape operands, or (Mul) a map scaled per channel by
 * an `[N, C, 1, 1]` tensor, the squeeze-and-excitation pattern.
 */
function wasmBinary(op: 'Add' | 'Mul', aDims: number[], bDims: number[], dims: number[]): KernelForm | undefined {
  const n = sizeOf(dims);
  const same = (x: number[]) => x.length === dims.length && x.every((d, i) => d === dims[i]);
  const perChannel = (x: number[]) => dims.length === 4 && x.length === 4 && x[0] === dims[0] && x[1] === dims[1] && x[2] === 1 && x[3] === 1;
  if (same(aDims) && same(bDims)) {
    return (engine, [a, b], [out]) => {
      if (a === undefined || b === undefined || out === undefined) return false;
      engine.kernels.maps.combine(a, b, out, n, op === 'Mul', op);
      return true;
    };
  }
  if (op === 'Mul' && (same(aDims) && perChannel(bDims) || same(bDims) && perChannel(aDims))) {
    const mapFirst = same(aDims);
    const planes = dims[0]! * dims[1]!;
    return (engine, [a, b], [out]) => {
      const [map, scale] = mapFirst ? [a, b] : [b, a];
      if (map === undefined || scale === undefined || out === undefined) return false;
      engine.kernels.maps.scalePlanes(map, scale, out, planes, n / planes, op);
      return true;
    };
  }
  return undefined;
}

function where(ctx: OpContext): PreparedOp {
  const [c, x, y] = [input(ctx, 0, 'condition'), input(ctx, 1, 'X'), input(ctx, 2, 'Y')];
  if (x.type !== y.type) throw opError(ctx.node, `X and Y must have one element type, got ${x.type} and ${y.type}`);
  const dims = broadcastDims([c.dims, x.dims, y.dims], nodeLabel(ctx.node));
  return {
    outputs: [{ type: x.type, dims }],
    run([cond, a, b], [out]) {
      const plan = planBroadcast(dims, [cond!.dims, a!.dims, b!.dims]);
      const [cs, as, bs] = plan.innerStrides as [number, number, number];
      const cd = cond!.data, ad = a!.data, bd = b!.data, od = out!.data;
      forEachRun(plan, ([ci, ai, bi], o) => {
        let i0 = ci!, i1 = ai!, i2 = bi!;
        for (let i = 0; i < plan.inner; i++, i0 += cs, i1 += as, i2 += bs) od[o + i] = cd[i0] ? ad[i1]! : bd[i2]!;
      });
    },
  };
}

export const elementwiseOps: Record<string, OpPreparer> = {
  Where: where,
  ...Object.fromEntries(
    ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Min', 'Max', 'Sum', 'Mean', 'PRelu', ...COMPARISONS].map((op) => [op, (ctx: OpContext) => binary(ctx, op)]),
  ),
};
