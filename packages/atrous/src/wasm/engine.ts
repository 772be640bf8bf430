import { AtrousError } from '../errors.js';
import { Kernels } from '../kernels/kernels.js';
import type { KernelExports } from './abi.js';
import type { WasmBuild } from './builds.js';
import { hardwareThreads } from '#thread-host';
import { ThreadTeam } from './threads/team.js';

let warnedNoThreads = false;

/** Most threads a team runs (the caller and 31 helpers: the team keeps a bit per helper). */
export const MAX_THREADS = 32;

/** A shared-memory build's module and memory, which its helper threads instantiate over. */
export interface SharedInstance {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
}

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
  /** A shared-memory build (threads possible); otherwise `threadsUnavailable` says why not. */
  readonly shared?: SharedInstance;
  readonly threadsUnavailable?: string;
  private scratchPtr = 0;
  private scratchBytes = 0;
  /** The count `init({ intraOpNumThreads })` asked for: what conv2d, conv1d and plans use by default. */
  initThreads = 1;
  private team?: ThreadTeam;
  private width = 1;
  private starting: Promise<unknown> = Promise.resolve();

  constructor(build: WasmBuild, instance: WebAssembly.Instance, shared?: SharedInstance, threadsUnavailable?: string) {
    this.build = build;
    // A shared-memory build imports its memory rather than exporting it; callers find it in one place.
    this.exports = (shared ? { ...instance.exports, memory: shared.memory } : instance.exports) as unknown as KernelExports;
    this.shared = shared;
    this.threadsUnavailable = shared ? undefined : threadsUnavailable ?? 'this is a single-thread build';
    this.kernels = new Kernels(this);
  }

  /** The team handle kernel calls split their work over: 0 (this thread alone) unless threads are in use. */
  get teamPtr(): number {
    return this.width > 1 ? this.team!.ptr : 0;
  }

  /** Threads the next kernel calls use. */
  get threads(): number {
    return this.width;
  }

  /**
   * Makes the next kernel calls use `count` threads (this one and `count - 1` helpers), starting or
   * replacing the team as needed (a team with a dead helper is replaced). Returns the count in effect:
   * 1 on a build without shared memory (see `threadsUnavailable`).
   */
  async useThreads(count: number, op = 'intraOpNumThreads'): Promise<number> {
    const wanted = checkThreadCount(count, op);
    if (wanted > 1 && !this.shared && !warnedNoThreads) {
      warnedNoThreads = true;
      console.warn(`atrous: ${op}: running on one thread, not ${wanted}: ${this.threadsUnavailable}`);
    }
    if (wanted === 1 || !this.shared) {
      this.width = 1;
      return 1;
    }
    if (!this.team || this.team.crashed || this.team.helpers < wanted - 1) {
      const previous = this.starting;
      const next = previous.then(async () => {
        if (this.team && !this.team.crashed && this.team.helpers >= wanted - 1) return;
        const old = this.team;
        this.team = undefined;
        this.width = 1;
        await old?.stop();
        this.team = await ThreadTeam.start({ exports: this.exports, module: this.shared!.module, memory: this.shared!.memory, alloc: (b, w) => this.alloc(b, w), free: (p, b) => this.free(p, b) }, wanted - 1);
      });
      this.starting = next.catch(() => undefined);
      await next;
    }
    this.team!.setWidth(wanted);
    this.width = wanted;
    return wanted;
  }

  /**
   * As `useThreads` for a team already running with enough helpers (synchronous calls: conv2d, plans);
   * throws naming `op` when there is none.
   */
  useThreadsNow(count: number, op: string): void {
    const wanted = checkThreadCount(count, op);
    if (wanted === 1 || !this.shared) {
      this.width = 1;
      return;
    }
    if (!this.team || this.team.crashed || this.team.helpers < wanted - 1) {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: intraOpNumThreads ${wanted} needs a team started first: \`await init({ intraOpNumThreads: ${wanted} })\``);
    }
    this.team.setWidth(wanted);
    this.width = wanted;
  }

  /** Whether the team has lost a helper (the next `useThreads` replaces it). */
  get teamCrashed(): boolean {
    return this.team?.crashed ?? false;
  }

  /** Fault tests: ends helper `index` of the team `afterMs` from now. */
  killHelperForTest(index: number, afterMs: number): void {
    if (!this.team) throw new Error('killHelperForTest: no team');
    this.team.killHelperForTest(index, afterMs);
  }

  /** Ends the team's threads (the engine keeps working on one thread). */
  async stopThreads(): Promise<void> {
    await this.starting;
    const team = this.team;
    this.team = undefined;
    this.width = 1;
    await team?.stop();
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

/** The default thread count for a lone session: every core, up to 8 (past that, memory bandwidth rules). */
export function defaultThreads(): number {
  return Math.max(1, Math.min(8, hardwareThreads()));
}

function checkThreadCount(count: number, op: string): number {
  if (!Number.isInteger(count) || count < 1 || count > MAX_THREADS) {
    throw new AtrousError('INVALID_ARGUMENT', `${op}: intraOpNumThreads must be an integer from 1 to ${MAX_THREADS}, got ${String(count)}`);
  }
  return count;
}
