// `atrous-segment finetune <images...> --masks <dir> --out tuned.onnx`: fine-tunes a segmentation model's
// head on labelled images with atrous's trainer (createTrainer: the frozen part runs forward only), scores
// mIoU on a held-out split before and after, and writes the tuned ONNX.
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, relative, resolve } from 'node:path';
import { AtrousError, createTrainer, InferenceSession, Tensor, type Trainer, type WasmBuild } from 'atrous';
import { seededRandom, specForUnknownModel, type ModelSpec } from 'segment-core';
import { scoreHeldOut } from './held-out-score.js';
import { holdOut } from './holdout.js';
import { writeFileAtomic } from './image-files.js';
import { collectInputs, type Failure } from './inputs.js';
import { resolveModel, type ResolvedModel } from './models.js';
import { StepProgress } from './step-progress.js';
import { checkClassIds, checkMasksExist, loadSample, maskPathFor, type TrainingSample } from './training-samples.js';

/**
 * The node of the built-in model the head starts after: its decoder input (the upsampled ASPP features
 * concatenated with the stride-4 skip). Training after it tunes the decoder's two 3x3 convs and the 1x1
 * classifier (59,142 of the model's 502,006 weights) on the frozen backbone and ASPP features.
 */
export const DEFAULT_MODEL_HEAD = '/Concat_2';

export interface FinetuneOptions {
  masks: string;
  model: string;
  out: string;
  steps: number;
  /** Train the layers after this node; default DEFAULT_MODEL_HEAD for the built-in model, all layers otherwise. */
  after?: string;
  lr: number;
  batch: number;
  /** Share of the images held out for the before/after mIoU. */
  holdout: number;
  size?: number;
  classes?: string;
  build?: WasmBuild;
  /** Seed of the order training images are drawn in. */
  seed: number;
}

/** Batches drawn without replacement from a reshuffled order each pass over the training images. */
function batchDrawer(count: number, batch: number, seed: number): () => number[] {
  const random = seededRandom(seed);
  let order: number[] = [];
  return () => {
    const picked: number[] = [];
    while (picked.length < batch) {
      if (order.length === 0) {
        order = Array.from({ length: count }, (_, i) => i);
        for (let i = count - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [order[i], order[j]] = [order[j], order[i]];
        }
      }
      picked.push(order.pop()!);
    }
    return picked;
  };
}

/** Samples of one size as one [B, 3, H, W] input and B * H * W labels. */
function stack(samples: TrainingSample[]): { input: Tensor<'float32'>; labels: Uint8Array } {
  const [, c, h, w] = samples[0].input.dims;
  const plane = c * h * w;
  const input = new Float32Array(samples.length * plane);
  const labels = new Uint8Array(samples.length * h * w);
  samples.forEach((s, b) => {
    input.set(s.input.data as Float32Array, b * plane);
    labels.set(s.labels, b * h * w);
  });
  return { input: new Tensor('float32', input, [samples.length, c, h, w]), labels };
}

function checkPaths(opts: FinetuneOptions, model: ResolvedModel): string {
  const masks = resolve(opts.masks);
  if (!existsSync(masks) || !statSync(masks).isDirectory()) throw new Error(`--masks ${opts.masks}: no such folder`);
  const out = resolve(opts.out);
  if (!out.toLowerCase().endsWith('.onnx')) throw new Error(`--out must be a path ending in .onnx, got ${JSON.stringify(opts.out)}`);
  if (existsSync(out) && statSync(out).isDirectory()) throw new Error(`--out ${opts.out} is a folder; give the .onnx file to write`);
  if (out === resolve(model.path)) throw new Error(`--out ${opts.out} is the model being tuned; write the tuned model to another file`);
  return out;
}

