import { AtrousError } from 'atrous';
import type { RgbaImage } from './image.js';
import type { ModelSpec, Rgb } from './model-spec.js';

/** One class index per pixel, row-major. */
export interface ClassMask {
  width: number;
  height: number;
  data: Uint8Array;
}

/** What a session returns for one output: float scores [1, C, h, w] (or [C, h, w]). */
export interface ScoreMap {
  data: Float32Array;
  dims: readonly number[];
}

/** [1, H, W, C] scores (an NHWC model's output) as [1, C, H, W]. */
export function nhwcToNchw(scores: ScoreMap): ScoreMap {
  if (scores.dims.length !== 4 || scores.dims[0] !== 1) {
    throw new AtrousError('INVALID_SHAPE', `nhwcToNchw: scores must be [1, H, W, C], got dims [${scores.dims.join(', ')}]`);
  }
  const [, h, w, c] = scores.dims;
  if (scores.data.length !== h * w * c) {
    throw new AtrousError('INVALID_SHAPE', `nhwcToNchw: scores hold ${scores.data.length} values, dims [${scores.dims.join(', ')}] need ${h * w * c}`);
  }
  if (c === 1) return { data: scores.data, dims: [1, 1, h, w] };
  const plane = h * w;
  const out = new Float32Array(scores.data.length);
  for (let p = 0; p < plane; p++) for (let k = 0; k < c; k++) out[k * plane + p] = scores.data[p * c + k];
  return { data: out, dims: [1, c, h, w] };
}

/**
 * Turns a model's output into a class mask at `width` x `height` (the image's size): scores are sampled
 * bilinearly (half-pixel centres, the same mapping as the input resampling) and the best class wins;
 * a one-channel probability output is thresholded at 0.5 (or at 0 when it holds logits, i.e. leaves [0, 1]).
 * Upsampling the scores, not the argmax, keeps the edges smooth instead of blocky.
 */
export function decodeMask(scores: ScoreMap, spec: ModelSpec, width: number, height: number): ClassMask {
  if (spec.layout === 'nhwc') scores = nhwcToNchw(scores);
  const dims = scores.dims.length === 4 ? scores.dims : scores.dims.length === 3 ? [1, ...scores.dims] : undefined;
  if (!dims || dims[0] !== 1) {
    throw new AtrousError('INVALID_SHAPE', `decodeMask: scores must be [1, C, H, W], got dims [${scores.dims.join(', ')}]`);
  }
  const [, channels, inH, inW] = dims;
  if (scores.data.length !== channels * inH * inW) {
    throw new AtrousError('INVALID_SHAPE', `decodeMask: scores hold ${scores.data.length} values, dims [${dims.join(', ')}] need ${channels * inH * inW}`);
  }
  if (channels > 255) throw new AtrousError('INVALID_SHAPE', `decodeMask: at most 255 classes fit a mask, got ${channels} channels`);
  if (channels > 1 && channels > spec.classes.length) {
    throw new AtrousError('INVALID_SHAPE', `decodeMask: the model outputs ${channels} channels but names ${spec.classes.length} classes`);
  }
  const data = scores.data;
  const plane = inH * inW;
  // Per output column / row: the two source indices and the weight of the second.
  const axis = (outSize: number, inSize: number) => {
    const i0 = new Int32Array(outSize);
    const i1 = new Int32Array(outSize);
    const t = new Float32Array(outSize);
    for (let o = 0; o < outSize; o++) {
      const src = Math.min(Math.max((o + 0.5) * (inSize / outSize) - 0.5, 0), inSize - 1);
      i0[o] = Math.floor(src);
      i1[o] = Math.min(i0[o] + 1, inSize - 1);
      t[o] = src - i0[o];
    }
    return { i0, i1, t };
  };
  const ax = axis(width, inW);
  const ay = axis(height, inH);
  const mask = new Uint8Array(width * height);
  let threshold = 0.5;
  if (channels === 1) {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < plane; i++) {
      if (data[i] < min) min = data[i];
      if (data[i] > max) max = data[i];
    }
    if (min < -1e-3 || max > 1 + 1e-3) threshold = 0;
  }
  for (let y = 0; y < height; y++) {
    const r0 = ay.i0[y] * inW;
    const r1 = ay.i1[y] * inW;
    const ty = ay.t[y];
    for (let x = 0; x < width; x++) {
      const c0 = ax.i0[x];
      const c1 = ax.i1[x];
      const tx = ax.t[x];
      const w00 = (1 - ty) * (1 - tx);
      const w01 = (1 - ty) * tx;
      const w10 = ty * (1 - tx);
      const w11 = ty * tx;
      let best = 0;
      if (channels === 1) {
        const v = w00 * data[r0 + c0] + w01 * data[r0 + c1] + w10 * data[r1 + c0] + w11 * data[r1 + c1];
        best = v > threshold ? 1 : 0;
      } else {
        let bestScore = -Infinity;
        for (let c = 0, base = 0; c < channels; c++, base += plane) {
          const v = w00 * data[base + r0 + c0] + w01 * data[base + r0 + c1] + w10 * data[base + r1 + c0] + w11 * data[base + r1 + c1];
          if (v > bestScore) {
            bestScore = v;
            best = c;
          }
        }
      }
      mask[y * width + x] = best;
    }
  }
  return { width, height, data: mask };
}

