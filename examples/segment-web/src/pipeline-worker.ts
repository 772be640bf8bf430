// Everything around inference that touches every pixel runs here, off the main thread: decoding the file,
// resampling it into the model's input, turning scores into a mask, colouring it and encoding the PNG.
// The main thread only draws the results, so it stays free for frames while the pool runs the model.
import * as Comlink from 'comlink';
import { classShares, colorizeMask, decodeMask, imageToPlanes, type ModelSpec, type RgbaImage } from 'segment-core';
import { decodeImage } from './image-input.js';

let current: { id: number; image: RgbaImage } | undefined;

function image(id: number): RgbaImage {
  if (current?.id !== id) throw new Error(`pipeline: image ${id} is no longer open`);
  return current.image;
}

const api = {
  /** Decodes a file; keeps the pixels for `prepare` and sends a copy back for display. */
  async open(id: number, blob: Blob) {
    const decoded = await decodeImage(blob);
    current = { id, image: decoded.image };
    const pixels = new Uint8ClampedArray(decoded.image.data);
    const { width, height } = decoded.image;
    return Comlink.transfer({ width, height, pixels, scaled: decoded.scaled, original: decoded.original }, [pixels.buffer]);
  },

  /** The model input planes [3, H, W] for the open image. */
  prepare(id: number, size: [number, number], mean: number[], std: number[]): Float32Array {
    const planes = imageToPlanes(image(id), size[1], size[0], mean, std);
    return Comlink.transfer(planes, [planes.buffer]);
  },

  /** Scores -> mask at the image's size, the overlay (background transparent) and the mask as a PNG. */
  async finish(id: number, scores: Float32Array, dims: number[], spec: ModelSpec) {
    const { width, height } = image(id);
    const mask = decodeMask({ data: scores, dims }, spec, width, height);
    const overlay = colorizeMask(mask, spec.colors, spec.background).data as Uint8ClampedArray;
    const opaque = colorizeMask(mask, spec.colors).data as Uint8ClampedArray<ArrayBuffer>;
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext('2d')!.putImageData(new ImageData(opaque, width, height), 0, 0);
    const png = await canvas.convertToBlob({ type: 'image/png' });
    const shares = classShares(mask, spec.classes.length);
    return Comlink.transfer({ overlay, png, shares }, [overlay.buffer]);
  },
};

export type PipelineApi = typeof api;
Comlink.expose(api);
