import { AtrousError, show } from '../errors.js';
import { Tensor, expectFloat32 } from '../tensor.js';
import { currentEngine } from '../wasm/loader.js';
import { as2d, conv1dAs2d, type Conv1dOptions } from './conv1d.js';
import { convOutputDims, encodeConvSpec, resolveConvSpec, type Conv2dOptions } from './conv-options.js';

/** conv2d's options but the fused activation, whose backward this op does not compute. */
export type Conv2dBackwardOptions = Omit<Conv2dOptions, 'activation'>;
/** conv1d's layer options (no activation, residual or output). */
export type Conv1dBackwardOptions = Pick<Conv1dOptions, 'bias' | 'stride' | 'dilation' | 'pads' | 'causal' | 'groups'>;

export interface ConvGradients {
  /** `dL/dx`, the input's dims. */
  gradInput: Tensor<'float32'>;
  /** `dL/dW`, the weights' dims. */
  gradWeight: Tensor<'float32'>;
  /** `dL/db`, `[M]`: `gradOutput` summed over the batch and every output pixel (the bias option does not change it). */
  gradBias: Tensor<'float32'>;
}

/** Both ops take conv2d's option checks; a fused activation is named as unsupported rather than ignored. */
function rejectActivation(options: unknown, op: string): void {
  const a = options !== null && typeof options === 'object' ? (options as { activation?: unknown }).activation : undefined;
  if (a !== undefined && a !== 'none') {
    throw new AtrousError(
      'INVALID_ARGUMENT',
      `${op}: options.activation is not supported (got ${show(a)}): differentiate the activation separately and pass its gradient as gradOutput`,
    );
  }
}

/**
 * The 2-D work of both ops, on 4-D views. `input` checks and returns the input, called where the forward
 * op checks it (after the weights and options for conv2d), so that errors come in the forward's order.
 */
function backward2d(
  input: () => Tensor<'float32'>,
  w: Tensor<'float32'>,
  gradOutput: unknown,
  options: Conv2dBackwardOptions,
  op: string,
  view: (outDims: [number, number, number, number]) => { dims: number[]; layout: string; to4d: (t: Tensor<'float32'>) => Tensor<'float32'> },
): ConvGradients {
  const spec = resolveConvSpec(w, options, op);
  const x = input();
  const outDims = convOutputDims(spec, x.dims, op);
  const { dims, layout, to4d } = view(outDims);
  const g = expectFloat32(gradOutput, `${op}: gradOutput`, dims.length, layout);
  if (g.dims.some((d, i) => d !== dims[i])) {
    throw new AtrousError('INVALID_SHAPE', `${op}: gradOutput must have the forward output's dims ${show(dims)}, got ${show(g.dims)}`);
  }
  const dy = to4d(g);
  const e = currentEngine(op);
  const [n, , h, wd] = x.dims as [number, number, number, number];
  const context = () => `input ${show(x.dims)}, weights ${show(w.dims)}, gradOutput ${show(g.dims)}`;
  const biasBytes = spec.outChannels * 4;
  const ptrs = { x: 0, w: 0, dy: 0, gx: 0, gw: 0, gb: 0 };
  try {
    ptrs.x = e.upload(x.data, `${op}: input ${show(x.dims)}`);
    ptrs.w = e.upload(w.data, `${op}: weights ${show(w.dims)}`);
    ptrs.dy = e.upload(dy.data, `${op}: gradOutput ${show(g.dims)}`);
    ptrs.gx = e.alloc(x.data.byteLength, `${op}: gradInput ${show(x.dims)}`);
    ptrs.gw = e.alloc(w.data.byteLength, `${op}: gradWeight ${show(w.dims)}`);
    ptrs.gb = e.alloc(biasBytes, `${op}: gradBias [${spec.outChannels}]`);
    e.kernels.convBackward.gradients(encodeConvSpec(spec), n, h, wd, ptrs.x, ptrs.w, ptrs.dy, { gradInput: ptrs.gx, gradWeights: ptrs.gw, gradBias: ptrs.gb }, op, context);
    const copy = (ptr: number, length: number) => {
      const out = new Float32Array(length);
      out.set(e.f32(ptr, length));
      return out;
    };
    return {
      gradInput: new Tensor('float32', copy(ptrs.gx, x.data.length), x.dims),
      gradWeight: new Tensor('float32', copy(ptrs.gw, w.data.length), w.dims),
      gradBias: new Tensor('float32', copy(ptrs.gb, spec.outChannels), [spec.outChannels]),
    };
  } finally {
    e.free(ptrs.x, x.data.byteLength);
    e.free(ptrs.w, w.data.byteLength);
    e.free(ptrs.dy, dy.data.byteLength);
    e.free(ptrs.gx, x.data.byteLength);
    e.free(ptrs.gw, w.data.byteLength);
    e.free(ptrs.gb, biasBytes);
  }
}

/**
 * Gradients of `conv2d(x, w, options)` given `gradOutput` (`dL/dy`, the output's dims `[N, M, OH, OW]`):
 * `{ gradInput, gradWeight, gradBias }`. Takes exactly conv2d's options (bias, strides, dilations, pads,
 * groups) and gives conv2d's errors for bad ones.
 */
export function conv2dBackward(
  x: Tensor<'float32'>,
  w: Tensor<'float32'>,
  gradOutput: Tensor<'float32'>,
  options: Conv2dBackwardOptions = {},
): ConvGradients {
  const op = 'conv2dBackward';
  rejectActivation(options, op);
  const weights = expectFloat32(w, `${op}: weights`, 4, '[M, C/groups, kH, kW]');
  return backward2d(() => expectFloat32(x, `${op}: input`, 4, '[N, C, H, W]'), weights, gradOutput, options, op, (dims) => ({ dims, layout: '[N, M, OH, OW]', to4d: (t) => t }));
}

/**
 * Gradients of `conv1d(x, w, options)` given `gradOutput` (`[N, M, L_out]`): `{ gradInput, gradWeight,
 * gradBias }` shaped as x `[N, C, L]`, w `[M, C/groups, K]` and `[M]`. Takes conv1d's layer options
 * (bias, stride, dilation, pads, causal, groups).
 */
export function conv1dBackward(
  x: Tensor<'float32'>,
  w: Tensor<'float32'>,
  gradOutput: Tensor<'float32'>,
  options: Conv1dBackwardOptions = {},
): ConvGradients {
  const op = 'conv1dBackward';
  rejectActivation(options, op);
  const input = expectFloat32(x, `${op}: input`, 3, '[N, C, L]');
  const weights = expectFloat32(w, `${op}: weights`, 3, '[M, C/groups, K]');
  const w2 = new Tensor('float32', weights.data, [weights.dims[0]!, weights.dims[1]!, 1, weights.dims[2]!]);
  const r = backward2d(() => as2d(input), w2, gradOutput, conv1dAs2d(weights, options, op), op, ([n, m, , l]) => ({
    dims: [n, m, l],
    layout: '[N, M, L_out]',
    to4d: as2d,
  }));
  return {
    gradInput: new Tensor('float32', r.gradInput.data, input.dims),
    gradWeight: new Tensor('float32', r.gradWeight.data, weights.dims),
    gradBias: r.gradBias,
  };
}
