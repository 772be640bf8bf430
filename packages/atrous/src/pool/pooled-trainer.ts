// `pool.createTrainer(bytes, options)`: a Trainer in one worker of a pool (its weights change with every
// step, so it is not copied to the others), with the same methods, async, plus `train` for many steps with
// progress. Cancellation takes effect between steps: the worker is never ended for it, so the trainer keeps
// what it learned.
import { AtrousError, show } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { Labels } from '../training/labels.js';
import type { EvaluationResult, StepResult, TrainerMemory, TrainingFeeds } from '../training/trainer.js';
import type { PinnedResource } from './resource-registry.js';
import type { TrainerInfo, WireLabels } from './trainer-resource.js';
import { toAnyTensor, Transfers, type WireAnyTensor } from './wire.js';

export interface TrainerCallOptions {
  /** Checked before the call and after it: an abort during a step lets the step finish, then rejects with ABORTED. */
  signal?: AbortSignal;
}

export interface TrainProgress {
  /** Steps done, from 1. */
  step: number;
  steps: number;
  /** That step's loss. */
  loss: number;
}

export interface TrainOptions extends TrainerCallOptions {
  steps: number;
  /** Called on the calling thread after each step. */
  onProgress?: (progress: TrainProgress) => void;
}

function aborted(label: string, signal: AbortSignal, when: string): AtrousError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted');
  return new AtrousError('ABORTED', `${label}: aborted ${when} (${reason}); the trainer keeps the steps done`);
}

function checkSignal(signal: unknown, label: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new AtrousError('INVALID_ARGUMENT', `${label}: options.signal must be an AbortSignal, got ${show(signal)}`);
  return signal;
}

export class PooledTrainer {
  /** Names of the trained initializers. */
  readonly parameterNames: readonly string[];

  constructor(private readonly resource: PinnedResource) {
    this.parameterNames = (resource.info as TrainerInfo).parameterNames;
  }

  /** One training step in the trainer's worker. */
  step(feeds: TrainingFeeds, labels: Labels, options: TrainerCallOptions = {}): Promise<StepResult> {
    return this.call<StepResult>('step', feeds, labels, options);
  }

  /**
   * `steps` steps on one batch, `onProgress` after each; an abort stops between steps (ABORTED). The batch is
   * sent to the worker once, as it is when train is called.
   */
  async train(feeds: TrainingFeeds, labels: Labels, options: TrainOptions): Promise<{ losses: number[] }> {
    const label = 'trainer.train';
    const { steps, onProgress } = options ?? ({} as TrainOptions);
    if (!Number.isInteger(steps) || steps < 1) throw new AtrousError('INVALID_ARGUMENT', `${label}: options.steps must be a positive integer, got ${show(steps)}`);
    if (onProgress !== undefined && typeof onProgress !== 'function') throw new AtrousError('INVALID_ARGUMENT', `${label}: options.onProgress must be a function, got ${show(onProgress)}`);
    const signal = checkSignal(options.signal, label);
    const losses: number[] = [];
    if (signal?.aborted) throw aborted(label, signal, `after 0 of ${steps} steps`);
    // The batch crosses to the worker once (a copy: later changes to the caller's arrays do not reach it);
    // each step then only names it.
    await this.call<void>('setBatch', feeds, labels, {});
    try {
      for (let i = 0; i < steps; i++) {
        if (signal?.aborted) throw aborted(label, signal, `after ${i} of ${steps} steps`);
        const { loss } = await this.invoke<StepResult>('stepBatch', [], [], {});
        losses.push(loss);
        onProgress?.({ step: i + 1, steps, loss });
      }
    } finally {
      await this.invoke<void>('clearBatch', [], [], {}).catch(() => undefined);
    }
    return { losses };
  }

  evaluate(feeds: TrainingFeeds, labels: Labels, options: TrainerCallOptions = {}): Promise<EvaluationResult> {
    return this.call<EvaluationResult>('evaluate', feeds, labels, options);
  }

  /** The logits for `feeds` with the current weights. */
  async forward(feeds: TrainingFeeds, options: TrainerCallOptions = {}): Promise<Tensor<'float32'>> {
    return toAnyTensor(await this.call<WireAnyTensor>('forward', feeds, undefined, options)) as Tensor<'float32'>;
  }

  /** The ONNX bytes with the tuned weights. */
  exportModel(options: TrainerCallOptions = {}): Promise<Uint8Array> {
    return this.invoke<Uint8Array>('exportModel', [], [], options);
  }

  memory(): Promise<TrainerMemory> {
    return this.invoke<TrainerMemory>('memory', [], [], {});
  }

  /** Frees the trainer in its worker. */
  dispose(): Promise<void> {
    return this.resource.dispose();
  }

  private call<T>(method: string, feeds: TrainingFeeds, labels: Labels | undefined, options: TrainerCallOptions): Promise<T> {
    const label = `trainer.${method}`;
    if (feeds === null || typeof feeds !== 'object' || Array.isArray(feeds)) {
      return Promise.reject(new AtrousError('INVALID_FEED', `${label}: feeds must be an object { [inputName]: Tensor }, got ${show(feeds)}`));
    }
    const t = new Transfers(false);
    const wire: Record<string, WireAnyTensor> = {};
    for (const [name, value] of Object.entries(feeds)) {
      if (!(value instanceof Tensor)) return Promise.reject(new AtrousError('INVALID_FEED', `${label}: feeds[${show(name)}] must be a Tensor, got ${show(value)}`));
      wire[name] = t.anyTensor(value);
    }
    const args: unknown[] = [wire];
    if (labels !== undefined) {
      // Wrong kinds of labels cross as they are and are refused in the worker, with the trainer's message.
      let w: unknown = labels;
      if (labels instanceof Tensor) w = { type: labels.type, data: t.array(labels.data as Int32Array), dims: [...labels.dims] };
      else if (labels instanceof Int32Array || labels instanceof Uint8Array) w = t.array(labels);
      args.push(w as WireLabels);
    }
    return this.invoke<T>(method, args, t.list, options);
  }

  private async invoke<T>(method: string, args: unknown[], transfers: ArrayBuffer[], options: TrainerCallOptions): Promise<T> {
    const label = `trainer.${method}`;
    const signal = checkSignal(options?.signal, label);
    if (signal?.aborted) throw aborted(label, signal, 'before it started');
    const value = await this.resource.invoke<T>(method, args, transfers);
    if (signal?.aborted) throw aborted(label, signal, 'while it ran (it finished)');
    return value;
  }
}
