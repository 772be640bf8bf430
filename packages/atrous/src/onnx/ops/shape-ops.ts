import { show } from '../../errors.js';
import { attrFloat, attrInt, attrInts, attrTensor } from '../attributes.js';
import { OnnxDataType, elemTypeOf, numbersOf, scalarOf, sizeOf, type HostTensor } from '../data-types.js';
import { broadcastDims } from '../broadcast.js';
import { nodeLabel } from '../graph.js';
import { residesInWasm } from '../value.js';
import { copyRegion } from './layout.js';
import { constInput, input, normAxis, opError, stridesOf, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/** Output 0 is input 0 with other dims: a view, nothing runs. */
function view(ctx: OpContext, dims: number[]): PreparedOp {
  const x = input(ctx, 0);
  if (sizeOf(dims) !== sizeOf(x.dims)) {
    throw opError(ctx.node, `cannot view ${sizeOf(x.dims)} elements (dims ${show(x.dims)}) as dims ${show(dims)}`);
  }
  return { outputs: [{ type: x.type, dims }], view: true, run: () => {} };
}

function constant(value: HostTensor): PreparedOp {
  return { outputs: [{ type: value.type, dims: value.dims }], run: (_, [out]) => out!.data.set(value.data) };
}

function shape(ctx: OpContext): PreparedOp {
  const dims = input(ctx, 0, 'data').dims;
  const rank = dims.length;
  const clamp = (v: number) => Math.min(rank, Math.max(0, v < 0 ? v + rank : v));
  const start = clamp(attrInt(ctx.node, 'start', 0));
  const end = clamp(attrInt(ctx.node, 'end', rank));
  const picked = dims.slice(start, Math.max(start, end));
  return constant({ type: 'int64', dims: [picked.length], data: Float64Array.from(picked) });
}

function reshape(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'data');
  const spec = ctx.opset < 5 ? attrInts(ctx.node, 'shape', []) : numbersOf(constInput(ctx, 1, 'shape')!);
  const allowZero = attrInt(ctx.node, 'allowzero', 0) === 1;
  const dims = spec.map((d, i) => (d === 0 && !allowZero ? (x.dims[i] ?? 0) : d));
  const minus = dims.filter((d) => d === -1).length;
  if (minus > 1 || dims.some((d) => d < -1)) throw opError(ctx.node, `shape ${show(spec)} is not valid`);
  if (minus === 1) {
    const known = dims.reduce((a, d) => (d === -1 ? a : a * d), 1);
    const total = sizeOf(x.dims);
    if (known === 0 || total % known !== 0) throw opError(ctx.node, `cannot reshape dims ${show(x.dims)} to ${show(spec)}`);
    dims[dims.indexOf(-1)] = total / known;
  }
  return view(ctx, dims);
}

function flatten(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0);
  const axis = attrInt(ctx.node, 'axis', 1);
  const rank = x.dims.length;
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a > rank) throw opError(ctx.node, `axis ${axis} is out of range for rank ${rank}`);
  return view(ctx, [sizeOf(x.dims.slice(0, a)), sizeOf(x.dims.slice(a))]);
}

function axesOf(ctx: OpContext, index: number): number[] | undefined {
  return ctx.opset < 13 ? attrInts(ctx.node, 'axes') : ctx.inputs[index] ? numbersOf(constInput(ctx, index, 'axes')!) : undefined;
}

function squeeze(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0);
  const axes = axesOf(ctx, 1)?.map((a) => normAxis(ctx.node, a, x.dims.length));
  for (const a of axes ?? []) if (x.dims[a] !== 1) throw opError(ctx.node, `cannot squeeze axis ${a} of dims ${show(x.dims)}: it is not 1`);
  return view(ctx, x.dims.filter((d, i) => (axes ? !axes.includes(i) : d !== 1)));
}

function unsqueeze(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0);
  const raw = axesOf(ctx, 1);
  if (!raw) throw opError(ctx.node, 'axes are required');
  const rank = x.dims.length + raw.length;
  const axes = raw.map((a) => normAxis(ctx.node, a, rank));
  if (new Set(axes).size !== axes.length) throw opError(ctx.node, `axes ${show(raw)} repeat an axis`);
  const dims: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) dims.push(axes.includes(i) ? 1 : x.dims[j++]!);
  return view(ctx, dims);
}

