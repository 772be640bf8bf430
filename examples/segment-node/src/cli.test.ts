// The CLI as a user runs it (a child process on the compiled dist/cli.js), on a tiny model made here whose
// answer is known: a 1x1 convolution that scores class c by colour channel c (red, green, blue).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodePng } from './codecs.js';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto');
const CLI = resolve(import.meta.dirname, '../dist/cli.js');
const PALETTE = [[200, 0, 0], [0, 200, 0], [0, 0, 200]];

function rgbModel(metadata: Record<string, string> = {}): Uint8Array {
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const dims = (...d: (number | string)[]) => ({ dim: d.map((x) => (typeof x === 'number' ? { dimValue: x } : { dimParam: x })) });
  const eye = new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const model = onnx.ModelProto.fromObject({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'rgb',
      node: [{ opType: 'Conv', input: ['image', 'W'], output: ['scores'], attribute: [{ name: 'kernel_shape', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 1] }] }],
      initializer: [{ name: 'W', dims: [3, 3, 1, 1], dataType: FLOAT, rawData: new Uint8Array(eye.buffer) }],
      input: [{ name: 'image', type: { tensorType: { elemType: FLOAT, shape: dims('N', 3, 'H', 'W') } } }],
      output: [{ name: 'scores', type: { tensorType: { elemType: FLOAT, shape: dims('N', 3, 'H', 'W') } } }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Left half red, right half blue (so the mask is class 0 then class 2), `width` x `height`. */
function halves(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set((i % width) < width / 2 ? [220, 30, 30, 255] : [30, 30, 220, 255], 4 * i);
  return data;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], cwd: string): Promise<Run> {
  return new Promise((done) => {
    execFile('node', [CLI, ...args], { cwd, encoding: 'utf8' }, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'atrous-segment-'));
  writeFileSync(join(dir, 'rgb.onnx'), rgbModel());
  writeFileSync(
    join(dir, 'rgb.json'),
    JSON.stringify({ name: 'rgb-test', classes: ['red', 'green', 'blue'], palette: PALETTE, mean: [0, 0, 0], std: [1, 1, 1], input: { dims: ['N', 3, 'H', 'W'], native_size: [32, 32] } }),
  );
  mkdirSync(join(dir, 'models'));
  writeFileSync(join(dir, 'models/bare.onnx'), rgbModel({ classes: JSON.stringify(['rouge', 'vert', 'bleu']) }));
  mkdirSync(join(dir, 'images/nested'), { recursive: true });
  writeFileSync(join(dir, 'images/wide.png'), encodePng({ width: 48, height: 20, data: halves(48, 20) }));
  writeFileSync(join(dir, 'images/nested/photo.jpg'), jpeg.encode({ width: 40, height: 40, data: Buffer.from(halves(40, 40)) }, 95).data);
  // An earlier run's output in the input folder: must be skipped, not segmented.
  writeFileSync(join(dir, 'images/old.mask.png'), encodePng({ width: 4, height: 4, data: new Uint8Array(64).fill(255) }));
  writeFileSync(join(dir, 'broken.png'), 'not an image');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('atrous-segment', () => {
  it('segments folders of PNG and JPEG files into masks and overlays at each image size', async () => {
    const run = await cli(['images', '--model', 'rgb.onnx', '--out', 'out', '--workers', '2', '--truth', 'truth'], dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/atrous-segment: 2 of 2 images in [\d.]+ s \([\d.]+ images\/s/);
    // Relaxed SIMD is switched on in-process (Node 20 has it behind a flag).
    expect(run.stdout).toMatch(/wasm build relaxed/);
    expect(run.stdout).toMatch(/classes {4}red 50\.0%, green 0\.0%, blue 50\.0%/);
    expect(existsSync(join(dir, 'out/old.mask.mask.png'))).toBe(false);
    const mask = decodeImage(readFileSync(join(dir, 'out/wide.mask.png')), 'wide mask');
    expect([mask.width, mask.height]).toEqual([48, 20]);
    const at = (x: number, y: number) => Array.from(mask.data.subarray(4 * (y * 48 + x), 4 * (y * 48 + x) + 3));
    expect(at(0, 0)).toEqual(PALETTE[0]);
    expect(at(23, 10)).toEqual(PALETTE[0]);
    expect(at(24, 10)).toEqual(PALETTE[2]);
    expect(at(47, 19)).toEqual(PALETTE[2]);
    const jpegMask = decodeImage(readFileSync(join(dir, 'out/photo.mask.png')), 'photo mask');
    expect([jpegMask.width, jpegMask.height]).toEqual([40, 40]);
    const overlay = decodeImage(readFileSync(join(dir, 'out/wide.overlay.png')), 'wide overlay');
    // Half the image, half the class colour (red is the first class, not a background, so it is blended).
    expect(Array.from(overlay.data.subarray(0, 3))).toEqual([210, 15, 15]);
  });

  it('runs the build asked for with --build, with the same mask', async () => {
    const run = await cli(['images/wide.png', '--model', 'rgb.onnx', '--out', 'out-scalar', '--build', 'scalar'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/wasm build scalar/);
    expect(readFileSync(join(dir, 'out-scalar/wide.mask.png'))).toEqual(readFileSync(join(dir, 'out/wide.mask.png')));
    const bad = await cli(['images', '--build', 'sse'], dir);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/argument 'sse' is invalid. Allowed choices are relaxed, simd128, scalar/);
  });

  it('goes on past bad files, lists them at the end and exits with 1', async () => {
    const run = await cli(['images/wide.png', 'broken.png', 'missing.png', '--model', 'rgb.onnx', '--out', 'out-bad'], dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/1 of 2 images/);
    expect(run.stdout).toMatch(/2 failed:\n.*missing\.png: no such file or folder\n.*broken\.png: INVALID_ARGUMENT: decodeImage: .*broken\.png is not a readable image \(Input buffer contains unsupported image format\)/);
    expect(existsSync(join(dir, 'out-bad/wide.mask.png'))).toBe(true);
  });

  it('scores masks against ground truth with --truth', async () => {
    mkdirSync(join(dir, 'truth'), { recursive: true });
    const truth = new Uint8Array(48 * 20 * 4);
    for (let i = 0; i < 48 * 20; i++) truth.set(i % 48 < 24 ? [0, 0, 0, 255] : [2, 2, 2, 255], 4 * i);
    writeFileSync(join(dir, 'truth/wide.mask.png'), encodePng({ width: 48, height: 20, data: truth }));
    const run = await cli(['images/wide.png', '--model', 'rgb.onnx', '--out', 'out-truth', '--truth', 'truth'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/truth {6}mIoU 1\.0000 against 1 ground-truth masks/);
  });

  it('takes class names from the ONNX metadata of a bare model, or from --classes', async () => {
    const fromMetadata = await cli(['images/wide.png', '--model', 'models/bare.onnx', '--out', 'out-bare'], dir);
    expect(fromMetadata.code).toBe(0);
    expect(fromMetadata.stdout).toMatch(/rouge 50\.0%, vert 0\.0%, bleu 50\.0%/);
    const typed = await cli(['images/wide.png', '--model', 'models/bare.onnx', '--classes', 'a,b,c', '--out', 'out-bare'], dir);
    expect(typed.stdout).toMatch(/a 50\.0%, b 0\.0%, c 50\.0%/);
  });

  it('refuses what it cannot do with a message naming the value', async () => {
    const model = await cli(['images', '--model', 'rgb.txt'], dir);
    expect(model.code).toBe(2);
    expect(model.stderr).toMatch(/--model must be "default", "isnet", "selfie", "selfie-landscape" or a path to an \.onnx file, got "rgb\.txt"/);
    const workers = await cli(['images', '--workers', '0'], dir);
    expect(workers.code).not.toBe(0);
    expect(workers.stderr).toMatch(/--workers must be an integer in 1\.\.64, got "0"/);
    const overwrite = await cli(['images', '--model', 'rgb.onnx', '--out', 'images'], dir);
    expect(overwrite.code).toBe(2);
    expect(overwrite.stderr).toMatch(/masks would overwrite files there/);
  });
});
