// Parity with onnxruntime-node on the simd128 build, in plain Node.
import { DEFAULT_SEED, defineParitySuite } from './parity-suite.js';
import { oracleConv } from './oracle.js';

defineParitySuite({
  build: 'simd128',
  expectBuild: 'simd128',
  count: 300,
  seed: Number(process.env.ATROUS_PARITY_SEED ?? DEFAULT_SEED),
  oracle: oracleConv,
});
