import { AtrousError, show } from '../errors.js';
import { Tensor, expectFloat32 } from '../tensor.js';
import { currentEngine } from '../wasm/loader.js';
import { as2d, conv1dAs2d, type Conv1dOptions } from './conv1d.js';
import { ActivationCode } from '../wasm/abi.js';
import { resolveActivation } from './activation.js';
import { convOutputDims, encodeConvSpec, resolveConvSpec, type Conv2dOptions } from './conv-options.js';

/** Exactly conv2d's options. With an activation, the gradient is that of `activation(conv + bias)`. */
export type Conv2dBackwardOptions = Conv2dOptions;
/** conv1d's layer options and its activation (no residual or output). */
export type Conv1dBackwardOptions = Pick<Conv1dOptions, 'bias' | 'stride' | 'dilation' | 'pads' | 'causal' | 'groups' | 'activation'>;

export interface ConvGradients {
  /** `dL/dx`, the input's dims. */
  gradInput: Tensor<'float32'>;
  /** `dL/dW`, the weights' dims. */
  gradWeight: Tensor<'float32'>;
  /**
   * `dL/db`, `[M]`: the gradient at the pre-activation summed over the batch and every output pixel. Without
   * an activation the bias does not change it, and it is returned whether or not `options.bias` is given.
   */
  gradBias: Tensor<'float32'>;
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
  const activated = spec.activation.code !== ActivationCode.none;
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
  const ptrs = { x: 0, w: 0, dy: 0, gx: 0, gw: 0, gb: 0, z: 0 };
  try {
    ptrs.x = e.upload(x.data, `${op}: input ${show(x.dims)}`);
    ptrs.w = e.upload(w.data, `${op}: weights ${show(w.dims)}`);
    ptrs.dy = e.upload(dy.data, `${op}: gradOutput ${show(g.dims)}`);
    const linear = { ...spec, activation: resolveActivation('none', op) };
    if (activated) {
      // The pre-activation (conv + bias) is recomputed into a buffer of its own, the uploaded gradOutput
      // becomes the gradient at it, in place, and the buffer is freed before the gradients are allocated.
      ptrs.z = e.alloc(dy.data.byteLength, `${op}: pre-activation ${show(g.dims)}`);
      // The direct method: this plan runs once, and where Winograd pays on this map (a rate-24 branch on
      // 65x65) its transformed weights, 2.8x the weights, would raise the backward's peak memory for one run.
      const plan = e.kernels.conv.createPlan(encodeConvSpec({ ...linear, method: 'direct' }), w.data, spec.bias, op, context);
      try {
        e.kernels.conv.run(plan, ptrs.x, n, h, wd, ptrs.z, 0, op, context);
      } finally {
        e.kernels.conv.freePlan(plan);
      }
      e.kernels.backward.activation(ptrs.z, 'input', ptrs.dy, ptrs.dy, dy.data.length, spec.activation, op);
      e.free(ptrs.z, dy.data.byteLength);
      ptrs.z = 0;
    }
    ptrs.gx = e.alloc(x.data.byteLength, `${op}: gradInput ${show(x.dims)}`);
    ptrs.gw = e.alloc(w.data.byteLength, `${op}: gradWeight ${show(w.dims)}`);
    ptrs.gb = e.alloc(biasBytes, `${op}: gradBias [${spec.outChannels}]`);
    e.kernels.backward.conv(encodeConvSpec(linear), n, h, wd, ptrs.x, ptrs.w, ptrs.dy, { gradInput: ptrs.gx, gradWeights: ptrs.gw, gradBias: ptrs.gb }, op, context);
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
    e.free(ptrs.z, dy.data.byteLength);
  }
}

/**
 * Gradients of `conv2d(x, w, options)` given `gradOutput` (`dL/dy`, the output's dims `[N, M, OH, OW]`):
 * `{ gradInput, gradWeight, gradBias }`. Takes exactly conv2d's options (bias, strides, dilations, pads,
 * groups, activation) and gives conv2d's errors for bad ones. With an activation, conv + bias is recomputed
 * (one forward) and the gradient goes through the activation first.
 */
export function conv2dBackward(
  x: Tensor<'float32'>,
  w: Tensor<'float32'>,
  gradOutput: Tensor<'float32'>,
  options: Conv2dBackwardOptions = {},
): ConvGradients {
  const op = 'conv2dBackward';
  const weights = expectFloat32(w, `${op}: weights`, 4, '[M, C/groups, kH, kW]');
  return backward2d(() => expectFloat32(x, `${op}: input`, 4, '[N, C, H, W]'), weights, gradOutput, options, op, (dims) => ({ dims, layout: '[N, M, OH, OW]', to4d: (t) => t }));
}

/**
 * Gradients of `conv1d(x, w, options)` given `gradOutput` (`[N, M, L_out]`): `{ gradInput, gradWeight,
 * gradBias }` shaped as x `[N, C, L]`, w `[M, C/groups, K]` and `[M]`. Takes conv1d's layer options
 * (bias, stride, dilation, pads, causal, groups, activation).
 */
export function conv1dBackward(
  x: Tensor<'float32'>,
  w: Tensor<'float32'>,
  gradOutput: Tensor<'float32'>,
  options: Conv1dBackwardOptions = {},
): ConvGradients {
  const op = 'conv1dBackward';
  const input = expectFloat32(x, `${op}: input`, 3, '[N, C, L]');
  const weights = expectFloat32(w, `${op}: weights`, 3, '[M, C/groups, K]');
  const w2 = new Tensor('float32', weights.data, [weights.dims[0]!, weights.dims[1]!, 1, weights.dims[2]!]);
  const r = backward2d(() => as2d(input), w2, gradOutput, { ...conv1dAs2d(weights, options, op), activation: options.activation }, op, ([n, m, , l]) => ({
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
