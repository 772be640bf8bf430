// Tensors as they cross between the pool and its workers: plain { data, dims } whose buffers are transferred
// (moved, not copied by the structured clone). Errors cross through error-transfer.ts.
import { Tensor, type TensorDataTypes, type TensorType } from '../tensor.js';
import type { Conv2dOptions } from '../ops/conv-options.js';
import type { Conv1dOptions } from '../ops/conv1d.js';

export interface WireTensor {
  data: Float32Array;
  dims: number[];
}

/** A tensor of any element type (ONNX feeds and results). */
export interface WireAnyTensor {
  type: TensorType;
  data: TensorDataTypes[TensorType];
  dims: number[];
}

/** Conv options as they cross: the bias as a bare Float32Array, the residual as a WireTensor. */
export type WireConv2dOptions = Omit<Conv2dOptions, 'bias'> & { bias?: Float32Array; residual?: WireTensor };
export type WireConv1dOptions = Omit<Conv1dOptions, 'bias' | 'residual'> & { bias?: Float32Array; residual?: WireTensor };

/**
 * Collects the buffers to transfer with one message. `handOver` says whether the caller's own buffers may
 * be moved (they become detached, length 0, in the caller's thread) or must be copied first.
 */
export class Transfers {
  readonly list: ArrayBuffer[] = [];
  private readonly seen = new Set<ArrayBufferLike>();

  constructor(private readonly handOver: boolean) {}

  floats(data: Float32Array): Float32Array {
    return this.array(data);
  }

  array<A extends TensorDataTypes[TensorType]>(data: A): A {
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
    // A view into a larger buffer, a shared buffer, or a buffer already listed (the same tensor passed twice)
    // is copied: transferring it would move (or fail on) more than this array.
    const own = this.handOver && whole && !this.seen.has(data.buffer) ? data : (data.slice() as A);
    this.seen.add(own.buffer);
    this.list.push(own.buffer as ArrayBuffer);
    return own;
  }

  anyTensor(t: Tensor): WireAnyTensor {
    return { type: t.type, data: this.array(t.data), dims: [...t.dims] };
  }

  tensor(t: Tensor<'float32'>): WireTensor {
    return { data: this.floats(t.data), dims: [...t.dims] };
  }

  /** Buffers that this side produced itself (results): always moved. */
  static results(...arrays: Float32Array[]): ArrayBuffer[] {
    return arrays.map((a) => a.buffer as ArrayBuffer);
  }
}

export function toTensor(w: WireTensor): Tensor<'float32'> {
  return new Tensor('float32', w.data, w.dims);
}

export function toAnyTensor(w: WireAnyTensor): Tensor {
  return new Tensor(w.type, w.data, w.dims);
}

export function biasData(bias: Tensor<'float32'> | Float32Array | undefined): Float32Array | undefined {
  if (bias === undefined) return undefined;
  return bias instanceof Tensor ? (bias.data as Float32Array) : bias;
}
