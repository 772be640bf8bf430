// The camera's worker side (runs in the pipeline worker): frames in as transferred ImageBitmaps, resampled
// into the model input; the model's output into a matte; frame and matte composited into the page's camera
// canvas, which the page handed over with transferControlToOffscreen(). The main thread does no drawing
// and no per-pixel work for the camera at all.
import { classShares, colorizeMask, decodeMask, imageToPlanes, planesToNhwc, probabilityAlpha, type ModelSpec, type RgbaImage } from 'segment-core';

export type Background = 'blur' | 'replace' | 'dim' | 'mask';

let output: { canvas: OffscreenCanvas; ctx: OffscreenCanvasRenderingContext2D } | undefined;
let reader: { canvas: OffscreenCanvas; ctx: OffscreenCanvasRenderingContext2D } | undefined;
let person: { canvas: OffscreenCanvas; ctx: OffscreenCanvasRenderingContext2D } | undefined;
let background: Background = 'blur';
let replacement: ImageBitmap | undefined;
/** Frames whose model run is in flight, by sequence number. */
const pending = new Map<number, ImageBitmap>();
let latest: { frame: ImageBitmap; mask: ImageBitmap; scores: Float32Array; dims: number[] } | undefined;
let dirty = false;
let scheduled = false;

function canvas2d(width: number, height: number, readBack = false) {
  const canvas = new OffscreenCanvas(width, height);
  return { canvas, ctx: canvas.getContext('2d', readBack ? { willReadFrequently: true } : undefined)! };
}

export function attach(canvas: OffscreenCanvas): void {
  output = { canvas, ctx: canvas.getContext('2d')! };
}

export function setBackground(mode: Background, image?: ImageBitmap): void {
  background = mode;
  if (image) {
    replacement?.close();
    replacement = image;
  }
  dirty = true;
  schedule();
}

/**
 * A frame as the model input; the frame is kept until its matte comes. The browser shrinks the frame to the
 * model's size (createImageBitmap's 'high' quality: an antialiased filter, as segment-core's triangle filter
 * for photos is), so only the model's pixels are read back and converted, not the camera's: measured in this
 * worker, reading back a 512 x 512 frame and resampling it in JavaScript took longer than the model run.
 */
export async function input(seq: number, frame: ImageBitmap, size: [number, number], mean: number[], std: number[], layout: 'nchw' | 'nhwc'): Promise<Float32Array> {
  pending.set(seq, frame);
  const [height, width] = size;
  const small = await createImageBitmap(frame, { resizeWidth: width, resizeHeight: height, resizeQuality: 'high' });
  if (!reader || reader.canvas.width !== width || reader.canvas.height !== height) reader = canvas2d(width, height, true);
  reader.ctx.globalCompositeOperation = 'copy';
  reader.ctx.drawImage(small, 0, 0);
  small.close();
  const pixels = reader.ctx.getImageData(0, 0, width, height);
  // At the same size segment-core's resampler is the identity: this is the photos' normalisation and layout.
  let planes = imageToPlanes({ width, height, data: pixels.data } as RgbaImage, width, height, mean, std);
  if (layout === 'nhwc') planes = planesToNhwc(planes, size[0], size[1]);
  return planes;
}

/** The model output for frame `seq`: its matte becomes the latest, drawn at the next animation frame. */
export async function matte(seq: number, scores: Float32Array, dims: number[], spec: ModelSpec): Promise<{ share: number; width: number; height: number }> {
  const frame = pending.get(seq);
  pending.delete(seq);
  if (!frame) throw new Error(`camera: frame ${seq} is not pending`);
  const [height, width] = spec.layout === 'nhwc' ? dims.slice(1, 3) : dims.slice(2, 4);
  const alpha = probabilityAlpha({ data: scores, dims }, spec, width, height);
  const rgba = new Uint8ClampedArray(width * height * 4);
  let count = 0;
  for (let i = 0; i < alpha.length; i++) {
    rgba[4 * i] = 255;
    rgba[4 * i + 1] = 255;
    rgba[4 * i + 2] = 255;
    rgba[4 * i + 3] = alpha[i];
    if (alpha[i] > 127) count++;
  }
  const mask = await createImageBitmap(new ImageData(rgba, width, height), { premultiplyAlpha: 'premultiply' });
  latest?.frame.close();
  latest?.mask.close();
  latest = { frame, mask, scores, dims };
  dirty = true;
  schedule();
  return { share: count / alpha.length, width: frame.width, height: frame.height };
}

