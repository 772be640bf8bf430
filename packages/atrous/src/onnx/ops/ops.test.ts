// The JavaScript ops on hand-computed cases; onnxruntime parity on whole graphs lives in test/onnx.
import { beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from '../../../test-support/run-env.js';
import { evaluateOnce, type RunEnv } from '../value.js';
import { hostTensor, type HostTensor } from '../data-types.js';
import type { AttrValue, NodeIR } from '../graph.js';
import { OPS } from './registry.js';

function node(opType: string, inputs: number, attrs: Record<string, AttrValue> = {}): NodeIR {
  return {
    name: opType.toLowerCase(),
    opType,
    domain: '',
    inputs: Array.from({ length: inputs }, (_, i) => `in${i}`),
    outputs: ['out'],
    attributes: new Map(Object.entries(attrs)),
  };
}

const t = (dims: number[], values: number[], type: HostTensor['type'] = 'float32'): HostTensor => {
  const h = hostTensor(type, dims);
  h.data.set(values);
  return h;
};

let env: RunEnv;
beforeAll(async () => {
  env = await testEnv();
});

/** Runs one op with every input given as data (constants count as such). */
function run(opType: string, inputs: (HostTensor | undefined)[], attrs: Record<string, AttrValue> = {}, opset = 13): HostTensor[] {
  const n = node(opType, inputs.length, attrs);
  inputs.forEach((x, i) => x === undefined && (n.inputs[i] = ''));
  const prepared = OPS.get(opType)!.prepare({ node: n, opset, inputs: inputs.map((x) => x && { type: x.type, dims: x.dims }), consts: inputs });
  if (prepared.view) return prepared.outputs.map((m) => ({ ...inputs[0]!, dims: m.dims }));
  return evaluateOnce(env, prepared.run, inputs, prepared.outputs);
}

describe('ONNX ops in JavaScript', () => {
  it('Add/Sub/Div broadcast; integer Div truncates', () => {
    expect(Array.from(run('Sub', [t([2, 2], [1, 2, 3, 4]), t([2, 1], [1, 10])])[0]!.data)).toEqual([0, 1, -7, -6]);
    expect(Array.from(run('Div', [t([3], [7, -7, 9], 'int64'), t([], [2], 'int64')])[0]!.data)).toEqual([3, -3, 4]);
  });

  it('Slice with negative steps and clamped ends; Gather with negative indices', () => {
    const x = t([2, 5], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const i64 = (v: number[]) => t([v.length], v, 'int64');
    const s = run('Slice', [x, i64([-1]), i64([-1e18]), i64([1]), i64([-2])])[0]!;
    expect(s.dims).toEqual([2, 3]);
    expect(Array.from(s.data)).toEqual([4, 2, 0, 9, 7, 5]);
    const g = run('Gather', [x, i64([-1, 0])], { axis: 1 })[0]!;
    expect(Array.from(g.data)).toEqual([4, 0, 9, 5]);
  });

  it('Reshape with 0 and -1, Unsqueeze / Squeeze with attribute axes before opset 13', () => {
    const x = t([2, 3, 4], new Array(24).fill(0).map((_, i) => i));
    expect(run('Reshape', [x, t([2], [0, -1], 'int64')])[0]!.dims).toEqual([2, 12]);
    expect(run('Unsqueeze', [x], { axes: [0, -1] }, 11)[0]!.dims).toEqual([1, 2, 3, 4, 1]);
    expect(run('Squeeze', [t([1, 3, 1], [1, 2, 3])], {}, 11)[0]!.dims).toEqual([3]);
  });

  it('Resize nearest (asymmetric, floor) and bilinear align_corners on a 2x2 image', () => {
    const x = t([1, 1, 2, 2], [0, 1, 2, 3]);
    const scales = t([4], [1, 1, 2, 2]);
    const near = run('Resize', [x, undefined, scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' })[0]!;
    expect(Array.from(near.data)).toEqual([0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3]);
    const sizes = t([4], [1, 1, 3, 3], 'int64');
    const lin = run('Resize', [x, undefined, undefined, sizes], { mode: 'linear', coordinate_transformation_mode: 'align_corners' })[0]!;
    expect(Array.from(lin.data)).toEqual([0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3]);
  });

  it('MaxPool ceil_mode drops a last window that starts in the padding', () => {
    // 4 wide, kernel 2, stride 2, pad 1+1, ceil: windows at -1, 1, 3 (3 starts inside the input: kept).
    const x = t([1, 1, 1, 4], [1, 2, 3, 4]);
    const p = run('MaxPool', [x], { kernel_shape: [1, 2], strides: [1, 2], pads: [0, 1, 0, 1], ceil_mode: 1 })[0]!;
    expect(Array.from(p.data)).toEqual([1, 3, 4]);
    // 5 wide, kernel 2, stride 2, pad 0+1: ceil((5+1-2)/2)+1 = 3 windows at 0, 2, 4.
    const q = run('AveragePool', [t([1, 1, 1, 5], [1, 2, 3, 4, 5])], { kernel_shape: [1, 2], strides: [1, 2], pads: [0, 0, 0, 1], ceil_mode: 1 })[0]!;
    expect(Array.from(q.data)).toEqual([1.5, 3.5, 5]);
  });

  it('Softmax before opset 13 flattens from the axis; from 13 on it is per axis', () => {
    const x = t([1, 2, 2], [0, 0, 0, 0]);
    expect(Array.from(run('Softmax', [x], { axis: 1 }, 11)[0]!.data)).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(Array.from(run('Softmax', [x], { axis: 1 }, 13)[0]!.data)).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it('Clip reads min/max from attributes before opset 11 and from inputs after', () => {
    const x = t([4], [-2, 0.5, 3, 9]);
    expect(Array.from(run('Clip', [x], { min: 0, max: 6 }, 6)[0]!.data)).toEqual([0, 0.5, 3, 6]);
    expect(Array.from(run('Clip', [x, t([], [0]), t([], [6])], {}, 13)[0]!.data)).toEqual([0, 0.5, 3, 6]);
  });
});
