// Peak wasm memory of the backward of an ASPP-sized dilated conv (128 -> 128 channels, 3x3, dilation 24,
// pads 24, relu, on [1, 128, 65, 65]). What the backward holds: the forward's input, weights and gradOutput,
// the gradients (input- and weight-sized), the recomputed pre-activation (output-sized), and as scratch the
// transposed convolution's packed weights, weight-sized sums for gradWeight and one 256 x 8 patch panel.
// No im2col of either product exists (for this layer one alone would be 19 MiB), so the peak stays below
// 2 x (input + output + weights) + 4 MiB, the bound the forward's memory test uses. In its own file: vitest
// runs each file in a fresh module graph, so this engine has seen nothing bigger before (wasm memory never
// shrinks: its size is the peak).
import { expect, it } from 'vitest';
import { Tensor, conv2dBackward, init } from 'atrous';
import { caseData, rng, type ConvCase } from './cases.js';

const MiB = 2 ** 20;

const aspp: ConvCase = {
  index: 0,
  seed: 65,
  op: 'conv2d',
  causal: false,
  batch: 1,
  inChannels: 128,
  outChannels: 128,
  groups: 1,
  height: 65,
  width: 65,
  kernel: [3, 3],
  strides: [1, 1],
  dilations: [24, 24],
  pads: { kind: 'explicit', pads: [24, 24, 24, 24] },
  bias: true,
  residual: false,
  activation: { kind: 'relu' },
  tags: [],
};

it('backward of 128 -> 128 3x3 dilation 24 on [1, 128, 65, 65]: peak wasm memory < 2 x (input + output + weights) + 4 MiB', async () => {
  const engine = await init();
  const atStart = engine.memoryBytes;
  const d = caseData(aspp);
  const x = new Tensor('float32', d.input, [1, 128, 65, 65]);
  const w = new Tensor('float32', d.weights, [128, 128, 3, 3]);
  const r = rng(99);
  const dy = new Tensor('float32', Float32Array.from({ length: 128 * 65 * 65 }, () => r() * 2 - 1), [1, 128, 65, 65]);
  const g = conv2dBackward(x, w, dy, { bias: d.bias, dilations: 24, pads: [24, 24, 24, 24], activation: 'relu' });
  const peak = engine.memoryBytes;

  const bound = 2 * (x.data.byteLength + dy.data.byteLength + w.data.byteLength) + 4 * MiB;
  const im2col = 128 * 9 * 65 * 65 * 4;
  const mib = (b: number): string => `${(b / MiB).toFixed(2)} MiB`;
  console.log(`backward memory (${engine.build}): at start ${mib(atStart)}, peak ${mib(peak)}, bound ${mib(bound)}; one im2col alone ${mib(im2col)}`);
  expect(peak).toBeLessThan(bound);
  expect(im2col).toBeGreaterThan(bound - atStart);
  // And the gradients are real: relu passes about half the gradient, so none of the three is zero.
  for (const t of [g.gradInput, g.gradWeight, g.gradBias]) expect(t.data.some((v) => Math.abs(v) > 1e-3)).toBe(true);
});
