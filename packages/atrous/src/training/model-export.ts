import onnxProto from 'onnx-proto';
import { AtrousError, show } from '../errors.js';
import { OnnxDataType } from '../onnx/data-types.js';

const { onnx } = onnxProto;

/**
 * The model's own bytes with the named initializers' values replaced (float32, as raw little-endian
 * data), re-encoded with the same protobuf schema the parser reads. Everything else (nodes, opsets,
 * metadata, the other initializers) is kept as the file had it.
 */
export function replaceInitializers(bytes: Uint8Array, values: ReadonlyMap<string, Float32Array>): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const left = new Set(values.keys());
  for (const t of model.graph?.initializer ?? []) {
    const v = values.get(t.name ?? '');
    if (!v) continue;
    left.delete(t.name!);
    const raw = new Uint8Array(v.length * 4);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < v.length; i++) view.setFloat32(i * 4, v[i]!, true);
    t.dataType = OnnxDataType.FLOAT;
    t.rawData = raw;
    t.floatData = [];
    t.doubleData = [];
    t.int32Data = [];
  }
  if (left.size > 0) {
    // A tensor the trainer trained that is no initializer of the file (a folded Constant node's output).
    throw new AtrousError('UNSUPPORTED', `trainer.exportModel: ${show([...left])} are not initializers of the model file; they cannot be written back`);
  }
  return onnx.ModelProto.encode(model).finish();
}
