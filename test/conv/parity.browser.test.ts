// The parity suite in Debian's chromium, with atrous imported as an app would ('atrous', bundled by Vite,
// wasm fetched by URL) and the loader's own choice of build, which must be relaxed-simd there. The oracle
// runs on the Node side through the `convOracle` browser command (vitest.config.ts).
import { describe, expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { init, loadedBuild, supportedBuilds } from 'atrous';
import type {} from './oracle-command.js';
import { DEFAULT_SEED, defineParitySuite } from './parity-suite.js';

describe('atrous loaded in chromium as a bundle would load it', () => {
  it('picks the relaxed-simd build and fetches its .wasm by URL', async () => {
    expect(supportedBuilds()).toEqual(['relaxed', 'simd128', 'scalar']);
    await init();
    expect(loadedBuild()).toBe('relaxed');
    const fetched = performance.getEntriesByType('resource').map((e) => e.name);
    expect(fetched.filter((url) => /atrous-relaxed\.wasm/.test(url)), `resources fetched: ${fetched.join(', ')}`).toHaveLength(1);
  });
});

defineParitySuite({
  build: undefined,
  expectBuild: 'relaxed',
  count: 300,
  seed: DEFAULT_SEED + 7919,
  oracle: (c, feeds) =>
    commands.convOracle(c, {
      input: Array.from(feeds.input),
      weights: Array.from(feeds.weights),
      bias: feeds.bias && Array.from(feeds.bias),
      residual: feeds.residual && Array.from(feeds.residual),
    }),
});
