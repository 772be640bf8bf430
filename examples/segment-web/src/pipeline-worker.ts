// Everything around inference that touches every pixel runs here, off the main thread: decoding the file,
// resampling it into the model's input, turning scores into a mask, colouring it and encoding the PNG.
// The main thread only draws the results, so it stays free for frames while the pool runs the model.
import * as Comlink from 'comlink';
import { classShares, colorizeMask, cutout, decodeMask, imageToPlanes, planesToNhwc, probabilityAlpha, type ModelSpec, type RgbaImage } from 'segment-core';
import { decodeImage } from './image-input.js';

let current: { id: number; image: RgbaImage } | undefined;
let camera: { canvas: OffscreenCanvas; ctx: OffscreenCanvasRenderingContext2D } | undefined;

async function encodePng(image: RgbaImage): Promise<Blob> {
  const canvas = new OffscreenCanvas(image.width, image.height);
  canvas.getContext('2d')!.putImageData(new ImageData(image.data as Uint8ClampedArray<ArrayBuffer>, image.width, image.height), 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}

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

  /** The model input for the open image: planes [3, H, W], or [H, W, 3] for an NHWC model. */
  prepare(id: number, size: [number, number], mean: number[], std: number[], layout: 'nchw' | 'nhwc' = 'nchw'): Float32Array {
    let planes = imageToPlanes(image(id), size[1], size[0], mean, std);
    if (layout === 'nhwc') planes = planesToNhwc(planes, size[0], size[1]);
    return Comlink.transfer(planes, [planes.buffer]);
  },

  /**
   * Camera: one frame (transferred here from the main thread) as the model input, resampled with the same
   * filter as photos. The frame goes back (transferred, not copied) so the page draws the very frame the
   * mask belongs to.
   */
  cameraInput(frame: ImageBitmap, size: [number, number], mean: number[], std: number[], layout: 'nchw' | 'nhwc') {
    if (!camera || camera.canvas.width !== frame.width || camera.canvas.height !== frame.height) {
      const canvas = new OffscreenCanvas(frame.width, frame.height);
      camera = { canvas, ctx: canvas.getContext('2d', { willReadFrequently: true })! };
    }
    camera.ctx.drawImage(frame, 0, 0);
    const pixels = camera.ctx.getImageData(0, 0, frame.width, frame.height);
    let input = imageToPlanes({ width: pixels.width, height: pixels.height, data: pixels.data }, size[1], size[0], mean, std);
    if (layout === 'nhwc') input = planesToNhwc(input, size[0], size[1]);
    return Comlink.transfer({ input, frame }, [input.buffer, frame]);
  },

  /** Camera: the model's probability output as a white matte (alpha = person probability) at its own size. */
  async cameraMask(scores: Float32Array, dims: number[], spec: ModelSpec) {
    const layoutDims = spec.layout === 'nhwc' ? dims.slice(1, 3) : dims.slice(2, 4);
    const [height, width] = layoutDims;
    const alpha = probabilityAlpha({ data: scores, dims }, spec, width, height);
    const rgba = new Uint8ClampedArray(width * height * 4);
    let person = 0;
    for (let i = 0; i < alpha.length; i++) {
      rgba[4 * i] = 255;
      rgba[4 * i + 1] = 255;
      rgba[4 * i + 2] = 255;
      rgba[4 * i + 3] = alpha[i];
      if (alpha[i] > 127) person++;
    }
    const mask = await createImageBitmap(new ImageData(rgba, width, height), { premultiplyAlpha: 'premultiply' });
    // The scores go back too (the page keeps the last frame's for a snapshot).
    return Comlink.transfer({ mask, share: person / alpha.length, scores }, [mask, scores.buffer]);
  },

  /** Camera snapshot: a frame as a PNG, and its mask (at the frame's size, as photos get it) as a PNG. */
  async cameraSnapshot(frame: ImageBitmap, scores: Float32Array, dims: number[], spec: ModelSpec) {
    const { width, height } = frame;
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext('2d')!.drawImage(frame, 0, 0);
    frame.close();
    const framePng = await canvas.convertToBlob({ type: 'image/png' });
    const mask = decodeMask({ data: scores, dims }, spec, width, height);
    return { frame: framePng, mask: await encodePng(colorizeMask(mask, spec.colors)), share: classShares(mask, spec.classes.length)[1] ?? 0 };
  },

  /**
   * Scores -> mask at the image's size, the overlay and the mask as a PNG. The overlay is the class colours
   * (background transparent), or for a person model (spec.view 'cutout') a dark layer over the background
   * only, and then the cut-out (the photo with the person matte as alpha) comes as a PNG too.
   */
  async finish(id: number, scores: Float32Array, dims: number[], spec: ModelSpec) {
    const img = image(id);
    const { width, height } = img;
    const mask = decodeMask({ data: scores, dims }, spec, width, height);
    let overlay: Uint8ClampedArray;
    let cutoutPng: Blob | undefined;
    if (spec.view === 'cutout') {
      const alpha = probabilityAlpha({ data: scores, dims }, spec, width, height);
      overlay = new Uint8ClampedArray(width * height * 4);
      for (let i = 0; i < alpha.length; i++) {
        overlay[4 * i] = 8;
        overlay[4 * i + 1] = 10;
        overlay[4 * i + 2] = 24;
        overlay[4 * i + 3] = 255 - alpha[i];
      }
      cutoutPng = await encodePng(cutout(img, alpha));
    } else {
      overlay = colorizeMask(mask, spec.colors, spec.background).data as Uint8ClampedArray;
    }
    const png = await encodePng(colorizeMask(mask, spec.colors));
    const shares = classShares(mask, spec.classes.length);
    return Comlink.transfer({ overlay, png, cutout: cutoutPng, shares }, [overlay.buffer]);
  },
};

export type PipelineApi = typeof api;
Comlink.expose(api);
