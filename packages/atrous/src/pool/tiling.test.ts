import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AtrousError,
  Tensor,
  conv2d,
  createWorkerPool,
  cropTile,
  init,
  pasteTile,
  planTiles,
  receptiveField,
  type Conv2dOptions,
  type WorkerPool,
} from '../../dist/index.js';

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

function tensor(dims: number[], seed: number, scale = 1): Tensor<'float32'> {
  const data = random(dims.reduce((a, b) => a * b, 1), seed).map((v) => v * scale);
  return new Tensor('float32', data, dims);
}

type Layer = { weights: Tensor<'float32'>; options: Conv2dOptions };

function layer(m: number, c: number, k: number, options: Conv2dOptions, seed: number): Layer {
  return { weights: tensor([m, c, k, k], seed, 1 / Math.sqrt(c * k * k)), options: { bias: random(m, seed + 1000), ...options } };
}

/** The whole stack in this thread, untiled. */
function untiled(x: Tensor<'float32'>, layers: Layer[]): Tensor<'float32'> {
  return layers.reduce((y, l) => conv2d(y, l.weights, l.options), x);
}

function maxDiff(a: Tensor<'float32'>, b: Tensor<'float32'>): number {
  expect(a.dims).toEqual(b.dims);
  let d = 0;
  for (let i = 0; i < a.data.length; i++) d = Math.max(d, Math.abs(a.data[i]! - b.data[i]!));
  return d;
}

// DeepLab-style context module: dilated 3x3 layers with SAME padding, then a 1x1 head.
const dilatedStack = (c: number): Layer[] => [
  layer(8, c, 3, { pads: 'same-upper', activation: 'relu' }, 1),
  layer(8, 8, 3, { dilations: 2, pads: 'same-upper', activation: 'relu' }, 2),
  layer(8, 8, 3, { dilations: 4, pads: 'same-upper', activation: 'relu' }, 3),
  layer(8, 8, 3, { dilations: 8, pads: 'same-upper', activation: 'relu6' }, 4),
  layer(5, 8, 1, {}, 5),
];

