import { convOps } from './conv.js';
import { convTransposeOps } from './conv-transpose.js';
import { elementwiseOps } from './elementwise.js';
import { indexingOps } from './indexing.js';
import { layoutOps } from './layout.js';
import { matmulOps } from './matmul.js';
import { normalizationOps } from './normalization.js';
import type { OpDefinition, OpPreparer } from './op.js';
import { poolingOps } from './pooling.js';
import { reduceOps } from './reduce.js';
import { resizeOps } from './resize.js';
import { shapeOps } from './shape-ops.js';
import { softmaxOps } from './softmax.js';
import { unaryOps } from './unary.js';
import { elementIndexingOps } from './element-indexing.js';
import { lossOps } from './losses.js';
import { integerLogicOps } from './integer-logic.js';
import { diagonalOps } from './diagonal.js';
import { selectionOps } from './selection.js';
import { cumulativeOps } from './cumulative.js';
import { quantizationOps } from './quantization.js';
import type { NodeIR } from '../graph.js';

/** The domain of the ops the optimizer makes (fused conv, fused matmul, ...): never read from a file. */
export const INTERNAL_DOMAIN = 'atrous';

const plain = (family: Record<string, OpPreparer>): [string, OpDefinition][] => Object.entries(family).map(([name, prepare]) => [name, { prepare }]);

/**
 * Every op atrous runs, by op type (internal ops as `atrous.<type>`), one file per family. Conv and
 * ConvTranspose are ordinary entries whose `load` hook packs their weights once.
 */
export const OPS: ReadonlyMap<string, OpDefinition> = uniqueEntries([
  ...Object.entries(convOps),
  ...Object.entries(convTransposeOps),
  ...plain(elementwiseOps),
  ...plain(unaryOps),
  ...plain(shapeOps),
  ...plain(indexingOps),
  ...plain(layoutOps),
  ...Object.entries(matmulOps),
  ...plain(reduceOps),
  ...plain(softmaxOps),
  ...Object.entries(normalizationOps),
  ...plain(poolingOps),
  ...plain(resizeOps),
  ...plain(elementIndexingOps),
  ...plain(lossOps),
  ...plain(integerLogicOps),
  ...plain(diagonalOps),
  ...plain(selectionOps),
  ...plain(cumulativeOps),
  ...plain(quantizationOps),
]);

/** One implementation per op: a second registration of a name is a bug, caught when the module loads. */
function uniqueEntries(entries: [string, OpDefinition][]): Map<string, OpDefinition> {
  const map = new Map<string, OpDefinition>();
  for (const [name, definition] of entries) {
    if (map.has(name)) throw new Error(`atrous: op ${name} is registered twice`);
    map.set(name, definition);
  }
  return map;
}

/** The definition that runs `node`, if atrous has one. */
export function opFor(node: Pick<NodeIR, 'opType' | 'domain'>): OpDefinition | undefined {
  if (node.domain === INTERNAL_DOMAIN) return OPS.get(`${INTERNAL_DOMAIN}.${node.opType}`);
  if (node.domain !== '' && node.domain !== 'ai.onnx') return undefined;
  return OPS.get(node.opType);
}

export function isSupportedOp(opType: string): boolean {
  return OPS.has(opType);
}
