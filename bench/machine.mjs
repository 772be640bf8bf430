import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

const SIMD_FLAGS = ['sse4_2', 'avx2', 'fma', 'avx512f'];

function run(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export function cpuModel() {
  const lscpu = run('lscpu', []);
  return lscpu.match(/^Model name:\s*(.*)$/m)?.[1]?.trim() || 'unknown (no lscpu)';
}

export function simdFlags(cpu) {
  return SIMD_FLAGS.map((f) => `${f} ${cpu.flags.has(f) ? 'yes' : 'no'}`).join(', ');
}

/** `uptime` as printed (load averages over 1, 5 and 15 minutes). */
export function load() {
  return run('uptime', []) || `loadavg ${readFileSync('/proc/loadavg', 'utf8').trim()}`;
}

/** Versions of the benchmarked packages, read from their installed package.json. */
export function packageVersions() {
  const names = ['atrous', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm', 'onnxruntime-web', 'onnxruntime-node'];
  return names.map((name) => {
    try {
      const pkg = JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), 'utf8'));
      return `${name} ${pkg.version}`;
    } catch {
      return `${name} (not installed)`;
    }
  });
}

/**
 * Which kernels were measured: each atrous .wasm build's size, sha256 prefix and modification time. In Node the
 * loader takes the shared-memory (`-threads`) files, shared memory being always there, even for one thread;
 * the single-thread files are listed too (browsers without cross-origin isolation load those).
 */
export function atrousWasmFiles() {
  return ['relaxed-threads', 'simd128-threads', 'relaxed', 'simd128'].map((build) => {
    const url = new URL(`./node_modules/atrous/wasm/atrous-${build}.wasm`, import.meta.url);
    try {
      const bytes = readFileSync(url);
      const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
      return `${build} ${bytes.length} bytes sha256 ${hash}… built ${statSync(url).mtime.toISOString()}`;
    } catch {
      return `${build} (missing)`;
    }
  });
}
