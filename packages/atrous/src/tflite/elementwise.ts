import { input, unsupportedOp, withActivation, type OpImport, type OpImporter } from './op-import.js';
import { ActivationFunctionType, AddOptions, DivOptions, LeakyReluOptions, MulOptions, SoftmaxOptions, SubOptions } from './schema/tflite_generated.js';

/** Feature maps (4-D results) are held NCHW; anything else in TFLite's layout. */
function layoutFor(ctx: OpImport) {
  return ctx.outputs[0]!.dims.length === 4 ? ('nchw' as const) : ('plain' as const);
}

type Options = AddOptions | SubOptions | MulOptions | DivOptions;

/** ADD / SUB / MUL / DIV (fused activation), MAXIMUM / MINIMUM: numpy broadcasting in both formats. */
function binary(onnx: string, options?: () => Options): OpImporter {
  return (ctx) => {
    const o = options ? (ctx.op.builtinOptions(options()) as Options | null) : null;
    const layout = layoutFor(ctx);
    const b = ctx.b;
    const operands = [input(ctx, 0, 'x'), input(ctx, 1, 'y')].map((r) => (layout === 'nchw' ? b.asNchwOperand(r) : b.asPlain(r)));
    withActivation(ctx, o?.fusedActivationFunction() ?? ActivationFunctionType.NONE, layout, (out) => b.node(onnx, operands, [out]));
  };
}

export const add = binary('Add', () => new AddOptions());
export const sub = binary('Sub', () => new SubOptions());
export const mul = binary('Mul', () => new MulOptions());
export const div = binary('Div', () => new DivOptions());
export const maximum = binary('Max');
export const minimum = binary('Min');

/** An op on each element: the result keeps the layout its input is held in. */
function unary(emit: (ctx: OpImport, x: string, out: string) => void): OpImporter {
  return (ctx) => {
    const x = input(ctx, 0, 'input');
    const held = ctx.b.heldOf(x);
    emit(ctx, held.name, ctx.output(0, held.layout));
  };
}

export const hardSwish = unary((ctx, x, out) => ctx.b.node('HardSwish', [x], [out]));
export const logistic = unary((ctx, x, out) => ctx.b.node('Sigmoid', [x], [out]));
export const relu = unary((ctx, x, out) => ctx.b.node('Relu', [x], [out]));
export const tanh = unary((ctx, x, out) => ctx.b.node('Tanh', [x], [out]));
export const relu6 = unary((ctx, x, out) => ctx.b.node('Clip', [x, ctx.b.scalar('zero', 0), ctx.b.scalar('six', 6)], [out]));
export const reluN1To1 = unary((ctx, x, out) => ctx.b.node('Clip', [x, ctx.b.scalar('minus_one', -1), ctx.b.scalar('one', 1)], [out]));
export const leakyRelu = unary((ctx, x, out) => {
  const o = ctx.op.builtinOptions(new LeakyReluOptions()) as LeakyReluOptions | null;
  ctx.b.node('LeakyRelu', [x], [out], { alpha: o?.alpha() ?? 0.2 });
});

/** SOFTMAX over the last TFLite axis (channels: NCHW axis 1), softmax(beta * x). */
export const softmax: OpImporter = (ctx) => {
  const o = ctx.op.builtinOptions(new SoftmaxOptions()) as SoftmaxOptions | null;
  const beta = o?.beta() ?? 1;
  const x = input(ctx, 0, 'input');
  if (x.dims.length === 0) throw unsupportedOp(ctx, 'a scalar input has no axis to normalise');
  const b = ctx.b;
  const held = b.heldOf(x);
  let name = held.name;
  if (beta !== 1) {
    name = b.fresh(`${ctx.outputs[0]!.name}/scaled`);
    b.node('Mul', [held.name, b.scalar('beta', beta)], [name]);
  }
  const axis = held.layout === 'nchw' ? 1 : x.dims.length - 1;
  b.node('Softmax', [name], [ctx.output(0, held.layout)], { axis });
};