/** A frame whose run failed or was abandoned. */
export function drop(seq: number): void {
  pending.get(seq)?.close();
  pending.delete(seq);
}

/** Camera stopped: every frame released, the canvas cleared. */
export function clear(): void {
  for (const frame of pending.values()) frame.close();
  pending.clear();
  latest?.frame.close();
  latest?.mask.close();
  latest = undefined;
  dirty = false;
  output?.ctx.clearRect(0, 0, output.canvas.width, output.canvas.height);
}

/** The last segmented frame and its mask (at the frame's size, as photos get it) as PNGs. */
export async function snapshot(spec: ModelSpec): Promise<{ frame: Blob; mask: Blob; share: number } | undefined> {
  if (!latest) return undefined;
  // Everything is read before the first await: the next matte closes this frame.
  const { frame, scores, dims } = latest;
  const { width, height } = frame;
  const c = canvas2d(width, height);
  c.ctx.drawImage(frame, 0, 0);
  const mask = decodeMask({ data: scores, dims }, spec, width, height);
  const colored = colorizeMask(mask, spec.colors);
  const m = canvas2d(width, height);
  m.ctx.putImageData(new ImageData(colored.data as Uint8ClampedArray<ArrayBuffer>, width, height), 0, 0);
  const [framePng, maskPng] = await Promise.all([c.canvas.convertToBlob({ type: 'image/png' }), m.canvas.convertToBlob({ type: 'image/png' })]);
  return { frame: framePng, mask: maskPng, share: classShares(mask, spec.classes.length)[1] ?? 0 };
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  const raf = (self as unknown as { requestAnimationFrame?: (cb: () => void) => number }).requestAnimationFrame;
  if (raf) raf.call(self, paint);
  else setTimeout(paint, 0);
}

function paint(): void {
  scheduled = false;
  if (!dirty || !latest || !output) return;
  dirty = false;
  draw(latest.frame, latest.mask);
}

/** Frame and matte composited with drawImage and compositing modes only. */
function draw(frame: ImageBitmap, mask: ImageBitmap): void {
  const { canvas, ctx } = output!;
  const { width, height } = frame;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  if (background === 'mask') {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, width, height);
    ctx.drawImage(mask, 0, 0, width, height);
    return;
  }
  // The person: the frame where the matte is (source-in keeps the frame under the matte's alpha).
  if (!person || person.canvas.width !== width || person.canvas.height !== height) person = canvas2d(width, height);
  const p = person.ctx;
  p.globalCompositeOperation = 'copy';
  p.drawImage(mask, 0, 0, width, height);
  p.globalCompositeOperation = 'source-in';
  p.drawImage(frame, 0, 0);
  p.globalCompositeOperation = 'source-over';
  if (background === 'replace' && replacement) {
    // Cover the frame with the replacement photo, cropped to the frame's aspect ratio.
    const scale = Math.max(width / replacement.width, height / replacement.height);
    const w = width / scale;
    const h = height / scale;
    ctx.drawImage(replacement, (replacement.width - w) / 2, (replacement.height - h) / 2, w, h, 0, 0, width, height);
  } else if (background === 'blur') {
    ctx.filter = `blur(${Math.max(4, Math.round(width / 60))}px)`;
    ctx.drawImage(frame, 0, 0);
    ctx.filter = 'none';
  } else {
    ctx.drawImage(frame, 0, 0);
    ctx.fillStyle = 'rgba(8, 10, 24, 0.7)';
    ctx.fillRect(0, 0, width, height);
  }
  ctx.drawImage(person.canvas, 0, 0);
}
