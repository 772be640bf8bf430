// The inputs every segmentation network is checked on: noise and a photo at one size, two photos in a batch
// at another, so that each model sees both batch sizes and both sizes (one of them not square).
import { skimagePhoto } from './fixtures.js';
import { batchOf, noise, photoPlanes, type Normalisation } from './images.js';
import type { ParityCase } from './parity-suite.js';

export function segmentationCases(first: [number, number], second: [number, number], norm: Normalisation, seed: number): ParityCase[] {
  const [h1, w1] = first;
  const [h2, w2] = second;
  return [
    { name: 'noise', dims: [1, 3, h1, w1], input: () => noise(3 * h1 * w1, seed) },
    { name: 'astronaut', dims: [1, 3, h1, w1], input: () => photoPlanes(skimagePhoto('astronaut'), h1, w1, norm) },
    {
      name: 'astronaut + coffee',
      dims: [2, 3, h2, w2],
      input: () => batchOf([photoPlanes(skimagePhoto('astronaut'), h2, w2, norm), photoPlanes(skimagePhoto('coffee'), h2, w2, norm)]),
    },
  ];
}
