import { elementwiseOps } from './elementwise.js';
import { indexingOps } from './indexing.js';
import { layoutOps } from './layout.js';
import { matmulOps } from './matmul.js';
import { normalizationOps } from './normalization.js';
import type { OpPreparer } from './op.js';
import { poolingOps } from './pooling.js';
import { reduceOps } from './reduce.js';
import { resizeOps } from './resize.js';
import { shapeOps } from './shape-ops.js';
import { softmaxOps } from './softmax.js';
import { unaryOps } from './unary.js';

/**
 * Every op of the default domain atrous runs on the JavaScript side (some with a wasm form). Conv and
 * ConvTranspose run on the wasm conv kernels (conv.ts, conv-transpose.ts) and are wired by the session.
 */
export const OPS: ReadonlyMap<string, OpPreparer> = new Map(
  Object.entries({
    ...elementwiseOps,
    ...unaryOps,
    ...shapeOps,
    ...indexingOps,
    ...layoutOps,
    ...matmulOps,
    ...reduceOps,
    ...softmaxOps,
    ...normalizationOps,
    ...poolingOps,
    ...resizeOps,
  }),
);

export function isSupportedOp(opType: string): boolean {
  return opType === 'Conv' || opType === 'ConvTranspose' || OPS.has(opType);
}
