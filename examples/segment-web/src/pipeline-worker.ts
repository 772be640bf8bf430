// Everything around inference that touches every pixel runs here, off the main thread: decoding the file,
// resampling it into the model's input, turning scores into a mask, colouring it and encoding the PNG.
// The main thread only draws the results, so it stays free for frames while the pool runs the model.
import * as Comlink from 'comlink';
import { buildFeatureExtractor, buildHead, classShares, colorizeMask, cutout, decodeMask, imageToPlanes, planesToNhwc, probabilityAlpha, spliceTaughtModel, TEACH_FEATURES, TEACH_RECIPE, type ModelSpec, type TeachFeatureSource, type RgbaImage, type TaughtModelInfo } from 'segment-core';
import * as compositor from './camera-compositor.js';
import { decodeImage } from './image-input.js';

let current: { id: number; image: RgbaImage } | undefined;
/** Teach mode's feature extractors, by source, as built by teachExtractor. */
const extractors = new Map<TeachFeatureSource, Uint8Array>();

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
   * Teach mode's models (segment-core's teach-models.ts), built here: protobuf work off the main thread. The
   * extractor stays here too, for the splice, so its bytes (80 MB for ISNet) cross to the page only once.
   */
  teachExtractor(base: Uint8Array, source: TeachFeatureSource): Uint8Array {
    const bytes = buildFeatureExtractor(base, TEACH_FEATURES[source].extractor);
    extractors.set(source, bytes);
    const copy = bytes.slice();
    return Comlink.transfer(copy, [copy.buffer]);
  },
  /** Teach mode was left: its extractors are built again when it comes back. */
  teachRelease(): void {
    extractors.clear();
  },
  teachHead(inChannels: number, classes: number): Uint8Array {
    const bytes = buildHead({ inChannels, classes, ...TEACH_RECIPE.head });
    return Comlink.transfer(bytes, [bytes.buffer]);
  },
  /** The taught model as a file for the download link (a Blob crosses by reference, not by copy). */
  teachSplice(source: TeachFeatureSource, head: Uint8Array, info: TaughtModelInfo): Blob {
    const extractor = extractors.get(source);
    if (!extractor) throw new Error(`teachSplice: no ${source} extractor was built in this worker`);
    return new Blob([spliceTaughtModel(extractor, head, info) as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
  },

  /** The camera (camera-compositor.ts): the page's camera canvas, handed over once. */
  cameraAttach(canvas: OffscreenCanvas): void {
    compositor.attach(canvas);
  },
  cameraBackground(mode: compositor.Background, image?: ImageBitmap): void {
    compositor.setBackground(mode, image);
  },
  /** A frame (transferred here) as the model input; the frame waits here for its matte. */
  async cameraInput(seq: number, frame: ImageBitmap, size: [number, number], mean: number[], std: number[], layout: 'nchw' | 'nhwc'): Promise<Float32Array> {
    const input = await compositor.input(seq, frame, size, mean, std, layout);
    return Comlink.transfer(input, [input.buffer]);
  },
  cameraMatte(seq: number, scores: Float32Array, dims: number[], spec: ModelSpec) {
    return compositor.matte(seq, scores, dims, spec);
  },
  cameraDrop(seq: number): void {
    compositor.drop(seq);
  },
  cameraClear(): void {
    compositor.clear();
  },
  cameraSnapshot(spec: ModelSpec) {
    return compositor.snapshot(spec);
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