function constantNode(ctx: OpContext): PreparedOp {
  const { node } = ctx;
  const t = attrTensor(node, 'value');
  if (t) return constant(t);
  const v = node.attributes.get('value_float') ?? node.attributes.get('value_int');
  if (typeof v === 'number') {
    const type = node.attributes.has('value_int') ? 'int64' : 'float32';
    return constant({ type, dims: [], data: type === 'int64' ? Float64Array.of(v) : Float32Array.of(v) });
  }
  const vs = node.attributes.get('value_floats') ?? node.attributes.get('value_ints');
  if (Array.isArray(vs)) {
    const ints = node.attributes.has('value_ints');
    return constant({ type: ints ? 'int64' : 'float32', dims: [vs.length], data: ints ? Float64Array.from(vs as number[]) : Float32Array.from(vs as number[]) });
  }
  throw unsupported(node, `only the value, value_float(s) and value_int(s) attributes are supported (got ${show([...node.attributes.keys()])})`);
}

function constantOfShape(ctx: OpContext): PreparedOp {
  const dims = numbersOf(constInput(ctx, 0, 'shape')!);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw opError(ctx.node, `shape ${show(dims)} is not valid`);
  const value = attrTensor(ctx.node, 'value') ?? { type: 'float32' as const, dims: [1], data: Float32Array.of(0) };
  const fill = value.data[0] ?? 0;
  return {
    outputs: [{ type: value.type, dims }],
    run(_, [out], env) {
      // Folded at load (its shape is a constant); a float map is filled by the kernel, bytes and host
      // integers by the typed array's own fill.
      if (value.type === 'float32') env.kernels.layout.fill(out!.ptr, sizeOf(dims), fill, nodeLabel(ctx.node));
      else out!.data.fill(fill);
    },
  };
}

function expand(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0);
  const target = numbersOf(constInput(ctx, 1, 'shape')!);
  const dims = broadcastDims([x.dims, target], nodeLabel(ctx.node));
  // The input right-aligned under the output, read with stride 0 along every axis it broadcasts.
  const inStrides = stridesOf(x.dims);
  const lead = dims.length - x.dims.length;
  const ss = dims.map((d, i) => (i < lead || x.dims[i - lead] === 1 ? 0 : inStrides[i - lead]!));
  const ds = stridesOf(dims);
  return {
    outputs: [{ type: x.type, dims }],
    run: ([a], [out], env) => copyRegion(env, ctx.node, x.type, a!, 0, out!, 0, dims, ss, ds),
  };
}

function tile(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0);
  const reps = numbersOf(constInput(ctx, 1, 'repeats')!);
  if (reps.length !== x.dims.length || reps.some((r) => !Number.isInteger(r) || r < 0)) throw opError(ctx.node, `repeats ${show(reps)} must have one non-negative integer per axis of dims ${show(x.dims)}`);
  const dims = x.dims.map((d, i) => d * reps[i]!);
  // The output walked as [r0, d0, r1, d1, ...]: each repeat axis reads the input again (stride 0).
  const inStrides = stridesOf(x.dims);
  const outStrides = stridesOf(dims);
  const walk = x.dims.flatMap((d, i) => [reps[i]!, d]);
  const ss = x.dims.flatMap((_, i) => [0, inStrides[i]!]);
  const ds = x.dims.flatMap((d, i) => [d * outStrides[i]!, outStrides[i]!]);
  return {
    outputs: [{ type: x.type, dims }],
    run: ([a], [out], env) => copyRegion(env, ctx.node, x.type, a!, 0, out!, 0, walk, ss, ds),
  };
}

function range(ctx: OpContext): PreparedOp {
  const [start, limit, delta] = [0, 1, 2].map((i) => constInput(ctx, i, ['start', 'limit', 'delta'][i]!)!.data[0]!) as [number, number, number];
  if (delta === 0) throw opError(ctx.node, 'delta must not be 0');
  const n = Math.max(0, Math.ceil((limit - start) / delta));
  const type = input(ctx, 0).type;
  return { outputs: [{ type, dims: [n] }], run: (_, [out]) => { for (let i = 0; i < n; i++) out!.data[i] = start + i * delta; } };
}