/**
 * The mask in class colours. With `transparent` set, that class (the background) gets alpha 0, which is
 * what an overlay drawn over the photo wants; the mask files keep every pixel opaque.
 */
export function colorizeMask(mask: ClassMask, colors: readonly Rgb[], transparent = -1): RgbaImage {
  const out = new Uint8ClampedArray(mask.width * mask.height * 4);
  for (let i = 0; i < mask.data.length; i++) {
    const c = mask.data[i];
    const [r, g, b] = colors[c] ?? [255, 255, 255];
    out[4 * i] = r;
    out[4 * i + 1] = g;
    out[4 * i + 2] = b;
    out[4 * i + 3] = c === transparent ? 0 : 255;
  }
  return { width: mask.width, height: mask.height, data: out };
}

/** The photo with the class colours blended in at `opacity` (background left as it is). */
export function overlayMask(image: RgbaImage, mask: ClassMask, spec: ModelSpec, opacity = 0.5): RgbaImage {
  if (image.width !== mask.width || image.height !== mask.height) {
    throw new AtrousError('INVALID_SHAPE', `overlayMask: image is ${image.width}x${image.height} but mask is ${mask.width}x${mask.height}`);
  }
  const out = new Uint8ClampedArray(image.width * image.height * 4);
  for (let i = 0; i < mask.data.length; i++) {
    const c = mask.data[i];
    const a = c === spec.background ? 0 : opacity;
    const [r, g, b] = spec.colors[c] ?? [255, 255, 255];
    out[4 * i] = image.data[4 * i] * (1 - a) + r * a;
    out[4 * i + 1] = image.data[4 * i + 1] * (1 - a) + g * a;
    out[4 * i + 2] = image.data[4 * i + 2] * (1 - a) + b * a;
    out[4 * i + 3] = 255;
  }
  return { width: image.width, height: image.height, data: out };
}

/** Reads a colour mask back into class indices (nearest palette colour; exact for masks written by colorizeMask). */
export function maskFromColors(image: RgbaImage, colors: readonly Rgb[]): ClassMask {
  const data = new Uint8Array(image.width * image.height);
  for (let i = 0; i < data.length; i++) {
    const r = image.data[4 * i];
    const g = image.data[4 * i + 1];
    const b = image.data[4 * i + 2];
    let best = 0;
    let bestDistance = Infinity;
    for (let c = 0; c < colors.length; c++) {
      const d = (r - colors[c][0]) ** 2 + (g - colors[c][1]) ** 2 + (b - colors[c][2]) ** 2;
      if (d < bestDistance) {
        bestDistance = d;
        best = c;
      }
    }
    data[i] = best;
  }
  return { width: image.width, height: image.height, data };
}

