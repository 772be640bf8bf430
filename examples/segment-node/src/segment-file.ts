// One image file through the whole pipeline, the same for a local run and a queue worker (so both write the
// same masks): read -> decode (sharp) -> segment (pool) -> <stem>.mask.png and <stem>.overlay.png (and for a
// person model <stem>.cutout.png, the image with the person matte as alpha), each written whole or not at all.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { classShares, colorizeMask, cutout, type ClassMask, type ModelSpec } from 'segment-core';
import { blendPng, decodeImage, encodePng, writeFileAtomic } from './image-files.js';
import type { Segmenter } from './segment.js';

export interface FileResult {
  mask: ClassMask;
  spec: ModelSpec;
  width: number;
  height: number;
  /** Time in the pool, ms. */
  inferenceMs: number;
  /** Fraction of the image each class covers. */
  shares: number[];
  maskPath: string;
  overlayPath: string;
  /** The cut-out PNG with alpha, for a person model (spec.view 'cutout'). */
  cutoutPath?: string;
}

/** Segments `file` into `outDir`/`stem`.mask.png and .overlay.png. Decoding errors are UndecodableImageError. */
export async function segmentFile(segmenter: Segmenter, file: string, outDir: string, stem: string, opacity: number): Promise<FileResult> {
  const image = await decodeImage(new Uint8Array(await readFile(file)), file);
  const result = await segmenter.segment(image);
  const { mask, spec } = result;
  const maskPath = join(outDir, `${stem}.mask.png`);
  const overlayPath = join(outDir, `${stem}.overlay.png`);
  const [maskPng, overlayPng] = await Promise.all([
    encodePng(colorizeMask(mask, spec.colors)),
    blendPng(image, colorizeMask(mask, spec.colors, spec.background), opacity),
  ]);
  await writeFileAtomic(maskPath, maskPng);
  await writeFileAtomic(overlayPath, overlayPng);
  let cutoutPath: string | undefined;
  if (result.alpha) {
    cutoutPath = join(outDir, `${stem}.cutout.png`);
    await writeFileAtomic(cutoutPath, await encodePng(cutout(image, result.alpha)));
  }
  return { mask, spec, width: image.width, height: image.height, inferenceMs: result.inferenceMs, shares: classShares(mask, spec.classes.length), maskPath, overlayPath, cutoutPath };
}
