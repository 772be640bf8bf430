// The trainer against PyTorch: a small dilated segmentation net (stem conv, dilated conv + BatchNorm
// with random running statistics + relu, residual Add, Concat, max pool, 1x1 head, bilinear 2x resize)
// built and exported by tools/torch-trainer-oracle.py with a fixed seed, then trained from the same
// float32 weights for a few steps of SGD (momentum, weight decay) and Adam in PyTorch (float64, eval-mode
// BatchNorm, class weights and an ignore index) and by createTrainer on the ONNX file. Losses agree within
// 1e-4 relative, every updated tensor within 1e-4 of its max |PyTorch|; with { after } the earlier layers'
// weights are bit-unchanged; the exported model runs in onnxruntime-node and in InferenceSession and agrees
// with the trainer's forward within 1e-4. One python process for all scenarios.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceSession, Tensor, createTrainer, type OptimizerOptions, type TrainerOptions } from 'atrous';
import { repoRoot } from '../models/fixtures.js';
import { ortRun, relativeError } from '../onnx/ort-oracle.js';

interface Scenario {
  optimizer: OptimizerOptions;
  steps: number;
  /** PyTorch module names kept frozen. */
  frozen: string[];
}

interface Oracle {
  onnx: string;
  input: number[];
  inputDims: number[];
  labels: number[];
  nodes: [string, string][];
  scenarios: { losses: number[]; weights: Record<string, number[]> }[];
}

const CLASSES = 4;
const IGNORE = 255;
const CLASS_WEIGHTS = [1, 2, 0.5, 1.5];
const SCENARIOS: Scenario[] = [
  { optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3 }, steps: 5, frozen: [] },
  { optimizer: { type: 'adam', learningRate: 1e-2, weightDecay: 1e-3 }, steps: 4, frozen: [] },
  // Everything up to the residual Add frozen: only the head trains.
  { optimizer: { type: 'sgd', learningRate: 0.1 }, steps: 3, frozen: ['stem', 'atrous', 'bn'] },
];

let dir: string;
let oracle: Oracle;
let bytes: Uint8Array;
let feeds: Record<string, Tensor>;
let labels: Uint8Array;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'atrous-trainer-'));
  const request = { dir, seed: 7, batch: 2, size: 12, classes: CLASSES, ignoreIndex: IGNORE, classWeights: CLASS_WEIGHTS, scenarios: SCENARIOS };
  const out = execFileSync('/usr/bin/python3', [resolve(repoRoot, 'tools/torch-trainer-oracle.py')], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'ignore'],
    maxBuffer: 1 << 26,
  });
  oracle = JSON.parse(out) as Oracle;
  bytes = new Uint8Array(readFileSync(oracle.onnx));
  feeds = { input: new Tensor('float32', Float32Array.from(oracle.input), oracle.inputDims) };
  labels = Uint8Array.from(oracle.labels);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const options = (s: Scenario, trainable: TrainerOptions['trainable']): TrainerOptions => ({
  trainable,
  loss: { type: 'softmaxCrossEntropy', ignoreIndex: IGNORE, classWeights: CLASS_WEIGHTS },
  optimizer: s.optimizer,
});

/** The initializers' values in a model file, by name (through a trainer over it: its parameters). */
async function weightsOf(model: Uint8Array): Promise<Map<string, Float32Array>> {
  const t = await createTrainer(model, { loss: { type: 'softmaxCrossEntropy' }, optimizer: { type: 'sgd', learningRate: 1 } });
  const m = new Map(t.parameterNames.map((n) => [n, t.parameter(n)]));
  t.dispose();
  return m;
}

describe('createTrainer against PyTorch', () => {
  it('the exported graph keeps BatchNorm, the dilated conv, Concat, MaxPool and a linear Resize', () => {
    const ops = oracle.nodes.map(([, op]) => op);
    for (const op of ['Conv', 'BatchNormalization', 'Relu', 'Add', 'Concat', 'MaxPool', 'Resize']) expect(ops).toContain(op);
  });

  SCENARIOS.forEach((s, k) => {
    const name = `${s.optimizer.type}${s.frozen.length ? ` after the residual Add (${s.frozen.join(', ')} frozen)` : ''}`;
    it(`${name}: ${s.steps} steps match PyTorch's losses and weights; the export runs in onnxruntime and InferenceSession`, async () => {
      const addNode = oracle.nodes.find(([, op]) => op === 'Add')![0];
      const trainer = await createTrainer(bytes, options(s, s.frozen.length ? { after: addNode } : 'all'));
      const before = await weightsOf(bytes);
      const losses: number[] = [];
      for (let i = 0; i < s.steps; i++) losses.push((await trainer.step(feeds, labels)).loss);
      const want = oracle.scenarios[k]!;
      losses.forEach((l, i) => expect(Math.abs(l - want.losses[i]!) / Math.abs(want.losses[i]!), `loss at step ${i}: ${l} vs ${want.losses[i]}`).toBeLessThan(1e-4));
      // The loss went down: the steps did something.
      expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
      const exported = trainer.exportModel();
      const after = await weightsOf(exported);
      for (const [param, ref] of Object.entries(want.weights)) {
        const got = after.get(param)!;
        expect(got, param).toBeDefined();
        const frozen = s.frozen.includes(param.split('.')[0]!);
        if (frozen) {
          expect(Buffer.from(got.buffer).equals(Buffer.from(before.get(param)!.buffer)), `${param} stays bit-identical`).toBe(true);
          expect(trainer.parameterNames).not.toContain(param);
        } else {
          expect(relativeError(got, ref), `${param} after ${s.steps} steps`).toBeLessThan(1e-4);
          expect(relativeError(got, before.get(param)!), `${param} changed`).toBeGreaterThan(1e-4);
        }
      }
      const forward = await trainer.forward(feeds);
      const ort = (await ortRun(exported, feeds)).logits!;
      expect(ort.dims).toEqual(forward.dims);
      expect(relativeError(forward.data, ort.data as Float32Array)).toBeLessThan(1e-4);
      const session = await InferenceSession.create(exported);
      const own = (await session.run(feeds)).logits!;
      expect(relativeError(own.data as Float32Array, ort.data as Float32Array)).toBeLessThan(1e-4);
      session.dispose();
      // evaluate: the loss of the current weights (what the next step would report), and the pixel accuracy.
      const ev = await trainer.evaluate(feeds, Int32Array.from(labels));
      expect(ev.pixelAccuracy).toBeGreaterThanOrEqual(0);
      expect(ev.pixelAccuracy).toBeLessThanOrEqual(1);
      const next = await trainer.step(feeds, labels);
      expect(next.loss).toBeCloseTo(ev.loss, 6);
      trainer.dispose();
    });
  });
});
