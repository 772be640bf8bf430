import { AtrousError, show } from './errors.js';

export type TensorType = 'float32' | 'int32' | 'int64' | 'uint8' | 'bool';

export interface TensorDataTypes {
  float32: Float32Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

const ARRAY_TYPES: { [T in TensorType]: new (length: number) => TensorDataTypes[T] } = {
  float32: Float32Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

/**
 * A dense tensor in row-major order, shaped like onnxruntime-web's: `new Tensor('float32', data, dims)`.
 * Images and feature maps are NCHW: `[N, C, H, W]`.
 */
export class Tensor<T extends TensorType = TensorType> {
  readonly type: T;
  readonly data: TensorDataTypes[T];
  readonly dims: readonly number[];

  constructor(type: T, data: TensorDataTypes[T] | readonly number[], dims?: readonly number[]) {
    if (!(type in ARRAY_TYPES)) {
      throw new AtrousError('INVALID_TENSOR', `Tensor: type must be one of ${Object.keys(ARRAY_TYPES).join(', ')}, got ${show(type)}`);
    }
    const ArrayType = ARRAY_TYPES[type];
    let typed: TensorDataTypes[T];
    if (Array.isArray(data)) {
      typed = new ArrayType(data.length);
      data.forEach((x, i) => ((typed as unknown as unknown[])[i] = type === 'int64' ? BigInt(x) : x));
    } else if (data instanceof ArrayType) {
      typed = data as TensorDataTypes[T];
    } else {
      const got = (data as object)?.constructor?.name ?? typeof data;
      throw new AtrousError('INVALID_TENSOR', `Tensor: data for type ${show(type)} must be a ${ArrayType.name}, got ${got}`);
    }
    const shape = dims ?? [typed.length];
    for (const [i, d] of shape.entries()) {
      if (!Number.isInteger(d) || d < 0) {
        throw new AtrousError('INVALID_TENSOR', `Tensor: dims[${i}] must be a non-negative integer, got ${show(d)} in dims ${show(shape)}`);
      }
    }
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== typed.length) {
      throw new AtrousError('INVALID_TENSOR', `Tensor: data has ${typed.length} elements but dims ${show(shape)} need ${size}`);
    }
    this.type = type;
    this.data = typed;
    this.dims = Object.freeze([...shape]);
    // Frozen so that dims and data cannot be swapped after the length check above (the kernels trust it).
    Object.freeze(this);
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }
}

/** Checks that `value` is a float32 Tensor of the given rank; `name` is how the caller calls it. */
export function expectFloat32(value: unknown, name: string, rank: number, layout: string): Tensor<'float32'> {
  if (!(value instanceof Tensor)) {
    throw new AtrousError('INVALID_TENSOR', `${name} must be a Tensor, got ${show(value)}`);
  }
  if (value.type !== 'float32') {
    throw new AtrousError('INVALID_TENSOR', `${name} must be a float32 tensor, got type ${show(value.type)}`);
  }
  if (value.dims.length !== rank) {
    throw new AtrousError('INVALID_SHAPE', `${name} must have rank ${rank} ${layout}, got dims ${show(value.dims)}`);
  }
  // A Tensor checks its length when built and is frozen, but anything shaped like one could reach here.
  const size = value.dims.reduce((a, b) => a * b, 1);
  if (value.data.length !== size) {
    throw new AtrousError('INVALID_TENSOR', `${name} has ${value.data.length} elements but dims ${show(value.dims)} need ${size}`);
  }
  return value as Tensor<'float32'>;
}
