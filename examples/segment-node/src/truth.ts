// Scores masks against ground truth: grey PNGs whose value is the class index (models/default/samples).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClassMask } from 'segment-core';
import { decodeImage } from './image-files.js';

/** Accumulates one confusion matrix over all images, so mIoU is over pixels of the whole set (as the model card's). */
export class TruthScore {
  count = 0;
  missing = 0;
  private confusion: Float64Array | undefined;
  private classes = 0;

  constructor(readonly dir: string) {}

  async add(stem: string, imagePath: string, mask: ClassMask, classCount: number): Promise<void> {
    const path = join(this.dir, `${stem}.mask.png`);
    if (!existsSync(path)) {
      this.missing++;
      return;
    }
    const truth = await decodeImage(new Uint8Array(await readFile(path)), path);
    if (truth.width !== mask.width || truth.height !== mask.height) {
      throw new Error(`truth mask ${path} is ${truth.width}x${truth.height} but ${imagePath} is ${mask.width}x${mask.height}`);
    }
    if (!this.confusion) {
      this.classes = classCount;
      this.confusion = new Float64Array(classCount * classCount);
    }
    for (let i = 0; i < mask.data.length; i++) {
      const t = truth.data[4 * i];
      if (t >= this.classes) throw new Error(`truth mask ${path} has class ${t} but the model has ${this.classes}`);
      this.confusion[t * this.classes + mask.data[i]]++;
    }
    this.count++;
  }

  /** Mean over classes present in truth or prediction of TP / (TP + FP + FN). */
  meanIoU(): number {
    const n = this.classes;
    const m = this.confusion ?? new Float64Array(0);
    let total = 0;
    let present = 0;
    for (let c = 0; c < n; c++) {
      let row = 0;
      let col = 0;
      for (let k = 0; k < n; k++) {
        row += m[c * n + k];
        col += m[k * n + c];
      }
      const union = row + col - m[c * n + c];
      if (union > 0) {
        total += m[c * n + c] / union;
        present++;
      }
    }
    return present ? total / present : 0;
  }
}
