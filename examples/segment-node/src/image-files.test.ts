// sharp's decoding as the CLI uses it: every format it promises, EXIF orientation applied, bad bytes refused.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { blendPng, decodeImage, encodePng, resizeToRgb, UndecodableImageError, writeFileAtomic } from './image-files.js';

/** 24 x 16 RGB: left half red, right half blue, with a green top row to tell up from down. */
function landscape(): Buffer {
  const w = 24;
  const h = 16;
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) data.set(y < 2 ? [0, 200, 0] : x < w / 2 ? [220, 20, 20] : [20, 20, 220], 3 * (y * w + x));
  }
  return data;
}
const source = () => sharp(landscape(), { raw: { width: 24, height: 16, channels: 3 } });
const at = (image: { width: number; data: Uint8Array }, x: number, y: number) => Array.from(image.data.subarray(4 * (y * image.width + x), 4 * (y * image.width + x) + 4));
const near = (a: number[], b: number[], tolerance: number) => a.every((v, i) => Math.abs(v - b[i]) <= tolerance);

const dir = mkdtempSync(join(tmpdir(), 'atrous-image-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('decodeImage (sharp)', () => {
  const formats: [string, (s: sharp.Sharp) => sharp.Sharp, number][] = [
    ['png', (s) => s.png(), 0],
    ['jpeg', (s) => s.jpeg({ quality: 95 }), 24],
    ['webp', (s) => s.webp({ lossless: true }), 0],
    ['avif', (s) => s.avif({ lossless: true }), 2],
    ['tiff', (s) => s.tiff({ compression: 'lzw' }), 0],
  ];
  for (const [format, encode, tolerance] of formats) {
    it(`decodes ${format} into RGBA at its size`, async () => {
      const image = await decodeImage(await encode(source()).toBuffer(), `test.${format}`);
      expect([image.width, image.height, image.data.length]).toEqual([24, 16, 24 * 16 * 4]);
      expect(near(at(image, 2, 8), [220, 20, 20, 255], tolerance), `${format} left: ${at(image, 2, 8)}`).toBe(true);
      expect(near(at(image, 21, 8), [20, 20, 220, 255], tolerance), `${format} right: ${at(image, 21, 8)}`).toBe(true);
      expect(near(at(image, 12, 0), [0, 200, 0, 255], tolerance), `${format} top: ${at(image, 12, 0)}`).toBe(true);
    });
  }

  it('turns an EXIF-rotated JPEG upright (a portrait phone photo)', async () => {
    // Orientation 6: the stored pixels must be turned 90 degrees clockwise to be seen upright.
    const bytes = await source().jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(bytes).metadata()).orientation).toBe(6);
    const image = await decodeImage(bytes, 'portrait.jpg');
    expect([image.width, image.height]).toEqual([16, 24]);
    // Turned clockwise: the green top row is now the right column, red (left) is now the top.
    expect(near(at(image, 15, 12), [0, 200, 0, 255], 24), `right: ${at(image, 15, 12)}`).toBe(true);
    expect(near(at(image, 6, 2), [220, 20, 20, 255], 24), `top: ${at(image, 6, 2)}`).toBe(true);
    expect(near(at(image, 6, 21), [20, 20, 220, 255], 24), `bottom: ${at(image, 6, 21)}`).toBe(true);
  });

  it('refuses what is not an image, or half of one, with the decoder reason and the file name', async () => {
    await expect(decodeImage(new Uint8Array(0), 'empty.png')).rejects.toThrow(/decodeImage: empty\.png is not a readable image \(empty file\)/);
    await expect(decodeImage(Buffer.from('hello'), 'text.png')).rejects.toThrow(/text\.png is not a readable image \(Input buffer contains unsupported image format\)/);
    const png = await source().png().toBuffer();
    const truncated = decodeImage(png.subarray(0, png.length - 40), 'cut.png');
    await expect(truncated).rejects.toBeInstanceOf(UndecodableImageError);
    await expect(truncated).rejects.toThrow(/cut\.png is not a readable image \(.+\)/);
  });
});

describe('resizing and writing with sharp', () => {
  it('resizes to the size asked for, keeping the halves apart', async () => {
    const image = await decodeImage(await source().png().toBuffer(), 'test.png');
    const rgb = await resizeToRgb(image, 12, 8);
    expect(rgb.length).toBe(12 * 8 * 3);
    expect(Array.from(rgb.subarray(3 * (5 * 12 + 1), 3 * (5 * 12 + 1) + 3))).toEqual([220, 20, 20]);
    expect(Array.from(rgb.subarray(3 * (5 * 12 + 10), 3 * (5 * 12 + 10) + 3))).toEqual([20, 20, 220]);
  });

  it('writes PNGs that read back exactly, blends overlays, and leaves no partial file', async () => {
    const image = await decodeImage(await source().png().toBuffer(), 'test.png');
    const path = join(dir, 'x.mask.png');
    await writeFileAtomic(path, await encodePng(image));
    expect(Buffer.from((await decodeImage(readFileSync(path), path)).data).equals(Buffer.from(image.data))).toBe(true);
    expect(readdirSync(join(dir, '.partial'))).toEqual([]);
    // A layer that is white and opaque on the left half, transparent on the right, blended at 0.5.
    const layer = { width: 24, height: 16, data: new Uint8Array(24 * 16 * 4) };
    for (let i = 0; i < 24 * 16; i++) if (i % 24 < 12) layer.data.set([255, 255, 255, 255], 4 * i);
    const blended = await decodeImage(await blendPng(image, layer, 0.5), 'blend');
    expect(near(at(blended, 2, 8), [238, 138, 138, 255], 1), `blended: ${at(blended, 2, 8)}`).toBe(true);
    expect(at(blended, 21, 8)).toEqual([20, 20, 220, 255]);
  });
});