function cast(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0);
  const to = attrInt(ctx.node, 'to');
  const type = elemTypeOf(to);
  if (type === undefined) throw unsupported(ctx.node, `cast to data type ${to} is not supported`);
  const label = nodeLabel(ctx.node);
  // float16 and bfloat16 values are held as float32: a cast to either rounds to what it can represent
  // (to nearest, ties to even, on the kernels); any other cast between float types keeps the value, so
  // it is a view.
  if ((to === OnnxDataType.FLOAT16 || to === OnnxDataType.BFLOAT16) && x.type === 'float32') {
    const count = sizeOf(x.dims);
    const kind = to === OnnxDataType.FLOAT16 ? 'f32ToHalf' : 'f32ToBfloat16';
    return { outputs: [{ type, dims: [...x.dims] }], run: ([a], [out], env) => count > 0 && env.kernels.layout.convert(a!.ptr, out!.ptr, count, kind, label) };
  }
  if (type === x.type && (type === 'float32' || (x.type !== 'bool' && x.type !== 'uint8'))) return view(ctx, [...x.dims]);
  const n = sizeOf(x.dims);
  const outputs = [{ type, dims: [...x.dims] }];
  // Both sides in wasm memory (float32, bool, uint8): a conversion kernel, or a byte copy.
  if (residesInWasm(x.type) && residesInWasm(type)) {
    const kind = x.type === 'float32' ? (type === 'bool' ? 'f32ToBool' : 'f32ToU8') : type === 'float32' ? 'u8ToF32' : type === 'bool' ? 'u8ToBool' : undefined;
    return {
      outputs,
      run([a], [out], env) {
        if (n === 0) return;
        if (kind) env.kernels.layout.convert(a!.ptr, out!.ptr, n, kind, label);
        else env.kernels.layout.copyStrided(a!.ptr, out!.ptr, [n], [1], [1], label, 1);
      },
    };
  }
  // One side is a host integer (int64/int32, held as float64 numbers): integers are metadata (shapes,
  // indices, ArgMax results), so the conversion is a JavaScript loop over that many values.
  const truncate = type !== 'float32' && type !== 'bool' && x.type === 'float32';
  return {
    outputs,
    run([a], [out]) {
      const src = a!.data, dst = out!.data;
      if (type === 'bool') for (let i = 0; i < n; i++) dst[i] = src[i] ? 1 : 0;
      else if (truncate) for (let i = 0; i < n; i++) dst[i] = Math.trunc(src[i]!);
      else dst.set(src);
    },
  };
}

/**
 * Dropout is the identity in inference (training_mode false, the default) and with ratio 0; in training
 * with a non-zero ratio it drops at random, which atrous does not do. The mask output is then all true.
 */
function dropout(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'data');
  const ratio = ctx.opset >= 12 ? (ctx.inputs[1] ? scalarOf(constInput(ctx, 1, 'ratio')!, 'Dropout ratio') : 0.5) : attrFloat(ctx.node, 'ratio', 0.5);
  const training = ctx.opset >= 12 && ctx.inputs[2] !== undefined && scalarOf(constInput(ctx, 2, 'training_mode')!, 'Dropout training_mode') !== 0;
  if (training && ratio !== 0) {
    throw unsupported(ctx.node, `training_mode (input 2) is true with ratio ${ratio}: random dropout is not supported (only inference, or ratio 0)`);
  }
  const mask = ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '';
  if (!mask) return view(ctx, [...x.dims]);
  const n = sizeOf(x.dims);
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: x.type, dims: [...x.dims] }, { type: 'bool', dims: [...x.dims] }],
    run([a], [y, m], env) {
      if (n === 0) return;
      if (residesInWasm(x.type)) env.kernels.layout.copyStrided(a!.ptr, y!.ptr, [n], [1], [1], label, x.type === 'float32' ? 4 : 1);
      else y!.data.set(a!.data as Float64Array);
      m!.data.fill(1);
    },
  };
}

export const shapeOps: Record<string, OpPreparer> = {
  Shape: shape,
  Size: (ctx) => constant({ type: 'int64', dims: [], data: Float64Array.of(sizeOf(input(ctx, 0).dims)) }),
  Reshape: reshape,
  Flatten: flatten,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Identity: (ctx) => view(ctx, [...input(ctx, 0).dims]),
  Dropout: dropout,
  Constant: constantNode,
  ConstantOfShape: constantOfShape,
  Expand: expand,
  Tile: tile,
  Range: range,
  Cast: cast,
};
