// Threaded runs on the simd128 shared-memory build give the single-thread build's bits (see bit-identity.ts).
import { defineBitIdentity } from './bit-identity.js';

defineBitIdentity('simd128', { models: true });
