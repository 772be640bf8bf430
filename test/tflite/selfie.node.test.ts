// The two MediaPipe selfie segmenters end to end in Node on real photos (python3-skimage): a plausible
// person mask, not parity (that is selfie-parity.browser.test.ts, against LiteRT.js).
import { describe, expect, it } from 'vitest';
import { InferenceSession, Tensor } from 'atrous';
import { photoDir, photoNhwc, regionMean, selfieModels } from './selfie-models.js';

/** A coarse picture of the mask in the log: # > 0.8, + > 0.5, . > 0.2. */
function sketch(mask: Float32Array, height: number, width: number): string {
  const rows: string[] = [];
  for (let y = 0; y < 16; y++) {
    let line = '';
    for (let x = 0; x < 32; x++) {
      const v = mask[Math.floor(((y + 0.5) * height) / 16) * width + Math.floor(((x + 0.5) * width) / 32)]!;
      line += v > 0.8 ? '#' : v > 0.5 ? '+' : v > 0.2 ? '.' : ' ';
    }
    rows.push(line);
  }
  return rows.join('\n');
}

describe('MediaPipe selfie segmentation (.tflite) in Node', () => {
  for (const [kind, model] of Object.entries(selfieModels)) {
    it(`${kind}: loads with the model's names and NHWC dims, and segments the astronaut and the cameraman`, async () => {
      const session = await InferenceSession.create(model.path);
      expect(session.metadata.producerName).toBe('tflite');
      expect(session.inputMetadata[0]!.dims).toEqual([1, model.height, model.width, 3]);
      expect(session.outputMetadata[0]!.dims).toEqual([1, model.height, model.width, 1]);
      const x = photoNhwc(`${photoDir}/astronaut.png`, model.height, model.width);
      const out = (await session.run({ [session.inputNames[0]!]: new Tensor('float32', x, [1, model.height, model.width, 3]) }))[session.outputNames[0]!]!;
      expect(out.dims).toEqual([1, model.height, model.width, 1]);
      const mask = out.data as Float32Array;
      console.log(`${kind} astronaut.png\n${sketch(mask, model.height, model.width)}`);
      // Eileen Collins fills the centre and the lower half of the square photo (head at rows 10-45 %,
      // columns 35-65 %; torso below); the top-right corner is the flag and the background.
      const person = regionMean(mask, model.height, model.width, [0.2, 0.9, 0.3, 0.7]);
      const corner = regionMean(mask, model.height, model.width, [0, 0.15, 0.85, 1]);
      console.log(`${kind}: person region ${person.toFixed(3)}, top-right corner ${corner.toFixed(3)}`);
      expect(person).toBeGreaterThan(0.5);
      expect(corner).toBeLessThan(0.2);
      for (const v of mask) expect(v >= 0 && v <= 1).toBe(true);
      // camera.png: the cameraman stands left of centre (head at rows 10-30 %, columns 30-45 %, coat below
      // to the left edge); the top right is sky.
      const camera = photoNhwc(`${photoDir}/camera.png`, model.height, model.width);
      const man = (await session.run({ [session.inputNames[0]!]: new Tensor('float32', camera, [1, model.height, model.width, 3]) }))[session.outputNames[0]!]!.data as Float32Array;
      console.log(`${kind} camera.png\n${sketch(man, model.height, model.width)}`);
      expect(regionMean(man, model.height, model.width, [0.15, 0.55, 0.1, 0.45])).toBeGreaterThan(0.5);
      expect(regionMean(man, model.height, model.width, [0, 0.3, 0.7, 1])).toBeLessThan(0.2);
      session.dispose();
    });
  }
});
