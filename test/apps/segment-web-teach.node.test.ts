// End to end, teach mode in segment-web (Debian chromium, playwright-core): the user's own photo (skimage's
// astronaut.png, opened through the file input), scribbles painted with real pointer events on the canvas
// (a background brush and a person brush, a mistaken stroke removed with the eraser), a head trained in the
// worker pool with the live loss curve, the page's main thread kept drawing frames meanwhile, and the mask
// held to MediaPipe's selfie mask of the same photo. The downloaded .onnx is run by onnxruntime-node and
// must give the page's mask. Then a third class ("+ class") and Cancel: training stops early and the head
// keeps what it learned. A screenshot goes to test/artifacts/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { PNG } from 'pngjs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isnetModel } from '../models/fixtures.js';
import { startFrameProbe, startMainThreadProfile, stopFrameProbe } from './page-probes.js';
import { serveStatic } from './static-server.js';
import { ASTRONAUT_STROKES } from './teach-strokes.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const WEB = join(ROOT, 'examples/segment-web');
const ARTIFACTS = join(ROOT, 'test/artifacts');
const ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
const CLI = join(ROOT, 'examples/segment-node/dist/cli.js');
const STEPS = 40;

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

let server: Awaited<ReturnType<typeof serveStatic>>;
let browser: Browser;
let page: Page;
let tmp: string;
let core: typeof import('segment-core');
/** MediaPipe's selfie mask of astronaut.png (segment-node), 1 = person. */
let reference: Uint8Array;
const errors: string[] = [];

beforeAll(async () => {
  // ISNet (fetched once by tools/fetch-isnet.mjs, git-ignored) must be there before the build bundles it.
  isnetModel();
  run('pnpm', ['--filter', 'segment-core', '--filter', 'segment-node', '--filter', 'segment-web', 'run', 'build']);
  core = await import('segment-core');
  tmp = mkdtempSync(join(tmpdir(), 'segment-web-teach-'));
  run('node', [CLI, ASTRONAUT, '--model', 'selfie', '--out', tmp, '--workers', '1']);
  const png = PNG.sync.read(readFileSync(join(tmp, 'astronaut.mask.png')));
  reference = new Uint8Array(png.width * png.height);
  for (let i = 0; i < reference.length; i++) reference[i] = png.data[4 * i]! > 127 ? 1 : 0;
  server = await serveStatic(join(WEB, 'dist'));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 }).catch((error: unknown) => {
    throw new Error(`the page did not get ready: ${String(error)}; page errors: ${errors.join('; ')}`);
  });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A stroke in image pixels, dragged with the mouse over the scribble canvas (pointerdown, moves, pointerup). */
async function drag([x0, y0, x1, y1]: number[]): Promise<void> {
  // The brushes sit in the side panel: clicking one may have scrolled the canvas partly out of view.
  await page.$eval('#scribbles', (c) => c.scrollIntoView({ block: 'center' }));
  const box = (await page.locator('#scribbles').boundingBox())!;
  const [w, h] = await page.$eval('#scribbles', (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height]);
  const at = (x: number, y: number) => [box.x + (x / w) * box.width, box.y + (y / h) * box.height] as const;
  await page.mouse.move(...at(x0!, y0!));
  await page.mouse.down();
  await page.mouse.move(...at(x1!, y1!), { steps: 12 });
  await page.mouse.up();
}

/** The scribble canvas's alpha at an image pixel (0: unpainted). */
function scribbleAlpha(x: number, y: number): Promise<number> {
  return page.$eval('#scribbles', (c, [px, py]) => (c as HTMLCanvasElement).getContext('2d')!.getImageData(px!, py!, 1, 1).data[3]!, [x, y]);
}

async function linkBytes(id: string): Promise<Buffer> {
  const base64 = await page.evaluate(async (linkId) => {
    const bytes = new Uint8Array(await (await fetch((document.getElementById(linkId) as HTMLAnchorElement).href)).arrayBuffer());
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text);
  }, id);
  return Buffer.from(base64, 'base64');
}

