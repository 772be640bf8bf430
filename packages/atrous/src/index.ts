export { AtrousError, type AtrousErrorCode } from './errors.js';
export { Tensor, type TensorType, type TensorDataTypes } from './tensor.js';
export { init, loadedBuild, type InitOptions } from './wasm/loader.js';
export { supportedBuilds, type WasmBuild } from './wasm/builds.js';
export type { Activation } from './ops/activation.js';
export type { Conv2dOptions, AutoPad } from './ops/conv-options.js';
export { ConvPlan, prepareConv2d, type ConvMethod, type ConvRunOptions, type ConvOutputOptions } from './ops/conv-plan.js';
export { conv2d } from './ops/conv2d.js';
export { conv1d, type Conv1dOptions } from './ops/conv1d.js';
export { activationBackward, type ActivationBackwardOptions } from './ops/activation-backward.js';
export { conv2dBackward, conv1dBackward, type Conv2dBackwardOptions, type Conv1dBackwardOptions, type ConvGradients } from './ops/conv-backward.js';
export { createTrainer, Trainer, type EvaluationResult, type StepResult, type TrainerMemory, type TrainingFeeds, type Labels, type LossOptions, type OptimizerOptions, type TrainableSpec, type TrainerOptions } from './training/index.js';
export {
  receptiveField,
  type ReceptiveField,
  type ReceptiveFieldOptions,
  type ConvGeometry,
  type ConvLayer,
  type GriddingWarning,
} from './analysis/receptive-field.js';
export { createWorkerPool, WorkerPool } from './pool/worker-pool.js';
export type { WorkerPoolOptions, PoolCallOptions, TiledRunOptions, WorkerPoolStats, WorkerStats, WorkerResourceLimits } from './pool/pool-types.js';
export { PooledResource } from './pool/resource-registry.js';
export { PooledConvPlan, PooledConvStack, type PooledRunOptions } from './pool/pooled-conv.js';
export { serveWorker, type WorkerOp } from './pool/worker-service.js';
export { planTiles, cropTile, pasteTile, type Tile, type TilePlan, type Region } from './pool/tiling.js';
export { PooledSession } from './pool/pooled-session.js';
export { PooledTrainer, type TrainOptions, type TrainProgress, type TrainerCallOptions } from './pool/pooled-trainer.js';
export {
  InferenceSession,
  type SessionOptions,
  type ValueMetadata,
  type ModelMetadata,
  type InferenceFeeds,
  type InferenceResults,
  type InferenceFetches,
  type SessionRunOptions,
  type SessionMemory,
  type ProfileEntry,
  type NodeProfileEntry,
} from './onnx/session.js';
