// Cross-package tests. File names choose where a test runs:
//   *.node.test.ts     Node (default builds: simd128 and scalar are forced per test file where needed)
//   *.relaxed.test.ts  Node started with --experimental-wasm-relaxed-simd (relaxed-simd build)
//   *.browser.test.ts  Debian chromium through playwright, the package bundled by Vite as an app would
import { searchForWorkspaceRoot } from 'vite';
import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { convOracle } from './conv/oracle-command.js';
import { selfieInNode } from './tflite/selfie-node-command.js';

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

export default defineConfig({
  // Browser tests read real photos from Debian's python3-skimage (commands.readFile obeys server.fs).
  server: { fs: { allow: [searchForWorkspaceRoot(process.cwd()), '/usr/lib/python3/dist-packages/skimage/data'] } },
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: 'node', include: ['**/*.node.test.ts'], exclude: ['**/node_modules/**'] } },
      {
        extends: true,
        test: {
          name: 'relaxed',
          include: ['**/*.relaxed.test.ts'],
          exclude: ['**/node_modules/**'],
          execArgv: ['--experimental-wasm-relaxed-simd'],
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['**/*.browser.test.ts'],
          exclude: ['**/node_modules/**'],
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({ launchOptions: { executablePath: '/usr/bin/chromium', args: chromiumArgs } }),
            instances: [{ browser: 'chromium' }],
            // Server-side helpers the browser tests call (onnxruntime-node cannot run in a page; atrous in Node
            // for the browser's outputs to be held to).
            commands: { convOracle, selfieInNode },
          },
        },
      },
    ],
  },
});
