// What teach mode's head sits on and how it trains: the choice measured by test/apps/measure-teach.mjs
// (examples/segment-web/README.md has the tables). On astronaut.png, the built-in model's decoder input
// (/Concat_2: ASPP upsampled + the stride-4 skip, the node `atrous-segment finetune` trains after) plus the
// image's colour and the position, under a 1x1 head, scored the best person IoU against MediaPipe's selfie
// mask over four sets of strokes (within 0.015 of the best on the hand-drawn set), at about a third of the
// step cost of the 3x3 heads.
import type { ExtractorOptions } from './teach-models.js';

export const TEACH_RECIPE = {
  /** The built-in model's decoder input (88 channels at stride 4), the image and x, y: 93 features. */
  extractor: { tensors: ['/Concat_2_output_0'], withImage: true, withCoordinates: true } satisfies ExtractorOptions,
  /** Long side of the model input; the features are a quarter of it. */
  inputSize: 256,
  head: { hidden: 32, kernel: 1, seed: 1 },
  learningRate: 0.01,
  /** Classes a user can add, so a brush colour stays distinct from the others. */
  maxClasses: 8,
} as const;

/** Brush and mask colours of teach mode's classes (distinct, and none close to another). */
export const TEACH_COLORS: readonly [number, number, number][] = [
  [45, 110, 255],
  [255, 64, 64],
  [40, 200, 90],
  [255, 205, 0],
  [180, 80, 255],
  [0, 210, 220],
  [255, 135, 30],
  [255, 80, 200],
];
