import { describe, expect, it } from 'vitest';
import { holdOut } from './holdout.js';

const names = Array.from({ length: 20 }, (_, i) => `/data/scene-${String(i).padStart(2, '0')}.png`);

describe('holdOut', () => {
  it('holds out round(share * n) images chosen by name, whatever the order they come in', () => {
    const split = holdOut(names, (n) => n, 0.25);
    expect(split.heldOut.length).toBe(5);
    expect(split.train.length).toBe(15);
    expect(new Set([...split.train, ...split.heldOut]).size).toBe(20);
    const reversed = holdOut([...names].reverse(), (n) => n, 0.25);
    expect([...reversed.heldOut].sort()).toEqual([...split.heldOut].sort());
    // The folder does not matter, only the file name.
    const moved = holdOut(names.map((n) => n.replace('/data/', '/elsewhere/')), (n) => n, 0.25);
    expect(moved.heldOut.map((n) => n.replace('/elsewhere/', '/data/'))).toEqual(split.heldOut);
  });

  it('keeps at least one image on each side, and refuses fewer than two', () => {
    expect(holdOut(names.slice(0, 2), (n) => n, 0.01).heldOut.length).toBe(1);
    expect(holdOut(names.slice(0, 2), (n) => n, 0.99).train.length).toBe(1);
    expect(() => holdOut(names.slice(0, 1), (n) => n, 0.25)).toThrow(/at least 2 images .* got 1/);
  });
});
