// Winograd parity on the scalar build, in plain Node.
import { oracleConv } from './oracle.js';
import { defineWinogradSuite } from './winograd-suite.js';

defineWinogradSuite({ build: 'scalar', oracle: oracleConv });
