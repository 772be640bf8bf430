import { describe, expect, it } from 'vitest';
import { labelsOnGrid, ScribbleMap, UNPAINTED } from './scribbles.js';

function painted(map: ScribbleMap): { x: number; y: number; id: number }[] {
  const out: { x: number; y: number; id: number }[] = [];
  map.ids.forEach((id, i) => id !== UNPAINTED && out.push({ x: i % map.width, y: Math.floor(i / map.width), id }));
  return out;
}

describe('ScribbleMap', () => {
  it('paints every pixel whose centre is within the radius of the segment, and only those', () => {
    const map = new ScribbleMap(20, 10);
    const box = map.stroke(3, 5, 15, 5, 2, 1);
    for (const { x, y, id } of painted(map)) {
      expect(id).toBe(1);
      const px = x + 0.5;
      const py = y + 0.5;
      const cx = Math.max(3, Math.min(15, px));
      expect(Math.hypot(px - cx, py - 5)).toBeLessThanOrEqual(2);
    }
    // A pixel centre on the segment is painted; one just out of reach is not.
    expect(map.ids[5 * 20 + 9]).toBe(1);
    expect(map.ids[2 * 20 + 9]).toBe(UNPAINTED);
    expect(map.ids[5 * 20 + 18]).toBe(UNPAINTED);
    expect(box).toEqual({ x: 1, y: 3, width: 17, height: 5 });
    expect(map.counts(2)).toEqual([0, painted(map).length]);
  });

  it('paints a dot for a click (a zero-length stroke) and clips strokes at the border', () => {
    const map = new ScribbleMap(8, 8);
    map.stroke(0.2, 0.2, 0.2, 0.2, 1.5, 0);
    expect(painted(map).map(({ x, y }) => [x, y])).toEqual([[0, 0], [1, 0], [0, 1]]);
    expect(map.stroke(-20, -20, -10, -10, 2, 0)).toBeUndefined();
  });

  it('erases with UNPAINTED, clears, and drops a removed class', () => {
    const map = new ScribbleMap(10, 10);
    map.stroke(0, 2, 10, 2, 1, 0);
    map.stroke(0, 5, 10, 5, 1, 1);
    map.stroke(0, 8, 10, 8, 1, 2);
    map.stroke(5, 0, 5, 10, 1, UNPAINTED);
    expect(map.ids[2 * 10 + 5]).toBe(UNPAINTED);
    expect(map.ids[2 * 10 + 1]).toBe(0);
    map.removeClass(1);
    expect(map.ids[5 * 10 + 1]).toBe(UNPAINTED);
    expect(map.ids[8 * 10 + 1]).toBe(1);
    map.clear();
    expect(painted(map)).toEqual([]);
  });

  it('names the bad argument', () => {
    expect(() => new ScribbleMap(0, 3)).toThrow(/width and height must be positive integers, got 0 x 3/);
    const map = new ScribbleMap(4, 4);
    expect(() => map.stroke(0, 0, Number.NaN, 1, 1, 0)).toThrow(/x1 must be a finite number, got NaN/);
    expect(() => map.stroke(0, 0, 1, 1, 0, 0)).toThrow(/radius must be a positive number of pixels, got 0/);
    expect(() => map.stroke(0, 0, 1, 1, 1, 256)).toThrow(/id must be a class id in \[0, 255\], got 256/);
  });
});

describe('labelsOnGrid', () => {
  it('gives each cell its painted majority; unpainted cells and ties are ignored', () => {
    const map = new ScribbleMap(8, 4);
    // Cell (0, 0) covers x 0..1, y 0..1 on a 4 x 2 grid: three pixels of class 1, one of class 0.
    map.ids.set([1, 1], 0);
    map.ids.set([1, 0], 8);
    // Cell (1, 0): one pixel of each class, a tie.
    map.ids[2] = 0;
    map.ids[3] = 1;
    // Cell (3, 1): one pixel of class 2, the rest unpainted.
    map.ids[3 * 8 + 7] = 2;
    // Cell (2, 1): an id beyond the class count counts as unpainted.
    map.ids[2 * 8 + 4] = 7;
    const labels = labelsOnGrid(map, 4, 2, 3);
    expect(Array.from(labels)).toEqual([1, UNPAINTED, UNPAINTED, UNPAINTED, UNPAINTED, UNPAINTED, UNPAINTED, 2]);
  });

  it('handles a grid that does not divide the image, or is finer than it', () => {
    const map = new ScribbleMap(5, 3);
    map.ids.fill(1);
    map.ids[0] = 0;
    expect(Array.from(labelsOnGrid(map, 2, 2, 2))).toEqual([UNPAINTED, 1, 1, 1]);
    // A 10 x 6 grid over 5 x 3 pixels: each cell takes the pixel under its centre.
    const fine = labelsOnGrid(map, 10, 6, 2);
    expect(fine[0]).toBe(0);
    expect(fine[1]).toBe(0);
    expect(fine[2]).toBe(1);
    expect(fine[10]).toBe(0);
  });

  it('names the bad argument', () => {
    const map = new ScribbleMap(4, 4);
    expect(() => labelsOnGrid(map, 0, 2, 2)).toThrow(/the grid must be positive integers, got 0 x 2/);
    expect(() => labelsOnGrid(map, 2, 2, 255)).toThrow(/classes must be an integer in \[1, 255\), got 255/);
  });
});
