import { permuteTensor } from './layout.js';
import { autoPad, fixedDim, input, invalidOp, unsupportedOp, withActivation, type OpImport, type OpImporter } from './op-import.js';
import { ActivationFunctionType, Conv2DOptions, DepthwiseConv2DOptions, Padding, TransposeConvOptions } from './schema/tflite_generated.js';
import type { TensorRef } from './graph-builder.js';

function constantWeights(ctx: OpImport, ref: TensorRef) {
  if (!ref.constant) throw unsupportedOp(ctx, `weights ${JSON.stringify(ref.name)} must be constant`);
  if (ref.constant.type !== 'float32') throw unsupportedOp(ctx, `weights ${JSON.stringify(ref.name)} must be float, got ${ref.constant.type}`);
  if (ref.dims.length !== 4) throw invalidOp(ctx, `weights ${JSON.stringify(ref.name)} must be 4-D, got dims ${JSON.stringify(ref.dims)}`);
  return ref.constant;
}

function biasName(ctx: OpImport, i: number): string[] {
  const ref = ctx.inputs[i];
  if (!ref) return [];
  return [ctx.b.heldOf(ref).name];
}

/** CONV_2D: weights [O, kH, kW, I] become OIHW; I < C makes a grouped conv. */
export const conv2d: OpImporter = (ctx) => {
  const o = ctx.op.builtinOptions(new Conv2DOptions()) as Conv2DOptions | null;
  const x = input(ctx, 0, 'input');
  const w = constantWeights(ctx, input(ctx, 1, 'filter'));
  const channels = fixedDim(ctx, x, 3, 'the input channel count');
  const perGroup = w.dims[3]!;
  if (channels % perGroup !== 0) throw invalidOp(ctx, `input has ${channels} channels, not a multiple of the filter's ${perGroup}`);
  // OHWI -> OIHW.
  convNode(ctx, o, x, permuteTensor(w, [0, 3, 1, 2]), [w.dims[1]!, w.dims[2]!], channels / perGroup);
};

/** DEPTHWISE_CONV_2D: weights [1, kH, kW, C * M] are a conv with C groups, output channel c * M + m. */
export const depthwiseConv2d: OpImporter = (ctx) => {
  const o = ctx.op.builtinOptions(new DepthwiseConv2DOptions()) as DepthwiseConv2DOptions | null;
  const x = input(ctx, 0, 'input');
  const w = constantWeights(ctx, input(ctx, 1, 'filter'));
  const channels = fixedDim(ctx, x, 3, 'the input channel count');
  const outChannels = w.dims[3]!;
  if (w.dims[0] !== 1 || outChannels % channels !== 0) throw invalidOp(ctx, `depthwise filter dims ${JSON.stringify(w.dims)} do not fit ${channels} input channels`);
  const multiplier = outChannels / channels;
  const declared = o?.depthMultiplier() ?? 0;
  // The schema calls depth_multiplier redundant (newer converters may write 0); the filter decides.
  if (declared > 0 && declared !== multiplier) throw invalidOp(ctx, `depth_multiplier ${declared} disagrees with the filter (${outChannels} / ${channels} channels)`);
  // [1, kH, kW, C * M] -> [C * M, 1, kH, kW].
  convNode(ctx, o, x, permuteTensor(w, [3, 0, 1, 2]), [w.dims[1]!, w.dims[2]!], channels);
};

/** The ONNX Conv (NCHW, OIHW weights) both TFLite convolutions become, with its fused activation. */
function convNode(
  ctx: OpImport,
  o: Conv2DOptions | DepthwiseConv2DOptions | null,
  x: TensorRef,
  oihw: ReturnType<typeof permuteTensor>,
  kernel: [number, number],
  group: number,
): void {
  const b = ctx.b;
  const inputs = [b.asNchw(x), b.constant(`${ctx.inputs[1]!.name}/oihw`, oihw), ...biasName(ctx, 2)];
  withActivation(ctx, o?.fusedActivationFunction() ?? ActivationFunctionType.NONE, 'nchw', (out) =>
    b.node('Conv', inputs, [out], {
      kernel_shape: kernel,
      strides: [o?.strideH() || 1, o?.strideW() || 1],
      dilations: [o?.dilationHFactor() || 1, o?.dilationWFactor() || 1],
      auto_pad: autoPad(ctx, o?.padding() ?? Padding.SAME),
      group,
    }));
}

