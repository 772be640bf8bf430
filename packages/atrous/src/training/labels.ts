import { AtrousError, show } from '../errors.js';
import { Tensor } from '../tensor.js';

/**
 * Class ids per pixel, `[N, H, W]`: an Int32Array or Uint8Array (its length must be N * H * W of the
 * logits), or a Tensor of type int32 or uint8 with exactly those dims.
 */
export type Labels = Int32Array | Uint8Array | Tensor<'int32'> | Tensor<'uint8'>;

/**
 * The labels as i32 for the loss kernel, checked against the logits `[N, C, H, W]`: their dims, and each
 * value in `[0, C)` or `ignoreIndex` (the first offender is named, with its position).
 */
export function checkLabels(labels: unknown, logitDims: readonly number[], ignoreIndex: number, op: string): Int32Array {
  const [n, c, ...spatial] = logitDims;
  const want = [n!, ...spatial];
  let data: Int32Array | Uint8Array;
  if (labels instanceof Tensor) {
    if (labels.type !== 'int32' && labels.type !== 'uint8') {
      throw new AtrousError('INVALID_TENSOR', `${op}: labels must be an int32 or uint8 tensor, got ${labels.type}`);
    }
    if (labels.dims.length !== want.length || labels.dims.some((d, i) => d !== want[i])) {
      throw new AtrousError('INVALID_SHAPE', `${op}: labels must have dims ${show(want)} (the logits ${show(logitDims)} without the class axis), got ${show(labels.dims)}`);
    }
    data = labels.data as Int32Array | Uint8Array;
  } else if (labels instanceof Int32Array || labels instanceof Uint8Array) {
    data = labels;
  } else {
    throw new AtrousError('INVALID_TENSOR', `${op}: labels must be an Int32Array, a Uint8Array or an int32/uint8 Tensor of dims ${show(want)}, got ${show(labels)}`);
  }
  const count = want.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new AtrousError('INVALID_SHAPE', `${op}: labels must hold ${count} values (dims ${show(want)}), got ${data.length}`);
  }
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v !== ignoreIndex && (v < 0 || v >= c!)) {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: label ${v} at index ${i} is not a class id in [0, ${c}) nor the ignoreIndex ${ignoreIndex}`);
    }
  }
  return data instanceof Int32Array ? data : Int32Array.from(data);
}
