// PNG and JPEG in, PNG out, with pure-JS codecs (pngjs, jpeg-js): no native build, same pixels everywhere.
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { AtrousError } from 'atrous';
import type { RgbaImage } from 'segment-core';

const { PNG } = pngjs;

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Largest image decoded, in pixels: 64 megapixels (a 256 MB RGBA buffer). */
const MAX_PIXELS = 64 * 1024 * 1024;

/** Decodes a PNG or JPEG by its first bytes (not its file name) into RGBA. `name` goes into errors. */
export function decodeImage(bytes: Uint8Array, name: string): RgbaImage {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (PNG_MAGIC.every((b, i) => buffer[i] === b)) {
    let png: { width: number; height: number; data: Buffer };
    try {
      png = PNG.sync.read(buffer);
    } catch (cause) {
      throw new AtrousError('INVALID_ARGUMENT', `decodeImage: ${name} is not a readable PNG (${(cause as Error).message})`);
    }
    return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
  }
  if (buffer[0] === 0xff && buffer[1] === 0xd8) {
    try {
      const img = jpeg.decode(buffer, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
      return { width: img.width, height: img.height, data: img.data };
    } catch (cause) {
      throw new AtrousError('INVALID_ARGUMENT', `decodeImage: ${name} is not a readable JPEG (${(cause as Error).message ?? String(cause)})`);
    }
  }
  const head = Array.from(buffer.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new AtrousError('INVALID_ARGUMENT', `decodeImage: ${name} is neither PNG nor JPEG (first bytes ${head || 'none: empty file'})`);
}

/** Encodes RGBA pixels as an 8-bit RGBA PNG. */
export function encodePng(image: RgbaImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return PNG.sync.write(png, { colorType: 6 });
}
