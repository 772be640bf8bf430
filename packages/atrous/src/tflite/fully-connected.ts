import { input, invalidOp, reshapeTarget, unsupportedOp, withActivation, type OpImporter } from './op-import.js';
import { ActivationFunctionType, FullyConnectedOptions, FullyConnectedOptionsWeightsFormat } from './schema/tflite_generated.js';

/**
 * FULLY_CONNECTED: y = x W^T + b with W [N, K] (ONNX Gemm, transB 1, W packed once). The input is read in
 * TFLite's order as rows of K; keep_num_dims gives the rows back their leading dims.
 */
export const fullyConnected: OpImporter = (ctx) => {
  const o = ctx.op.builtinOptions(new FullyConnectedOptions()) as FullyConnectedOptions | null;
  if ((o?.weightsFormat() ?? FullyConnectedOptionsWeightsFormat.DEFAULT) !== FullyConnectedOptionsWeightsFormat.DEFAULT) {
    throw unsupportedOp(ctx, 'shuffled int8 weights are not supported');
  }
  const x = input(ctx, 0, 'input');
  const w = input(ctx, 1, 'weights');
  if (!w.constant || w.constant.type !== 'float32' || w.dims.length !== 2) throw unsupportedOp(ctx, `weights ${JSON.stringify(w.name)} must be a constant float [N, K] matrix, got dims ${JSON.stringify(w.dims)}`);
  const [n, k] = w.dims as [number, number];
  const size = x.dims.reduce((a, b) => a * b, 1);
  if (k < 1 || size % k !== 0) throw invalidOp(ctx, `input dims ${JSON.stringify(x.dims)} do not split into rows of K = ${k}`);
  const b = ctx.b;
  const outName = ctx.outputs[0]!.name;
  let rows = b.asPlain(x);
  const dynamic = x.signature.some((d) => d < 0);
  if (x.dims.length !== 2 || x.signature[1] !== k) {
    const flat = b.fresh(`${outName}/rows`);
    // With a dim left to run time (a batch), the row count is too.
    b.node('Reshape', [rows, b.ints(`${outName}/rows_shape`, [dynamic ? -1 : size / k, k])], [flat]);
    rows = flat;
  }
  const bias = ctx.inputs[2] ? [b.heldOf(ctx.inputs[2]).name] : [];
  const outDims = ctx.outputs[0]!.dims;
  const reshapeBack = outDims.length !== 2;
  withActivation(ctx, o?.fusedActivationFunction() ?? ActivationFunctionType.NONE, 'plain', (out) => {
    if (!reshapeBack) {
      b.node('Gemm', [rows, b.heldOf(w).name, ...bias], [out], { transB: 1 });
      return;
    }
    const gemm = b.fresh(`${outName}/gemm`);
    b.node('Gemm', [rows, b.heldOf(w).name, ...bias], [gemm], { transB: 1 });
    if (outDims.reduce((p, q) => p * q, 1) !== (size / k) * n) throw invalidOp(ctx, `output dims ${JSON.stringify(outDims)} do not hold ${size / k} x ${n} values`);
    b.node('Reshape', [gemm, b.ints(`${outName}/shape`, reshapeTarget(ctx, ctx.outputs[0]!.signature))], [out]);
  });
};
