// `atrous-segment finetune` as a user runs it (a child process on dist/cli.js) with the built-in model, on a
// few small scenes of scenes.py's shifted domain: the loss of every step, mIoU before and after, and a tuned
// ONNX that atrous loads and that differs from the built-in model in the trained head's weights only.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InferenceSession, Tensor } from 'atrous';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from './codecs.js';
import { holdOut } from './holdout.js';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto');
const CLI = resolve(import.meta.dirname, '../dist/cli.js');
const REPO = resolve(import.meta.dirname, '../../..');
const BUILT_IN = join(REPO, 'models/default/model.onnx');
const SIZE = 64;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], cwd: string, command = 'finetune'): Promise<Run> {
  return new Promise((done) => {
    execFile('node', [CLI, command, ...args], { cwd, encoding: 'utf8' }, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface Initializer {
  name: string;
  rawData: Uint8Array;
  floatData: number[];
}

function decode(bytes: Uint8Array): { nodes: { name: string; opType: string; input: string[] }[]; initializers: Map<string, Uint8Array> } {
  const model = onnx.ModelProto.decode(bytes);
  const initializers = new Map<string, Uint8Array>();
  for (const t of model.graph.initializer as Initializer[]) {
    initializers.set(t.name, t.rawData?.length ? Uint8Array.from(t.rawData) : new Uint8Array(Float32Array.from(t.floatData).buffer));
  }
  return { nodes: model.graph.node, initializers };
}

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'atrous-finetune-'));
  execFileSync('/usr/bin/python3', [join(REPO, 'models/scenes.py'), 'samples', join(dir, 'scenes'), '--count', '6', '--size', String(SIZE), '--first-seed', '3000000', '--domain', 'shifted']);
  mkdirSync(join(dir, 'other'));
  copyFileSync(join(dir, 'scenes/scene-00.png'), join(dir, 'other/scene-00.png'));
  // Masks that do not fit: one of the wrong size, one with a class the model lacks (7 of 0..5).
  mkdirSync(join(dir, 'unfit'));
  for (const name of ['scene-00', 'scene-01']) copyFileSync(join(dir, `scenes/${name}.png`), join(dir, `unfit/${name}.png`));
  const grey = (width: number, value: number) => encodePng({ width, height: SIZE, data: new Uint8Array(width * SIZE * 4).map((_, i) => (i % 4 === 3 ? 255 : value)) });
  writeFileSync(join(dir, 'unfit/scene-00.mask.png'), grey(SIZE, 7));
  writeFileSync(join(dir, 'unfit/scene-01.mask.png'), grey(SIZE, 1));
  mkdirSync(join(dir, 'unfit-size'));
  copyFileSync(join(dir, 'scenes/scene-00.png'), join(dir, 'unfit-size/scene-00.png'));
  copyFileSync(join(dir, 'scenes/scene-01.png'), join(dir, 'unfit-size/scene-01.png'));
  copyFileSync(join(dir, 'scenes/scene-01.mask.png'), join(dir, 'unfit-size/scene-01.mask.png'));
  writeFileSync(join(dir, 'unfit-size/scene-00.mask.png'), grey(SIZE / 2, 0));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('atrous-segment finetune', () => {
  it('prints the loss of every step and mIoU before and after, and writes a tuned model that differs in the head only', async () => {
    const run = await cli(['scenes', '--masks', 'scenes', '--steps', '3', '--batch', '2', '--holdout', '0.34', '--size', String(SIZE), '--out', 'tuned.onnx'], dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/training the layers after \/Concat_2 \(6 tensors, 59142 weights\)/);
    expect(run.stdout).toMatch(/4 images to train on, 2 held out \(--holdout 0\.34\), model input 64x64/);
    const losses = [...run.stdout.matchAll(/step (\d)\/3 {2}loss (\S+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(losses.map(([step]) => step)).toEqual([1, 2, 3]);
    for (const [, loss] of losses) expect(loss).toBeGreaterThan(0);
    const before = Number(/mIoU before (\S+)/.exec(run.stdout)?.[1]);
    const after = Number(/mIoU after {2}(\S+)/.exec(run.stdout)?.[1]);
    for (const miou of [before, after]) {
      expect(miou).toBeGreaterThan(0);
      expect(miou).toBeLessThanOrEqual(1);
    }
    expect(run.stdout).toMatch(/per class {2}background \S+ -> \S+, disc/);

    const tunedBytes = new Uint8Array(readFileSync(join(dir, 'tuned.onnx')));
    const original = decode(new Uint8Array(readFileSync(BUILT_IN)));
    const tuned = decode(tunedBytes);
    expect(tuned.nodes.map((n) => n.name)).toEqual(original.nodes.map((n) => n.name));
    // The head: the Conv weights and biases of the nodes after /Concat_2.
    const at = original.nodes.findIndex((n) => n.name === '/Concat_2');
    const head = new Set(original.nodes.slice(at + 1).filter((n) => n.opType === 'Conv').flatMap((n) => n.input.slice(1)));
    expect(head.size).toBe(6);
    expect([...tuned.initializers.keys()]).toEqual([...original.initializers.keys()]);
    for (const [name, bytes] of original.initializers) {
      const same = Buffer.from(bytes).equals(Buffer.from(tuned.initializers.get(name)!));
      expect({ name, changed: !same }).toEqual({ name, changed: head.has(name) });
    }

    // atrous loads both, and their outputs differ.
    const input = new Tensor('float32', Float32Array.from({ length: 3 * SIZE * SIZE }, (_, i) => Math.sin(i * 0.37)), [1, 3, SIZE, SIZE]);
    const outputs = [];
    for (const bytes of [new Uint8Array(readFileSync(BUILT_IN)), tunedBytes]) {
      const session = await InferenceSession.create(bytes);
      outputs.push(Float32Array.from((await session.run({ image: input })).logits.data as Float32Array));
      session.dispose();
    }
    expect(outputs[1].length).toBe(6 * SIZE * SIZE);
    expect(outputs[1].some((v, i) => Math.abs(v - outputs[0][i]) > 1e-4)).toBe(true);

    // The description written beside it makes the tuned model a drop-in for `segment`, whose pipeline
    // (worker pool, InferenceSession) scores the held-out scenes as finetune's trainer forward did.
    const description = JSON.parse(readFileSync(join(dir, 'tuned.json'), 'utf8'));
    expect(description.file).toBe('tuned.onnx');
    expect(description.classes).toEqual(['background', 'disc', 'rectangle', 'triangle', 'ring', 'star']);
    const files = readdirSync(join(dir, 'scenes')).filter((f) => !f.endsWith('.mask.png')).map((f) => join('scenes', f));
    const { heldOut } = holdOut(files, (f) => f, 0.34);
    const segment = await cli([...heldOut, '--model', 'tuned.onnx', '--size', String(SIZE), '--truth', 'scenes', '--out', 'tuned-masks', '--workers', '1'], dir, 'segment');
    expect(segment.code).toBe(0);
    expect(segment.stdout).toMatch(/model {6}tuned\.onnx \(atrous-default-synthetic-v1\)/);
    const segmentIoU = Number(/mIoU (\S+) against 2 ground-truth masks/.exec(segment.stdout)?.[1]);
    expect(segmentIoU).toBeCloseTo(after, 2);
  });

  it('refuses bad flags with a message naming the flag and its value', async () => {
    const base = ['scenes', '--masks', 'scenes', '--out', 'x.onnx'];
    const cases: [string[], RegExp][] = [
      [['--steps', '0'], /--steps must be an integer in 1\.\.1000000, got "0"/],
      [['--lr', '-1'], /--lr must be a number > 0, got "-1"/],
      [['--holdout', '1.5'], /--holdout must be a number between 0 and 1 \(the share of images held out\), got "1\.5"/],
      [['--batch', 'two'], /--batch must be an integer in 1\.\.256, got "two"/],
    ];
    for (const [flags, message] of cases) {
      const run = await cli([...base, ...flags], dir);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(message);
    }
    const noMasks = await cli(['scenes', '--masks', 'nowhere', '--out', 'x.onnx'], dir);
    expect(noMasks.code).toBe(2);
    expect(noMasks.stderr).toMatch(/--masks nowhere: no such folder/);
    const outName = await cli(['scenes', '--masks', 'scenes', '--out', 'tuned.txt'], dir);
    expect(outName.code).toBe(2);
    expect(outName.stderr).toMatch(/--out must be a path ending in \.onnx, got "tuned\.txt"/);
    const after = await cli([...base, '--after', '/no/such/node', '--size', String(SIZE), '--steps', '1'], dir);
    expect(after.code).toBe(2);
    expect(after.stderr).toMatch(/--after "\/no\/such\/node": createTrainer: options\.trainable\.after names node "\/no\/such\/node", which the model does not have/);
    const missing = await cli(['scenes', '--masks', join(REPO, 'models/default'), '--out', 'x.onnx'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--masks .*models\/default: 6 of 6 images have no mask: scene-00\.png \(no .*scene-00\.mask\.png\)/);
    const twoNamed = await cli(['scenes', 'other', '--masks', 'scenes', '--out', 'x.onnx'], dir);
    expect(twoNamed.code).toBe(2);
    expect(twoNamed.stderr).toMatch(/--masks scenes: scenes\/scene-00\.png and other\/scene-00\.png would share the mask scene-00\.mask\.png/);
    const gone = await cli(['scenes', 'gone.png', '--masks', 'scenes', '--out', 'x.onnx'], dir);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/finetune: gone\.png: no such file or folder/);
    const badClass = await cli(['unfit', '--masks', 'unfit', '--size', String(SIZE), '--out', 'x.onnx'], dir);
    expect(badClass.code).toBe(2);
    expect(badClass.stderr).toMatch(/--masks: .*unfit\/scene-00\.mask\.png has class 7 but the model has 6 classes \(0\.\.5\)/);
    const badSize = await cli(['unfit-size', '--masks', 'unfit-size', '--out', 'x.onnx'], dir);
    expect(badSize.code).toBe(2);
    expect(badSize.stderr).toMatch(/--masks: .*unfit-size\/scene-00\.mask\.png is 32x64 but unfit-size\/scene-00\.png is 64x64/);
    expect(existsSync(join(dir, 'x.onnx'))).toBe(false);
  });
});
