import { describe, expect, it } from 'vitest';
import { AtrousError } from '../errors.js';
import { broadcastDims, forEachRun, planBroadcast } from './broadcast.js';

describe('broadcast', () => {
  it('broadcasts numpy-style and names the dims it cannot', () => {
    expect(broadcastDims([[2, 3, 4, 5], [3, 1, 1]], 'Add')).toEqual([2, 3, 4, 5]);
    expect(broadcastDims([[1], [2, 1], [1, 3]], 'Add')).toEqual([2, 3]);
    expect(() => broadcastDims([[2, 3], [4, 3]], 'Add node "a"')).toThrow(AtrousError);
    expect(() => broadcastDims([[2, 3], [4, 3]], 'Add node "a"')).toThrow(/\[2, 3\] and \[4, 3\]/);
  });

  it('merges axes so [N, C, H, W] x [1, C, 1, 1] walks N*C runs of H*W', () => {
    const plan = planBroadcast([2, 3, 4, 5], [[2, 3, 4, 5], [1, 3, 1, 1]]);
    expect(plan.inner).toBe(20);
    expect(plan.innerStrides).toEqual([1, 0]);
    const starts: number[][] = [];
    forEachRun(plan, (o, out) => starts.push([...o, out]));
    expect(starts.length).toBe(6);
    expect(starts.map((s) => s[1])).toEqual([0, 1, 2, 0, 1, 2]);
    expect(starts.map((s) => s[2])).toEqual([0, 20, 40, 60, 80, 100]);
  });

  it('handles scalars and a broadcast innermost axis', () => {
    const p = planBroadcast([3, 4], [[3, 1], []]);
    expect(p.innerStrides).toEqual([0, 0]);
    let runs = 0;
    forEachRun(p, () => runs++);
    expect(runs).toBe(3);
  });
});
