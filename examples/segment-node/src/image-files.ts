// Image files in and out through sharp (libvips, prebuilt from npm): PNG, JPEG, WebP, AVIF and TIFF in, with
// EXIF orientation applied so a portrait phone photo and its mask stand the same way up; PNG out. Every pass
// over full-size pixels (decode, resize, encode, blend) runs in libvips' threads, not in JavaScript loops.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import { AtrousError } from 'atrous';
import type { RgbaImage } from 'segment-core';

/** What folders are scanned for (by extension; the decoder itself goes by the file's bytes). */
export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.avif', '.tif', '.tiff']);

/** Largest image decoded, in pixels: 64 megapixels (a 256 MB RGBA buffer). */
const MAX_PIXELS = 64 * 1024 * 1024;

/** A file sharp cannot decode: the error carries the decoder's own reason, and retrying will not help. */
export class UndecodableImageError extends AtrousError {
  constructor(name: string, reason: string) {
    // libvips repeats its warnings, one per line: keep each once, on one line.
    const said = [...new Set(reason.split('\n').map((line) => line.trim()).filter(Boolean))].join('; ');
    super('INVALID_ARGUMENT', `decodeImage: ${name} is not a readable image (${said})`);
    this.name = 'UndecodableImageError';
  }
}

/**
 * Decodes an image file's bytes into upright 8-bit RGBA (EXIF orientation applied, then dropped).
 * `name` goes into errors. Corrupt or truncated data fails instead of decoding half an image.
 */
export async function decodeImage(bytes: Uint8Array, name: string): Promise<RgbaImage> {
  if (bytes.byteLength === 0) throw new UndecodableImageError(name, 'empty file');
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error', limitInputPixels: MAX_PIXELS })
      .rotate() // no angle: turn by the EXIF orientation, then drop the tag
      .toColourspace('srgb')
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (cause) {
    throw new UndecodableImageError(name, (cause as Error).message ?? String(cause));
  }
}

function rawInput(image: RgbaImage) {
  return sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 4 },
    limitInputPixels: false,
  });
}

/**
 * The image resized to `width` x `height` (aspect ratio not kept: the caller chose the size), RGB, row-major,
 * 3 bytes per pixel. Triangle (bilinear) filter, widened when shrinking so every pixel contributes.
 */
export async function resizeToRgb(image: RgbaImage, width: number, height: number): Promise<Uint8Array> {
  const data = await rawInput(image).removeAlpha().resize(width, height, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A label map (one byte per pixel, value = class index) resized to `width` x `height` by nearest neighbour:
 * labels are ids, so blending two of them would invent a third class.
 */
export async function resizeLabels(labels: Uint8Array, fromWidth: number, fromHeight: number, width: number, height: number): Promise<Uint8Array> {
  if (fromWidth === width && fromHeight === height) return labels;
  const data = await sharp(Buffer.from(labels.buffer, labels.byteOffset, labels.byteLength), { raw: { width: fromWidth, height: fromHeight, channels: 1 }, limitInputPixels: false })
    .resize(width, height, { fit: 'fill', kernel: 'nearest' })
    .raw()
    .toBuffer();
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** RGBA pixels as an 8-bit RGBA PNG. */
export async function encodePng(image: RgbaImage): Promise<Buffer> {
  return rawInput(image).png({ compressionLevel: 6 }).toBuffer();
}

/**
 * `image` with `layer` (RGBA: alpha 0 where the image shows through) blended over it at `opacity`,
 * as an opaque RGBA PNG.
 */
export async function blendPng(image: RgbaImage, layer: RgbaImage, opacity: number): Promise<Buffer> {
  const over = await rawInput(layer).linear([1, 1, 1, opacity], [0, 0, 0, 0]).raw().toBuffer();
  return rawInput(image)
    .composite([{ input: over, raw: { width: layer.width, height: layer.height, channels: 4 }, blend: 'over' }])
    .png({ compressionLevel: 6 })
    .toBuffer();
}

/**
 * Writes `bytes` to `path` so that readers only ever see the whole file: into `<dir>/.partial/` first (same
 * folder, so the same filesystem), then one rename. Two writers of the same path leave one complete file.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const partial = join(dirname(path), '.partial');
  await mkdir(partial, { recursive: true });
  const temp = join(partial, `${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
