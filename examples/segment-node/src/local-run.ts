// `atrous-segment <inputs...>`: segment files on this machine, in one process's worker pool.
import { mkdir } from 'node:fs/promises';
import { basename, relative, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { WasmBuild } from 'atrous';
import type { ModelSpec } from 'segment-core';
import { checkOutDir, collectInputs, describeError, outputStems, type Failure } from './inputs.js';
import { resolveModel } from './models.js';
import { segmentFile } from './segment-file.js';
import { Segmenter } from './segment.js';
import { TruthScore } from './truth.js';

export interface LocalRunOptions {
  model: string;
  out: string;
  workers: number;
  size?: number;
  classes?: string;
  opacity: number;
  truth?: string;
  build?: WasmBuild;
}

export async function runLocal(inputs: string[], opts: LocalRunOptions): Promise<number> {
  const outDir = resolve(opts.out);
  const failures: Failure[] = [];
  checkOutDir(inputs, opts.out);
  const files = await collectInputs(inputs, outDir, failures);
  if (files.length === 0) {
    console.error(`atrous-segment: no image files (PNG, JPEG, WebP, AVIF, TIFF) found in ${inputs.join(', ')}`);
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
  /** Per image, for a person model: its person share and its cut-out. */
  const cutouts: { file: string; share: number; path: string }[] = [];
  let next = 0;
  // One async loop per worker (plus one) keeps every worker busy while sharp decodes and encodes.
  const loop = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      const file = files[i];
      try {
        const result = await segmentFile(segmenter, file, outDir, stems[i], opts.opacity);
        spec = result.spec;
        inferenceMs += result.inferenceMs;
        pixels += result.width * result.height;
        result.shares.forEach((s, c) => (shares[c] = (shares[c] ?? 0) + s));
        if (result.cutoutPath) cutouts.push({ file, share: result.shares[1] ?? 0, path: result.cutoutPath });
        if (truth) await truth.add(stems[i], file, result.mask, result.spec.classes.length);
      } catch (error) {
        failures.push({ file, reason: describeError(error) });
      }
      done++;
      const seconds = (performance.now() - start) / 1000;
      bar?.update(done, { rate: (done / seconds).toFixed(1), file: basename(file) });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.workers + 1, files.length) }, loop));
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
  if (ok > 0) out(`  masks in   ${outDir}  (<name>.mask.png: class colours; <name>.overlay.png: over the image${cutouts.length ? '; <name>.cutout.png: the person with alpha' : ''})`);
  for (const c of cutouts.sort((a, b) => a.file.localeCompare(b.file))) {
    out(`  ${basename(c.file).padEnd(24)} ${spec?.classes[1] ?? 'person'} ${(c.share * 100).toFixed(1)}%  cut-out ${relative(process.cwd(), c.path).startsWith('..') ? c.path : relative(process.cwd(), c.path)}`);
  }
  if (failures.length > 0) {
    out(`  ${failures.length} failed:`);
    for (const f of failures) out(`    ${f.file}: ${f.reason}`);
  }
  return failures.length > 0 || ok === 0 ? 1 : 0;
}
