import { AtrousError, Tensor } from 'atrous';
import type { ModelSpec } from './model-spec.js';

/** 8-bit RGBA pixels, row-major, 4 bytes per pixel (what canvases, pngjs and jpeg-js all produce). */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

export function checkImage(image: RgbaImage, name: string): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new AtrousError('INVALID_ARGUMENT', `${name}: width and height must be positive integers, got ${width}x${height}`);
  }
  if (data.length !== width * height * 4) {
    throw new AtrousError('INVALID_ARGUMENT', `${name}: a ${width}x${height} RGBA image needs ${width * height * 4} bytes, got ${data.length}`);
  }
}

/** Largest size with the same aspect ratio that fits in `max` x `max` (never enlarges). */
export function fitWithin(width: number, height: number, max: number): { width: number; height: number } {
  const scale = Math.min(1, max / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * Weights of a triangle (bilinear) filter from `inSize` samples to `outSize`, half-pixel centres. When
 * shrinking, the filter widens by the scale so every input pixel contributes (antialiasing, as PIL does):
 * a 1024-pixel photo shrunk to 256 would otherwise alias into noise the model has never seen.
 */
function filterTaps(inSize: number, outSize: number): { start: Int32Array; count: Int32Array; weights: Float32Array; width: number } {
  const scale = inSize / outSize;
  const support = Math.max(1, scale);
  const width = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * width);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(inSize, Math.ceil(centre + support));
    let total = 0;
    let n = 0;
    for (let i = lo; i < hi && n < width; i++, n++) {
      const w = Math.max(0, 1 - Math.abs((i + 0.5 - centre) / support));
      weights[o * width + n] = w;
      total += w;
    }
    if (total === 0) {
      // Magnifying exactly between samples at the border: take the nearest one.
      weights[o * width] = 1;
      total = 1;
      n = Math.max(n, 1);
    }
    for (let k = 0; k < n; k++) weights[o * width + k] /= total;
    start[o] = lo;
    count[o] = n;
  }
  return { start, count, weights, width };
}

/**
 * Resamples an image to `width` x `height` as normalised float planes [3, H, W] ready for a model:
 * x = (pixel / 255 - mean) / std. Separable: rows first, then columns. Alpha is ignored (treated as opaque).
 */
export function imageToPlanes(image: RgbaImage, width: number, height: number, mean: readonly number[], std: readonly number[]): Float32Array {
  checkImage(image, 'imageToPlanes: image');
  const { width: inW, height: inH, data } = image;
  const h = filterTaps(inW, width);
  // Horizontal pass: [inH, width, 3] in 0..255.
  const rows = new Float32Array(inH * width * 3);
  for (let y = 0; y < inH; y++) {
    const rowIn = y * inW * 4;
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const s = h.start[x];
      for (let k = 0; k < h.count[x]; k++) {
        const w = h.weights[x * h.width + k];
        const p = rowIn + (s + k) * 4;
        r += w * data[p];
        g += w * data[p + 1];
        b += w * data[p + 2];
      }
      const q = (y * width + x) * 3;
      rows[q] = r;
      rows[q + 1] = g;
      rows[q + 2] = b;
    }
  }
  const v = filterTaps(inH, height);
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  const scale = [1 / (255 * std[0]), 1 / (255 * std[1]), 1 / (255 * std[2])];
  const offset = [mean[0] / std[0], mean[1] / std[1], mean[2] / std[2]];
  for (let y = 0; y < height; y++) {
    const s = v.start[y];
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < v.count[y]; k++) {
        const w = v.weights[y * v.width + k];
        const q = ((s + k) * width + x) * 3;
        r += w * rows[q];
        g += w * rows[q + 1];
        b += w * rows[q + 2];
      }
      const i = y * width + x;
      out[i] = r * scale[0] - offset[0];
      out[plane + i] = g * scale[1] - offset[1];
      out[2 * plane + i] = b * scale[2] - offset[2];
    }
  }
  return out;
}

/** Planes [C, H, W] -> interleaved [H, W, C] (what NHWC models such as TFLite's take). */
export function planesToNhwc(planes: Float32Array, height: number, width: number): Float32Array {
  const plane = height * width;
  const channels = planes.length / plane;
  if (!Number.isInteger(channels)) {
    throw new AtrousError('INVALID_SHAPE', `planesToNhwc: ${planes.length} values are not whole planes of ${height}x${width}`);
  }
  const out = new Float32Array(planes.length);
  for (let c = 0; c < channels; c++) {
    const base = c * plane;
    for (let p = 0; p < plane; p++) out[p * channels + c] = planes[base + p];
  }
  return out;
}

/**
 * The model input for an image at `size` ([height, width], see chooseInputSize): [1, 3, H, W], or
 * [1, H, W, 3] for an NHWC model (spec.layout).
 */
export function imageToTensor(image: RgbaImage, spec: ModelSpec, size: [number, number]): Tensor<'float32'> {
  const [height, width] = size;
  const planes = imageToPlanes(image, width, height, spec.mean, spec.std);
  if (spec.layout === 'nhwc') return new Tensor('float32', planesToNhwc(planes, height, width), [1, height, width, 3]);
  return new Tensor('float32', planes, [1, 3, height, width]);
}
