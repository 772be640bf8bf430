// mIoU of a model's masks on the held-out samples, over the pixels of the whole set (as the model card and
// `--truth` count it): every sample's predicted and true masks are laid end to end into one mask pair (one
// row of pixels: maskIoU only compares pixel with pixel), and segment-core's maskIoU scores that pair.
import type { Tensor } from 'atrous';
import { decodeMask, maskIoU, type ModelSpec } from 'segment-core';
import type { TrainingSample } from './training-samples.js';

export interface HeldOutScore {
  /** Mean over the classes present in truth or prediction of TP / (TP + FP + FN). */
  meanIoU: number;
  /** Per class; undefined for a class in neither. */
  perClass: (number | undefined)[];
  /** Share of pixels whose predicted class is the true one. */
  pixelAccuracy: number;
}

/** Scores `forward` (the logits [1, C, H, W] of one sample) on `samples`, one sample at a time. */
export async function scoreHeldOut(samples: TrainingSample[], spec: ModelSpec, classCount: number, forward: (sample: TrainingSample) => Promise<Tensor<'float32'>>): Promise<HeldOutScore> {
  const total = samples.reduce((n, s) => n + s.labels.length, 0);
  const predicted = new Uint8Array(total);
  const truth = new Uint8Array(total);
  let at = 0;
  for (const sample of samples) {
    const logits = await forward(sample);
    const [height, w] = sample.size;
    const mask = decodeMask({ data: logits.data, dims: logits.dims }, spec, w, height);
    predicted.set(mask.data, at);
    truth.set(sample.labels, at);
    at += sample.labels.length;
  }
  const shape = { width: total, height: 1 };
  const iou = maskIoU({ ...shape, data: predicted }, { ...shape, data: truth }, classCount);
  return { meanIoU: iou.mean, perClass: iou.perClass, pixelAccuracy: iou.pixelAgreement };
}
