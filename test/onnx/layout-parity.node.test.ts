import { describe, expect, it } from 'vitest';
import { InferenceSession, Tensor } from 'atrous';
import { ModelBuilder, f, randomFloats } from '../../packages/atrous/test-support/onnx-builder.js';
import { ortRun, relativeError } from './ort-oracle.js';

let seed = 900;
const feed = (dims: number[]) => new Tensor('float32', randomFloats(dims.reduce((a, b) => a * b, 1), seed++), dims);
async function parity(m: ModelBuilder, feeds: Record<string, Tensor>) {
  const bytes = m.bytes();
  const session = await InferenceSession.create(bytes);
  const ours = await session.run(feeds);
  const theirs = await ortRun(bytes, feeds);
  for (const name of session.outputNames) {
    expect(ours[name]!.dims, name).toEqual([...theirs[name]!.dims]);
    const a = Array.from(ours[name]!.data as ArrayLike<number>, Number);
    const b = Array.from(theirs[name]!.data as ArrayLike<number>, Number);
    expect(relativeError(a, b), `output ${name}`).toBeLessThanOrEqual(1e-5);
  }
}
const BOOL = 9, UINT8 = 2, INT64 = 7;
describe('tmp layout', () => {
  it('high ranks: transpose 7-D, tile 4-D on every axis, expand to 7-D', async () => {
    const m = new ModelBuilder(13);
    m.input('x', [2, 2, 3, 2, 2, 3, 2]);
    m.node('Transpose', ['x'], ['t'], { perm: [6, 4, 2, 0, 1, 3, 5] });
    m.input('y', [2, 3, 4, 5]);
    m.init('reps', [4], [2, 3, 2, 2], INT64);
    m.node('Tile', ['y', 'reps'], ['tl']);
    m.input('z', [3, 1, 4]);
    m.init('shape', [7], [2, 2, 1, 2, 3, 5, 4], INT64);
    m.node('Expand', ['z', 'shape'], ['ex']);
    for (const o of ['t', 'tl', 'ex']) m.output(o);
    await parity(m, { x: feed([2, 2, 3, 2, 2, 3, 2]), y: feed([2, 3, 4, 5]), z: feed([3, 1, 4]) });
  });
  it('Transposes that move only axes of size 1 are views: of an input, as an output, and mid-graph', async () => {
    const m = new ModelBuilder(13);
    m.input('x', [1, 1, 4, 5]);
    m.node('Transpose', ['x'], ['t'], { perm: [0, 2, 3, 1] });
    m.node('Relu', ['x'], ['r']);
    m.node('Transpose', ['r'], ['rt'], { perm: [2, 1, 0, 3] });
    m.node('Transpose', ['rt'], ['back'], { perm: [1, 0, 3, 2] }); // moves 4 and 5: a copy
    m.node('Add', ['t', 't'], ['tt']);
    for (const o of ['t', 'rt', 'back', 'tt']) m.output(o);
    await parity(m, { x: feed([1, 1, 4, 5]) });
  });
  it('a 1x1 conv after an upsampling Resize (run before it by the optimizer): linear and nearest, bias, residual after', async () => {
    for (const [mode, extra] of [['linear', { coordinate_transformation_mode: 'half_pixel' }], ['nearest', { coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }]] as const) {
      const m = new ModelBuilder(13);
      m.input('x', [1, 6, 5, 7]);
      m.input('skip', [1, 3, 10, 21]);
      m.init('scales', [4], [1, 1, 2, 3]);
      const up = m.node('Resize', ['x', '', 'scales'], 1, { mode, ...extra });
      m.init('w', [3, 6, 1, 1], randomFloats(18, 5));
      m.init('b', [3], [0.5, -1, 2]);
      m.node('Add', [m.node('Conv', [up, 'w', 'b']), 'skip'], ['y']);
      m.output('y');
      const session = await InferenceSession.create(m.bytes());
      expect(session.optimizations.convsMovedBeforeResize, mode).toBe(1);
      await parity(m, { x: feed([1, 6, 5, 7]), skip: feed([1, 3, 10, 21]) });
    }
  });
  it('pads with negative values, every mode; slices with negative steps', async () => {
    const m = new ModelBuilder(13);
    m.input('x', [4, 5, 6]);
    m.init('p1', [6], [-1, 2, 0, 1, -2, 3], INT64);
    m.init('v', [], [0.5]);
    m.node('Pad', ['x', 'p1', 'v'], ['c'], { mode: 'constant' });
    m.init('p2', [6], [-1, 2, 1, 0, -2, 2], INT64);
    m.node('Pad', ['x', 'p2'], ['r'], { mode: 'reflect' });
    m.node('Pad', ['x', 'p2'], ['e'], { mode: 'edge' });
    m.init('p3', [6], [-1, 0, -2, 0, -1, -3], INT64);
    m.node('Pad', ['x', 'p3'], ['crop'], { mode: 'reflect' });
    m.init('st', [3], [3, -1, 5], INT64);
    m.init('en', [3], [-10, 0, 0], INT64);
    m.init('ax', [3], [0, 1, 2], INT64);
    m.init('sp', [3], [-2, 2, -3], INT64);
    m.node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['s']);
    for (const o of ['c', 'r', 'e', 'crop', 's']) m.output(o);
    await parity(m, { x: feed([4, 5, 6]) });
  });
  it('bool and uint8 data through Cast, Transpose, Concat, Expand, Slice, Gather, Pad, Split, Tile', async () => {
    const m = new ModelBuilder(13);
    m.input('x', [2, 3, 4]);
    m.node('Relu', ['x'], ['rx']);
    m.node('Cast', ['rx'], ['b'], { to: BOOL });
    m.node('Transpose', ['b'], ['bt'], { perm: [2, 0, 1] });
    m.node('Concat', ['b', 'b'], ['bc'], { axis: 1 });
    m.init('shape', [4], [2, 2, 3, 4], INT64);
    m.node('Expand', ['b', 'shape'], ['be']);
    m.init('st', [1], [-1], INT64); m.init('en', [1], [-100], INT64); m.init('ax', [1], [2], INT64); m.init('sp', [1], [-2], INT64);
    m.node('Slice', ['b', 'st', 'en', 'ax', 'sp'], ['bs']);
    m.init('idx', [3], [-1, 0, 2], INT64);
    m.node('Gather', ['b', 'idx'], ['bg'], { axis: 1 });
    m.init('pads', [6], [0, 1, 1, 0, 2, 0], INT64);
    m.node('Pad', ['b', 'pads'], ['bp'], { mode: 'edge' });
    m.node('Split', ['b'], ['bs0', 'bs1'], { axis: 2 });
    m.init('reps', [3], [1, 2, 3], INT64);
    m.node('Tile', ['b', 'reps'], ['btl']);
    const outs = ['bt', 'bc', 'be', 'bs', 'bg', 'bp', 'bs0', 'bs1', 'btl'];
    for (const o of outs) { m.node('Cast', [o], [`${o}_f`], { to: 1 }); m.output(`${o}_f`); }
    m.output('b', undefined, BOOL);
    m.node('Mul', ['x', 'x'], ['x2']);
    m.init('k', [], [100]);
    m.node('Mul', ['x2', 'k'], ['x3']);
    m.node('Cast', ['x3'], ['u'], { to: UINT8 });
    m.node('Transpose', ['u'], ['ut'], { perm: [1, 2, 0] });
    m.node('Cast', ['ut'], ['ut_f'], { to: 1 });
    m.node('Cast', ['u'], ['ub'], { to: BOOL });
    m.node('Cast', ['ub'], ['ubu'], { to: UINT8 });
    m.node('Cast', ['ubu'], ['ubu_f'], { to: 1 });
    m.output('ut_f'); m.output('ubu_f'); m.output('u', undefined, UINT8);
    await parity(m, { x: feed([2, 3, 4]) });
  });
  it('float Gather with negative and scalar indices, DepthToSpace/SpaceToDepth, Concat of three, Split 3', async () => {
    const m = new ModelBuilder(13);
    m.input('x', [2, 8, 4, 6]);
    m.init('i', [2, 2], [-1, 0, 3, 3], INT64);
    m.node('Gather', ['x', 'i'], ['g'], { axis: 2 });
    m.init('s', [], [-2], INT64);
    m.node('Gather', ['x', 's'], ['gs'], { axis: 3 });
    m.node('DepthToSpace', ['x'], ['d'], { blocksize: 2, mode: 'CRD' });
    m.node('SpaceToDepth', ['x'], ['sd'], { blocksize: 2 });
    m.node('Concat', ['x', 'd', 'x'].slice(0, 1).concat(['x', 'x']), ['c'], { axis: 3 });
    m.node('Split', ['x'], ['s0', 's1', 's2'], { axis: 3 });
    for (const o of ['g', 'gs', 'd', 'sd', 'c', 's0', 's1', 's2']) m.output(o);
    await parity(m, { x: feed([2, 8, 4, 6]) });
  });
  it('ConvTranspose: output_shape 1-D, groups with dilation, fused relu', async () => {
    const m = new ModelBuilder(13);
    m.input('s', [2, 4, 7]);
    m.init('w', [4, 3, 3], randomFloats(36, 5));
    m.node('ConvTranspose', ['s', 'w'], ['o1'], { strides: [3], output_shape: [20] });
    m.init('w2', [4, 2, 3], randomFloats(24, 6));
    m.init('b2', [4], randomFloats(4, 7));
    m.node('ConvTranspose', ['s', 'w2', 'b2'], ['o2'], { strides: [2], group: 2, dilations: [2], output_padding: [1], pads: [2, 0] });
    m.node('Relu', ['o2'], ['o3']);
    m.output('o1'); m.output('o3');
    await parity(m, { s: feed([2, 4, 7]) });
  });
});
