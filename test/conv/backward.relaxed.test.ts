// Conv backward against PyTorch autograd on the relaxed-simd build: this file runs in the `relaxed` project,
// whose Node is started with --experimental-wasm-relaxed-simd (vitest.config.ts).
import { BACKWARD_SEED, defineBackwardSuite } from './backward-suite.js';

defineBackwardSuite({ build: 'relaxed', count: 240, seed: Number(process.env.ATROUS_BACKWARD_SEED ?? BACKWARD_SEED) });
