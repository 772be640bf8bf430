// Parity with onnxruntime-node on the relaxed-simd build: this file runs in the `relaxed` project, whose
// Node is started with --experimental-wasm-relaxed-simd (vitest.config.ts).
import { DEFAULT_SEED, defineParitySuite } from './parity-suite.js';
import { oracleConv } from './oracle.js';

defineParitySuite({
  build: 'relaxed',
  expectBuild: 'relaxed',
  count: 300,
  seed: Number(process.env.ATROUS_PARITY_SEED ?? DEFAULT_SEED),
  oracle: oracleConv,
});
