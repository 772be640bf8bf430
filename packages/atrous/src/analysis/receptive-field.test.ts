import { describe, expect, it } from 'vitest';
import { AtrousError, Tensor, planTiles, receptiveField } from '../../dist/index.js';

const same = 'same-upper' as const;

describe('receptiveField', () => {
  it('three 3x3 layers with dilations 1, 2, 4 see 15x15 pixels, as seven plain 3x3 layers do', () => {
    const rf = receptiveField([1, 2, 4].map((d) => ({ kernel: 3, dilations: d, pads: same })));
    expect(rf.field).toEqual([15, 15]);
    expect(rf.jump).toEqual([1, 1]);
    expect(rf.halo).toEqual([7, 7, 7, 7]);
    expect(rf.layers.map((l) => l.field[0])).toEqual([3, 7, 15]);
    expect(rf.gridding).toBeUndefined();
    const plain = receptiveField(Array.from({ length: 7 }, () => ({ kernel: 3, pads: same })));
    expect(plain.field).toEqual([15, 15]);
  });

  it('warns about gridding when the rates share a factor (2, 4, 8)', () => {
    const rf = receptiveField([2, 4, 8].map((d) => ({ kernel: 3, dilations: d, pads: same })));
    expect(rf.field).toEqual([29, 29]);
    expect(rf.gridding).toBeDefined();
    expect(rf.gridding!.commonFactor).toEqual([2, 2]);
    expect(rf.gridding!.coverage[0]).toBeCloseTo(15 / 29, 12);
    expect(rf.gridding!.message).toMatch(/dilations 2, 4, 8 share the factor 2/);
    expect(rf.gridding!.message).toMatch(/1, 2, 5/);
  });

  it('accepts hybrid rates 1, 2, 5 (no holes) and flags 1, 2, 9 (no common factor, but gaps)', () => {
    const hybrid = receptiveField([1, 2, 5].map((d) => ({ kernel: 3, dilations: d })));
    expect(hybrid.field).toEqual([17, 17]);
    expect(hybrid.gridding).toBeUndefined();
    const gappy = receptiveField([1, 2, 9].map((d) => ({ kernel: 3, dilations: d })));
    expect(gappy.gridding).toBeDefined();
    expect(gappy.gridding!.commonFactor).toEqual([1, 1]);
    // offsets {0..6} + {0, 9, 18}: 21 of the 25 pixels
    expect(gappy.gridding!.coverage[0]).toBeCloseTo(21 / 25, 12);
    expect(gappy.gridding!.message).toMatch(/leave gaps/);
  });

  it('multiplies strides into the jump and measures later dilations in input pixels', () => {
    const layers = [
      { kernel: 3, strides: 2, pads: [1, 1, 1, 1] as const },
      { kernel: 3, strides: 2, pads: [1, 1, 1, 1] as const },
      { kernel: 3, dilations: 2, pads: [2, 2, 2, 2] as const },
    ];
    const rf = receptiveField(layers);
    expect(rf.field).toEqual([23, 23]); // 1 + 2*1 + 2*2 + 2*2*4
    expect(rf.jump).toEqual([4, 4]);
    expect(rf.halo).toEqual([11, 11, 8, 8]); // 1*1 + 1*2 + 2*4 before, 23 - 4 - 11 after
    // On the stride-4 feature map the dilation-2 layer skips every other feature pixel: in input pixels its taps
    // sit 8 apart while the first two layers only span 7, so offsets 7 and 15 are never reached.
    expect(rf.gridding).toBeDefined();
    expect(rf.gridding!.coverage[0]).toBeCloseTo(21 / 23, 12);
    // The tiles planned for an image agree: an interior tile of T outputs reads (T - 1) * jump + field pixels,
    // starting halo[0] pixels before its own span.
    const plan = planTiles(layers, [200, 200], 5);
    const interior = plan.tiles.find((t) => t.output[0] === 10 && t.output[2] === 10)!;
    expect(interior.input[1] - interior.input[0]).toBe(4 * 4 + 23);
    expect(interior.input[0]).toBe(10 * 4 - 11);
    expect(interior.input[1]).toBe((10 + 5) * 4 + 8);
  });

  it('takes pairs per axis, and conv layers as { weights, options }', () => {
    const rf = receptiveField([
      { kernel: [1, 7], dilations: [1, 3] },
      { weights: new Tensor('float32', new Float32Array(2 * 2 * 5 * 1), [2, 2, 5, 1]), options: { dilations: [2, 1] } },
    ]);
    expect(rf.field).toEqual([9, 19]);
    // A single dilated layer already leaves holes: every 2nd row, every 3rd column.
    expect(rf.gridding!.commonFactor).toEqual([2, 3]);
    expect(rf.gridding!.coverage[0]).toBeCloseTo(5 / 9, 12);
    expect(rf.gridding!.coverage[1]).toBeCloseTo(7 / 19, 12);
  });

  it('resolves "same" pads of strided layers from the input size when given', () => {
    const layers = [{ kernel: 3, strides: 2, pads: same }];
    // total pad max((ceil(H/2) - 1) * 2 + 3 - H, 0): 1 for even H (at the end, SAME_UPPER), 2 for odd H (1 + 1);
    // the halo after the span is field - jump - halo before, whatever the end pad
    expect(receptiveField(layers, { inputSize: [32, 33] }).halo).toEqual([0, 1, 1, 0]);
    expect(receptiveField(layers).halo).toEqual([0, 0, 1, 1]);
  });

  it('names the argument and the value in its errors', () => {
    let caught: unknown;
    try {
      receptiveField([{ kernel: 3 }, { kernel: 0 }]);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AtrousError);
    expect((caught as AtrousError).code).toBe('INVALID_ARGUMENT');
    expect((caught as AtrousError).message).toMatch(/layers\[1\]\.kernel .* got 0/);
    expect(() => receptiveField([])).toThrow(/non-empty array/);
  });
});
