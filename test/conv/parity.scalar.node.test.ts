// Parity with onnxruntime-node on the scalar build, in plain Node.
import { DEFAULT_SEED, defineParitySuite } from './parity-suite.js';
import { oracleConv } from './oracle.js';

defineParitySuite({
  build: 'scalar',
  expectBuild: 'scalar',
  count: 300,
  seed: Number(process.env.ATROUS_PARITY_SEED ?? DEFAULT_SEED),
  oracle: oracleConv,
});
