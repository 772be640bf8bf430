import { init } from '../src/wasm/loader.js';
import type { RunEnv } from '../src/onnx/value.js';

/** The kernels a unit test runs ops on: the best build this Node validates. */
export async function testEnv(): Promise<RunEnv> {
  const engine = await init();
  return { engine, kernels: engine.kernels };
}