async function makeTrainer(model: ResolvedModel, opts: FinetuneOptions, after: string | undefined): Promise<Trainer> {
  try {
    return await createTrainer(model.bytes, {
      trainable: after === undefined ? 'all' : { after },
      loss: { type: 'softmaxCrossEntropy' },
      optimizer: { type: 'adam', learningRate: opts.lr },
      ...(opts.build ? { build: opts.build } : {}),
    });
  } catch (error) {
    if (!(error instanceof AtrousError)) throw error;
    // The trainer names its own options; say which flag they came from.
    const flag = after === undefined ? `--model ${opts.model} (no --after: training every layer)` : `--after ${JSON.stringify(after)}`;
    throw new AtrousError(error.code, `${flag}: ${error.message}`);
  }
}

/** The graph's first input, for a model whose description names none (the trainer does not list them). */
async function firstInputName(model: ResolvedModel): Promise<string> {
  const session = await InferenceSession.create(model.bytes);
  try {
    return session.inputNames[0];
  } finally {
    session.dispose();
  }
}

/**
 * The source model's description (classes, palette, normalisation, native size) for the tuned model, as
 * `<out>.json` beside it: without it `--model tuned.onnx` would be a bare ONNX, run at the default 512 px
 * instead of the model's native size. The source's measured mIoU is dropped (it is not the tuned model's).
 */
async function tunedDescription(model: ResolvedModel, outPath: string, steps: number): Promise<Uint8Array | undefined> {
  if (!model.descriptionPath) return undefined;
  const description = JSON.parse(await readFile(model.descriptionPath, 'utf8')) as Record<string, unknown>;
  delete description.miou;
  delete description.samples;
  description.file = basename(outPath);
  description.finetuned = { from: model.path, steps, by: 'atrous-segment finetune' };
  return new TextEncoder().encode(`${JSON.stringify(description, null, 2)}\n`);
}

function percent(x: number | undefined): string {
  return x === undefined ? '  -  ' : x.toFixed(3);
}

