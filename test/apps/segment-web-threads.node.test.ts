// The web example's threads in Debian chromium: served with COOP/COEP (as its Vite config serves it) the page
// is cross-origin isolated, its worker loads the shared-memory build and each run uses 2 threads; served
// without them it falls back to one thread and says why. Both give the same mask, byte for byte.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic } from './static-server.js';

const ROOT = resolve(import.meta.dirname, '../..');
const WEB = join(ROOT, 'examples/segment-web');
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let browser: Browser;

beforeAll(async () => {
  execFileSync('pnpm', ['--filter', 'segment-core', '--filter', 'segment-web', 'run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}, 300_000);

afterAll(async () => {
  await browser?.close();
});

interface PageRun {
  isolated: boolean;
  threads: string | undefined;
  reason: string | undefined;
  engine: string;
  maskPng: string;
}

/** Serves the built page (with `headers`), segments the first sample, reads what the page reports. */
async function segmentOnce(headers: Record<string, string>): Promise<PageRun> {
  const server = await serveStatic(join(WEB, 'dist'), headers);
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    await page.click('button.sample[data-sample="scene-03"]');
    await page.waitForFunction(() => document.body.dataset.state === 'done', undefined, { timeout: 120_000, polling: 50 });
    return await page.evaluate(async () => {
      const href = (document.getElementById('download') as HTMLAnchorElement).href;
      const bytes = new Uint8Array(await (await fetch(href)).arrayBuffer());
      let text = '';
      for (const b of bytes) text += String.fromCharCode(b);
      return {
        isolated: crossOriginIsolated,
        threads: document.body.dataset.threads,
        reason: document.body.dataset.threadsReason,
        engine: document.getElementById('engine')?.textContent ?? '',
        maskPng: btoa(text),
      };
    });
  } catch (error) {
    throw new Error(`${String(error)}; page errors: ${errors.join('; ')}`);
  } finally {
    await page.close();
    await server.close();
  }
}

describe('segment-web threads in chromium', () => {
  it('runs 2 threads when cross-origin isolated, falls back to 1 (saying why) when not, same mask', async () => {
    const isolated = await segmentOnce(ISOLATION);
    const plain = await segmentOnce({});
    console.log(`isolated: "${isolated.engine}"; not isolated: "${plain.engine}" (${plain.reason})`);
    expect(isolated.isolated).toBe(true);
    expect(isolated.threads).toBe('2');
    expect(isolated.reason).toBeUndefined();
    expect(isolated.engine).toMatch(/2 threads each/);
    expect(plain.isolated).toBe(false);
    expect(plain.threads).toBe('1');
    expect(plain.reason).toMatch(/cross-origin isolated/);
    expect(isolated.maskPng.length).toBeGreaterThan(100);
    expect(isolated.maskPng).toBe(plain.maskPng);
  }, 300_000);
});
