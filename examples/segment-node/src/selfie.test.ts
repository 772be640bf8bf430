// `atrous-segment --model selfie` and `--model selfie-landscape` as a user runs them (the compiled dist/cli.js
// in a child process) on a real photo (python3-skimage's astronaut.png): the person mask, and a cut-out PNG
// whose alpha is the person. The models come from models/selfie/ (scripts/setup.sh fetches them).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage } from './codecs.js';

const CLI = resolve(import.meta.dirname, '../dist/cli.js');
const ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
const dir = mkdtempSync(join(tmpdir(), 'atrous-segment-selfie-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Mean of `value(i)` over [y0, y1) x [x0, x1), given as fractions of the size. */
function regionMean(width: number, height: number, [y0, y1, x0, x1]: [number, number, number, number], value: (i: number) => number): number {
  let sum = 0, n = 0;
  for (let y = Math.floor(y0 * height); y < Math.ceil(y1 * height); y++) for (let x = Math.floor(x0 * width); x < Math.ceil(x1 * width); x++) {
    sum += value(y * width + x);
    n++;
  }
  return sum / n;
}

const MODELS = [
  { choice: 'selfie', name: /model {6}Person \(MediaPipe selfie segmentation\)/ },
  { choice: 'selfie-landscape', name: /model {6}Person, landscape \(MediaPipe selfie segmentation\)/ },
];

describe.each(MODELS)('atrous-segment --model $choice', ({ choice, name }) => {
  it.skipIf(!existsSync(ASTRONAUT))('writes the person mask and a cut-out with alpha, and prints the person share', async () => {
    const out = join(dir, choice);
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile('node', [CLI, ASTRONAUT, '--model', choice, '--out', out, '--workers', '1'], { encoding: 'utf8' }, (error, stdout, stderr) =>
        done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      ),
    );
    expect(code, stderr).toBe(0);
    console.log(stdout);
    expect(stdout).toMatch(name);
    const line = stdout.split('\n').find((l) => l.trim().startsWith('astronaut.png'));
    expect(line).toMatch(/person \d+\.\d%  cut-out .*astronaut\.cutout\.png$/);
    const share = Number(/person (\d+\.\d)%/.exec(line!)![1]);
    expect(share).toBeGreaterThan(30);
    expect(share).toBeLessThan(80);

    const mask = await decodeImage(new Uint8Array(readFileSync(join(out, 'astronaut.mask.png'))), 'mask');
    const cut = await decodeImage(new Uint8Array(readFileSync(join(out, 'astronaut.cutout.png'))), 'cut-out');
    const photo = await decodeImage(new Uint8Array(readFileSync(ASTRONAUT)), 'photo');
    expect([mask.width, mask.height, cut.width, cut.height]).toEqual([512, 512, 512, 512]);
    // The person region (Eileen Collins: centre and lower half) is person, the top-right corner is not,
    // in the mask (white = person) and in the cut-out's alpha.
    const person: [number, number, number, number] = [0.2, 0.9, 0.3, 0.7];
    const corner: [number, number, number, number] = [0, 0.15, 0.85, 1];
    const inMask = (i: number) => (mask.data[4 * i]! > 127 ? 1 : 0);
    const alpha = (i: number) => cut.data[4 * i + 3]! / 255;
    expect(regionMean(512, 512, person, inMask)).toBeGreaterThan(0.5);
    expect(regionMean(512, 512, corner, inMask)).toBeLessThan(0.2);
    expect(regionMean(512, 512, person, alpha)).toBeGreaterThan(0.5);
    expect(regionMean(512, 512, corner, alpha)).toBeLessThan(0.2);
    // Where the cut-out is opaque, its colours are the photo's.
    let checked = 0;
    for (let i = 0; i < 512 * 512; i++) {
      if (cut.data[4 * i + 3] !== 255) continue;
      for (let c = 0; c < 3; c++) expect(cut.data[4 * i + c]).toBe(photo.data[4 * i + c]);
      if (++checked > 2000) break;
    }
    expect(checked).toBeGreaterThan(2000);
  });
});
