// The worker side of `pool.createTrainer`: a Trainer as a resource of one worker, created from the model's
// bytes and the options, stepped by id. Feeds, labels and results cross as transferred typed arrays.
import { AtrousError } from '../errors.js';
import type { Labels } from '../training/labels.js';
import { createTrainer, type Trainer } from '../training/trainer.js';
import type { TrainerOptions } from '../training/options.js';
import { Tensor } from '../tensor.js';
import { loadedBuild } from '../wasm/loader.js';
import type { ResourceKind } from './worker-resources.js';
import { toAnyTensor, type WireAnyTensor } from './wire.js';

export interface TrainerPayload {
  bytes: Uint8Array;
  options: Omit<TrainerOptions, 'build'>;
}

export interface TrainerInfo {
  parameterNames: string[];
}

/** Labels as they cross: a typed array, or a tensor's parts. */
export type WireLabels = Int32Array | Uint8Array | { type: 'int32' | 'uint8'; data: Int32Array | Uint8Array; dims: number[] };

function feedsOf(wire: Record<string, WireAnyTensor>): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(wire).map(([name, t]) => [name, toAnyTensor(t)]));
}

function labelsOf(w: WireLabels): Int32Array | Uint8Array | Tensor<'int32'> | Tensor<'uint8'> {
  return ArrayBuffer.isView(w) ? w : (new Tensor(w.type, w.data, w.dims) as Tensor<'int32'> | Tensor<'uint8'>);
}

/**
 * The batch `PooledTrainer.train` sends once and then steps on, so a run of many steps does not copy the same
 * feeds across every step (a head trained on precomputed features gets tens of MB per step otherwise, cloned
 * on the calling thread). Keyed weakly: a disposed trainer drops its batch with itself.
 */
const batches = new WeakMap<Trainer, { feeds: Record<string, Tensor>; labels: Labels }>();

const trainerKind: ResourceKind<Trainer> = {
  // The worker's kernels are already loaded: the trainer uses the same build.
  create: ({ bytes, options }: TrainerPayload) => createTrainer(bytes, { ...options, build: loadedBuild() }),
  bytes: (t) => t.memory.weightBytes,
  describe: (t): TrainerInfo => ({ parameterNames: [...t.parameterNames] }),
  methods: {
    async step(t, [feeds, labels]: [Record<string, WireAnyTensor>, WireLabels]) {
      return { value: await t.step(feedsOf(feeds), labelsOf(labels)), transfer: [] };
    },
    setBatch(t, [feeds, labels]: [Record<string, WireAnyTensor>, WireLabels]) {
      batches.set(t, { feeds: feedsOf(feeds), labels: labelsOf(labels) });
      return { value: undefined, transfer: [] };
    },
    async stepBatch(t) {
      const batch = batches.get(t);
      if (!batch) throw new AtrousError('INTERNAL', 'trainer.train: no batch was sent to the worker before its steps');
      return { value: await t.step(batch.feeds, batch.labels), transfer: [] };
    },
    clearBatch(t) {
      batches.delete(t);
      return { value: undefined, transfer: [] };
    },
    async evaluate(t, [feeds, labels]: [Record<string, WireAnyTensor>, WireLabels]) {
      return { value: await t.evaluate(feedsOf(feeds), labelsOf(labels)), transfer: [] };
    },
    async forward(t, [feeds]: [Record<string, WireAnyTensor>]) {
      const y = await t.forward(feedsOf(feeds));
      return { value: { type: y.type, data: y.data, dims: [...y.dims] }, transfer: [y.data.buffer as ArrayBuffer] };
    },
    exportModel(t) {
      const bytes = t.exportModel();
      return { value: bytes, transfer: [bytes.buffer as ArrayBuffer] };
    },
    memory(t) {
      return { value: t.memory, transfer: [] };
    },
  },
  dispose: (t) => t.dispose(),
};

export const TRAINER_RESOURCES: Record<string, ResourceKind> = { trainer: trainerKind };
