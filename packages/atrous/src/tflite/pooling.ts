import { autoPad, input, withActivation, type OpImporter } from './op-import.js';
import { ActivationFunctionType, Padding, Pool2DOptions } from './schema/tflite_generated.js';

/**
 * AVERAGE_POOL_2D / MAX_POOL_2D. TFLite's average leaves padding out of the count (ONNX count_include_pad
 * 0). A window covering the whole map with no padding is a global pool.
 */
function pool(kind: 'Average' | 'Max'): OpImporter {
  return (ctx) => {
    const o = ctx.op.builtinOptions(new Pool2DOptions()) as Pool2DOptions | null;
    const x = input(ctx, 0, 'input');
    const kernel = [o?.filterHeight() || 1, o?.filterWidth() || 1];
    const padding = o?.padding() ?? Padding.VALID;
    // Sizes left to run time (-1) never match: the window then stays the model's, as TFLite runs it.
    const global = kernel[0] === x.signature[1] && kernel[1] === x.signature[2] && (padding === Padding.VALID || ctx.outputs[0]!.signature.slice(1, 3).every((d) => d === 1));
    const b = ctx.b;
    const xs = [b.asNchw(x)];
    withActivation(ctx, o?.fusedActivationFunction() ?? ActivationFunctionType.NONE, 'nchw', (out) => {
      if (global) b.node(`Global${kind}Pool`, xs, [out]);
      else b.node(`${kind}Pool`, xs, [out], { kernel_shape: kernel, strides: [o?.strideH() || 1, o?.strideW() || 1], auto_pad: autoPad(ctx, padding) });
    });
  };
}

export const averagePool2d = pool('Average');
export const maxPool2d = pool('Max');
