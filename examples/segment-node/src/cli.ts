#!/usr/bin/env node
// atrous-segment <files or folders...> [--model default|isnet|path.onnx] [--out dir] [--workers N] [--size N]
import { availableParallelism } from 'node:os';
import v8 from 'node:v8';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { WasmBuild } from 'atrous';
import { classShares, colorizeMask, overlayMask, type ClassMask, type ModelSpec } from 'segment-core';
import { decodeImage, encodePng } from './codecs.js';
import { resolveModel } from './models.js';
import { Segmenter } from './segment.js';
import { TruthScore } from './truth.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
/** This tool's own outputs: skipped when a folder is scanned, so a rerun never segments masks. */
const OUTPUT_SUFFIX = /\.(mask|overlay)\.png$/i;

function positiveInt(name: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`${name} must be an integer in 1..${max}, got ${JSON.stringify(value)}`);
    return n;
  };
}

function opacity(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`opacity must be a number in 0..1, got ${JSON.stringify(value)}`);
  return n;
}

interface Failure {
  file: string;
  reason: string;
}

/** Files named on the command line as they are; folders scanned recursively for PNG and JPEG files. */
async function collectInputs(paths: string[], outDir: string, failures: Failure[]): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    if (resolve(dir) === outDir) return;
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase()) && !OUTPUT_SUFFIX.test(entry.name)) files.push(path);
    }
  };
  for (const path of paths) {
    if (!existsSync(path)) failures.push({ file: path, reason: 'no such file or folder' });
    else if (statSync(path).isDirectory()) await walk(path);
    else files.push(path);
  }
  return files;
}

/** Output names: <stem>.mask.png and <stem>.overlay.png, with -2, -3... when two inputs share a stem. */
function outputStems(files: string[]): string[] {
  const used = new Map<string, number>();
  return files.map((file) => {
    const stem = basename(file, extname(file));
    const n = (used.get(stem) ?? 0) + 1;
    used.set(stem, n);
    return n === 1 ? stem : `${stem}-${n}`;
  });
}

