import { compileBuild, describeSource } from '#wasm-source';
import { AtrousError, show } from '../errors.js';
import { BUILDS, engineSupports, supportedBuilds, type WasmBuild } from './builds.js';
import { Engine } from './engine.js';

export interface InitOptions {
  /** Force one build instead of the best the engine supports. */
  build?: WasmBuild;
}

let current: Engine | undefined;
let loading: Promise<Engine> | undefined;
let loadingBuild: WasmBuild | undefined;

/** Compiles and instantiates one build of the kernels. */
export async function instantiate(build: WasmBuild): Promise<Engine> {
  let module: WebAssembly.Module;
  try {
    module = await compileBuild(build);
  } catch (cause) {
    throw new AtrousError('WASM_UNAVAILABLE', `init: could not load the ${build} build from ${describeSource(build)}: ${String(cause)}`);
  }
  const instance = await WebAssembly.instantiate(module, {});
  return new Engine(build, instance);
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
  if (current?.build === build) return current;
  if (loading && loadingBuild === build) return loading;
  loadingBuild = build;
  loading = instantiate(build).then(
    (engine) => {
      current = engine;
      loading = undefined;
      return engine;
    },
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
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