/**
 * A transposed conv to a given output size, with TFLite's padding: SAME's total pad is what a forward conv
 * from the output back to ceil(out / stride) would need, its smaller half at the start; VALID pads nothing
 * and crops (or extends) at the end. ONNX gets the explicit pads and any output_padding.
 */
function transposeConv(ctx: OpImport, x: TensorRef, wRef: TensorRef, bias: string[], padding: Padding, strides: [number, number], activation: ActivationFunctionType): void {
  const w = constantWeights(ctx, wRef);
  const out = ctx.outputs[0]!.dims;
  if (out.length !== 4 || out.some((d) => d < 1)) throw unsupportedOp(ctx, `the output dims ${JSON.stringify(out)} must be known`);
  // TFLite's pads follow from the sizes: they must be fixed (a dynamic batch is fine).
  for (const a of [1, 2]) {
    fixedDim(ctx, ctx.outputs[0]!, a, 'the output size');
    fixedDim(ctx, x, a, 'the input size');
  }
  const kernel = [w.dims[1]!, w.dims[2]!];
  const begin: number[] = [], end: number[] = [], extra: number[] = [];
  for (let a = 0; a < 2; a++) {
    const size = out[1 + a]!, s = strides[a]!, k = kernel[a]!, inSize = x.dims[1 + a]!;
    let before = 0;
    if (padding === Padding.SAME) before = Math.floor(Math.max((Math.ceil(size / s) - 1) * s + k - size, 0) / 2);
    const full = (inSize - 1) * s + k;
    const after = full - before - size;
    begin.push(before);
    end.push(Math.max(after, 0));
    extra.push(Math.max(-after, 0));
  }
  const b = ctx.b;
  // TFLite's filter is [O, kH, kW, I]; ONNX ConvTranspose's is [I, O, kH, kW].
  const weights = b.constant(`${wRef.name}/iohw`, permuteTensor(w, [3, 0, 1, 2]));
  const inputs = [b.asNchw(x), weights, ...bias];
  withActivation(ctx, activation, 'nchw', (name) =>
    b.node('ConvTranspose', inputs, [name], {
      kernel_shape: kernel,
      strides,
      pads: [...begin, ...end],
      ...(extra.some((e) => e > 0) ? { output_padding: extra } : {}),
    }));
}

/** TRANSPOSE_CONV: inputs (output_shape, filter, input, bias?). */
export const transposeConv2d: OpImporter = (ctx) => {
  const o = ctx.op.builtinOptions(new TransposeConvOptions()) as TransposeConvOptions | null;
  transposeConv(ctx, input(ctx, 2, 'input'), input(ctx, 1, 'filter'), biasName(ctx, 3), o?.padding() ?? Padding.SAME,
    [o?.strideH() || 1, o?.strideW() || 1], o?.fusedActivationFunction() ?? ActivationFunctionType.NONE);
};

/**
 * MediaPipe's custom Convolution2DTransposeBias: inputs (input, filter, bias), options the raw C struct
 * TfLiteTransposeConvParams { padding (1 SAME, 2 VALID), stride_width, stride_height } as int32s.
 */
export const mediapipeTransposeConvBias: OpImporter = (ctx) => {
  const raw = ctx.op.customOptionsArray();
  if (!raw || raw.length < 12) throw invalidOp(ctx, `custom options must hold padding and two strides (12 bytes), got ${raw?.length ?? 0}`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const code = view.getInt32(0, true);
  const padding = code === 1 ? Padding.SAME : code === 2 ? Padding.VALID : undefined;
  if (padding === undefined) throw invalidOp(ctx, `padding code ${code} is neither SAME (1) nor VALID (2)`);
  const [sw, sh] = [view.getInt32(4, true), view.getInt32(8, true)];
  if (sw < 1 || sh < 1) throw invalidOp(ctx, `strides ${sw}, ${sh} must be positive`);
  transposeConv(ctx, input(ctx, 0, 'input'), input(ctx, 1, 'filter'), biasName(ctx, 2), padding, [sh, sw], ActivationFunctionType.NONE);
};
