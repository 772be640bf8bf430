// Winograd parity on the simd128 build, in plain Node.
import { oracleConv } from './oracle.js';
import { defineWinogradSuite } from './winograd-suite.js';

defineWinogradSuite({ build: 'simd128', oracle: oracleConv });
