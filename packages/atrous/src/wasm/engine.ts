import { AtrousError } from '../errors.js';
import { Kernels } from '../kernels/kernels.js';
import type { KernelExports } from './abi.js';
import type { WasmBuild } from './builds.js';

/** wasm32 linear memory tops out at 4 GiB (65 536 pages of 64 KiB). */
export const MAX_WASM_BYTES = 2 ** 32;

/**
 * One instantiated kernel module: its exports and typed access to its memory. Views are created anew
 * for every access because any allocation may grow (and so detach) the memory's buffer.
 */
export class Engine {
  readonly build: WasmBuild;
  readonly exports: KernelExports;
  /** The typed facade every op calls. */
  readonly kernels: Kernels;
  private scratchPtr = 0;
  private scratchBytes = 0;

  constructor(build: WasmBuild, instance: WebAssembly.Instance) {
    this.build = build;
    this.exports = instance.exports as unknown as KernelExports;
    this.kernels = new Kernels(this);
  }

  /**
   * Copies a small descriptor into this engine's reusable scratch block and returns its address, so that
   * a kernel call costs no allocation. Valid until the next `scratchU32` (calls on one engine never nest).
   */
  scratchU32(values: Uint32Array): number {
    if (values.byteLength > this.scratchBytes) {
      this.free(this.scratchPtr, this.scratchBytes);
      this.scratchPtr = 0;
      const bytes = Math.max(1024, values.byteLength);
      this.scratchPtr = this.alloc(bytes, 'kernel descriptor scratch');
      this.scratchBytes = bytes;
    }
    this.u32(this.scratchPtr, values.length).set(values);
    return this.scratchPtr;
  }

  /** Current size of the wasm memory in bytes (it only ever grows, so this is also its peak). */
  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  /** Allocates `bytes` in wasm memory; `what` names the buffer in the error if memory is exhausted. */
  alloc(bytes: number, what: string): number {
    if (bytes > MAX_WASM_BYTES - this.memoryBytes) {
      throw new AtrousError(
        'OUT_OF_MEMORY',
        `${what} needs ${bytes} bytes but the wasm memory (${this.memoryBytes} bytes in use, 4 GiB at most) cannot hold it`,
      );
    }
    const ptr = this.exports.atrous_alloc(bytes);
    if (ptr === 0) {
      throw new AtrousError('OUT_OF_MEMORY', `${what} needs ${bytes} bytes but the wasm memory cannot grow that far (now ${this.memoryBytes} bytes)`);
    }
    return ptr;
  }

  free(ptr: number, bytes: number): void {
    if (ptr !== 0) this.exports.atrous_free(ptr, bytes);
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.exports.memory.buffer, ptr, length);
  }

  u32(ptr: number, length: number): Uint32Array {
    return new Uint32Array(this.exports.memory.buffer, ptr, length);
  }

  /** Copies `data` into a fresh allocation; returns its pointer. */
  upload(data: Float32Array, what: string): number {
    const ptr = this.alloc(data.byteLength, what);
    this.f32(ptr, data.length).set(data);
    return ptr;
  }
}
