import { compileBuild, describeSource } from '#wasm-source';
import { AtrousError, show } from '../errors.js';
import { BUILDS, engineSupports, supportedBuilds, type WasmBuild } from './builds.js';
import { Engine } from './engine.js';
import { sharedMemoryUnavailable } from '#thread-host';

export interface InitOptions {
  /** Force one build instead of the best the engine supports. */
  build?: WasmBuild;
  /**
   * Load the shared-memory variant of the build (intra-op threads possible): default true where shared
   * memory can be made (always in Node; in browsers when the page is cross-origin isolated). Asking for
   * it where it cannot be made falls back to one thread and says why (`threadsUnavailable`).
   */
  shared?: boolean;
  /**
   * Threads that conv2d, conv1d and plans split their work over (sessions have their own option).
   * Default 1. Starts the helper threads now, so that those synchronous calls can use them.
   */
  intraOpNumThreads?: number;
}

/** A shared memory's pages at the start; it grows like any other (to 4 GiB, the module's maximum). */
const SHARED_INITIAL_PAGES = 64;
const SHARED_MAXIMUM_PAGES = 65536;

let current: Engine | undefined;
/** Engines by build and variant, loaded once each: switching back and forth reuses them (and their threads). */
const engines = new Map<string, Promise<Engine>>();

/**
 * Compiles and instantiates one build of the kernels: its shared-memory variant when `shared` and this
 * engine can make shared memory (the scalar build has none), else the single-thread one.
 */
export async function instantiate(build: WasmBuild, shared = true): Promise<Engine> {
  const unavailable = !shared ? 'the single-thread build was asked for' : build === 'scalar' ? 'the scalar build has no threaded variant' : sharedMemoryUnavailable();
  const threaded = unavailable === undefined;
  let module: WebAssembly.Module;
  try {
    module = await compileBuild(build, threaded);
  } catch (cause) {
    throw new AtrousError('WASM_UNAVAILABLE', `init: could not load the ${build} build from ${describeSource(build, threaded)}: ${String(cause)}`);
  }
  if (!threaded) return new Engine(build, await WebAssembly.instantiate(module, {}), undefined, unavailable);
  const memory = new WebAssembly.Memory({ initial: SHARED_INITIAL_PAGES, maximum: SHARED_MAXIMUM_PAGES, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  return new Engine(build, instance, { module, memory });
}

/**
 * Loads the kernels: the best build this engine validates (relaxed-simd, then simd128, then scalar), or
 * the one asked for. Safe to call many times; a call with a different `build` switches builds (plans
 * made earlier keep working on the build they were made with).
 */
export async function init(options: InitOptions = {}): Promise<Engine> {
  const wanted = options.build;
  if (wanted !== undefined && !BUILDS.includes(wanted)) {
    throw new AtrousError('INVALID_ARGUMENT', `init: options.build must be one of ${BUILDS.map(show).join(', ')}, got ${show(wanted)}`);
  }
  if (wanted !== undefined && !engineSupports(wanted)) {
    throw new AtrousError('WASM_UNAVAILABLE', `init: this engine cannot run the ${show(wanted)} build (it supports ${show(supportedBuilds())})`);
  }
  const build = wanted ?? supportedBuilds()[0];
  if (build === undefined) throw new AtrousError('WASM_UNAVAILABLE', 'init: this engine has no WebAssembly support');
  const threads = options.intraOpNumThreads;
  const ready = async (engine: Engine) => {
    current = engine;
    if (threads !== undefined) engine.initThreads = await engine.useThreads(threads, 'init');
    return engine;
  };
  // Without `shared` asked for, a loaded engine of this build is kept whichever variant it is.
  if (options.shared === undefined && current?.build === build) return ready(current);
  const shared = options.shared ?? true;
  const key = `${build}:${shared}`;
  let engine = engines.get(key);
  if (!engine) {
    engine = instantiate(build, shared);
    engines.set(key, engine);
    engine.catch(() => engines.delete(key));
  }
  return engine.then(ready);
}

/** The engine `init()` loaded; throws if there is none yet. `op` names the caller in the error. */
export function currentEngine(op: string): Engine {
  if (!current) throw new AtrousError('NOT_INITIALIZED', `${op}: call \`await init()\` first to load the wasm kernels`);
  return current;
}

/** Which build is loaded, if any. */
export function loadedBuild(): WasmBuild | undefined {
  return current?.build;
}
