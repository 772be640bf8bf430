import { NCHW_TO_NHWC, nchwAxis } from './layout.js';
import { constantInput, input, invalidOp, reshapeTarget, withActivation, type OpImporter } from './op-import.js';
import { ActivationFunctionType, ConcatenationOptions, ReducerOptions, ResizeBilinearOptions, ResizeNearestNeighborOptions } from './schema/tflite_generated.js';

/**
 * RESHAPE, SQUEEZE, EXPAND_DIMS: the data in TFLite's order, reshaped to the declared output dims (a dim
 * left to run time as -1, inferred by Reshape; failing that, the shape input's).
 */
export const reshape: OpImporter = (ctx) => {
  const x = input(ctx, 0, 'input');
  let dims = ctx.outputs[0]!.signature;
  if (dims.filter((d) => d < 0).length > 1 && ctx.inputs[1]?.constant) dims = constantInput(ctx, 1, 'shape');
  const b = ctx.b;
  b.node('Reshape', [b.asPlain(x), b.ints(`${ctx.outputs[0]!.name}/shape`, reshapeTarget(ctx, dims))], [ctx.output(0, 'plain')]);
};

/** CONCATENATION: 4-D inputs join in NCHW along the matching axis. */
export const concatenation: OpImporter = (ctx) => {
  const o = ctx.op.builtinOptions(new ConcatenationOptions()) as ConcatenationOptions | null;
  const rank = ctx.outputs[0]!.dims.length;
  let axis = o?.axis() ?? 0;
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) throw invalidOp(ctx, `axis ${o?.axis()} is out of range for rank ${rank}`);
  const refs = ctx.inputs.map((r, i) => r ?? input(ctx, i, 'value'));
  const b = ctx.b;
  const nchw = rank === 4;
  const names = refs.map((r) => (nchw ? b.asNchw(r) : b.asPlain(r)));
  withActivation(ctx, o?.fusedActivationFunction() ?? ActivationFunctionType.NONE, nchw ? 'nchw' : 'plain', (out) =>
    b.node('Concat', names, [out], { axis: nchw ? nchwAxis(axis) : axis }));
};

/** PAD / PADV2: paddings [rank, 2] (begin, end per axis), reordered for NCHW. */
export const pad: OpImporter = (ctx) => {
  const x = input(ctx, 0, 'input');
  const rank = x.dims.length;
  const flat = constantInput(ctx, 1, 'paddings');
  if (flat.length !== 2 * rank) throw invalidOp(ctx, `paddings hold ${flat.length} values, input dims ${JSON.stringify(x.dims)} need ${2 * rank}`);
  const b = ctx.b;
  const held = b.heldOf(x);
  const axisOf = (i: number) => (held.layout === 'nchw' ? [0, 3, 1, 2][i]! : i);
  const pads = [...Array.from({ length: rank }, (_, i) => flat[2 * axisOf(i)]!), ...Array.from({ length: rank }, (_, i) => flat[2 * axisOf(i) + 1]!)];
  const inputs = [held.name, b.ints(`${ctx.outputs[0]!.name}/pads`, pads)];
  if (ctx.inputs[2]) {
    const value = constantInput(ctx, 2, 'constant_values');
    inputs.push(b.scalar(`${ctx.outputs[0]!.name}/value`, value[0] ?? 0));
  }
  b.node('Pad', inputs, [ctx.output(0, held.layout)], { mode: 'constant' });
};

/** MEAN over constant axes; on an NCHW map the axes are renumbered, and a dropped rank goes back to TFLite's order. */
export const mean: OpImporter = (ctx) => {
  const o = ctx.op.builtinOptions(new ReducerOptions()) as ReducerOptions | null;
  const keep = o?.keepDims() ?? false;
  const x = input(ctx, 0, 'input');
  const rank = x.dims.length;
  const axes = [...new Set(constantInput(ctx, 1, 'axis').map((a) => (a < 0 ? a + rank : a)))];
  if (axes.some((a) => a < 0 || a >= rank)) throw invalidOp(ctx, `axes ${JSON.stringify(axes)} are out of range for rank ${rank}`);
  const b = ctx.b;
  const held = b.heldOf(x);
  const out = ctx.outputs[0]!;
  if (held.layout === 'plain') {
    b.node('ReduceMean', [held.name], [ctx.output(0, 'plain')], { axes, keepdims: keep ? 1 : 0 });
    return;
  }
  const nchwAxes = axes.map(nchwAxis).sort((p, q) => p - q);
  if (keep) {
    b.node('ReduceMean', [held.name], [ctx.output(0, 'nchw')], { axes: nchwAxes, keepdims: 1 });
    return;
  }
  // The kept axes, in NCHW order, are in TFLite's order too unless C moved ahead of a kept H or W.
  const kept = [0, 1, 2, 3].filter((a) => !nchwAxes.includes(a)).map((a) => [0, 3, 1, 2][a]!);
  if (kept.every((a, i) => i === 0 || kept[i - 1]! < a)) {
    b.node('ReduceMean', [held.name], [ctx.output(0, 'plain')], { axes: nchwAxes, keepdims: 0 });
    return;
  }
  const reduced = b.fresh(`${out.name}/keepdims`);
  b.node('ReduceMean', [held.name], [reduced], { axes: nchwAxes, keepdims: 1 });
  const nhwc = b.transposed(reduced, NCHW_TO_NHWC, `${out.name}/keepdims_nhwc`);
  b.node('Reshape', [nhwc, b.ints(`${out.name}/shape`, reshapeTarget(ctx, out.signature))], [ctx.output(0, 'plain')]);
};

