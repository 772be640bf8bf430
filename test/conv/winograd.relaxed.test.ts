// Winograd parity on the relaxed-simd build (the `relaxed` project starts Node with --experimental-wasm-relaxed-simd).
import { oracleConv } from './oracle.js';
import { defineWinogradSuite } from './winograd-suite.js';

defineWinogradSuite({ build: 'relaxed', oracle: oracleConv });
