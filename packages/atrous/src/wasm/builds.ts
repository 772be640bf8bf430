/**
 * The three builds of the kernels and how to tell which ones an engine can run: tiny modules that use
 * one instruction from each feature, checked with `WebAssembly.validate` (no compilation, no download).
 */
export type WasmBuild = 'relaxed' | 'simd128' | 'scalar';

/** Best first. */
export const BUILDS: readonly WasmBuild[] = ['relaxed', 'simd128', 'scalar'];

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
// One type `() -> v128`, one function of that type.
const V128_FUNCTION = [0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00];
const V128_ZERO = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];

function moduleWithBody(body: number[]): Uint8Array<ArrayBuffer> {
  const fn = [0x00, ...body, 0x0b]; // no locals, body, end
  const code = [0x01, fn.length, ...fn];
  return new Uint8Array([...HEADER, ...V128_FUNCTION, 0x0a, code.length, ...code]);
}

/** `v128.const 0` */
const SIMD_PROBE = moduleWithBody(V128_ZERO);
/** `f32x4.relaxed_madd(0, 0, 0)` (opcode 0xfd 0x105) */
const RELAXED_PROBE = moduleWithBody([...V128_ZERO, ...V128_ZERO, ...V128_ZERO, 0xfd, 0x85, 0x02]);

export function engineSupports(build: WasmBuild): boolean {
  try {
    if (build === 'scalar') return typeof WebAssembly === 'object';
    return WebAssembly.validate(build === 'relaxed' ? RELAXED_PROBE : SIMD_PROBE);
  } catch {
    return false;
  }
}

/** The builds this engine can run, best first. */
export function supportedBuilds(): WasmBuild[] {
  return BUILDS.filter(engineSupports);
}
