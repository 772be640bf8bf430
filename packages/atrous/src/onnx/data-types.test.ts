import { describe, expect, it } from 'vitest';
import { halfToFloat, roundToHalf } from './data-types.js';

describe('roundToHalf', () => {
  it('is the identity on every half, and rounds floats between halves to the nearest, ties to even', () => {
    for (let h = 0; h < 0x7c00; h++) {
      const v = halfToFloat(h);
      expect(roundToHalf(v)).toBe(v);
      expect(roundToHalf(-v)).toBe(-v);
      if (h + 1 < 0x7c00) {
        const next = halfToFloat(h + 1);
        const mid = (v + next) / 2;
        expect(roundToHalf(mid)).toBe(h % 2 === 0 ? v : next);
        expect(roundToHalf(v + (next - v) * 0.25)).toBe(v);
        expect(roundToHalf(v + (next - v) * 0.75)).toBe(next);
      }
    }
  });

  it('overflows to infinity from 65520 on, and keeps 0, infinities and NaN', () => {
    expect(roundToHalf(65519.99)).toBe(65504);
    expect(roundToHalf(65520)).toBe(Infinity);
    expect(roundToHalf(-1e9)).toBe(-Infinity);
    expect(roundToHalf(2 ** -26)).toBe(0);
    expect(roundToHalf(0.6027633547782898)).toBe(0.6025390625);
    expect(roundToHalf(Infinity)).toBe(Infinity);
    expect(roundToHalf(NaN)).toBeNaN();
  });
});