export async function runFinetune(inputs: string[], opts: FinetuneOptions): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const model = await resolveModel(opts.model);
  const outPath = checkPaths(opts, model);
  if (model.spec?.layout === 'nhwc' || model.spec?.output === 'probability') {
    throw new Error(`--model ${opts.model}: finetune trains models with class scores [N, C, H, W] (softmax cross-entropy); ${model.label} has a one-channel probability or NHWC output`);
  }
  const after = opts.after ?? (opts.model === 'default' ? DEFAULT_MODEL_HEAD : undefined);

  const failures: Failure[] = [];
  // No folder to skip while scanning: finetune writes one file, not a folder of masks that could be rescanned.
  const files = await collectInputs(inputs, '', failures);
  if (failures.length > 0) throw new Error(`finetune: ${failures.map((f) => `${f.file}: ${f.reason}`).join('; ')}`);
  if (files.length === 0) throw new Error(`finetune: no image files (PNG, JPEG, WebP, AVIF, TIFF) found in ${inputs.join(', ')}`);
  const stems = files.map((file) => basename(file, extname(file)));
  const twice = stems.findIndex((stem, i) => stems.indexOf(stem) !== i);
  if (twice >= 0) {
    throw new Error(`--masks ${opts.masks}: ${files[stems.indexOf(stems[twice])]} and ${files[twice]} would share the mask ${stems[twice]}.mask.png; give the images different names`);
  }
  checkMasksExist(resolve(opts.masks), files, stems);
  const { train, heldOut } = holdOut(files.map((file, i) => ({ file, stem: stems[i] })), (f) => f.file, opts.holdout);

  const classes = opts.classes?.split(',').map((c) => c.trim());
  const inputSpec: ModelSpec = model.spec ?? specForUnknownModel({ name: model.label, outputChannels: 1, metadata: model.metadata, classNames: classes });
  const load = (items: { file: string; stem: string }[]) => Promise.all(items.map((f) => loadSample(f.file, maskPathFor(resolve(opts.masks), f.file, f.stem), inputSpec, opts.size)));
  const trainSamples = await load(train);
  const heldOutSamples = await load(heldOut);
  const batch = Math.min(opts.batch, trainSamples.length);
  if (batch > 1) {
    const [h, w] = trainSamples[0].size;
    const other = trainSamples.find((s) => s.size[0] !== h || s.size[1] !== w);
    if (other) {
      throw new Error(`--batch ${opts.batch}: a batch needs one input size, but ${trainSamples[0].file} resizes to ${w}x${h} and ${other.file} to ${other.size[1]}x${other.size[0]}; use --batch 1 or images of one aspect ratio`);
    }
  }

  const trainer = await makeTrainer(model, opts, after);
  try {
    const inputName = inputSpec.inputName ?? (await firstInputName(model));
    const feedsOf = (input: Tensor<'float32'>) => ({ [inputName]: input });
    const forward = (s: TrainingSample) => trainer.forward(feedsOf(s.input));
    // The class count is the model's output channels; masks are checked against it before any step.
    const first = await forward(heldOutSamples[0]);
    const classCount = first.dims[1];
    if (first.dims.length !== 4 || classCount < 2) throw new Error(`--model ${opts.model}: finetune needs class scores [N, C, H, W] with C >= 2, the model gives [${first.dims.join(', ')}]`);
    const spec = model.spec ?? specForUnknownModel({ name: model.label, outputChannels: classCount, metadata: model.metadata, classNames: classes });
    checkClassIds([...trainSamples, ...heldOutSamples], classCount);

    const weights = trainer.parameterNames.reduce((n, name) => n + trainer.parameter(name).length, 0);
    const [h, w] = trainSamples[0].size;
    out(`atrous-segment finetune: ${model.label}, training ${after === undefined ? 'every layer' : `the layers after ${after}`} (${trainer.parameterNames.length} tensors, ${weights} weights)`);
    out(`  data       ${trainSamples.length} images to train on, ${heldOutSamples.length} held out (--holdout ${opts.holdout}), model input ${w}x${h}`);
    out(`  training   ${opts.steps} steps, batch ${batch}${batch < opts.batch ? ` (all the training images; --batch ${opts.batch})` : ''}, Adam lr ${opts.lr}`);
    const before = await scoreHeldOut(heldOutSamples, spec, classCount, forward);
    out(`  held out   mIoU before ${before.meanIoU.toFixed(4)} (pixel accuracy ${before.pixelAccuracy.toFixed(4)})`);

    const draw = batchDrawer(trainSamples.length, batch, opts.seed);
    const progress = new StepProgress(opts.steps);
    const start = performance.now();
    try {
      for (let step = 1; step <= opts.steps; step++) {
        const { input, labels } = stack(draw().map((i) => trainSamples[i]));
        const { loss } = await trainer.step(feedsOf(input), labels);
        progress.step(step, loss);
      }
    } finally {
      progress.stop();
    }
    const seconds = (performance.now() - start) / 1000;

    const tuned = await scoreHeldOut(heldOutSamples, spec, classCount, forward);
    out(`  held out   mIoU after  ${tuned.meanIoU.toFixed(4)} (pixel accuracy ${tuned.pixelAccuracy.toFixed(4)}), ${opts.steps} steps in ${seconds.toFixed(1)} s`);
    out(`  per class  ${spec.classes.slice(0, classCount).map((name, c) => `${name} ${percent(before.perClass[c])} -> ${percent(tuned.perClass[c])}`).join(', ')}`);
    await mkdir(dirname(outPath), { recursive: true });
    const shown = (path: string) => (relative(process.cwd(), path).startsWith('..') ? path : relative(process.cwd(), path));
    await writeFileAtomic(outPath, trainer.exportModel());
    const description = await tunedDescription(model, outPath, opts.steps);
    const descriptionPath = outPath.replace(/\.onnx$/i, '.json');
    if (description) await writeFileAtomic(descriptionPath, description);
    out(`  wrote      ${shown(outPath)}${description ? ` and its description ${shown(descriptionPath)}` : ''}`);
    return 0;
  } finally {
    trainer.dispose();
  }
}