describe('runTiled', () => {
  let pool: WorkerPool;

  beforeAll(async () => {
    await init();
    pool = await createWorkerPool({ size: 2, maxQueue: 8 });
  });

  afterAll(async () => {
    await pool?.terminate();
  });

  it('stitches tiles of a dilated SAME-padded stack into the untiled result', async () => {
    const x = tensor([2, 3, 67, 83], 7);
    const layers = dilatedStack(3);
    const rf = receptiveField(layers);
    expect(rf.field).toEqual([31, 31]);
    expect(rf.halo).toEqual([15, 15, 15, 15]);
    const expected = untiled(x, layers);
    const y = await pool.runTiled(x, layers, { tile: [24, 20] });
    const diff = maxDiff(y, expected);
    console.log(`dilated stack, 15 tiles of 24x20 with a 15-pixel halo: max |tiled - untiled| = ${diff}`);
    expect(diff).toBeLessThanOrEqual(1e-5);
    // The tiles really are smaller than the image, halo included.
    const plan = planTiles(layers, [67, 83], [24, 20]);
    expect(plan.tiles.length).toBe(3 * 5);
    expect(Math.max(...plan.tiles.map((t) => t.input[1] - t.input[0]))).toBe(24 + 30);
    expect(pool.stats().resources).toBe(0); // the stack runTiled prepared is gone
  });

  it('handles strides, asymmetric pads and odd sizes, with a prepared stack', async () => {
    const x = tensor([1, 4, 45, 38], 8);
    const layers: Layer[] = [
      layer(6, 4, 3, { strides: 2, pads: 'same-upper', activation: 'relu' }, 11),
      layer(6, 6, 3, { dilations: [2, 3], pads: [1, 3, 2, 0] }, 12),
      { weights: tensor([6, 1, 5, 5], 13, 0.2), options: { groups: 6, dilations: 2, strides: [1, 2], pads: 'same-lower', activation: 'hardSwish' } },
      layer(3, 6, 1, { activation: 'sigmoid' }, 14),
    ];
    const expected = untiled(x, layers);
    const stack = await pool.prepareConvStack(layers);
    expect(stack.outputDims(x.dims)).toEqual(expected.dims);
    for (const tile of [4, [7, 3] as [number, number], 100]) {
      const y = await pool.runTiled(x, stack, { tile });
      expect(maxDiff(y, expected)).toBeLessThanOrEqual(1e-5);
    }
    expect(maxDiff(await stack.run(x), expected)).toBe(0); // the same stack, untiled, in a worker
    await stack.dispose();
  });

  it('reports how much a global operation breaks when tiled (it should not be tiled)', async () => {
    // An ASPP image-pooling style model: features scaled by their global average, per channel.
    const x = tensor([1, 3, 48, 48], 9);
    const layers = dilatedStack(3).slice(0, 3);
    const withGlobalPool = (y: Tensor<'float32'>): Tensor<'float32'> => {
      const [n, c, h, w] = y.dims as [number, number, number, number];
      const out = new Float32Array(y.data.length);
      for (let p = 0; p < n * c; p++) {
        let mean = 0;
        for (let i = 0; i < h * w; i++) mean += y.data[p * h * w + i]!;
        mean /= h * w;
        for (let i = 0; i < h * w; i++) out[p * h * w + i] = y.data[p * h * w + i]! * mean;
      }
      return new Tensor('float32', out, y.dims);
    };
    const expected = withGlobalPool(untiled(x, layers));
    // The same model run tile by tile (each tile with its halo and its pads), stitched.
    const plan = planTiles(layers, [48, 48], 16);
    const stitched = new Float32Array(expected.data.length);
    let convOnly = 0;
    const convExpected = untiled(x, layers);
    const convStitched = new Float32Array(expected.data.length);
    for (const tile of plan.tiles) {
      let y = cropTile(x, tile.input);
      layers.forEach((l, i) => (y = conv2d(y, l.weights, { ...l.options, pads: tile.pads[i] })));
      pasteTile(convStitched, expected.dims, y, tile.output);
      pasteTile(stitched, expected.dims, withGlobalPool(y), tile.output);
    }
    convOnly = maxDiff(new Tensor('float32', convStitched, expected.dims), convExpected);
    const broken = maxDiff(new Tensor('float32', stitched, expected.dims), expected);
    const scale = expected.data.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    console.log(
      `global average pooling inside the tiled part: max |tiled - untiled| = ${broken.toExponential(3)} ` +
        `(${((broken / scale) * 100).toFixed(1)} % of max |output|); the convolutions alone: ${convOnly.toExponential(3)}`,
    );
    expect(convOnly).toBeLessThanOrEqual(1e-5);
    expect(broken).toBeGreaterThan(1e-3);
  });

  it('stops on abort and names bad tiles', async () => {
    const x = tensor([1, 3, 40, 40], 10);
    const c = new AbortController();
    c.abort('no longer needed');
    const aborted = await pool.runTiled(x, dilatedStack(3), { tile: 8, signal: c.signal }).catch((e: unknown) => e as AtrousError);
    expect(aborted).toBeInstanceOf(AtrousError);
    expect((aborted as AtrousError).code).toBe('ABORTED');
    // Aborted while it runs: whichever tile is waiting or running stops, nothing is left behind.
    const later = new AbortController();
    const running = pool.runTiled(tensor([1, 3, 96, 96], 11), dilatedStack(3), { tile: 8, signal: later.signal });
    setTimeout(() => later.abort('stop'), 0);
    const stopped = await running.catch((e: unknown) => e as AtrousError);
    expect(stopped).toBeInstanceOf(AtrousError);
    expect((stopped as AtrousError).code).toBe('ABORTED');
    const bad = await pool.runTiled(x, dilatedStack(3), { tile: 0 }).catch((e: unknown) => e as AtrousError);
    expect((bad as AtrousError).code).toBe('INVALID_ARGUMENT');
    expect((bad as AtrousError).message).toMatch(/options\.tile\) must be .* got 0/);
    expect(pool.stats().resources).toBe(0);
  });
});