/** Per-class intersection over union of two masks, and their mean over the classes present in either. */
export function maskIoU(a: ClassMask, b: ClassMask, classCount: number): { perClass: (number | undefined)[]; mean: number; pixelAgreement: number } {
  if (a.width !== b.width || a.height !== b.height) {
    throw new AtrousError('INVALID_SHAPE', `maskIoU: masks are ${a.width}x${a.height} and ${b.width}x${b.height}`);
  }
  const inter = new Float64Array(classCount);
  const union = new Float64Array(classCount);
  let agree = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i];
    const y = b.data[i];
    if (x === y) {
      inter[x]++;
      union[x]++;
      agree++;
    } else {
      union[x]++;
      union[y]++;
    }
  }
  const perClass = Array.from(union, (u, c) => (u === 0 ? undefined : inter[c] / u));
  const present = perClass.filter((v): v is number => v !== undefined);
  return { perClass, mean: present.reduce((s, v) => s + v, 0) / Math.max(1, present.length), pixelAgreement: agree / a.data.length };
}

/** Fraction of the image each class covers. */
export function classShares(mask: ClassMask, classCount: number): number[] {
  const counts = new Float64Array(classCount);
  for (let i = 0; i < mask.data.length; i++) counts[mask.data[i]]++;
  return Array.from(counts, (c) => c / mask.data.length);
}

/**
 * A one-channel probability output (a person or foreground model) as a soft alpha matte at `width` x
 * `height`: bilinear like decodeMask, 0..255. Logit outputs (values outside [0, 1]) go through a sigmoid.
 */
export function probabilityAlpha(scores: ScoreMap, spec: ModelSpec, width: number, height: number): Uint8Array {
  if (spec.layout === 'nhwc') scores = nhwcToNchw(scores);
  const dims = scores.dims.length === 4 ? scores.dims : scores.dims.length === 3 ? [1, ...scores.dims] : undefined;
  if (!dims || dims[0] !== 1 || dims[1] !== 1 || scores.data.length !== dims[2] * dims[3]) {
    throw new AtrousError('INVALID_SHAPE', `probabilityAlpha: scores must be one channel [1, 1, H, W], got dims [${scores.dims.join(', ')}]`);
  }
  const [, , inH, inW] = dims;
  const data = scores.data;
  let logits = false;
  for (let i = 0; i < data.length; i++) {
    if (data[i] < -1e-3 || data[i] > 1 + 1e-3) {
      logits = true;
      break;
    }
  }
  const out = new Uint8Array(width * height);
  const sy = inH / height;
  const sx = inW / width;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), inH - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, inH - 1);
    const ty = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), inW - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, inW - 1);
      const tx = fx - x0;
      let v = (1 - ty) * ((1 - tx) * data[y0 * inW + x0] + tx * data[y0 * inW + x1]) + ty * ((1 - tx) * data[y1 * inW + x0] + tx * data[y1 * inW + x1]);
      if (logits) v = 1 / (1 + Math.exp(-v));
      out[y * width + x] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
  }
  return out;
}

/** The image with `alpha` (0..255 per pixel, e.g. probabilityAlpha) as its alpha channel: a cut-out. */
export function cutout(image: RgbaImage, alpha: Uint8Array): RgbaImage {
  if (alpha.length !== image.width * image.height) {
    throw new AtrousError('INVALID_SHAPE', `cutout: ${image.width}x${image.height} image but ${alpha.length} alpha values`);
  }
  const out = new Uint8ClampedArray(image.width * image.height * 4);
  for (let i = 0; i < alpha.length; i++) {
    out[4 * i] = image.data[4 * i];
    out[4 * i + 1] = image.data[4 * i + 1];
    out[4 * i + 2] = image.data[4 * i + 2];
    out[4 * i + 3] = alpha[i];
  }
  return { width: image.width, height: image.height, data: out };
}
