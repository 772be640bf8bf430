import { defineSessionParity } from './session-parity-suite.js';

defineSessionParity('simd128');
