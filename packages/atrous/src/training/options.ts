import { AtrousError, show } from '../errors.js';
import type { WasmBuild } from '../wasm/builds.js';

/** Which nodes train: all of them, those named, or those after a node (in the graph's order). */
export type TrainableSpec = 'all' | string[] | { after: string };

export interface LossOptions {
  type: 'softmaxCrossEntropy';
  /** Label value whose pixels count for nothing (PyTorch's default -100). */
  ignoreIndex?: number;
  /** One weight per class, PyTorch's `weight=`: the mean is weighted by the label's weight. */
  classWeights?: ArrayLike<number>;
}

export interface OptimizerOptions {
  /** PyTorch's `torch.optim.SGD` / `torch.optim.Adam` update rules, step for step. */
  type: 'adam' | 'sgd';
  learningRate: number;
  /** SGD momentum in [0, 1) (no dampening, not Nesterov); default 0. */
  momentum?: number;
  /** L2 penalty added to the gradient (PyTorch's `weight_decay`, not AdamW's decoupled decay); default 0. */
  weightDecay?: number;
  /** Adam's (beta1, beta2), default [0.9, 0.999]. */
  betas?: [number, number];
  /** Adam's epsilon, default 1e-8. */
  epsilon?: number;
}

export interface TrainerOptions {
  /** Default 'all'. */
  trainable?: TrainableSpec;
  loss: LossOptions;
  optimizer: OptimizerOptions;
  /** The graph output holding the logits `[N, C, H, W]`; default the first output. */
  output?: string;
  /** Force one wasm build (as `init({ build })`). */
  build?: WasmBuild;
}

/** The options, checked, with their defaults. */
export interface ResolvedOptions {
  trainable: TrainableSpec;
  ignoreIndex: number;
  classWeights: Float32Array | undefined;
  optimizer: Required<OptimizerOptions>;
  output: string | undefined;
}

function bad(what: string, value: unknown, rule: string): AtrousError {
  return new AtrousError('INVALID_ARGUMENT', `createTrainer: ${what} ${rule}, got ${show(value)}`);
}

function finite(what: string, value: unknown, ok: (v: number) => boolean, rule: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) throw bad(what, value, rule);
  return value;
}

export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw bad('options', options, 'must be an object ({ trainable, loss, optimizer })');
  const o = options as TrainerOptions;
  const trainable = o.trainable ?? 'all';
  const names = Array.isArray(trainable) && trainable.every((n) => typeof n === 'string');
  const after = typeof trainable === 'object' && !Array.isArray(trainable) && trainable !== null && typeof trainable.after === 'string';
  if (trainable !== 'all' && !names && !after) throw bad('options.trainable', trainable, "must be 'all', an array of node names or { after: nodeName }");
  if (names && trainable.length === 0) throw bad('options.trainable', trainable, 'must name at least one node');

  const loss = o.loss;
  if (!loss || typeof loss !== 'object' || loss.type !== 'softmaxCrossEntropy') throw bad('options.loss.type', loss?.type, "must be 'softmaxCrossEntropy'");
  const ignoreIndex = finite('options.loss.ignoreIndex', loss.ignoreIndex ?? -100, (v) => Number.isInteger(v) && Math.abs(v) < 2 ** 31, 'must be a 32-bit integer');
  let classWeights: Float32Array | undefined;
  if (loss.classWeights !== undefined) {
    const w = loss.classWeights;
    if (typeof w !== 'object' || w === null || typeof w.length !== 'number' || w.length === 0) throw bad('options.loss.classWeights', w, 'must be a non-empty array of numbers');
    classWeights = Float32Array.from(Array.from(w, (v, i) => finite(`options.loss.classWeights[${i}]`, v, (x) => x >= 0, 'must be a finite number >= 0')));
  }

  const opt = o.optimizer;
  if (!opt || typeof opt !== 'object' || (opt.type !== 'adam' && opt.type !== 'sgd')) throw bad('options.optimizer.type', opt?.type, "must be 'adam' or 'sgd'");
  const learningRate = finite('options.optimizer.learningRate', opt.learningRate, (v) => v > 0, 'must be a finite number > 0');
  const momentum = finite('options.optimizer.momentum', opt.momentum ?? 0, (v) => v >= 0 && v < 1, 'must be in [0, 1)');
  if (opt.type === 'adam' && opt.momentum !== undefined) throw bad('options.optimizer.momentum', opt.momentum, "is SGD's; Adam takes betas");
  const weightDecay = finite('options.optimizer.weightDecay', opt.weightDecay ?? 0, (v) => v >= 0, 'must be a finite number >= 0');
  const betas = opt.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2) throw bad('options.optimizer.betas', betas, 'must be two numbers in [0, 1)');
  betas.forEach((b, i) => finite(`options.optimizer.betas[${i}]`, b, (v) => v >= 0 && v < 1, 'must be in [0, 1)'));
  const epsilon = finite('options.optimizer.epsilon', opt.epsilon ?? 1e-8, (v) => v > 0, 'must be a finite number > 0');
  if (o.output !== undefined && typeof o.output !== 'string') throw bad('options.output', o.output, 'must be an output name');
  return {
    trainable,
    ignoreIndex,
    classWeights,
    optimizer: { type: opt.type, learningRate, momentum, weightDecay, betas: [betas[0]!, betas[1]!], epsilon },
    output: o.output,
  };
}
