import { show } from '../../errors.js';
import type { Engine } from '../../wasm/engine.js';
import type { RunEnv } from '../value.js';
import { withScratch } from './elementwise.js';
import { nodeLabel, type NodeIR } from '../graph.js';
import { attrFloats, attrInt, attrString } from '../attributes.js';
import { numbersOf } from '../data-types.js';
import { constInput, expectFloat, opError, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

type CoordMode = 'half_pixel' | 'pytorch_half_pixel' | 'align_corners' | 'asymmetric' | 'tf_half_pixel_for_nn';
type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil';
const COORD_MODES = new Set<string>(['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn']);
const NEAREST_MODES = new Set<string>(['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']);

/** Maps an output coordinate to the input coordinate it samples. */
function sourceCoord(mode: CoordMode, x: number, scale: number, inSize: number, outSize: number): number {
  switch (mode) {
    case 'half_pixel': return (x + 0.5) / scale - 0.5;
    case 'pytorch_half_pixel': return outSize > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case 'align_corners': return outSize === 1 ? 0 : (x * (inSize - 1)) / (outSize - 1);
    case 'asymmetric': return x / scale;
    case 'tf_half_pixel_for_nn': return (x + 0.5) / scale;
  }
}

function nearestIndex(mode: NearestMode, c: number, inSize: number): number {
  let i: number;
  switch (mode) {
    case 'round_prefer_floor': i = c - Math.floor(c) === 0.5 ? Math.floor(c) : Math.round(c); break;
    case 'round_prefer_ceil': i = Math.round(c); break;
    case 'floor': i = Math.floor(c); break;
    case 'ceil': i = Math.ceil(c); break;
  }
  return Math.min(Math.max(i, 0), inSize - 1);
}

/** Per output position along one axis: the two input indices and the weight of the second. */
interface AxisTable {
  i0: Int32Array;
  i1: Int32Array;
  w1: Float32Array;
}

function axisTable(linear: boolean, coord: CoordMode, nearest: NearestMode, scale: number, inSize: number, outSize: number): AxisTable {
  const t = { i0: new Int32Array(outSize), i1: new Int32Array(outSize), w1: new Float32Array(outSize) };
  for (let x = 0; x < outSize; x++) {
    const c = sourceCoord(coord, x, scale, inSize, outSize);
    if (!linear) {
      t.i0[x] = t.i1[x] = nearestIndex(nearest, c, inSize);
      continue;
    }
    const cc = Math.min(Math.max(c, 0), inSize - 1);
    const lo = Math.floor(cc);
    t.i0[x] = lo;
    t.i1[x] = Math.min(lo + 1, inSize - 1);
    t.w1[x] = cc - lo;
  }
  return t;
}

function resize(ctx: OpContext, legacyUpsample: boolean): PreparedOp {
  const { node, opset } = ctx;
  const x = expectFloat(ctx, 0);
  const rank = x.dims.length;
  const mode = attrString(node, 'mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'bilinear') throw unsupported(node, `mode ${show(mode)} is not supported (nearest and linear are)`);
  if (attrInt(node, 'antialias', 0) !== 0) throw unsupported(node, 'antialias is not supported');
  if (node.attributes.has('axes')) throw unsupported(node, 'the axes attribute is not supported');
  if (attrString(node, 'keep_aspect_ratio_policy', 'stretch') !== 'stretch') throw unsupported(node, 'keep_aspect_ratio_policy other than "stretch" is not supported');
  // Upsample and opset-10 Resize sample at x / scale.
  const legacy = legacyUpsample || opset < 11;
  const coord = legacy ? 'asymmetric' : attrString(node, 'coordinate_transformation_mode', 'half_pixel');
  if (!COORD_MODES.has(coord)) throw unsupported(node, `coordinate_transformation_mode ${show(coord)} is not supported`);
  const nearestMode = legacy ? 'floor' : attrString(node, 'nearest_mode', 'round_prefer_floor');
  if (!NEAREST_MODES.has(nearestMode)) throw unsupported(node, `nearest_mode ${show(nearestMode)} is not supported`);

  let scales: number[] | undefined;
  let sizes: number[] | undefined;
  if (legacyUpsample && opset < 9) {
    scales = attrFloats(node, 'scales');
  } else if (legacyUpsample || opset < 11) {
    scales = numbersOf(constInput(ctx, 1, 'scales')!);
  } else {
    const s = ctx.inputs[2] ? constInput(ctx, 2, 'scales') : undefined;
    const z = ctx.inputs[3] ? constInput(ctx, 3, 'sizes') : undefined;
    if (z && z.data.length > 0) sizes = numbersOf(z);
    else if (s && s.data.length > 0) scales = numbersOf(s);
  }
  if (!scales && !sizes) throw opError(node, 'needs scales or sizes');
  const given = (sizes ?? scales)!;
  if (given.length !== rank) throw opError(node, `${sizes ? 'sizes' : 'scales'} ${show(given)} must have one value per axis of dims ${show(x.dims)}`);
  const outDims = sizes ? [...sizes] : x.dims.map((d, i) => Math.floor(d * scales![i]!));
  const axisScales = sizes ? sizes.map((s, i) => s / x.dims[i]!) : scales!;
  if (outDims.some((d) => !Number.isInteger(d) || d < 1) || axisScales.some((s) => !(s > 0))) {
    throw opError(node, `output dims ${show(outDims)} (from ${sizes ? 'sizes' : 'scales'} ${show(given)}) are not valid for input ${show(x.dims)}`);
  }
  if (rank < 2 || rank > 4 || outDims.slice(0, rank - 2).some((d, i) => d !== x.dims[i])) {
    throw unsupported(node, `only resizing the last two axes is supported, got input ${show(x.dims)} -> ${show(outDims)}`);
  }
  const linear = mode !== 'nearest';
  const [H, W] = rank === 2 ? [x.dims[0]!, x.dims[1]!] : [x.dims[rank - 2]!, x.dims[rank - 1]!];
  const [OH, OW] = [outDims[rank - 2]!, outDims[rank - 1]!];
  // Legacy nearest ("simple" in onnxruntime) rounds up when shrinking and down when enlarging.
  const nearestFor = (scale: number): NearestMode => (legacy ? (scale < 1 ? 'ceil' : 'floor') : (nearestMode as NearestMode));
  const ty = axisTable(linear, coord as CoordMode, nearestFor(axisScales[rank - 2]!), axisScales[rank - 2]!, H, OH);
  const tx = axisTable(linear, coord as CoordMode, nearestFor(axisScales[rank - 1]!), axisScales[rank - 1]!, W, OW);
  const planes = rank === 2 ? 1 : x.dims.slice(0, rank - 2).reduce((a, b) => a * b, 1);
  const outputs = [{ type: 'float32' as const, dims: outDims }];
  if (linear) return { outputs, run: ([a], [out], env) => resizeLinearWasm(env.engine, a!.ptr, out!.ptr, planes, [H, W, OH, OW], ty, tx, node) };
  return { outputs, run: ([a], [out], env) => resizeNearest(env, a!.ptr, out!.ptr, planes, [H, W, OH, OW], ty.i0, tx.i0, nodeLabel(node)) };
}

function resizeLinearWasm(engine: Engine, input: number, output: number, planes: number, [H, W, OH, OW]: number[], ty: AxisTable, tx: AxisTable, node: NodeIR): void {
  const words = 3 * (OH! + OW!);
  const t = new Uint32Array(words);
  const f = new Float32Array(t.buffer);
  t.set(ty.i0, 0);
  t.set(ty.i1, OH!);
  f.set(ty.w1, 2 * OH!);
  t.set(tx.i0, 3 * OH!);
  t.set(tx.i1, 3 * OH! + OW!);
  f.set(tx.w1, 3 * OH! + 2 * OW!);
  engine.kernels.maps.resizeBilinear(input, output, planes, H!, W!, OH!, OW!, t, nodeLabel(node));
}

const isIdentity = (t: Int32Array, n: number) => t.length === n && t.every((v, i) => v === i);

/**
 * Nearest resize as two gathers: source rows picked into `[planes, OH, W]` (whole rows at a time), then
 * columns picked within each row. A pass whose table is the identity is skipped.
 */
function resizeNearest(env: RunEnv, input: number, output: number, planes: number, [H, W, OH, OW]: number[], rows: Int32Array, cols: Int32Array, label: string): void {
  const skipRows = isIdentity(rows, H!), skipCols = isIdentity(cols, W!);
  const l = env.kernels.layout;
  const mid = planes * OH! * W!;
  withScratch(env, [(OH! + OW!) * 4, skipRows || skipCols ? 0 : mid * 4], `${label}: nearest index tables`, ([tables, between]) => {
    const t = new Int32Array(env.engine.exports.memory.buffer, tables!, OH! + OW!);
    t.set(rows, 0);
    t.set(cols, OH!);
    if (skipRows && skipCols) {
      l.copyStrided(input, output, [planes * H! * W!], [1], [1], label);
      return;
    }
    const rowsOut = skipCols ? output : between!;
    if (!skipRows) l.gather(input, tables!, rowsOut, planes, H!, W!, OH!, label);
    if (!skipCols) l.gather(skipRows ? input : between!, tables! + 4 * OH!, output, planes * OH!, W!, 1, OW!, label);
  });
}

export const resizeOps: Record<string, OpPreparer> = {
  Resize: (ctx) => resize(ctx, false),
  Upsample: (ctx) => resize(ctx, true),
};
