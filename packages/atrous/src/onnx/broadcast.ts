import { AtrousError, show } from '../errors.js';

/** numpy broadcasting of several dims lists; `what` names the op in the error. */
export function broadcastDims(shapes: readonly (readonly number[])[], what: string): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      if (d === out[o]) continue;
      if (out[o] === 1) out[o] = d;
      else if (d !== 1) {
        throw new AtrousError('INVALID_SHAPE', `${what}: dims ${shapes.map(show).join(' and ')} cannot be broadcast together`);
      }
    }
  }
  return out;
}

/**
 * A broadcast iteration split into an outer odometer and a contiguous inner run: adjacent axes on which
 * every operand behaves alike (all full, or broadcast the same way) are merged first, so `[N, C, H, W]`
 * against `[1, C, 1, 1]` becomes N * C runs of H * W with the second operand fixed.
 */
export interface BroadcastPlan {
  outer: number[]; // sizes of the merged outer axes
  outerStrides: number[][]; // per operand, stride of each outer axis (0 when broadcast)
  inner: number; // length of the innermost run
  innerStrides: number[]; // per operand, 0 or 1
}

export function planBroadcast(outDims: readonly number[], shapes: readonly (readonly number[])[]): BroadcastPlan {
  const rank = outDims.length;
  // Per operand per axis: the stride it moves by (0 for broadcast axes).
  const aligned = shapes.map((s) => {
    const full = new Array<number>(rank).fill(1);
    for (let i = 0; i < s.length; i++) full[rank - s.length + i] = s[i]!;
    return full;
  });
  const merged: { size: number; bcast: boolean[] }[] = [];
  for (let ax = 0; ax < rank; ax++) {
    const size = outDims[ax]!;
    if (size === 1) continue;
    const bcast = aligned.map((a) => a[ax] === 1);
    const last = merged[merged.length - 1];
    if (last && last.bcast.every((b, i) => b === bcast[i])) last.size *= size;
    else merged.push({ size, bcast });
  }
  if (merged.length === 0) merged.push({ size: 1, bcast: shapes.map(() => false) });
  const strides = shapes.map((_, op) => {
    const s = new Array<number>(merged.length);
    let acc = 1;
    for (let i = merged.length - 1; i >= 0; i--) {
      s[i] = merged[i]!.bcast[op] ? 0 : acc;
      if (!merged[i]!.bcast[op]) acc *= merged[i]!.size;
    }
    return s;
  });
  const innerAxis = merged.length - 1;
  return {
    outer: merged.slice(0, innerAxis).map((m) => m.size),
    outerStrides: strides.map((s) => s.slice(0, innerAxis)),
    inner: merged[innerAxis]!.size,
    innerStrides: strides.map((s) => s[innerAxis]!),
  };
}

/** Calls `body(offsets)` once per inner run, with the start offset of each operand. */
export function forEachRun(plan: BroadcastPlan, body: (offsets: number[], outOffset: number) => void): void {
  const n = plan.outer.length;
  const ops = plan.outerStrides.length;
  const idx = new Array<number>(n).fill(0);
  const offsets = new Array<number>(ops).fill(0);
  let outOffset = 0;
  for (;;) {
    body(offsets, outOffset);
    outOffset += plan.inner;
    let ax = n - 1;
    for (; ax >= 0; ax--) {
      idx[ax]!++;
      for (let o = 0; o < ops; o++) offsets[o]! += plan.outerStrides[o]![ax]!;
      if (idx[ax]! < plan.outer[ax]!) break;
      for (let o = 0; o < ops; o++) offsets[o]! -= plan.outerStrides[o]![ax]! * plan.outer[ax]!;
      idx[ax] = 0;
    }
    if (ax < 0) return;
  }
}
