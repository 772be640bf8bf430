// Turning what the user gives (a file, a sample URL) into RGBA pixels the pipeline reads.
import { fitWithin, type RgbaImage } from 'segment-core';

/**
 * Largest side the page works at. Pre- and post-processing run on the main thread in time proportional to
 * the pixels; beyond this a phone photo would cost a visible pause. The model input is far smaller anyway.
 */
export const MAX_SIDE = 2048;

/**
 * Decodes an image without colour management or premultiplication, so the pixels are the file's own
 * (the same numbers pngjs and jpeg-js give segment-node).
 */
export async function decodeImage(blob: Blob): Promise<{ image: RgbaImage; scaled: boolean; original: { width: number; height: number } }> {
  const options: ImageBitmapOptions = { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' };
  let bitmap = await createImageBitmap(blob, options);
  const original = { width: bitmap.width, height: bitmap.height };
  const fit = fitWithin(bitmap.width, bitmap.height, MAX_SIDE);
  const scaled = fit.width !== bitmap.width || fit.height !== bitmap.height;
  if (scaled) {
    bitmap.close();
    bitmap = await createImageBitmap(blob, { ...options, resizeWidth: fit.width, resizeHeight: fit.height, resizeQuality: 'high' });
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('decodeImage: no 2D canvas context');
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
  return { image: { width: pixels.width, height: pixels.height, data: pixels.data }, scaled, original };
}

export async function fetchBlob(url: string): Promise<Blob> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.blob();
}
