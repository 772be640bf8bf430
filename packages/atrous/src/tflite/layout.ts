import type { HostTensor } from '../onnx/data-types.js';

/**
 * TFLite lays 4-D feature maps out as [N, H, W, C]; atrous' kernels run [N, C, H, W]. These are the two
 * permutations and what they do to an axis.
 */
export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];

/** Where NHWC axis `a` (0..3) sits in NCHW. */
export function nchwAxis(a: number): number {
  return NHWC_TO_NCHW.indexOf(a);
}

/** `dims` permuted: result[i] = dims[perm[i]]. */
export function permuteDims(dims: readonly number[], perm: readonly number[]): number[] {
  return perm.map((p) => dims[p]!);
}

/** A copy of `t` with its axes permuted as ONNX Transpose does (result axis i is input axis perm[i]). */
export function permuteTensor(t: HostTensor, perm: readonly number[]): HostTensor {
  const rank = t.dims.length;
  const outDims = permuteDims(t.dims, perm);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1]! * t.dims[i + 1]!;
  const strides = perm.map((p) => inStrides[p]!);
  const out = new (t.data.constructor as new (n: number) => typeof t.data)(t.data.length);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += index[i]! * strides[i]!;
    out[o] = t.data[src]!;
    for (let i = rank - 1; i >= 0; i--) {
      if (++index[i]! < outDims[i]!) break;
      index[i] = 0;
    }
  }
  return { type: t.type, dims: outDims, data: out };
}
