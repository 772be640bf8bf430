// The two MediaPipe selfie segmenters (npm @mediapipe/selfie_segmentation, Apache-2.0, placed in models/selfie/
// by scripts/setup.sh) and real photos as their [1, H, W, 3] inputs in [0, 1].
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { photoPlanes } from '../models/images.js';

export const selfieDir = resolve(import.meta.dirname, '../../models/selfie');

/** The model's path; a clear error when the setup has not placed it. */
function selfieModel(file: string): string {
  const path = join(selfieDir, file);
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`bash scripts/setup.sh\` (or \`node tools/fetch-selfie-models.mjs\`) to fetch the selfie models from npm`);
  return path;
}

export const selfieModels = {
  general: { path: selfieModel('selfie_segmentation.tflite'), height: 256, width: 256 },
  landscape: { path: selfieModel('selfie_segmentation_landscape.tflite'), height: 144, width: 256 },
} as const;

export const photoDir = '/usr/lib/python3/dist-packages/skimage/data';

/** The photo resized (bilinear, half-pixel) to H x W, as NHWC RGB in [0, 1]. */
export function photoNhwc(path: string, height: number, width: number): Float32Array {
  const planes = photoPlanes(path, height, width, { mean: [0, 0, 0], std: [255, 255, 255] });
  const plane = height * width;
  const out = new Float32Array(plane * 3);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = planes[c * plane + p]!;
  return out;
}

/** Mean of `mask` (H x W) over the rectangle [y0, y1) x [x0, x1) given as fractions of the size. */
export function regionMean(mask: Float32Array, height: number, width: number, [y0, y1, x0, x1]: [number, number, number, number]): number {
  let sum = 0, n = 0;
  for (let y = Math.floor(y0 * height); y < Math.ceil(y1 * height); y++) for (let x = Math.floor(x0 * width); x < Math.ceil(x1 * width); x++) {
    sum += mask[y * width + x]!;
    n++;
  }
  return sum / n;
}