/** The page's mask PNG as class ids, by the class colours of teach mode. */
async function pageMask(classes: number): Promise<Uint8Array> {
  const png = PNG.sync.read(await linkBytes('download'));
  const ids = new Uint8Array(png.width * png.height).fill(255);
  for (let i = 0; i < ids.length; i++) {
    for (let c = 0; c < classes; c++) {
      const [r, g, b] = core.TEACH_COLORS[c]!;
      if (png.data[4 * i] === r && png.data[4 * i + 1] === g && png.data[4 * i + 2] === b) ids[i] = c;
    }
  }
  return ids;
}

/** The downloaded model in onnxruntime-node on the page's input for astronaut.png, decoded as the page does. */
async function onnxruntimeMask(bytes: Buffer, classes: number, source: 'isnet' | 'builtin'): Promise<Uint8Array> {
  const png = PNG.sync.read(readFileSync(ASTRONAUT));
  const image = { width: png.width, height: png.height, data: new Uint8ClampedArray(png.data) };
  const spec = core.specForUnknownModel({ name: 'taught', outputChannels: classes, metadata: core.readOnnxMetadata(new Uint8Array(bytes)) });
  // The page's input: ISNet's fixed 1024 x 1024, or the built-in model's at teach mode's size.
  const [h, w] = source === 'isnet' ? [1024, 1024] : core.chooseInputSize(spec, image.width, image.height, core.TEACH_FEATURES.builtin.inputSize);
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', core.imageToPlanes(image, w, h, spec.mean, spec.std), [1, 3, h, w]) });
  const scores = out[session.outputNames[0]!]!;
  expect(scores.dims).toEqual([1, classes, h, w]);
  return core.decodeMask({ data: scores.data as Float32Array, dims: [...scores.dims] }, spec, image.width, image.height).data;
}

/** The taught model, downloaded the way a user gets it: a click on the link (playwright's download). */
async function downloadModel(): Promise<Buffer> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#teach-download')]);
  expect(download.suggestedFilename()).toBe('astronaut.taught.onnx');
  return readFileSync((await download.path())!);
}

