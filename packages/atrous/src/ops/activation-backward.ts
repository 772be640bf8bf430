import { AtrousError, show } from '../errors.js';
import { Tensor, expectFloat32 } from '../tensor.js';
import { ActivationCode } from '../wasm/abi.js';
import { currentEngine } from '../wasm/loader.js';
import { resolveActivation, type Activation } from './activation.js';

export interface ActivationBackwardOptions {
  /**
   * What `saved` is: the activation's input (`'input'`, the default: works for every activation) or its
   * output (`'output'`: all but hardSwish, and leakyRelu only with a positive alpha, whose derivative the
   * output does not determine).
   */
  from?: 'input' | 'output';
}

/**
 * Gradient of a fused activation (conv2d's `activation` values): `gradOutput * f'(x)`, from the saved input
 * `x` or output `f(x)` (same dims as `gradOutput`). At kinks the derivative is PyTorch's (relu passes 0 at
 * 0, clip 0 at its bounds).
 */
export function activationBackward(
  gradOutput: Tensor<'float32'>,
  saved: Tensor<'float32'>,
  activation: Activation,
  options: ActivationBackwardOptions = {},
): Tensor<'float32'> {
  const op = 'activationBackward';
  if (!(gradOutput instanceof Tensor)) throw new AtrousError('INVALID_TENSOR', `${op}: gradOutput must be a Tensor, got ${show(gradOutput)}`);
  const g = expectFloat32(gradOutput, `${op}: gradOutput`, gradOutput.dims.length, 'of any rank');
  const s = expectFloat32(saved, `${op}: saved`, g.dims.length, `with gradOutput's dims ${show(g.dims)}`);
  if (s.dims.some((d, i) => d !== g.dims[i])) {
    throw new AtrousError('INVALID_SHAPE', `${op}: saved must have gradOutput's dims ${show(g.dims)}, got ${show(s.dims)}`);
  }
  const a = resolveActivation(activation, `${op}: activation`);
  const from = options?.from ?? 'input';
  if (from !== 'input' && from !== 'output') {
    throw new AtrousError('INVALID_ARGUMENT', `${op}: options.from must be "input" or "output", got ${show(from)}`);
  }
  if (from === 'output' && (a.code === ActivationCode.hardSwish || (a.code === ActivationCode.leakyRelu && !(a.p0 > 0)))) {
    throw new AtrousError(
      'INVALID_ARGUMENT',
      `${op}: the derivative of ${show(activation)} cannot be had from its output (options.from "output"); save its input and pass from "input"`,
    );
  }
  const e = currentEngine(op);
  const n = g.data.length;
  let sp = 0;
  let gp = 0;
  try {
    sp = e.upload(s.data, `${op}: saved ${show(s.dims)}`);
    gp = e.upload(g.data, `${op}: gradOutput ${show(g.dims)}`);
    e.kernels.backward.activation(sp, from, gp, gp, n, a, op);
    const out = new Float32Array(n);
    out.set(e.f32(gp, n));
    return new Tensor('float32', out, g.dims);
  } finally {
    e.free(sp, s.data.byteLength);
    e.free(gp, g.data.byteLength);
  }
}
