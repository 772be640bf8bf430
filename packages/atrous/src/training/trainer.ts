import { AtrousError, show } from '../errors.js';
import { Tensor } from '../tensor.js';
import { currentEngine, init, loadedBuild } from '../wasm/loader.js';
import type { Engine } from '../wasm/engine.js';
import { foldConstants } from '../onnx/constant-folding.js';
import { checkFeeds } from '../onnx/feeds.js';
import { nodeLabel, type GraphIR, type NodeIR } from '../onnx/graph.js';
import { readModel } from '../onnx/model-loading.js';
import { parseModel } from '../onnx/model-parser.js';
import type { NodeState } from '../onnx/ops/op.js';
import { opFor } from '../onnx/ops/registry.js';
import { specialize, type Program } from '../onnx/shape-inference.js';
import type { RunEnv } from '../onnx/value.js';
import { StepBuffers } from './buffers.js';
import { rootOf, runForward } from './forward-pass.js';
import { backward, checkBackward, keptValues } from './gradient-rules.js';
import { checkLabels, type Labels } from './labels.js';
import { replaceInitializers } from './model-export.js';
import { applyUpdate, type Parameter } from './optimizer.js';
import { resolveOptions, type ResolvedOptions, type TrainerOptions } from './options.js';
import { trainablePart, type TrainablePart } from './trainable-graph.js';

export type TrainingFeeds = Record<string, Tensor>;

export interface StepResult {
  /** The mean loss of the batch before this step's update. */
  loss: number;
}

/** What training holds in wasm memory, in bytes. */
export interface TrainerMemory {
  /** Activations the last step's forward kept for its backward. */
  keptActivationBytes: number;
  /** Most bytes the last step held at once (activations, gradients, scratch uploads); 0 before a step. */
  peakStepBytes: number;
  /** Packed weights and folded constants (what an InferenceSession would hold too). */
  weightBytes: number;
}

export interface EvaluationResult {
  loss: number;
  /** Share of the counted (not ignored) pixels whose largest logit is at their label; NaN when none counts. */
  pixelAccuracy: number;
}

/** The program for one set of input dims, with what its backward will read. */
interface Prepared {
  program: Program;
  /** Storage name -> how many backward steps read it. */
  keep: Map<string, number>;
}

/**
 * Fine-tunes an ONNX model's Conv and BatchNormalization weights (BatchNorm in inference mode: its running
 * statistics stay) on the same kernels and op implementations an InferenceSession runs, with PyTorch's
 * softmax cross-entropy and SGD / Adam. One `step` is a forward, the loss and its gradient, the backward
 * through the trained part only, and an update.
 *
 * Memory per step: the activations the trained part's backward reads (a conv's input, an activation's
 * output, a max pool's input, a BatchNorm's input when its scale trains) plus, at any moment, the
 * gradients in flight; frozen layers' activations are freed after their last forward reader.
 */
export class Trainer {
  private readonly env: RunEnv;
  private readonly engine: Engine;
  private readonly states = new Map<NodeIR, NodeState>();
  private readonly programs = new Map<string, Prepared>();
  private readonly params: Parameter[];
  private readonly carriesGrad: Set<string>;
  private readonly output: string;
  private steps = 0;
  private disposed = false;
  private lastKept = 0;
  private lastPeak = 0;

  private constructor(
    env: RunEnv,
    private readonly bytes: Uint8Array,
    private readonly graph: GraphIR,
    private readonly part: TrainablePart,
    private readonly options: ResolvedOptions,
  ) {
    this.env = env;
    this.engine = env.engine;
    this.params = part.parameters.map((name) => {
      const values = graph.initializers.get(name)!.data as Float32Array;
      return { name, values, grad: new Float32Array(values.length) };
    });
    this.carriesGrad = new Set([...part.differentiated.keys()].flatMap((n) => n.outputs.filter((o) => o !== '')));
    const output = options.output ?? graph.outputs[0]!.name;
    if (!graph.outputs.some((o) => o.name === output)) {
      throw new AtrousError('INVALID_ARGUMENT', `createTrainer: options.output ${show(output)} is not an output of the model (outputs: ${show(graph.outputs.map((o) => o.name))})`);
    }
    this.output = output;
  }

  /** Parses the model, checks the options against it, and packs its weights. */
  static async create(model: Uint8Array | ArrayBuffer | string, options: TrainerOptions): Promise<Trainer> {
    const resolved = resolveOptions(options);
    const bytes = await readModel(model);
    const engine = options.build === undefined && loadedBuild() !== undefined ? currentEngine('createTrainer') : await init({ build: options.build });
    const env: RunEnv = { engine, kernels: engine.kernels };
    const graph = parseModel(bytes);
    for (const node of graph.nodes) {
      if (!opFor(node)) throw new AtrousError('UNSUPPORTED_OP', `createTrainer: ${nodeLabel(node)}: op type ${show(node.opType)} is not supported by atrous`);
    }
    foldConstants(graph, env);
    const trainer = new Trainer(env, bytes, graph, trainablePart(graph, resolved.trainable), resolved);
    try {
      for (const node of graph.nodes) trainer.load(node);
      // With fixed input dims, what only dims reveal (a nearest Resize in the trained part) fails now.
      if (graph.inputs.every((v) => v.dims?.every((d) => typeof d === 'number'))) {
        trainer.prepare(new Map(graph.inputs.map((v) => [v.name, v.dims as number[]])));
      }
      return trainer;
    } catch (e) {
      trainer.dispose();
      throw e;
    }
  }