function describeError(error: unknown): string {
  if (error instanceof Error) return 'code' in error && error.code ? `${String(error.code)}: ${error.message}` : error.message;
  return String(error);
}

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('atrous-segment')
    .description('Segment images with atrous (wasm SIMD in a worker pool) into class-colour mask PNGs and overlays.')
    .argument('<inputs...>', 'image files (PNG, JPEG) or folders to scan for them')
    .option('-m, --model <model>', 'default (the built-in model), isnet (salient object, fetched by tools/fetch-isnet.mjs) or a path to an .onnx file', 'default')
    .option('-o, --out <dir>', 'folder for <name>.mask.png and <name>.overlay.png', 'masks')
    .option('-w, --workers <n>', 'worker threads', positiveInt('--workers', 64), Math.min(availableParallelism(), 4))
    .option('-s, --size <n>', "model input size: the long side for fully convolutional models, the side for fixed-size ones (default: the model's own)", positiveInt('--size', 4096))
    .option('--classes <names>', 'comma-separated class names for an .onnx that carries none')
    .option('--opacity <alpha>', 'how strongly the overlay colours the image, 0..1', opacity, 0.5)
    .addOption(
      new Option('-b, --build <build>', 'wasm build the workers run (default: the best this Node can run)').choices(['relaxed', 'simd128', 'scalar']),
    )
    .option('--truth <dir>', 'folder of ground-truth masks (<name>.mask.png, grey value = class index): report mIoU against them')
    .showHelpAfterError();
  program.parse(argv);
  const opts = program.opts<{ model: string; out: string; workers: number; size?: number; classes?: string; opacity: number; truth?: string; build?: WasmBuild }>();
  if (opts.build === undefined || opts.build === 'relaxed') {
    // Node 20 keeps relaxed SIMD (fused multiply-add: about 1.5x faster here) behind a V8 flag that cannot go
    // in NODE_OPTIONS nor in a worker's execArgv. Set in-process before any worker starts, every worker sees it.
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  }
  const outDir = resolve(opts.out);
  const failures: Failure[] = [];

  for (const input of program.args) {
    const folder = existsSync(input) && statSync(input).isDirectory() ? resolve(input) : resolve(dirname(input));
    if (folder === outDir) {
      throw new Error(`--out ${opts.out} is the folder of the input ${input}: masks would overwrite files there; choose another --out`);
    }
  }
  const files = await collectInputs(program.args, outDir, failures);
  if (files.length === 0) {
    console.error(`atrous-segment: no PNG or JPEG files found in ${program.args.join(', ')}`);
    for (const f of failures) console.error(`  ${f.file}: ${f.reason}`);
    return 1;
  }

  const model = await resolveModel(opts.model);
  const classes = opts.classes?.split(',').map((c) => c.trim());
  const loadStart = performance.now();
  const segmenter = await Segmenter.create({ model, workers: opts.workers, size: opts.size, classes, build: opts.build });
  const loadMs = performance.now() - loadStart;
  await mkdir(outDir, { recursive: true });
  const truth = opts.truth ? new TruthScore(resolve(opts.truth)) : undefined;

  const stems = outputStems(files);
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { format: 'segmenting {bar} {value}/{total} | {rate} images/s | {file}', hideCursor: true, clearOnComplete: false, barsize: 30 },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const start = performance.now();
  bar?.start(files.length, 0, { rate: '0.0', file: '' });
  let done = 0;
  let inferenceMs = 0;
  let pixels = 0;
  let spec: ModelSpec | undefined;
  const shares: number[] = [];
  let next = 0;
  // One async loop per worker keeps every worker busy while the main thread decodes and encodes.
  const loop = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      const file = files[i];
      try {
        const image = decodeImage(new Uint8Array(await readFile(file)), file);
        const result = await segmenter.segment(image);
        spec = result.spec;
        inferenceMs += result.inferenceMs;
        pixels += image.width * image.height;
        const mask: ClassMask = result.mask;
        await writeFile(join(outDir, `${stems[i]}.mask.png`), encodePng(colorizeMask(mask, result.spec.colors)));
        await writeFile(join(outDir, `${stems[i]}.overlay.png`), encodePng(overlayMask(image, mask, result.spec, opts.opacity)));
        classShares(mask, result.spec.classes.length).forEach((s, c) => (shares[c] = (shares[c] ?? 0) + s));
        if (truth) await truth.add(stems[i], file, mask, result.spec.classes.length);
      } catch (error) {
        failures.push({ file, reason: describeError(error) });
      }
      done++;
      const seconds = (performance.now() - start) / 1000;
      bar?.update(done, { rate: (done / seconds).toFixed(1), file: basename(file) });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.workers, files.length) }, loop));
  } finally {
    bar?.stop();
    await segmenter.close();
  }
  const seconds = (performance.now() - start) / 1000;
  const ok = done - failures.filter((f) => files.includes(f.file)).length;

  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`atrous-segment: ${ok} of ${files.length} images in ${seconds.toFixed(2)} s (${(ok / seconds).toFixed(ok / seconds < 1 ? 2 : 1)} images/s, ${(pixels / 1e6 / seconds).toFixed(2)} Mpixel/s)`);
  out(`  model      ${model.label}, loaded in ${opts.workers} worker${opts.workers > 1 ? 's' : ''} in ${loadMs.toFixed(0)} ms; wasm build ${segmenter.build}`);
  if (ok > 0) out(`  inference  ${(inferenceMs / ok).toFixed(1)} ms per image in the pool (queue + transfer + run)`);
  if (spec && ok > 0) {
    const legend = spec.classes.map((name, c) => `${name} ${(((shares[c] ?? 0) / ok) * 100).toFixed(1)}%`).join(', ');
    out(`  classes    ${legend}`);
  }
  if (truth && truth.count > 0) out(`  truth      mIoU ${truth.meanIoU().toFixed(4)} against ${truth.count} ground-truth masks in ${relative(process.cwd(), truth.dir) || '.'}${truth.missing ? ` (${truth.missing} without one)` : ''}`);
  if (ok > 0) out(`  masks in   ${outDir}  (<name>.mask.png: class colours; <name>.overlay.png: over the image)`);
  if (failures.length > 0) {
    out(`  ${failures.length} failed:`);
    for (const f of failures) out(`    ${f.file}: ${f.reason}`);
  }
  return failures.length > 0 || ok === 0 ? 1 : 0;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`atrous-segment: ${describeError(error)}`);
    process.exitCode = 2;
  },
);
