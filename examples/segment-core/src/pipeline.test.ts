import { describe, expect, it } from 'vitest';
import {
  chooseInputSize,
  classShares,
  colorizeMask,
  cutout,
  decodeMask,
  imageToPlanes,
  imageToTensor,
  probabilityAlpha,
  SELFIE_SPEC,
  maskFromColors,
  maskIoU,
  parseModelSpec,
  readOnnxMetadata,
  specForUnknownModel,
} from './index.js';

const SPEC = parseModelSpec({
  name: 'test',
  classes: ['background', 'a', 'b'],
  palette: [[0, 0, 0], [255, 0, 0], [0, 0, 255]],
  input: { name: 'image', dims: ['N', 3, 'H', 'W'], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], native_size: [256, 256] },
  output: { name: 'logits' },
});

function image(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]) {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data.set([...pixel(x, y), 255], (y * width + x) * 4);
    }
  }
  return { width, height, data };
}

describe('parseModelSpec', () => {
  it('reads the built-in model description format', () => {
    expect(SPEC.classes).toEqual(['background', 'a', 'b']);
    expect(SPEC.colors[2]).toEqual([0, 0, 255]);
    expect(SPEC.inputSize).toEqual([256, 256]);
    expect(SPEC.fixedSize).toBe(false);
    expect(SPEC.inputName).toBe('image');
    expect(SPEC.outputName).toBe('logits');
    expect(SPEC.background).toBe(0);
  });

  it('names the field and the value it rejects', () => {
    expect(() => parseModelSpec({ classes: [] })).toThrow(/"classes" must be a non-empty array, got \[\]/);
    expect(() => parseModelSpec({ classes: ['x'], palette: [[1, 2]] })).toThrow(/colors\[0\] must be/);
  });
});

describe('chooseInputSize', () => {
  it('keeps the aspect ratio for fully convolutional models, in multiples of 8', () => {
    expect(chooseInputSize(SPEC, 256, 256)).toEqual([256, 256]);
    expect(chooseInputSize(SPEC, 600, 400)).toEqual([168, 256]);
    expect(chooseInputSize(SPEC, 600, 400, 512)).toEqual([344, 512]);
  });

  it('uses the fixed size of a fixed-size model', () => {
    const fixed = specForUnknownModel({ name: 'f', outputChannels: 1, inputDims: [1, 3, 320, 320] });
    expect(fixed.fixedSize).toBe(true);
    expect(chooseInputSize(fixed, 600, 400)).toEqual([320, 320]);
    expect(() => chooseInputSize(fixed, 600, 400, 5)).toThrow(/size must be an integer in 8..4096, got 5/);
  });
});

describe('imageToPlanes', () => {
  it('normalises without resampling when the size is unchanged', () => {
    const img = image(3, 2, (x, y) => [x * 100, y * 200, 64]);
    const planes = imageToPlanes(img, 3, 2, [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]);
    expect(planes[1]).toBeCloseTo((100 / 255 - 0.5) / 0.25, 5);
    expect(planes[6 + 3]).toBeCloseTo((200 / 255 - 0.5) / 0.25, 5);
    expect(planes[12]).toBeCloseTo((64 / 255 - 0.5) / 0.25, 5);
  });

  it('averages every source pixel when shrinking (no aliasing of a fine checkerboard)', () => {
    const img = image(64, 64, (x, y) => ((x + y) % 2 ? [255, 255, 255] : [0, 0, 0]));
    const planes = imageToPlanes(img, 8, 8, [0, 0, 0], [1, 1, 1]);
    for (let i = 0; i < 64; i++) expect(planes[i]).toBeCloseTo(0.5, 2);
  });
});

