// Peak wasm memory of an ASPP-sized dilated conv: 128 -> 128 channels, 3x3, dilation 24, pads 24, on
// [1, 128, 65, 65]. No full im2col may exist, so the peak must stay below
// 2 x (input + output + packed weights) + 4 MiB. In its own file: vitest runs each file in a fresh module
// graph, so this engine has seen nothing bigger before (wasm memory never shrinks: its size is the peak).
import { expect, it } from 'vitest';
import { Tensor, conv2d, init, prepareConv2d } from 'atrous';
import { caseData, compare, type ConvCase } from './cases.js';
import { oracleConv } from './oracle.js';

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

it('128 -> 128 3x3 dilation 24 on [1, 128, 65, 65]: peak wasm memory < 2 x (input + output + packed weights) + 4 MiB', async () => {
  const engine = await init();
  const atStart = engine.memoryBytes;
  const d = caseData(aspp);
  const x = new Tensor('float32', d.input, [1, 128, 65, 65]);
  const w = new Tensor('float32', d.weights, [128, 128, 3, 3]);
  const options = { bias: d.bias, dilations: 24, pads: [24, 24, 24, 24], activation: 'relu' } as const;

  const plan = prepareConv2d(w, options);
  const y = plan.run(x);
  const afterPlanRun = engine.memoryBytes;
  const packedBytes = plan.preparedBytes;
  // The one-shot path also holds the raw weights while it packs them.
  const y2 = conv2d(x, w, options);
  const afterConv2d = engine.memoryBytes;
  plan.dispose();

  const inputBytes = x.data.byteLength;
  const outputBytes = y.data.byteLength;
  const bound = 2 * (inputBytes + outputBytes + packedBytes) + 4 * MiB;
  const fullIm2colBytes = 128 * 9 * 65 * 65 * 4;
  const mib = (b: number): string => `${(b / MiB).toFixed(2)} MiB`;
  console.log(
    `memory (${engine.build} build): input ${inputBytes} B (${mib(inputBytes)}), output ${outputBytes} B (${mib(outputBytes)}), ` +
      `packed weights ${packedBytes} B (${mib(packedBytes)}); wasm memory at start ${atStart} B (${mib(atStart)}), ` +
      `after plan.run ${afterPlanRun} B (${mib(afterPlanRun)}), after conv2d ${afterConv2d} B (${mib(afterConv2d)}); ` +
      `bound ${bound} B (${mib(bound)}); a full im2col alone would be ${fullIm2colBytes} B (${mib(fullIm2colBytes)})`,
  );

  expect(packedBytes).toBeGreaterThanOrEqual(128 * 128 * 9 * 4);
  expect(afterPlanRun).toBeLessThan(bound);
  expect(afterConv2d).toBeLessThan(bound);

  // And the result is right.
  const want = await oracleConv(aspp, d);
  expect([...y.dims]).toEqual(want.dims);
  for (const out of [y, y2]) {
    const r = compare(out.data, want.data);
    expect(r.ok, `max error ${r.maxError} > ${r.tolerance}`).toBe(true);
  }
});
