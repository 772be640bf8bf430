export { createTrainer, Trainer, type EvaluationResult, type StepResult, type TrainerMemory, type TrainingFeeds } from './trainer.js';
export type { Labels } from './labels.js';
export type { LossOptions, OptimizerOptions, TrainableSpec, TrainerOptions } from './options.js';
