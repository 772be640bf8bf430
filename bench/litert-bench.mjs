#!/usr/bin/env node
/**
 * Issue 11, Speed: per frame on the two MediaPipe selfie segmenters in Debian chromium, atrous's
 * InferenceSession against LiteRT.js (@litertjs/core, wasm/XNNPACK, single-thread build), both on the main
 * thread of one page (bench/litert/page.js), interleaved frame by frame (the order alternates each round),
 * after a warm-up; medians. The page is served by Vite (as the browser tests are) and driven by
 * playwright-core with chromium at /usr/bin/chromium and test/vitest.config.ts's flags. Outputs are checked
 * to agree (max |diff| / max |ref| <= 1e-4) before timing. Prints markdown for bench/RESULTS.md.
 * Run from the workspace root with `pnpm bench:litert`; `--help` lists the flags.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer, searchForWorkspaceRoot } from 'vite';
import { cpuModel, load } from './machine.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const PHOTO_DIR = '/usr/lib/python3/dist-packages/skimage/data';
const TOLERANCE = 1e-4;
const GOAL = 1.3;

// test/vitest.config.ts's chromiumArgs.
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const HELP = `usage: node bench/litert-bench.mjs [flags]
  --photo <name>      frame source, a photo of ${PHOTO_DIR} (default astronaut.png)
  --warmup <n>        untimed frames per runtime per model before timing (default 10)
  --rounds <n>        at least this many rounds (one frame per runtime each) per model (default 100)
  --seconds <s>       and at least this many seconds of rounds per model (default 20)
  --threads <n>       threads for both (default 1): LiteRT.js's threaded build and atrous's intraOpNumThreads,
                      on a page served cross-origin isolated (COOP/COEP)
  --help`;

function parseArgs(argv) {
  const o = { photo: 'astronaut.png', warmup: 10, rounds: 100, seconds: 20, threads: 1 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].includes('=') ? argv[i].split(/=(.*)/s) : [argv[i], undefined];
    const value = () => inline ?? argv[++i];
    const num = (min) => {
      const n = Number(value());
      if (!Number.isFinite(n) || n < min) throw new Error(`${flag} needs a number >= ${min}`);
      return n;
    };
    if (flag === '--help' || flag === '-h') {
      console.log(HELP);
      process.exit(0);
    } else if (flag === '--photo') o.photo = value();
    else if (flag === '--warmup') o.warmup = num(0);
    else if (flag === '--rounds') o.rounds = num(1);
    else if (flag === '--seconds') o.seconds = num(0);
    else if (flag === '--threads') o.threads = num(1);
    else throw new Error(`unknown flag ${argv[i]}\n${HELP}`);
  }
  return o;
}

const version = (name) => JSON.parse(readFileSync(resolve(here, 'node_modules', name, 'package.json'), 'utf8')).version;
const ms = (x) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));
const git = (...args) => {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '?';
  }
};

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const loadBefore = load();
  const server = await createServer({
    configFile: false,
    root: resolve(here, 'litert'),
    cacheDir: resolve(here, 'node_modules/.vite-litert'),
    logLevel: 'warn',
    server: {
      host: '127.0.0.1',
      port: 0,
      strictPort: false,
      fs: { allow: [searchForWorkspaceRoot(root), PHOTO_DIR] },
      // Threads need SharedArrayBuffer, which only a cross-origin-isolated page has.
      headers: o.threads > 1 ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {},
    },
    // Bundled before the page loads, so the dev server does not reload the page halfway.
    optimizeDeps: { include: ['@litertjs/core'] },
  });
  await server.listen();
  const url = server.resolvedUrls.local[0];
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs });
  let out;
  try {
    const page = await browser.newPage();
    // Page errors only (LiteRT.js logs its setup as errors, INFO:/WARNING:, and a WebGPU probe that fails under --disable-gpu, as warnings).
    page.on('console', (m) => { if (m.type() === 'error' && !/WebGPU|GPU adapter|^(INFO|WARNING): /.test(m.text())) console.error(`[page] ${m.text()}`); });
    page.on('pageerror', (e) => console.error(`[page] ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });
    out = await page.evaluate((opts) => window.runBench(opts), {
      photoUrl: `/@fs${PHOTO_DIR}/${o.photo}`, warmup: o.warmup, minRounds: o.rounds, minSeconds: o.seconds, tolerance: TOLERANCE, threads: o.threads,
    });
  } finally {
    await browser.close();
    await server.close();
  }
  const loadAfter = load();
  const chromiumVersion = out.env.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? out.env.userAgent;

  const flags = process.argv.slice(2).join(' ');
  const lines = [];
  const threadsText = o.threads > 1 ? `${o.threads} threads` : 'single thread';
  lines.push(`## Selfie segmentation in chromium, per frame, ${threadsText}: atrous vs LiteRT.js (issues 10, 11)`);
  lines.push('');
  lines.push(`- date: ${new Date().toISOString()}, workspace ${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain') ? ' (uncommitted changes)' : ''}`);
  lines.push(`- command: \`pnpm bench:litert${flags ? ' ' + flags : ''}\` = \`node bench/litert-bench.mjs${flags ? ' ' + flags : ''}\``);
  lines.push(`- machine: ${cpuModel()}, ${out.env.hardwareConcurrency} logical cores (lscpu)`);
  lines.push(`- load before: \`${loadBefore}\``);
  lines.push(`- browser: Debian chromium ${chromiumVersion} (/usr/bin/chromium, headless, test/vitest.config.ts's flags) driven by playwright-core ${version('playwright-core')}; page served by Vite ${version('vite')}; crossOriginIsolated ${out.env.crossOriginIsolated}${o.threads > 1 ? ` (COOP/COEP served: ${o.threads} threads for both)` : ' (so no SharedArrayBuffer: single thread for both)'}; performance.now() step ${out.env.timerResolutionMs.toFixed(3)} ms`);
  const liteRtBuild = o.threads > 1 ? `the threaded \`litert_wasm_threaded_internal.js\` with \`cpuOptions: { numThreads: ${o.threads} }\`` : `the plain single-thread \`litert_wasm_internal.js\``;
  lines.push(`- atrous ${version('atrous')}, build \`${out.env.atrousBuild}\` with \`intraOpNumThreads: ${o.threads}\`, \`InferenceSession\` on the page's main thread (no worker); LiteRT.js @litertjs/core ${version('@litertjs/core')}, \`loadAndCompile(model, { accelerator: 'wasm' })\` (XNNPACK) from ${liteRtBuild}, on the same main thread`);
  lines.push(`- frame (timed, the same for both): ${o.photo} drawn by the canvas at the model's size gives RGBA ImageData (outside the timing); per frame: RGBA -> NHWC float32 in [0, 1] (one JS loop), input tensor made (\`new Tensor('float32', x, shape)\` / \`new LiteRtTensor(x, shape)\`), \`await run\`, output read into a Float32Array (atrous \`.data\`; LiteRT.js \`toTypedArray().slice()\`, then the tensors deleted)`);
  lines.push(`- repetitions: one page, per model: outputs compared once, ${o.warmup} untimed frames per runtime, then rounds of one frame per runtime (order alternating each round) until >= ${o.rounds} rounds and >= ${o.seconds} s; each frame timed alone with performance.now()`);
  lines.push('');
  lines.push('| model | input | max \\|diff\\| / max \\|ref\\| | frames each | atrous median ms | atrous min / max | LiteRT.js median ms | LiteRT.js min / max | ratio (LiteRT.js / atrous median) |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  let failed = false;
  for (const r of out.results) {
    const check = `${r.relative.toExponential(1)}${r.failed ? ' **FAIL**' : ''}`;
    if (r.failed) {
      failed = true;
      lines.push(`| ${r.id} | 1x${r.height}x${r.width}x3 | ${check} | - | - | - | - | - | - |`);
      continue;
    }
    const ratio = r.litert.median / r.atrous.median;
    lines.push(`| ${r.id} | 1x${r.height}x${r.width}x3 | ${check} | ${r.atrous.n} | ${ms(r.atrous.median)} | ${ms(r.atrous.min)} / ${ms(r.atrous.max)} | ${ms(r.litert.median)} | ${ms(r.litert.min)} / ${ms(r.litert.max)} | **${ratio.toFixed(2)}x** |`);
  }
  lines.push('');
  lines.push(`Ratio > 1: atrous is faster (issue 11's goal on selfie_segmentation: >= ${GOAL}x, aim 1.5x). Disagreement: max |y_atrous - y_litert| / max |y_litert| on the benchmarked frame (tolerance ${TOLERANCE}); a model over it is not timed.`);
  lines.push(`- load after: \`${loadAfter}\``);
  console.log(lines.join('\n'));
  if (failed) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
