// The pool in an app bundled for production by Vite, as a user would ship it: the literal
// `new Worker(new URL('./worker-entry.js', import.meta.url), { type: 'module' })` in atrous must become an
// emitted worker chunk, the workers must find their .wasm, and the results must match the page's own thread.
// Served on localhost, run in Debian's chromium (playwright-core).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { serveStatic } from '../apps/static-server.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const MAIN = `
import { createWorkerPool, Tensor, init, conv2d } from 'atrous';
const out = document.getElementById('out');
try {
  await init();
  const pool = await createWorkerPool({ size: 2 });
  const x = new Tensor('float32', Float32Array.from({ length: 4 * 30 * 30 }, (_, i) => Math.sin(i)), [1, 4, 30, 30]);
  const w = new Tensor('float32', Float32Array.from({ length: 6 * 4 * 9 }, (_, i) => Math.cos(i) / 6), [6, 4, 3, 3]);
  const options = { dilations: 3, pads: 'same-upper', activation: 'relu' };
  const expected = conv2d(x, w, options);
  const ys = await Promise.all([pool.conv2d(x, w, options), pool.conv2d(x, w, options), pool.conv2d(x, w, options)]);
  const same = ys.every((y) => y.data.every((v, i) => Object.is(v, expected.data[i])));
  const stats = pool.stats();
  await pool.terminate();
  out.textContent = JSON.stringify({ same, build: stats.build, completed: stats.completed, workers: stats.workers.map((w) => w.jobs) });
} catch (e) {
  out.textContent = JSON.stringify({ error: String(e.code) + ': ' + e.message });
}
`;

describe('the pool bundled by Vite for production', () => {
  const dir = mkdtempSync(join(tmpdir(), 'atrous-pool-bundle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('emits the worker chunk and runs in chromium with the same results as the page thread', async () => {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(join(ROOT, 'packages/atrous'), join(dir, 'node_modules/atrous'));
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
    writeFileSync(join(dir, 'index.html'), '<!doctype html><html><body><pre id="out">running</pre><script type="module" src="./main.js"></script></body></html>');
    writeFileSync(join(dir, 'main.js'), MAIN);
    writeFileSync(join(dir, 'vite.config.js'), "export default { logLevel: 'warn', worker: { format: 'es' }, build: { target: 'es2022' } };");
    execFileSync(join(ROOT, 'test/node_modules/.bin/vite'), ['build'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const assets = readdirSync(join(dir, 'dist/assets'));
    expect(assets.some((f) => /^worker-entry-.*\.js$/.test(f)), assets.join(', ')).toBe(true);
    expect(assets.some((f) => /^atrous-relaxed-.*\.wasm$/.test(f)), assets.join(', ')).toBe(true);
    // The tests' fault handlers live in a worker module of their own: none of them reaches a production bundle.
    for (const f of assets.filter((a) => a.endsWith('.js'))) expect(readFileSync(join(dir, 'dist/assets', f), 'utf8')).not.toMatch(/fault injected|atrous_conv_plan_bytes\(4294967280\)|0xfffffff0/);
    const server = await serveStatic(join(dir, 'dist'));
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      await page.goto(server.url);
      await page.waitForFunction(() => document.getElementById('out')?.textContent !== 'running', null, { timeout: 60_000 });
      const result = JSON.parse((await page.textContent('#out')) ?? '{}');
      expect(result).toEqual({ same: true, build: 'relaxed', completed: 3, workers: expect.any(Array) });
      expect(result.workers.every((jobs: number) => jobs >= 1)).toBe(true); // both workers took calls
    } finally {
      await browser.close();
      await server.close();
    }
  }, 120_000);
});