describe('decodeMask', () => {
  it('takes the argmax per pixel and upsamples scores to the image size', () => {
    // 3 classes on a 2x2 grid: class 1 left column, class 2 right column.
    const data = new Float32Array([0, 0, 0, 0, /* a */ 5, 0, 5, 0, /* b */ 0, 5, 0, 5]);
    const mask = decodeMask({ data, dims: [1, 3, 2, 2] }, SPEC, 4, 4);
    expect(Array.from(mask.data)).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2]);
    expect(classShares(mask, 3)).toEqual([0, 0.5, 0.5]);
  });

  it('thresholds one-channel probabilities at 0.5 and one-channel logits at 0', () => {
    const binary = specForUnknownModel({ name: 'b', outputChannels: 1 });
    expect(binary.classes).toEqual(['background', 'foreground']);
    expect(Array.from(decodeMask({ data: new Float32Array([0.2, 0.7]), dims: [1, 1, 1, 2] }, binary, 2, 1).data)).toEqual([0, 1]);
    expect(Array.from(decodeMask({ data: new Float32Array([-3, 2]), dims: [1, 1, 1, 2] }, binary, 2, 1).data)).toEqual([0, 1]);
  });

  it('rejects scores whose size does not match their dims', () => {
    expect(() => decodeMask({ data: new Float32Array(5), dims: [1, 3, 2, 2] }, SPEC, 2, 2)).toThrow(/hold 5 values, dims \[1, 3, 2, 2\] need 12/);
  });
});

describe('NHWC models (the selfie segmenter)', () => {
  it('makes [1, H, W, 3] inputs in [0, 1] and reads [1, H, W, C] outputs', () => {
    const img = image(2, 1, (x) => (x === 0 ? [255, 0, 0] : [0, 0, 255]));
    const t = imageToTensor(img, SELFIE_SPEC, [1, 2]);
    expect(t.dims).toEqual([1, 1, 2, 3]);
    expect(Array.from(t.data as Float32Array)).toEqual([1, 0, 0, 0, 0, 1]);
    // Two channels, NHWC: pixel 0 favours class 1, pixel 1 class 0.
    const two = { ...SPEC, layout: 'nhwc' as const };
    expect(Array.from(decodeMask({ data: new Float32Array([0, 3, 0, 4, 1, 1]), dims: [1, 1, 2, 3] }, two, 2, 1).data)).toEqual([1, 0]);
    expect(Array.from(decodeMask({ data: new Float32Array([0.9, 0.1]), dims: [1, 1, 2, 1] }, SELFIE_SPEC, 2, 1).data)).toEqual([1, 0]);
  });

  it('turns a person probability into a soft alpha matte and a cut-out', () => {
    const alpha = probabilityAlpha({ data: new Float32Array([1, 0]), dims: [1, 1, 2, 1] }, SELFIE_SPEC, 4, 1);
    expect(Array.from(alpha)).toEqual([255, 191, 64, 0]);
    const out = cutout(image(4, 1, () => [10, 20, 30]), alpha);
    expect(Array.from(out.data.slice(0, 8))).toEqual([10, 20, 30, 255, 10, 20, 30, 191]);
  });
});

describe('mask colours and IoU', () => {
  it('round-trips a mask through its colours and scores agreement', () => {
    const mask = { width: 4, height: 1, data: new Uint8Array([0, 1, 2, 1]) };
    const back = maskFromColors(colorizeMask(mask, SPEC.colors), SPEC.colors);
    expect(Array.from(back.data)).toEqual([0, 1, 2, 1]);
    const other = { width: 4, height: 1, data: new Uint8Array([0, 1, 2, 2]) };
    const iou = maskIoU(mask, other, 3);
    expect(iou.perClass).toEqual([1, 0.5, 0.5]);
    expect(iou.mean).toBeCloseTo(2 / 3, 10);
    expect(iou.pixelAgreement).toBe(0.75);
  });
});

describe('readOnnxMetadata', () => {
  it('finds metadata_props among other fields', () => {
    const text = (s: string) => Array.from(new TextEncoder().encode(s));
    const entry = (k: string, v: string) => {
      const body = [0x0a, k.length, ...text(k), 0x12, v.length, ...text(v)];
      return [0x72, body.length, ...body]; // field 14, wire type 2
    };
    const bytes = new Uint8Array([0x08, 0x07, /* ir_version 7 */ 0x12, 0x02, ...text('pt'), ...entry('classes', '["bg","cat"]')]);
    expect(readOnnxMetadata(bytes)).toEqual({ classes: '["bg","cat"]' });
    const spec = specForUnknownModel({ name: 'm', outputChannels: 2, metadata: readOnnxMetadata(bytes) });
    expect(spec.classes).toEqual(['bg', 'cat']);
    expect(() => readOnnxMetadata(new Uint8Array([0x12, 0x40, 1, 2]))).toThrow(/runs past the end/);
  });
});
