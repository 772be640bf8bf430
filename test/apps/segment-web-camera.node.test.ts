// End to end, the person model in segment-web (Debian chromium, playwright-core): a photo segmented with
// "Person (selfie)", and the live camera mode fed by chromium's fake camera playing a Y4M made from a real
// photo (skimage's astronaut.png). Checked: the person region of the mask is person and a background corner
// is not, camera frames are segmented at a usable rate while the main thread keeps drawing frames (the
// longest gap between animation frames, as segment-web.node.test.ts measures it), Stop releases the
// camera (every track ended), and a denied or missing camera gives a message. Screenshots go to
// test/artifacts/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFrameProbe, startMainThreadProfile, stopFrameProbe } from './page-probes.js';
import { serveStatic } from './static-server.js';
import { rgbaToY4m } from '../../tools/y4m.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const WEB = join(ROOT, 'examples/segment-web');
const ARTIFACTS = join(ROOT, 'test/artifacts');
const ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
const CLI = join(ROOT, 'examples/segment-node/dist/cli.js');

/** A white-is-person mask PNG as 0/1. */
function personMask(png: PNG): Uint8Array {
  const mask = new Uint8Array(png.width * png.height);
  for (let i = 0; i < mask.length; i++) mask[i] = png.data[4 * i]! > 127 ? 1 : 0;
  return mask;
}

/** Reads blob: URLs of the page's download links, as bytes. */
async function linkBytes(p: Page, id: string): Promise<Buffer> {
  const base64 = await p.evaluate(async (linkId) => {
    const bytes = new Uint8Array(await (await fetch((document.getElementById(linkId) as HTMLAnchorElement).href)).arrayBuffer());
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text);
  }, id);
  return Buffer.from(base64, 'base64');
}

let server: Awaited<ReturnType<typeof serveStatic>>;
let browser: Browser;
let page: Page;
let tmp: string;
const errors: string[] = [];

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** Mean of a 0/1 mask over [y0, y1) x [x0, x1), given as fractions of the size. */
function regionMean(mask: Uint8Array, width: number, height: number, [y0, y1, x0, x1]: [number, number, number, number]): number {
  let sum = 0, n = 0;
  for (let y = Math.floor(y0 * height); y < Math.ceil(y1 * height); y++) for (let x = Math.floor(x0 * width); x < Math.ceil(x1 * width); x++) {
    sum += mask[y * width + x]!;
    n++;
  }
  return sum / n;
}

async function openPage(): Promise<Page> {
  const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  p.on('pageerror', (error) => errors.push(error.message));
  // Keep every stream the page gets, to check after Stop that the camera was released.
  await p.addInitScript(() => {
    const w = window as unknown as { __streams: MediaStream[] };
    w.__streams = [];
    const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      const stream = await original(constraints);
      w.__streams.push(stream);
      return stream;
    };
  });
  await p.goto(server.url);
  await p.waitForSelector('body[data-ready="true"]', { timeout: 60_000 }).catch((error: unknown) => {
    throw new Error(`the page did not get ready: ${String(error)}; page errors: ${errors.join('; ')}`);
  });
  return p;
}

