// The same graphs on the relaxed-simd build (fused multiply-add in the conv, resize and element-wise kernels).
import { defineSessionParity } from './session-parity-suite.js';

defineSessionParity('relaxed');