function agreement(a: Uint8Array, b: Uint8Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

async function losses(): Promise<number[]> {
  return JSON.parse((await page.getAttribute('#teach-loss', 'data-losses')) ?? '[]') as number[];
}

/**
 * Trains STEPS steps on the scribbles painted, with the features of `source`; checks the curve, the frame gaps,
 * the mask against the selfie mask (person IoU above `bar`) and the downloaded .onnx in onnxruntime-node.
 */
async function trainAndCheck(source: 'isnet' | 'builtin', bar: { iou: number; agreement: number }): Promise<void> {
  await page.selectOption('#teach-features', source);
  await page.fill('#teach-steps', String(STEPS));
  // Long tasks of the whole run, logged: the first run with a source loads its extractor into the pool,
  // and the pool clones the model's bytes to its worker on this thread (ISNet's 80 MB: a pause of a few
  // hundred ms, once, as when the page loads ISNet to segment with it).
  await page.evaluate(() => {
    const w = window as unknown as { __long: string[] };
    w.__long = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__long.push(`${e.duration.toFixed(0)} ms (${document.getElementById('status')?.textContent})`);
    }).observe({ type: 'longtask' });
  });
  await page.click('#teach-train');
  // The frame gaps are measured over the training steps: from the first step to the taught mask.
  await page.waitForFunction(() => document.body.dataset.teach === 'training', null, { timeout: 240_000, polling: 20 });
  await startFrameProbe(page);
  const profile = await startMainThreadProfile(page);
  await page.waitForFunction(() => document.body.dataset.teach === 'done', null, { timeout: 240_000, polling: 100 }).catch(async (error: unknown) => {
    throw new Error(`training did not finish: ${String(error)}; status ${await page.textContent('#status')}; page errors: ${errors.join('; ')}`);
  });
  const mainThread = await profile.stop();
  const frames = await stopFrameProbe(page);
  console.log(`long tasks on the main thread during the ${source} run: ${await page.evaluate(() => (window as unknown as { __long: string[] }).__long.join('; ') || 'none')}`);
  const curve = await losses();
  const info = await page.textContent('#teach-info');
  console.log(`teach on astronaut.png (${source} features): ${curve.length} steps, loss ${curve[0]!.toFixed(3)} -> ${curve.at(-1)!.toFixed(4)}; ${info}; longest frame gap ${frames.max.toFixed(1)} ms over ${frames.frames} frames, main thread ${mainThread.samples} samples (${mainThread.wasmSamples} in wasm)`);
  expect(curve.length).toBe(STEPS);
  expect(await page.getAttribute('#teach-loss', 'data-points')).toBe(String(STEPS));
  expect(curve.at(-1)!).toBeLessThan(curve[0]! * 0.2);
  // The training ran in a worker: the page kept drawing frames, and its main thread's own CPU profile holds
  // no wasm (the steps run in the trainer's worker). The frame gaps are logged above, not asserted (they follow
  // the machine's speed of the moment), except against a frozen page. How many frames depends on how fast the
  // machine trains (the built-in head's 40 steps can take 0.3 s).
  expect(frames.frames).toBeGreaterThanOrEqual(2);
  expect(mainThread.samples).toBeGreaterThan(0);
  expect(mainThread.wasmSamples, `wasm on the main thread: ${mainThread.wasmFunctions.join(', ')}`).toBe(0);
  expect(frames.max).toBeLessThan(2000);

  const mask = await pageMask(2);
  expect(mask.every((v) => v === 0 || v === 1)).toBe(true);
  const iou = core.maskIoU({ width: 512, height: 512, data: mask }, { width: 512, height: 512, data: reference }, 2);
  console.log(`taught mask vs the selfie mask: person IoU ${iou.perClass[1]!.toFixed(3)}, background IoU ${iou.perClass[0]!.toFixed(3)}, pixels agreeing ${(iou.pixelAgreement * 100).toFixed(1)} %`);
  expect(iou.perClass[1]!).toBeGreaterThan(bar.iou);
  expect(iou.pixelAgreement).toBeGreaterThan(bar.agreement);
  // The legend names the taught classes.
  expect(await page.$$eval('#legend li', (items) => items.map((li) => li.textContent))).toEqual([expect.stringContaining('background'), expect.stringContaining('person')]);

  const onnx = await downloadModel();
  expect(core.readOnnxMetadata(new Uint8Array(onnx)).classes).toBe(JSON.stringify(['background', 'person']));
  const fromOrt = await onnxruntimeMask(onnx, 2, source);
  const same = agreement(fromOrt, mask);
  console.log(`downloaded .onnx (${onnx.length} bytes) in onnxruntime-node vs the page's mask: ${(same * 100).toFixed(3)} % of pixels agree`);
  // The page's mask is the head's scores on the feature grid resized once to the image; the file resizes them
  // to the model input and the decoder again to the image (and onnxruntime runs ISNet's float16 layers in
  // float16): a few pixels on class borders may differ.
  expect(same).toBeGreaterThan(0.995);

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `segment-web-teach-astronaut-${source}.png`), fullPage: true });
  expect(errors).toEqual([]);
}


