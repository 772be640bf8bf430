import { show } from '../../errors.js';
import { ResizeDesc, ResizeMode } from '../../wasm/abi.js';
import type { RunEnv } from '../value.js';
import { withScratch } from './elementwise.js';
import { nodeLabel } from '../graph.js';
import { attrFloat, attrFloats, attrInt, attrString } from '../attributes.js';
import { numbersOf } from '../data-types.js';
import { constInput, expectFloat, opError, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

type CoordMode = 'half_pixel' | 'pytorch_half_pixel' | 'align_corners' | 'asymmetric' | 'tf_half_pixel_for_nn' | 'tf_crop_and_resize';
type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil';
const COORD_MODES = new Set<string>(['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize']);
const NEAREST_MODES = new Set<string>(['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']);

/** The part of an axis tf_crop_and_resize samples, as fractions of `inSize - 1` (ONNX's roi). */
interface Crop {
  start: number;
  end: number;
}

/** Maps an output coordinate to the input coordinate it samples (ONNX Resize's coordinate_transformation_mode). */
function sourceCoord(mode: CoordMode, x: number, scale: number, inSize: number, outSize: number, crop: Crop): number {
  switch (mode) {
    case 'tf_crop_and_resize': {
      const span = (crop.end - crop.start) * (inSize - 1);
      return crop.start * (inSize - 1) + (outSize === 1 ? span / 2 : (x * span) / (outSize - 1));
    }
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

/** The source coordinate of every output position along one axis. */
function axisCoords(coord: CoordMode, scale: number, inSize: number, outSize: number, crop: Crop): Float64Array {
  return Float64Array.from({ length: outSize }, (_, x) => sourceCoord(coord, x, scale, inSize, outSize, crop));
}

function resize(ctx: OpContext, legacyUpsample: boolean): PreparedOp {
  const { node, opset } = ctx;
  const x = expectFloat(ctx, 0);
  const rank = x.dims.length;
  const mode = attrString(node, 'mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'bilinear' && mode !== 'cubic') throw unsupported(node, `mode ${show(mode)} is not supported (nearest, linear and cubic are)`);
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
  const crops = cropsOf(ctx, coord, rank);
  const [H, W] = [x.dims[rank - 2]!, x.dims[rank - 1]!];
  const [OH, OW] = [outDims[rank - 2]!, outDims[rank - 1]!];
  const ys = axisCoords(coord as CoordMode, axisScales[rank - 2]!, H, OH, crops[rank - 2]!);
  const xs = axisCoords(coord as CoordMode, axisScales[rank - 1]!, W, OW, crops[rank - 1]!);
  const planes = x.dims.slice(0, rank - 2).reduce((a, b) => a * b, 1);
  const outputs = [{ type: 'float32' as const, dims: outDims }];
  const label = nodeLabel(node);
  if (mode === 'nearest') {
    if (coord === 'tf_crop_and_resize') throw unsupported(node, 'mode "nearest" with coordinate_transformation_mode "tf_crop_and_resize" is not supported (linear and cubic are)');
    // Legacy nearest ("simple" in onnxruntime) rounds up when shrinking and down when enlarging.
    const nearestFor = (scale: number): NearestMode => (legacy ? (scale < 1 ? 'ceil' : 'floor') : (nearestMode as NearestMode));
    const rows = Int32Array.from(ys, (c) => nearestIndex(nearestFor(axisScales[rank - 2]!), c, H));
    const cols = Int32Array.from(xs, (c) => nearestIndex(nearestFor(axisScales[rank - 1]!), c, W));
    return { outputs, run: ([a], [out], env) => resizeNearest(env, a!.ptr, out!.ptr, planes, [H, W, OH, OW], rows, cols, label) };
  }
  // Linear and cubic: the kernel makes each coordinate's taps (ONNX's neighbour and weight rules).
  const desc = new Uint32Array(ResizeDesc.LEN);
  const f = new Float32Array(desc.buffer);
  desc.set([planes, H, W, OH, OW, mode === 'cubic' ? ResizeMode.cubic : ResizeMode.linear], ResizeDesc.PLANES);
  f[ResizeDesc.CUBIC_A] = attrFloat(node, 'cubic_coeff_a', -0.75);
  desc[ResizeDesc.EXCLUDE_OUTSIDE] = attrInt(node, 'exclude_outside', 0) === 1 ? 1 : 0;
  desc[ResizeDesc.EXTRAPOLATE] = coord === 'tf_crop_and_resize' ? 1 : 0;
  f[ResizeDesc.EXTRAPOLATION_VALUE] = attrFloat(node, 'extrapolation_value', 0);
  const coords = new Float64Array(OH + OW);
  coords.set(ys, 0);
  coords.set(xs, OH);
  return { outputs, run: ([a], [out], env) => env.kernels.maps.resize(a!.ptr, out!.ptr, desc, coords, label), gradient: { kind: 'resize', desc, coords } };
}

/**
 * Per axis, the part tf_crop_and_resize samples: the constant roi input (starts then ends, fractions of
 * each axis). Only the last two axes are resized, so the leading ones must span the whole axis.
 */
function cropsOf(ctx: OpContext, coord: string, rank: number): Crop[] {
  const whole = Array.from({ length: rank }, () => ({ start: 0, end: 1 }));
  if (coord !== 'tf_crop_and_resize') return whole;
  const roi = ctx.inputs[1] ? numbersOf(constInput(ctx, 1, 'roi')!) : [];
  if (roi.length !== 2 * rank || roi.some((v) => !Number.isFinite(v))) {
    throw opError(ctx.node, `tf_crop_and_resize needs roi (input 1) with ${2 * rank} finite values (starts, then ends), got ${show(roi)}`);
  }
  const crops = whole.map((_, i) => ({ start: roi[i]!, end: roi[rank + i]! }));
  if (crops.slice(0, rank - 2).some((c) => c.start !== 0 || c.end !== 1)) {
    throw unsupported(ctx.node, `roi ${show(roi)} crops an axis before the last two; only the last two axes are resized`);
  }
  return crops;
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
