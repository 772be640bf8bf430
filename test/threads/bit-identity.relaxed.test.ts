// Threaded runs on the relaxed shared-memory build give the single-thread build's bits (see bit-identity.ts).
// The models run on the simd128 file; here the conv cases, on relaxed-simd's fused multiply-add.
import { defineBitIdentity } from './bit-identity.js';

defineBitIdentity('relaxed', { models: false });
