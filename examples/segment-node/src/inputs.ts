// Which files a run segments, and the output names they get.
import { existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { IMAGE_EXTENSIONS } from './image-files.js';

/** This tool's own outputs: skipped when a folder is scanned, so a rerun never segments masks. */
const OUTPUT_SUFFIX = /\.(mask|overlay)\.png$/i;

export interface Failure {
  file: string;
  reason: string;
}

/** Files named on the command line as they are; folders scanned recursively for image files (not `outDir`). */
export async function collectInputs(paths: string[], outDir: string, failures: Failure[]): Promise<string[]> {
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
export function outputStems(files: string[]): string[] {
  const used = new Map<string, number>();
  return files.map((file) => {
    const stem = basename(file, extname(file));
    const n = (used.get(stem) ?? 0) + 1;
    used.set(stem, n);
    return n === 1 ? stem : `${stem}-${n}`;
  });
}

/** Refuses an --out that is the folder of an input: masks would land beside (and be mistaken for) inputs. */
export function checkOutDir(inputs: string[], out: string): void {
  const outDir = resolve(out);
  for (const input of inputs) {
    const folder = existsSync(input) && statSync(input).isDirectory() ? resolve(input) : resolve(input, '..');
    if (folder === outDir) {
      throw new Error(`--out ${out} is the folder of the input ${input}: masks would overwrite files there; choose another --out`);
    }
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return 'code' in error && error.code ? `${String(error.code)}: ${error.message}` : error.message;
  return String(error);
}