describe('segment-web: teach mode', () => {
  it(`teaches person vs background from scribbles on a photo (ISNet features): ${STEPS} steps in the pool, a falling loss curve, a responsive page, the selfie mask's person, and a .onnx that onnxruntime runs to the same mask`, async () => {
    await page.setInputFiles('#image-file', ASTRONAUT);
    await page.waitForFunction(() => document.body.dataset.state === 'done' && (document.getElementById('status')?.textContent ?? '').startsWith('astronaut.png'), null, { timeout: 60_000, polling: 50 });
    await page.click('#teach-toggle');
    await page.waitForSelector('body[data-mode="teach"][data-teach="idle"]');
    // Entering teach mode clears the built-in model's mask.
    expect(await page.getAttribute('#download', 'aria-disabled')).toBe('true');
    expect(await page.$$eval('.brush', (b) => b.length)).toBe(2);
    await page.fill('.brush-row:nth-child(2) input', 'person');
    await page.dispatchEvent('.brush-row:nth-child(2) input', 'change');
    expect(await page.inputValue('#teach-brush')).toBe('12');

    await page.click('.brush[data-class="0"]');
    for (const stroke of ASTRONAUT_STROKES.background) await drag(stroke);
    // A background stroke across her face by mistake, then the eraser (a wider brush) over it.
    const [mx0, my, mx1] = ASTRONAUT_STROKES.mistake;
    await drag(ASTRONAUT_STROKES.mistake);
    const mid = Math.round((mx0! + mx1!) / 2);
    expect(await scribbleAlpha(mid, my!)).toBe(255);
    await page.click('#teach-eraser');
    await page.$eval('#teach-brush', (el) => {
      (el as HTMLInputElement).value = '20';
      el.dispatchEvent(new Event('input'));
    });
    await drag(ASTRONAUT_STROKES.eraser);
    for (let x = mx0!; x <= mx1!; x += 5) expect(await scribbleAlpha(x, my!)).toBe(0);
    await page.$eval('#teach-brush', (el) => {
      (el as HTMLInputElement).value = '12';
      el.dispatchEvent(new Event('input'));
    });
    await page.click('.brush[data-class="1"]');
    for (const stroke of ASTRONAUT_STROKES.person) await drag(stroke);
    expect(await scribbleAlpha(225, 100)).toBe(255);

    // Bars: measure-teach.mjs measured person IoU 0.945 (97 % of pixels) on ISNet's features and 0.76 (87 %)
    // on the built-in model's for these strokes. Calling every pixel person scores 0.55, and a head on the
    // image's colours alone 0.61: 0.90 and 0.70 are clearly above those, with room for the noise of training.
    await trainAndCheck('isnet', { iou: 0.9, agreement: 0.94 });
  }, 600_000);

  it(`teaches the same scribbles on the built-in model's features (fast, a coarser mask)`, async () => {
    await trainAndCheck('builtin', { iou: 0.7, agreement: 0.82 });
  }, 400_000);

  it('adds a third class, and Cancel stops the training early: the head keeps what it learned and its model scores three classes', async () => {
    await page.click('#teach-add-class');
    expect(await page.$$eval('.brush', (b) => b.length)).toBe(3);
    expect(await page.getAttribute('.brush[data-class="2"]', 'aria-pressed')).toBe('true');
    await page.fill('.brush-row:nth-child(3) input', 'shuttle');
    await page.dispatchEvent('.brush-row:nth-child(3) input', 'change');
    await drag([405, 60, 405, 200]);
    const many = 3000;
    await page.fill('#teach-steps', String(many));
    await page.click('#teach-train');
    await page.waitForFunction(() => Number(document.getElementById('teach-loss')?.dataset.points ?? 0) >= 3, null, { timeout: 120_000, polling: 50 });
    // The steps on the curve when the click reaches the page (a capturing listener runs before the button's).
    await page.evaluate(() => {
      const w = window as unknown as { __atCancel?: number };
      document.getElementById('teach-cancel')!.addEventListener('click', () => (w.__atCancel = Number(document.getElementById('teach-loss')!.dataset.points)), { capture: true, once: true });
    });
    await page.click('#teach-cancel');
    await page.waitForFunction(() => document.body.dataset.teach === 'cancelled', null, { timeout: 120_000, polling: 100 });
    const curve = await losses();
    const atCancel = await page.evaluate(() => (window as unknown as { __atCancel: number }).__atCancel);
    console.log(`cancelled at step ${atCancel}, stopped after ${curve.length} of ${many} steps; status: ${await page.textContent('#status')}`);
    // A new class count is a new head: the curve starts over. The abort takes effect between steps: at most
    // the step in flight at the click is added.
    expect(atCancel).toBeGreaterThanOrEqual(3);
    expect(curve.length).toBeGreaterThanOrEqual(atCancel);
    expect(curve.length).toBeLessThanOrEqual(atCancel + 1);
    expect(await page.textContent('#status')).toContain('cancelled after');
    const onnx = await downloadModel();
    expect(core.readOnnxMetadata(new Uint8Array(onnx)).classes).toBe(JSON.stringify(['background', 'person', 'shuttle']));
    const mask = await pageMask(3);
    expect(mask.every((v) => v < 3)).toBe(true);
    expect(agreement(await onnxruntimeMask(onnx, 3, 'builtin'), mask)).toBeGreaterThan(0.995);
    expect(await page.$$eval('#legend li', (items) => items.length)).toBe(3);
    expect(errors).toEqual([]);
  }, 300_000);
});
