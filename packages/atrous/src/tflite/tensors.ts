import { AtrousError, show } from '../errors.js';
import { OnnxDataType, halfTableF32, type ElemType, type HostTensor } from '../onnx/data-types.js';
import { TensorType, type Model, type Tensor } from './schema/tflite_generated.js';

/** How errors name a TFLite tensor: `tensor "conv2d/Kernel" (#12)`. */
export function tensorLabel(t: Tensor, index: number): string {
  return `tensor ${show(t.name() ?? '')} (#${index})`;
}

/** The tensor's dims as the model declares them (NHWC for feature maps); a dim left to run time is 1 here. */
export function tensorDims(t: Tensor): number[] {
  const a = t.shapeArray();
  return a ? Array.from(a) : [];
}

/**
 * The dims with -1 where the model leaves a dim to run time: `shape_signature` when the file has one
 * (converters write it for a dynamic batch, `shape` then holding 1 there), else `shape`.
 */
export function tensorSignature(t: Tensor, index: number): number[] {
  const dims = tensorDims(t);
  const a = t.shapeSignatureArray();
  if (!a || a.length === 0) return dims;
  const signature = Array.from(a);
  if (signature.length !== dims.length || signature.some((d, i) => d !== -1 && d !== dims[i])) {
    throw new AtrousError('INVALID_MODEL', `${tensorLabel(t, index)}: shape_signature ${show(signature)} does not fit shape ${show(dims)} (each dim is -1 or the shape's)`);
  }
  return signature;
}

/** Whether the tensor holds quantised integers (int8 / uint8 / int16 with a scale). */
export function isQuantized(t: Tensor): boolean {
  const q = t.quantization();
  const quantType = t.type() === TensorType.INT8 || t.type() === TensorType.UINT8 || t.type() === TensorType.INT16;
  return quantType && q !== null && q.scaleLength() > 0;
}

/** The session element type and ONNX data type code a TFLite tensor type is held as, if atrous has one. */
export function elemTypeOfTflite(type: TensorType): { elemType: ElemType; onnx: number } | undefined {
  switch (type) {
    case TensorType.FLOAT32: return { elemType: 'float32', onnx: OnnxDataType.FLOAT };
    case TensorType.FLOAT16: return { elemType: 'float32', onnx: OnnxDataType.FLOAT16 };
    case TensorType.INT32: return { elemType: 'int32', onnx: OnnxDataType.INT32 };
    case TensorType.INT64: return { elemType: 'int64', onnx: OnnxDataType.INT64 };
    case TensorType.BOOL: return { elemType: 'bool', onnx: OnnxDataType.BOOL };
    case TensorType.UINT8: return { elemType: 'uint8', onnx: OnnxDataType.UINT8 };
    default: return undefined;
  }
}

/** The bytes of a tensor's buffer, or undefined for a tensor computed at run (buffer 0 or empty). */
export function bufferBytes(model: Model, file: Uint8Array, t: Tensor, index: number): Uint8Array | undefined {
  const b = t.buffer();
  if (b === 0) return undefined;
  if (b >= model.buffersLength()) throw new AtrousError('INVALID_MODEL', `${tensorLabel(t, index)}: buffer ${b} does not exist (the model has ${model.buffersLength()})`);
  const buffer = model.buffers(b)!;
  const data = buffer.dataArray();
  if (data && data.length > 0) return data;
  // Models over 2 GB keep buffers after the flatbuffer, at an offset from the start of the file.
  const offset = Number(buffer.offset());
  const size = Number(buffer.size());
  if (offset > 1 && size > 0) {
    if (offset + size > file.length) throw new AtrousError('INVALID_MODEL', `${tensorLabel(t, index)}: its data (${size} bytes at ${offset}) lies past the end of the ${file.length}-byte file`);
    return file.subarray(offset, offset + size);
  }
  return undefined;
}

/**
 * A constant tensor decoded to a host tensor: float16 widened to float32, int8/uint8 weights dequantised
 * (`scale * (q - zero_point)`, per tensor or per axis) when `dequantize` is set.
 */
export function decodeConstant(t: Tensor, index: number, bytes: Uint8Array, dequantize = false): HostTensor {
  const dims = tensorDims(t);
  const count = dims.reduce((a, b) => a * b, 1);
  const label = tensorLabel(t, index);
  const type = t.type();
  const width = type === TensorType.FLOAT16 || type === TensorType.INT16 ? 2 : type === TensorType.INT64 ? 8
    : type === TensorType.INT8 || type === TensorType.UINT8 || type === TensorType.BOOL ? 1 : 4;
  if (bytes.length < count * width) {
    throw new AtrousError('INVALID_MODEL', `${label}: dims ${show(dims)} need ${count * width} bytes, its buffer holds ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case TensorType.FLOAT32: {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(4 * i, true);
      return { type: 'float32', dims, data };
    }
    case TensorType.FLOAT16: {
      const table = halfTableF32();
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = table[view.getUint16(2 * i, true)]!;
      return { type: 'float32', dims, data };
    }
    case TensorType.INT32: case TensorType.INT64: {
      const data = new Float64Array(count);
      for (let i = 0; i < count; i++) data[i] = type === TensorType.INT32 ? view.getInt32(4 * i, true) : Number(view.getBigInt64(8 * i, true));
      return { type: type === TensorType.INT32 ? 'int32' : 'int64', dims, data };
    }
    case TensorType.INT8: case TensorType.UINT8: case TensorType.INT16: {
      if (dequantize && isQuantized(t)) return dequantized(t, label, dims, (i) => (type === TensorType.INT8 ? view.getInt8(i) : type === TensorType.UINT8 ? view.getUint8(i) : view.getInt16(2 * i, true)));
      if (type === TensorType.UINT8) return { type: 'uint8', dims, data: bytes.slice(0, count) };
      throw new AtrousError('UNSUPPORTED_OP', `${label} is an int8-quantised constant, which atrous runs only through a DEQUANTIZE`);
    }
    case TensorType.BOOL:
      return { type: 'bool', dims, data: bytes.slice(0, count) };
    default:
      throw new AtrousError('UNSUPPORTED', `${label} has type ${TensorType[type] ?? type}, which atrous does not read`);
  }
}

function dequantized(t: Tensor, label: string, dims: number[], read: (i: number) => number): HostTensor {
  const q = t.quantization()!;
  const scales = Array.from(q.scaleArray() ?? []);
  const zeros = Array.from({ length: q.zeroPointLength() }, (_, i) => Number(q.zeroPoint(i) ?? 0n));
  const axis = scales.length > 1 ? q.quantizedDimension() : -1;
  if (axis >= 0 && (axis >= dims.length || dims[axis] !== scales.length)) {
    throw new AtrousError('INVALID_MODEL', `${label}: ${scales.length} scales do not fit dims ${show(dims)} at quantized_dimension ${axis}`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const inner = axis < 0 ? count : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const c = axis < 0 ? 0 : Math.floor(i / inner) % scales.length;
    data[i] = scales[c]! * (read(i) - (zeros[c] ?? zeros[0] ?? 0));
  }
  return { type: 'float32', dims, data };
}