beforeAll(async () => {
  run('pnpm', ['--filter', 'segment-core', '--filter', 'segment-node', '--filter', 'segment-web', 'run', 'build']);
  tmp = mkdtempSync(join(tmpdir(), 'segment-web-camera-'));
  const y4m = join(tmp, 'astronaut.y4m');
  rgbaToY4m(PNG.sync.read(readFileSync(ASTRONAUT)), y4m, 30, 30);
  server = await serveStatic(join(WEB, 'dist'));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${y4m}`,
    ],
  });
  page = await openPage();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Segments `file` with segment-node's `--model <model>`; its person mask. */
function nodePersonMask(file: string, model: string, name: string): PNG {
  const out = join(tmp, `node-${model}`);
  run('node', [CLI, file, '--model', model, '--out', out, '--workers', '1']);
  return PNG.sync.read(readFileSync(join(out, `${name}.mask.png`)));
}

/** Share of pixels where two person masks agree. */
function agreement(a: PNG, b: PNG): number {
  const [x, y] = [personMask(a), personMask(b)];
  let agree = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === y[i]) agree++;
  return agree / x.length;
}

describe('segment-web: the person models', () => {
  for (const model of ['selfie', 'selfie-landscape']) it(`${model}: segments the astronaut photo like segment-node: the person is person, the corner is background, and the cut-out has alpha`, async () => {
    // Changing the model re-segments a photo already shown, and the click below opens it again: wait for
    // the mask of the image the click opened, not the model change's (which finishes first and whose
    // download links the click's run then replaces while they are read).
    const openedBefore = Number(await page.evaluate(() => document.body.dataset.openedImage ?? 0));
    await page.selectOption('#model', model);
    await page.click('button.sample[data-sample="astronaut"]');
    await page.waitForFunction(
      (before) => {
        const { state, openedImage, shownImage } = document.body.dataset;
        return state === 'done' && Number(openedImage ?? 0) > before && shownImage === openedImage
          && (document.getElementById('status')?.textContent ?? '').startsWith('astronaut.png');
      },
      openedBefore,
      { timeout: 60_000, polling: 50 },
    );
    const [maskB64, cutoutB64] = await page.evaluate(async () => {
      const read = async (id: string) => {
        const bytes = new Uint8Array(await (await fetch((document.getElementById(id) as HTMLAnchorElement).href)).arrayBuffer());
        let text = '';
        for (const b of bytes) text += String.fromCharCode(b);
        return btoa(text);
      };
      return [await read('download'), await read('download-cutout')];
    });
    const png = PNG.sync.read(Buffer.from(maskB64, 'base64'));
    const mask = new Uint8Array(png.width * png.height);
    // Person is white, background black (SELFIE_SPEC's colours).
    for (let i = 0; i < mask.length; i++) mask[i] = png.data[4 * i]! > 127 ? 1 : 0;
    const person = regionMean(mask, png.width, png.height, [0.2, 0.9, 0.3, 0.7]);
    const corner = regionMean(mask, png.width, png.height, [0, 0.15, 0.85, 1]);
    const cut = PNG.sync.read(Buffer.from(cutoutB64, 'base64'));
    let transparent = 0;
    for (let i = 0; i < cut.width * cut.height; i++) if (cut.data[4 * i + 3]! < 8) transparent++;
    const legend = await page.$$eval('#legend li', (items) => items.map((li) => li.textContent));
    console.log(`selfie on astronaut.png: ${png.width} x ${png.height}, person region ${person.toFixed(3)}, top-right corner ${corner.toFixed(3)}, cut-out ${((transparent / (cut.width * cut.height)) * 100).toFixed(1)} % transparent; legend ${legend.join(' | ')}`);
    expect([png.width, png.height]).toEqual([512, 512]);
    // segment-node with the same model: the same mask up to the two apps' resamplers (issue 14).
    const fromNode = agreement(png, nodePersonMask(ASTRONAUT, model, 'astronaut'));
    console.log(`${model} on astronaut.png: page vs segment-node mask pixels agreeing ${(fromNode * 100).toFixed(3)} %`);
    expect(fromNode).toBeGreaterThanOrEqual(0.995);
    expect(person).toBeGreaterThan(0.5);
    expect(corner).toBeLessThan(0.2);
    expect([cut.width, cut.height]).toEqual([512, 512]);
    expect(transparent / (cut.width * cut.height)).toBeGreaterThan(0.2);
    expect(await page.isVisible('#download-cutout')).toBe(true);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, `segment-web-${model}-astronaut.png`) });
  });

  it('runs the camera: frames segmented in the workers, the page keeps drawing, Stop releases the camera', async () => {
    await page.selectOption('#camera-bg', 'replace');
    await startFrameProbe(page);
    const profile = await startMainThreadProfile(page);
    await page.click('#camera-toggle');
    await page.waitForFunction(() => document.body.dataset.camera !== 'starting' && document.body.dataset.camera !== 'off', null, { timeout: 60_000 });
    expect(await page.evaluate(() => document.body.dataset.camera), await page.textContent('#camera-message') ?? '').toBe('on');
    await page.waitForFunction(() => Number(document.getElementById('camera-box')?.dataset.frames ?? 0) >= 1, null, { timeout: 30_000 });
    const first = await page.evaluate(() => ({ frames: Number(document.getElementById('camera-box')!.dataset.frames), t: performance.now() }));
    await page.waitForTimeout(4000);
    const stats = await page.evaluate(() => {
      const box = document.getElementById('camera-box')!;
      return {
        frames: Number(box.dataset.frames),
        dropped: Number(box.dataset.dropped),
        person: Number(box.dataset.person),
        t: performance.now(),
        fps: document.getElementById('cam-fps')!.textContent,
        modelSize: box.dataset.modelSize,
        latency: document.getElementById('cam-latency')!.textContent,
        size: [(document.getElementById('camera') as HTMLCanvasElement).width, (document.getElementById('camera') as HTMLCanvasElement).height],
      };
    });
    const mainThread = await profile.stop();
    const probe = await stopFrameProbe(page);
    // A snapshot: the page's frame and its mask; segment-node on the same frame (a PNG) gives the same mask
    // up to the resamplers (segment-core's triangle filter in the page, libvips in segment-node: issue 14).
    await page.click('#camera-snapshot');
    await page.waitForSelector('#camera-downloads[data-person]', { timeout: 30_000 });
    const framePng = await linkBytes(page, 'camera-frame-download');
    const pageMask = PNG.sync.read(await linkBytes(page, 'camera-mask-download'));
    writeFileSync(join(tmp, 'frame.png'), framePng);
    run('node', [CLI, join(tmp, 'frame.png'), '--model', 'selfie', '--out', join(tmp, 'node'), '--workers', '1']);
    const nodeMask = PNG.sync.read(readFileSync(join(tmp, 'node/frame.mask.png')));
    const [a, b] = [personMask(pageMask), personMask(nodeMask)];
    let agree = 0;
    for (let i = 0; i < a.length; i++) if (a[i] === b[i]) agree++;
    const agreement = agree / a.length;
    const share = a.reduce((s, v) => s + v, 0) / a.length;
    console.log(`camera snapshot ${pageMask.width} x ${pageMask.height}: person ${(share * 100).toFixed(1)} %, page vs segment-node mask pixels agreeing ${(agreement * 100).toFixed(3)} %`);
    expect([nodeMask.width, nodeMask.height]).toEqual([pageMask.width, pageMask.height]);
    expect(agreement).toBeGreaterThanOrEqual(0.995);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'segment-web-camera.png') });
    const fps = ((stats.frames - first.frames) * 1000) / (stats.t - first.t);
    console.log(
      `camera ${stats.size.join(' x ')}: ${stats.frames - first.frames} frames segmented in ${((stats.t - first.t) / 1000).toFixed(1)} s (${fps.toFixed(1)} fps; ` +
        `page shows ${stats.fps} fps, latency ${stats.latency}), ${stats.dropped} dropped, person share ${stats.person}, ` +
        `longest frame gap ${probe.max.toFixed(1)} ms over ${probe.frames} frames, main thread ${mainThread.samples} samples (${mainThread.wasmSamples} in wasm)`,
    );
    expect(stats.modelSize).toBe('256x256');
    expect(stats.frames - first.frames).toBeGreaterThan(20);
    expect(stats.person).toBeGreaterThan(0.2);
    expect(stats.person).toBeLessThan(0.9);
    expect(probe.frames).toBeGreaterThan(100);
    // The camera pipeline and the segmentation run in workers: the main thread's own CPU profile holds no
    // wasm. (Issue 11's goal of frame gaps under 50 ms is a figure of the machine of the moment, logged above
    // and recorded in bench/RESULTS.md by bench/camera-bench.mjs; asserted here only against a frozen page.)
    expect(mainThread.samples).toBeGreaterThan(0);
    expect(mainThread.wasmSamples, `wasm on the main thread: ${mainThread.wasmFunctions.join(', ')}`).toBe(0);
    expect(probe.max).toBeLessThan(2000);
    expect(await page.evaluate(() => (window as unknown as { __streams: MediaStream[] }).__streams.flatMap((s) => s.getTracks()).map((t) => t.readyState))).toEqual(['live']);
    await page.click('#camera-toggle');
    expect(await page.evaluate(() => document.body.dataset.camera)).toBe('off');
    expect(await page.evaluate(() => (window as unknown as { __streams: MediaStream[] }).__streams.flatMap((s) => s.getTracks()).map((t) => t.readyState))).toEqual(['ended']);
    await page.waitForSelector('#camera-box', { state: 'hidden', timeout: 10_000 });
    // The photo is back, and the frames counter stops.
    expect(await page.isVisible('#canvas-box')).toBe(true);
  });

  it('runs the camera on the landscape model: 256 x 144 model input, the mask segment-node gives with --model selfie-landscape', async () => {
    await page.selectOption('#camera-model', 'selfie-landscape');
    await page.click('#camera-toggle');
    await page.waitForFunction(() => document.body.dataset.camera !== 'starting' && document.body.dataset.camera !== 'off', null, { timeout: 60_000 });
    expect(await page.evaluate(() => document.body.dataset.camera), await page.textContent('#camera-message') ?? '').toBe('on');
    await page.waitForFunction(() => Number(document.getElementById('camera-box')?.dataset.frames ?? 0) >= 10, null, { timeout: 30_000 });
    const box = await page.evaluate(() => ({ ...document.getElementById('camera-box')!.dataset }));
    expect(box.modelSize).toBe('256x144');
    expect(await page.textContent('#cam-input')).toBe('256 × 144');
    expect(Number(box.person)).toBeGreaterThan(0.2);
    expect(Number(box.person)).toBeLessThan(0.9);
    // The first camera test's snapshot left its mark: cleared, so the wait below sees this snapshot.
    await page.evaluate(() => delete document.getElementById('camera-downloads')!.dataset.person);
    await page.click('#camera-snapshot');
    await page.waitForSelector('#camera-downloads[data-person]', { timeout: 30_000 });
    const framePng = await linkBytes(page, 'camera-frame-download');
    const pageMask = PNG.sync.read(await linkBytes(page, 'camera-mask-download'));
    writeFileSync(join(tmp, 'landscape-frame.png'), framePng);
    const landscape = agreement(pageMask, nodePersonMask(join(tmp, 'landscape-frame.png'), 'selfie-landscape', 'landscape-frame'));
    const general = agreement(pageMask, nodePersonMask(join(tmp, 'landscape-frame.png'), 'selfie', 'landscape-frame'));
    console.log(`landscape camera snapshot: page vs segment-node mask pixels agreeing ${(landscape * 100).toFixed(3)} % with --model selfie-landscape, ${(general * 100).toFixed(3)} % with --model selfie`);
    expect(landscape).toBeGreaterThanOrEqual(0.995);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'segment-web-camera-landscape.png') });
    await page.click('#camera-toggle');
    expect(await page.evaluate(() => document.body.dataset.camera)).toBe('off');
    expect(await page.evaluate(() => (window as unknown as { __streams: MediaStream[] }).__streams.flatMap((s) => s.getTracks()).every((t) => t.readyState === 'ended'))).toBe(true);
  });

  for (const [name, pattern] of [['NotAllowedError', /permission was denied/], ['NotFoundError', /No camera found/]] as const) {
    it(`says so when getUserMedia fails with ${name}`, async () => {
      const p = await browser.newPage();
      p.on('pageerror', (error) => errors.push(error.message));
      await p.addInitScript((errorName) => {
        navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('refused by the test', errorName));
      }, name);
      await p.goto(server.url);
      await p.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      await p.click('#camera-toggle');
      await p.waitForFunction(() => document.body.dataset.camera === 'error', null, { timeout: 30_000 });
      expect(await p.textContent('#camera-message')).toMatch(pattern);
      expect(await p.textContent('#camera-toggle')).toBe('Start camera');
      await p.close();
    });
  }
});
