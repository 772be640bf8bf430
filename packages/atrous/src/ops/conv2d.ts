import type { Tensor } from '../tensor.js';
import type { Conv2dOptions } from './conv-options.js';
import { ConvPlan, type ConvOutputOptions, type ConvRunOptions } from './conv-plan.js';

/**
 * 2-D convolution with ONNX Conv semantics: input `[N, C, H, W]`, weights `[M, C/groups, kH, kW]`,
 * output `[N, M, OH, OW]`. Any stride with any dilation; explicit or automatic padding; any groups.
 * For repeated calls with the same weights, `prepareConv2d` packs them once. With `options.output`, the
 * result is written into that tensor, which is returned.
 */
export function conv2d(
  input: Tensor<'float32'>,
  weights: Tensor<'float32'>,
  options: Conv2dOptions & ConvRunOptions & ConvOutputOptions = {},
): Tensor<'float32'> {
  const plan = new ConvPlan(weights, options, 'conv2d');
  try {
    return plan.run(input, options);
  } finally {
    plan.dispose();
  }
}
