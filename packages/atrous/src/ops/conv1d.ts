import { AtrousError, show } from '../errors.js';
import { Tensor, expectFloat32 } from '../tensor.js';
import type { Activation } from './activation.js';
import type { AutoPad, Conv2dOptions } from './conv-options.js';
import { ConvPlan, checkOutput } from './conv-plan.js';

export interface Conv1dOptions {
  bias?: Tensor<'float32'> | Float32Array;
  stride?: number;
  dilation?: number;
  /** `[left, right]` or automatic padding. Default `[0, 0]`. */
  pads?: readonly [number, number] | AutoPad;
  /**
   * Causal (WaveNet / TCN): pad `(k - 1) * dilation` on the left only, so output `t` sees inputs up to `t`
   * and the output is as long as the input (with stride 1). Cannot be combined with `pads`.
   */
  causal?: boolean;
  groups?: number;
  activation?: Activation;
  /** `[N, M, L_out]`, added before the activation. */
  residual?: Tensor<'float32'>;
  /** `[N, M, L_out]` float32 tensor to write the result into; returned as the result. Not the input's or residual's memory. */
  output?: Tensor<'float32'>;
}

/** Views a 1-D tensor `[N, C, L]` as 2-D `[N, C, 1, L]` (no copy). */
export function as2d(t: Tensor<'float32'>): Tensor<'float32'> {
  return new Tensor('float32', t.data, [t.dims[0]!, t.dims[1]!, 1, t.dims[2]!]);
}

/**
 * The 2-D options (height 1) of a 1-D convolution with weights `w` `[M, C/groups, K]`: stride, dilation,
 * pads or causal padding checked and moved to the width axis. Shared by conv1d and conv1dBackward, so both
 * take and reject exactly the same options.
 */
export function conv1dAs2d(
  w: Tensor<'float32'>,
  options: Pick<Conv1dOptions, 'bias' | 'stride' | 'dilation' | 'pads' | 'causal' | 'groups'>,
  op: string,
): Omit<Conv2dOptions, 'activation'> {
  const { stride = 1, dilation = 1, causal = false } = options;
  for (const [name, value] of [['stride', stride], ['dilation', dilation]] as const) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: options.${name} must be a positive integer, got ${show(value)}`);
    }
  }
  let pads: readonly [number, number, number, number] | AutoPad = [0, 0, 0, 0];
  if (causal) {
    if (options.pads !== undefined) {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: options.causal pads the left by itself; do not also give options.pads (got ${show(options.pads)})`);
    }
    pads = [0, (w.dims[2]! - 1) * dilation, 0, 0];
  } else if (typeof options.pads === 'string') {
    pads = options.pads;
  } else if (options.pads !== undefined) {
    if (!Array.isArray(options.pads) || options.pads.length !== 2) {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: options.pads must be [left, right] or "same-upper", "same-lower", "valid", got ${show(options.pads)}`);
    }
    pads = [0, options.pads[0], 0, options.pads[1]];
  }
  return { bias: options.bias, strides: [1, stride], dilations: [1, dilation], pads, groups: options.groups };
}

/**
 * 1-D convolution: input `[N, C, L]`, weights `[M, C/groups, K]`, output `[N, M, L_out]`. Runs as a
 * 2-D convolution of height 1 on the same kernels. With `options.output`, writes into that tensor and returns it.
 */
export function conv1d(input: Tensor<'float32'>, weights: Tensor<'float32'>, options: Conv1dOptions = {}): Tensor<'float32'> {
  const op = 'conv1d';
  const x = expectFloat32(input, `${op}: input`, 3, '[N, C, L]');
  const w = expectFloat32(weights, `${op}: weights`, 3, '[M, C/groups, K]');
  const w2 = new Tensor('float32', w.data, [w.dims[0]!, w.dims[1]!, 1, w.dims[2]!]);
  const plan = new ConvPlan(w2, { ...conv1dAs2d(w, options, op), activation: options.activation }, op);
  try {
    let residual: Tensor<'float32'> | undefined;
    if (options.residual !== undefined) residual = as2d(expectFloat32(options.residual, `${op}: options.residual`, 3, '[N, M, L_out]'));
    if (options.output !== undefined) {
      const [n, m, , l] = plan.outputDims(as2d(x).dims);
      const out = checkOutput(options.output, `${op}: options.output`, [n, m, l], '[N, M, L_out]', [['input', x.data], ['residual', residual?.data]]);
      plan.run(as2d(x), { residual, output: as2d(out) });
      return out;
    }
    const y = plan.run(as2d(x), { residual });
    return new Tensor('float32', y.data, [y.dims[0]!, y.dims[1]!, y.dims[3]!]);
  } finally {
    plan.dispose();
  }
}
