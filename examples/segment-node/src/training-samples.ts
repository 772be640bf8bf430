// The image + mask pairs `finetune` learns from, at the model input: each image resized and normalised as
// `segment` does (sharp, then the model's mean/std), its mask (8-bit grey PNG, value = class index, named
// <stem>.mask.png as models/default/samples and `--truth` have them) resized to the same size by nearest
// neighbour.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Tensor } from 'atrous';
import { chooseInputSize, type ModelSpec } from 'segment-core';
import { decodeImage, resizeLabels } from './image-files.js';
import { rgbToTensor } from './segment.js';

export interface TrainingSample {
  /** The image file and its mask. */
  file: string;
  maskPath: string;
  /** [1, 3, H, W], normalised for the model. */
  input: Tensor<'float32'>;
  /** H * W class ids at the model input size. */
  labels: Uint8Array;
  /** [height, width] of the model input. */
  size: [number, number];
}

/** Where the mask of `file` is: `<masksDir>/<stem>.mask.png`. */
export function maskPathFor(masksDir: string, file: string, stem: string): string {
  return join(masksDir, `${stem}.mask.png`);
}

/** Refuses images without a mask, naming them all at once (training on an unlabelled image is never meant). */
export function checkMasksExist(masksDir: string, files: string[], stems: string[]): void {
  const missing = files.filter((file, i) => !existsSync(maskPathFor(masksDir, file, stems[i])));
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).map((f) => `${basename(f)} (no ${maskPathFor(masksDir, f, stems[files.indexOf(f)])})`);
    throw new Error(`--masks ${masksDir}: ${missing.length} of ${files.length} images have no mask: ${shown.join(', ')}${missing.length > 5 ? ', ...' : ''}`);
  }
}

/** Reads one image and its mask at the model input. The mask must have the image's size. */
export async function loadSample(file: string, maskPath: string, spec: ModelSpec, requestedSize?: number): Promise<TrainingSample> {
  const image = await decodeImage(new Uint8Array(await readFile(file)), file);
  const mask = await decodeImage(new Uint8Array(await readFile(maskPath)), maskPath);
  if (mask.width !== image.width || mask.height !== image.height) {
    throw new Error(`--masks: ${maskPath} is ${mask.width}x${mask.height} but ${file} is ${image.width}x${image.height}`);
  }
  // Grey PNGs decode to RGBA with the value in every colour channel: the red one is the class id.
  const ids = new Uint8Array(image.width * image.height);
  for (let i = 0; i < ids.length; i++) ids[i] = mask.data[4 * i];
  const size = chooseInputSize(spec, image.width, image.height, requestedSize);
  const [height, width] = size;
  const input = await rgbToTensor(image, spec, size);
  const labels = await resizeLabels(ids, image.width, image.height, width, height);
  return { file, maskPath, input, labels, size };
}

/** Refuses a mask with a class id the model does not have (found once the model's output is known). */
export function checkClassIds(samples: TrainingSample[], classCount: number): void {
  for (const { maskPath, labels } of samples) {
    const bad = labels.findIndex((id) => id >= classCount);
    if (bad >= 0) throw new Error(`--masks: ${maskPath} has class ${labels[bad]} but the model has ${classCount} classes (0..${classCount - 1})`);
  }
}
