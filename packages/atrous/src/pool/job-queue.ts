// Calls waiting for a free worker, first in first out, with a bound: a pool that is asked for more than it
// can hold says so at once instead of growing without limit.
import { AtrousError } from '../errors.js';

export class JobQueue<J> {
  private items: J[] = [];
  private head = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Adds `job`, or throws QUEUE_FULL; `label` names the call in the message. */
  push(job: J, label: string): void {
    if (this.length >= this.capacity) {
      throw new AtrousError(
        'QUEUE_FULL',
        `${label}: the pool's queue is full (maxQueue = ${this.capacity} calls already waiting for a worker); ` +
          'await some results first, or create the pool with a larger maxQueue',
      );
    }
    this.items.push(job);
  }

  shift(): J | undefined {
    if (this.head >= this.items.length) return undefined;
    const job = this.items[this.head]!;
    this.items[this.head++] = undefined as J;
    // Compact once the consumed prefix dominates, so a long-lived pool does not keep a growing array.
    if (this.head > 32 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return job;
  }

  /** Takes out the first waiting job that `fits` (a call pinned to a worker waits for that worker). */
  take(fits: (job: J) => boolean): J | undefined {
    const i = this.items.findIndex((job, k) => k >= this.head && fits(job));
    if (i < 0) return undefined;
    if (i === this.head) return this.shift();
    return this.items.splice(i, 1)[0];
  }

  /** Takes `job` out wherever it waits (a cancelled call); false if it is not queued. */
  remove(job: J): boolean {
    const i = this.items.indexOf(job, this.head);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }

  /** Empties the queue, handing back what was waiting. */
  drain(): J[] {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return all;
  }
}
