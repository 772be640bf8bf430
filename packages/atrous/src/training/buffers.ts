import type { Engine } from '../wasm/engine.js';

/**
 * The float buffers one training step allocates in wasm memory (activations kept for the backward,
 * gradients), freed by address; whatever is left when the step ends or fails is freed by `releaseAll`, so a
 * failed step leaks nothing.
 */
export class StepBuffers {
  private readonly sizes = new Map<number, number>();
  private held = 0;
  /** Most bytes held at once since this object was made. */
  peak = 0;
  constructor(private readonly engine: Engine) {}

  /** `n` floats (at least 16 bytes: the allocator is never asked for 0). */
  alloc(n: number, what: string): number {
    const bytes = Math.max(16, n * 4);
    const ptr = this.engine.alloc(bytes, what);
    this.sizes.set(ptr, bytes);
    this.held += bytes;
    this.peak = Math.max(this.peak, this.held);
    return ptr;
  }

  /** A copy of `data`. */
  upload(data: Float32Array, what: string): number {
    const ptr = this.alloc(data.length, what);
    this.engine.f32(ptr, data.length).set(data);
    return ptr;
  }

  free(ptr: number): void {
    const bytes = this.sizes.get(ptr);
    if (bytes === undefined) return;
    this.sizes.delete(ptr);
    this.held -= bytes;
    this.engine.free(ptr, bytes);
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.held;
  }

  releaseAll(): void {
    for (const [ptr, bytes] of this.sizes) this.engine.free(ptr, bytes);
    this.sizes.clear();
    this.held = 0;
  }
}
