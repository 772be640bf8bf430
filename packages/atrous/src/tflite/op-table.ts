import { conv2d, depthwiseConv2d, mediapipeTransposeConvBias, transposeConv2d } from './conv.js';
import { add, div, hardSwish, leakyRelu, logistic, maximum, minimum, mul, relu, relu6, reluN1To1, softmax, sub, tanh } from './elementwise.js';
import { fullyConnected } from './fully-connected.js';
import type { OpImporter } from './op-import.js';
import { averagePool2d, maxPool2d } from './pooling.js';
import { BuiltinOperator } from './schema/tflite_generated.js';
import { concatenation, mean, pad, reshape, resizeBilinear, resizeNearestNeighbor } from './shape-ops.js';

/** Every TFLite builtin op atrous imports, mapped onto ONNX ops (DEQUANTIZE of constants is folded at import). */
export const BUILTIN_OPS: ReadonlyMap<BuiltinOperator, OpImporter> = new Map([
  [BuiltinOperator.CONV_2D, conv2d],
  [BuiltinOperator.DEPTHWISE_CONV_2D, depthwiseConv2d],
  [BuiltinOperator.TRANSPOSE_CONV, transposeConv2d],
  [BuiltinOperator.FULLY_CONNECTED, fullyConnected],
  [BuiltinOperator.AVERAGE_POOL_2D, averagePool2d],
  [BuiltinOperator.MAX_POOL_2D, maxPool2d],
  [BuiltinOperator.ADD, add],
  [BuiltinOperator.SUB, sub],
  [BuiltinOperator.MUL, mul],
  [BuiltinOperator.DIV, div],
  [BuiltinOperator.MAXIMUM, maximum],
  [BuiltinOperator.MINIMUM, minimum],
  [BuiltinOperator.HARD_SWISH, hardSwish],
  [BuiltinOperator.LOGISTIC, logistic],
  [BuiltinOperator.RELU, relu],
  [BuiltinOperator.RELU6, relu6],
  [BuiltinOperator.RELU_N1_TO_1, reluN1To1],
  [BuiltinOperator.TANH, tanh],
  [BuiltinOperator.LEAKY_RELU, leakyRelu],
  [BuiltinOperator.SOFTMAX, softmax],
  [BuiltinOperator.MEAN, mean],
  [BuiltinOperator.RESIZE_BILINEAR, resizeBilinear],
  [BuiltinOperator.RESIZE_NEAREST_NEIGHBOR, resizeNearestNeighbor],
  [BuiltinOperator.CONCATENATION, concatenation],
  [BuiltinOperator.RESHAPE, reshape],
  [BuiltinOperator.SQUEEZE, reshape],
  [BuiltinOperator.EXPAND_DIMS, reshape],
  [BuiltinOperator.PAD, pad],
  [BuiltinOperator.PADV2, pad],
]);

/** Custom ops atrous imports, by custom_code. */
export const CUSTOM_OPS: ReadonlyMap<string, OpImporter> = new Map([['Convolution2DTransposeBias', mediapipeTransposeConvBias]]);