  /**
   * Memory: a step holds at most the kept activations (only those the trained part's backward reads; a
   * frozen prefix keeps none), the forward's live values between steps, and the gradients in flight, each
   * as large as an activation; the peak is measured, not estimated.
   */
  get memory(): TrainerMemory {
    let weightBytes = 0;
    for (const s of this.states.values()) weightBytes += s.bytes;
    return { keptActivationBytes: this.lastKept, peakStepBytes: this.lastPeak, weightBytes };
  }

  /** Names of the trained initializers. */
  get parameterNames(): readonly string[] {
    return this.params.map((p) => p.name);
  }

  /** Current values of a trained initializer (a copy). */
  parameter(name: string): Float32Array {
    const p = this.params.find((q) => q.name === name);
    if (!p) throw new AtrousError('INVALID_ARGUMENT', `trainer.parameter: ${show(name)} is not trained (trained: ${show(this.parameterNames)})`);
    return Float32Array.from(p.values);
  }

  /** One forward, loss, backward and update on a batch; returns the batch's loss before the update. */
  async step(feeds: TrainingFeeds, labels: Labels): Promise<StepResult> {
    const { loss } = this.pass(feeds, labels, true, 'trainer.step');
    this.steps++;
    applyUpdate(this.params, this.options.optimizer, this.steps);
    // The packed weights and the folded BatchNorm constants are remade from the new values.
    for (const [node, trained] of this.part.differentiated) if (trained.size > 0) this.load(node);
    this.programs.clear();
    return { loss };
  }

  /** The loss and pixel accuracy on a batch, without training. */
  async evaluate(feeds: TrainingFeeds, labels: Labels): Promise<EvaluationResult> {
    const r = this.pass(feeds, labels, false, 'trainer.evaluate');
    return { loss: r.loss, pixelAccuracy: r.counted > 0 ? r.correct / r.counted : NaN };
  }

  /** The logits output for `feeds` with the current weights (the forward `step` trains). */
  async forward(feeds: TrainingFeeds): Promise<Tensor<'float32'>> {
    this.checkLive('trainer.forward');
    const { program } = this.prepare(this.feedDims(feeds, 'trainer.forward'));
    const dims = program.metas.get(this.output)!.dims;
    const buffers = new StepBuffers(this.engine);
    try {
      const values = runForward(this.env, program, buffers, this.graph.inputs.map((v) => v.name), feeds, new Map(), this.output);
      const data = this.engine.f32(values.get(rootOf(program, this.output))!, dims.reduce((a, b) => a * b, 1)).slice();
      return new Tensor('float32', data, dims);
    } finally {
      buffers.releaseAll();
    }
  }

  /** The model's ONNX bytes with the tuned weights (loadable by InferenceSession and onnxruntime). */
  exportModel(): Uint8Array {
    this.checkLive('trainer.exportModel');
    return replaceInitializers(this.bytes, new Map(this.params.map((p) => [p.name, p.values])));
  }

  /** Frees the packed weights. The trainer cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.states.values()) s.dispose();
    this.states.clear();
    this.programs.clear();
  }

  /** The feeds' dims, checked as a session checks them, errors named after the trainer's call. */
  private feedDims(feeds: TrainingFeeds, op: string): Map<string, number[]> {
    try {
      return checkFeeds(this.graph, feeds);
    } catch (e) {
      if (e instanceof AtrousError) throw new AtrousError(e.code, e.message.replace(/^InferenceSession\.run/, op));
      throw e;
    }
  }

  private checkLive(op: string): void {
    if (this.disposed) throw new AtrousError('DISPOSED', `${op}: this trainer was disposed`);
  }

  /** (Re)runs a node's load hook on the current weights. */
  private load(node: NodeIR): void {
    const definition = opFor(node)!;
    if (!definition.load) return;
    this.states.get(node)?.dispose();
    this.states.delete(node);
    this.states.set(node, definition.load({ node, opset: this.graph.opset, engine: this.engine, consts: this.graph.initializers }));
  }

  private prepare(dims: Map<string, number[]>): Prepared {
    const key = [...dims.values()].map((d) => d.join('x')).join(',');
    const known = this.programs.get(key);
    if (known) return known;
    const program = specialize(this.graph, this.states, dims, this.env);
    const keep = new Map<string, number>();
    for (const step of program.steps) {
      const trained = this.part.differentiated.get(step.node);
      if (!trained) continue;
      checkBackward(step);
      for (const name of keptValues(step, trained)) keep.set(rootOf(program, name), (keep.get(rootOf(program, name)) ?? 0) + 1);
    }
    const meta = program.metas.get(this.output)!;
    if (meta.type !== 'float32' || meta.dims.length < 2) {
      throw new AtrousError('INVALID_MODEL', `createTrainer: output ${show(this.output)} must be float logits [N, C, ...], got ${meta.type} ${show(meta.dims)}`);
    }
    const prepared = { program, keep };
    this.programs.clear(); // one shape at a time: programs hold no wasm memory, but dims rarely change
    this.programs.set(key, prepared);
    return prepared;
  }

