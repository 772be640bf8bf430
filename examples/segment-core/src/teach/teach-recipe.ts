// What teach mode's head sits on and how it trains: the choice measured by test/apps/measure-teach.mjs
// (examples/segment-web/README.md has the tables). On astronaut.png, scored against MediaPipe's selfie mask:
//  - ISNet's decoder stage 2 (64 channels at a quarter of its 1024 x 1024 input) plus the image's colour and
//    the position, under a 1x1 head: person IoU 0.945 (0.96-0.97 on random strokes). A real network trained on
//    real photos; its features cost 10-16 s per image (once), a step 80-200 ms.
//  - the built-in model's decoder input (/Concat_2: ASPP upsampled + the stride-4 skip, the node
//    `atrous-segment finetune` trains after) plus colour and position, 1x1 head: person IoU 0.76, the best of
//    the built-in model's tensors over four sets of strokes; features in a fraction of a second, a step
//    about 10 ms. It is the fallback when ISNet is not bundled (it is fetched, 88 MB, not shipped).
import type { ExtractorOptions } from './teach-models.js';

export type TeachFeatureSource = 'isnet' | 'builtin';

export interface TeachFeatures {
  label: string;
  extractor: ExtractorOptions;
  /** Long side of the model input; undefined: the model's own fixed size. The features are a quarter of it. */
  inputSize?: number;
}

export const TEACH_FEATURES: Record<TeachFeatureSource, TeachFeatures> = {
  isnet: {
    label: 'ISNet features (best masks; ~10 s per image)',
    // ISNet's stage2d output (the tensor its side2 conv reads), float16 in the file, cast by the extractor.
    extractor: { tensors: ['graph_output_cast_7'], withImage: true, withCoordinates: true },
  },
  builtin: {
    label: 'Built-in model features (fast)',
    // The decoder input: 88 channels at stride 4; with the image and x, y: 93 features.
    extractor: { tensors: ['/Concat_2_output_0'], withImage: true, withCoordinates: true },
    inputSize: 256,
  },
};

export const TEACH_RECIPE = {
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
