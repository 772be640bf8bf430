// Which images `finetune` trains on and which it holds out to measure mIoU: decided by each file's name
// alone (a hash), so the split does not depend on the order the files were given in, and adding images to
// a folder leaves the earlier ones on their side as long as the held-out count stays the same.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';

export interface Split<T> {
  train: T[];
  heldOut: T[];
}

function rank(name: string): string {
  return createHash('sha256').update(basename(name)).digest('hex');
}

/**
 * Holds out `round(share * n)` items (at least one, and at least one left to train on), those whose name
 * hashes lowest. Both sides keep the items' original order. Needs at least two items.
 */
export function holdOut<T>(items: T[], nameOf: (item: T) => string, share: number): Split<T> {
  if (items.length < 2) throw new Error(`finetune needs at least 2 images (one to train on, one held out), got ${items.length}`);
  const count = Math.min(items.length - 1, Math.max(1, Math.round(share * items.length)));
  const byRank = items.map((item, i) => ({ i, key: rank(nameOf(item)) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i));
  const held = new Set(byRank.slice(0, count).map((r) => r.i));
  return { train: items.filter((_, i) => !held.has(i)), heldOut: items.filter((_, i) => held.has(i)) };
}