  private pass(feeds: TrainingFeeds, labels: Labels, train: boolean, op: string) {
    this.checkLive(op);
    const { program, keep } = this.prepare(this.feedDims(feeds, op));
    const logitDims = program.metas.get(this.output)!.dims;
    const { ignoreIndex, classWeights } = this.options;
    const ids = checkLabels(labels, logitDims, ignoreIndex, op);
    const [n, c] = logitDims as [number, number];
    if (classWeights && classWeights.length !== c) {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: options.loss.classWeights has ${classWeights.length} values, the logits ${show(logitDims)} have ${c} classes`);
    }
    const buffers = new StepBuffers(this.engine);
    try {
      const values = runForward(this.env, program, buffers, this.graph.inputs.map((v) => v.name), feeds, train ? keep : new Map(), this.output);
      const logits = values.get(rootOf(program, this.output))!;
      if (train) {
        this.lastKept = 0;
        for (const root of keep.keys()) this.lastKept += program.metas.get(root)!.dims.reduce((a, b) => a * b, 4);
      }
      const labelPtr = buffers.alloc(ids.length, `${op}: labels`);
      new Int32Array(this.engine.exports.memory.buffer, labelPtr, ids.length).set(ids);
      const weightPtr = classWeights ? buffers.upload(classWeights, `${op}: class weights`) : 0;
      const size = logitDims.reduce((a, b) => a * b, 1);
      const grad = train ? buffers.alloc(size, `${op}: gradient of the logits`) : 0;
      const sums = this.env.kernels.training.softmaxCrossEntropy(logits, labelPtr, weightPtr, grad, n, c, size / (n * c), ignoreIndex, op);
      if (train) this.backward(program, values, keep, buffers, grad);
      return sums;
    } finally {
      if (train) this.lastPeak = buffers.peak;
      buffers.releaseAll();
    }
  }

  /** The backward through the trained part, in reverse step order, into the parameters' `grad`. */
  private backward(program: Program, values: Map<string, number>, keep: Map<string, number>, buffers: StepBuffers, gradLogits: number): void {
    for (const p of this.params) p.grad.fill(0);
    const byName = new Map(this.params.map((p) => [p.name, p]));
    const grads = new Map<string, number>([[rootOf(program, this.output), gradLogits]]);
    const left = new Map(keep);
    const e = this.engine;
    for (let s = program.steps.length - 1; s >= 0; s--) {
      const step = program.steps[s]!;
      const trained = this.part.differentiated.get(step.node);
      if (!trained) continue;
      const outRoot = rootOf(program, step.outputs[0]!);
      const dy = grads.get(outRoot);
      if (dy !== undefined) {
        grads.delete(outRoot);
        const consts = program.consts;
        backward({
          env: this.env,
          step,
          state: this.states.get(step.node),
          dims: (name) => program.metas.get(name)!.dims,
          dy,
          saved: (name) => values.get(rootOf(program, name))!,
          wantsInput: (i) => this.carriesGrad.has(step.node.inputs[i] ?? ''),
          trains: (i) => trained.has(i),
          constant: (i) => consts.get(step.node.inputs[i]!) ?? this.graph.initializers.get(step.node.inputs[i]!)!,
          alloc: (count) => buffers.alloc(count, `${nodeLabel(step.node)}: gradient`),
          free: (ptr) => buffers.free(ptr),
          upload: (data) => buffers.upload(data, `${nodeLabel(step.node)}: constant`),
          inputGrad: (i, ptr) => {
            const root = rootOf(program, step.inputs[i]!);
            const have = grads.get(root);
            if (have === undefined) return void grads.set(root, ptr);
            const count = program.metas.get(root)!.dims.reduce((a, b) => a * b, 1);
            this.env.kernels.maps.combine(have, ptr, have, count, false, nodeLabel(step.node));
            buffers.free(ptr);
          },
          paramGrad: (i, ptr) => {
            const p = byName.get(step.node.inputs[i]!)!;
            const g = e.f32(ptr, p.grad.length);
            for (let j = 0; j < g.length; j++) p.grad[j]! += g[j]!;
          },
        });
        buffers.free(dy);
      }
      // Activations this step's backward read are let go once no later (earlier-in-graph) step needs them.
      for (const name of keptValues(step, trained)) {
        const root = rootOf(program, name);
        const count = left.get(root)! - 1;
        left.set(root, count);
        if (count === 0) buffers.free(values.get(root)!);
      }
    }
  }
}

/** `createTrainer(onnxBytes, { trainable, loss, optimizer })`: see `Trainer`. */
export function createTrainer(model: Uint8Array | ArrayBuffer | string, options: TrainerOptions): Promise<Trainer> {
  return Trainer.create(model, options);
}