/**
 * RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR to a constant size, as ONNX Resize: half_pixel_centers is
 * half_pixel (bilinear) or tf_half_pixel_for_nn with floor (nearest), align_corners is align_corners (nearest
 * rounds half up), neither is asymmetric (nearest floors).
 */
function resize(linear: boolean): OpImporter {
  return (ctx) => {
    const o = linear
      ? (ctx.op.builtinOptions(new ResizeBilinearOptions()) as ResizeBilinearOptions | null)
      : (ctx.op.builtinOptions(new ResizeNearestNeighborOptions()) as ResizeNearestNeighborOptions | null);
    const alignCorners = o?.alignCorners() ?? false;
    const halfPixel = o?.halfPixelCenters() ?? false;
    if (alignCorners && halfPixel) throw invalidOp(ctx, 'align_corners and half_pixel_centers cannot both be set');
    const x = input(ctx, 0, 'input');
    if (x.dims.length !== 4) throw invalidOp(ctx, `input must be 4-D [N, H, W, C], got dims ${JSON.stringify(x.dims)}`);
    const size = constantInput(ctx, 1, 'size');
    if (size.length !== 2 || size.some((s) => !(s >= 1))) throw invalidOp(ctx, `size ${JSON.stringify(size)} must be two positive integers`);
    const b = ctx.b;
    const name = ctx.outputs[0]!.name;
    const nchw = b.asNchw(x);
    // Whole-number upsampling of a fixed H, W goes in as scales (ONNX samples at the same points: the scale
    // is out / in either way, and N, C need not be known), so the optimizer can see that it upsamples
    // (resize-commute.ts); any other size as sizes.
    const fixedPlane = x.signature[1]! >= 0 && x.signature[2]! >= 0;
    const whole = fixedPlane && size[0]! % x.dims[1]! === 0 && size[1]! % x.dims[2]! === 0;
    let scales = '';
    let sizes = '';
    if (whole) {
      scales = b.constant(`${name}/scales`, { type: 'float32', dims: [4], data: Float32Array.of(1, 1, size[0]! / x.dims[1]!, size[1]! / x.dims[2]!) });
    } else if (x.signature[0]! >= 0 && x.signature[3]! >= 0) {
      sizes = b.ints(`${name}/sizes`, [x.dims[0]!, x.dims[3]!, size[0]!, size[1]!]);
    } else {
      // N or C is left to run time: sizes are [N, C] of the input's shape and the constant H, W, which the
      // session folds once it specializes the graph to the feeds' dims (constants otherwise, for the optimizer).
      const shape = b.fresh(`${name}/input_shape`);
      b.node('Shape', [nchw], [shape]);
      const batchAndChannels = b.fresh(`${name}/nc`);
      b.node('Slice', [shape, b.ints(`${name}/nc_start`, [0]), b.ints(`${name}/nc_end`, [2])], [batchAndChannels]);
      sizes = b.fresh(`${name}/sizes`);
      b.node('Concat', [batchAndChannels, b.ints(`${name}/hw`, [size[0]!, size[1]!])], [sizes], { axis: 0 });
    }
    const coord = alignCorners ? 'align_corners' : halfPixel ? (linear ? 'half_pixel' : 'tf_half_pixel_for_nn') : 'asymmetric';
    b.node('Resize', [nchw, '', scales, sizes], [ctx.output(0, 'nchw')], {
      mode: linear ? 'linear' : 'nearest',
      coordinate_transformation_mode: coord,
      ...(linear ? {} : { nearest_mode: alignCorners ? 'round_prefer_ceil' : 'floor' }),
    });
  };
}

export const resizeBilinear = resize(true);
export const resizeNearestNeighbor = resize(false);
