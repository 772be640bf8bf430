// Conv backward against PyTorch autograd on the scalar build, in plain Node.
import { BACKWARD_SEED, defineBackwardSuite } from './backward-suite.js';

defineBackwardSuite({ build: 'scalar', count: 240, seed: Number(process.env.ATROUS_BACKWARD_SEED ?? BACKWARD_SEED) });
