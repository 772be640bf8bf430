// ONNX's own test cases (Debian package libonnx-testdata): the model, its inputs and expected outputs as
// TensorProto files. The dilated convolutions PyTorch exported must match; 3-D convolution must be refused
// at load with a clear UNSUPPORTED error. Nothing here is skipped: without the package the test fails.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { AtrousError, InferenceSession, Tensor, init } from 'atrous';
import { ortRun, relativeError } from './ort-oracle.js';

const { onnx } = onnxProto;
const ROOT = '/usr/share/libonnx-testdata/data';
const INSTALL = 'libonnx-testdata is not installed: run `apt-get install -y libonnx-testdata` (scripts/setup.sh does it)';

function readTensor(path: string): { name: string; dims: number[]; data: Float32Array | BigInt64Array } {
  const t = onnx.TensorProto.decode(readFileSync(path));
  const dims = t.dims.map(Number);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  if (t.dataType === onnx.TensorProto.DataType.INT64) {
    const data = raw ? new BigInt64Array(Uint8Array.from(raw).buffer) : BigInt64Array.from(t.int64Data.map((v) => BigInt(String(v))));
    return { name: t.name, dims, data };
  }
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) throw new Error(`${path}: data type ${t.dataType} not handled by this test`);
  return { name: t.name, dims, data: raw ? new Float32Array(Uint8Array.from(raw).buffer) : Float32Array.from(t.floatData) };
}

interface Case {
  dir: string;
  model: Uint8Array;
  inputs: ReturnType<typeof readTensor>[];
  outputs: ReturnType<typeof readTensor>[];
}

/**
 * Loads a test case. With `constInputs`, inputs after the first become initializers: node tests feed Resize
 * its scales and sizes as graph inputs, which atrous needs at preparation time (exporters write constants).
 */
function loadCase(dir: string, constInputs = false): Case {
  const path = join(ROOT, dir);
  if (!existsSync(path)) throw new Error(`${path} is missing. ${INSTALL}`);
  const set = join(path, 'test_data_set_0');
  const files = readdirSync(set).sort();
  const inputs = files.filter((f) => f.startsWith('input_')).map((f) => readTensor(join(set, f)));
  const outputs = files.filter((f) => f.startsWith('output_')).map((f) => readTensor(join(set, f)));
  let bytes: Uint8Array = readFileSync(join(path, 'model.onnx'));
  if (constInputs) {
    const model = onnx.ModelProto.decode(bytes);
    const graph = model.graph!;
    const moved = graph.input.slice(1);
    graph.input = graph.input.slice(0, 1);
    moved.forEach((v, i) => {
      const t = onnx.TensorProto.decode(readFileSync(join(set, `input_${i + 1}.pb`)));
      t.name = v.name;
      graph.initializer.push(t);
    });
    bytes = onnx.ModelProto.encode(model).finish();
    inputs.splice(1);
  }
  return { dir, model: bytes, inputs, outputs };
}

async function expectMatches(c: Case, tolerance = 1e-4): Promise<void> {
  const session = await InferenceSession.create(c.model);
  const feeds: Record<string, Tensor> = {};
  c.inputs.forEach((t, i) => (feeds[session.inputNames[i]!] = new Tensor('float32', t.data as Float32Array, t.dims)));
  const results = await session.run(feeds);
  c.outputs.forEach((want, i) => {
    const got = results[session.outputNames[i]!]!;
    expect(got.dims, `${c.dir} output ${i} dims`).toEqual(want.dims);
    expect(relativeError(got.data as Float32Array, want.data as Float32Array), `${c.dir} output ${i}`).toBeLessThanOrEqual(tolerance);
  });
  session.dispose();
}

describe('libonnx-testdata', () => {
  beforeAll(async () => {
    if (!existsSync(ROOT)) throw new Error(INSTALL);
    await init();
  });

  for (const dir of ['pytorch-converted/test_Conv1d_dilated', 'pytorch-converted/test_Conv2d_dilated']) {
    it(`${dir} matches its expected output`, async () => {
      await expectMatches(loadCase(dir));
    });
  }

  for (const dir of ['pytorch-converted/test_Conv3d_dilated', 'pytorch-converted/test_Conv3d_dilated_strided']) {
    it(`${dir} is refused at load: 3-D convolution is out of scope`, async () => {
      const c = loadCase(dir);
      const error = await InferenceSession.create(c.model).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AtrousError);
      expect((error as AtrousError).code).toBe('UNSUPPORTED');
      expect((error as AtrousError).message).toMatch(/3-D convolution .* out of atrous' scope/);
    });
  }

  const others = [
    'pytorch-converted/test_MaxPool1d_stride_padding_dilation',
    'pytorch-converted/test_MaxPool2d_stride_padding_dilation',
    'node/test_maxpool_2d_dilations',
    'node/test_basic_conv_with_padding',
    'node/test_basic_conv_without_padding',
    'node/test_conv_with_autopad_same',
    'node/test_conv_with_strides_and_asymmetric_padding',
    'node/test_conv_with_strides_no_padding',
    'node/test_conv_with_strides_padding',
    ...readdirSync(join(ROOT, 'node'))
      .filter((d) => /^test_(average|max)pool_(1d|2d)/.test(d) && !/uint8|argmax/.test(d))
      .map((d) => `node/${d}`),
    ...readdirSync(join(ROOT, 'node'))
      .filter((d) => /^test_convtranspose/.test(d) && !/3d|autopad_same/.test(d))
      .map((d) => `node/${d}`),
    'node/test_globalaveragepool',
    'node/test_globalmaxpool',
  ];
  it(`${others.length} more conv, transposed conv and pooling cases (pads, strides, dilations, ceil, auto_pad) match`, async () => {
    // Node tests feed the conv weights as graph inputs; atrous packs weights at load, so they become initializers.
    for (const dir of others) await expectMatches(loadCase(dir, dir.includes('conv')));
  });

  // ALIGN is a case whose expected file disagrees with onnxruntime, checked on its own below; its cubic twin
  // (the same unrounded-length rule) is held to onnxruntime by the conformance suite's REFERENCE_ERRATA.
  const ALIGN = 'test_resize_downsample_scales_linear_align_corners';
  const CUBIC_ALIGN = 'test_resize_downsample_scales_cubic_align_corners';
  const resizes = readdirSync(join(ROOT, 'node')).filter((d) => /^test_resize_/.test(d) && d !== ALIGN && d !== CUBIC_ALIGN);
  it(`${resizes.length} Resize cases (nearest, linear and cubic modes, coordinate modes incl. tf_crop_and_resize, scales and sizes) match`, async () => {
    expect(resizes.length).toBeGreaterThanOrEqual(10);
    for (const dir of resizes) await expectMatches(loadCase(`node/${dir}`, true));
  });

  it(`${'test_resize_downsample_scales_linear_align_corners'} follows onnxruntime (integer output length), not ONNX 1.12's reference`, async () => {
    // Width 4 scaled by 0.6 gives 2 pixels. align_corners maps x to x * (4 - 1) / (2 - 1); ONNX 1.12's reference
    // divides by 2.4 - 1 instead (the unrounded length) and expects 3.142857 where onnxruntime gives 4.
    const c = loadCase(`node/${ALIGN}`, true);
    const session = await InferenceSession.create(c.model);
    const x = new Tensor('float32', c.inputs[0]!.data as Float32Array, c.inputs[0]!.dims);
    const ours = (await session.run({ [session.inputNames[0]!]: x }))[session.outputNames[0]!]!;
    const theirs = (await ortRun(c.model, { [session.inputNames[0]!]: x }))[session.outputNames[0]!]!;
    expect(Array.from(ours.data as Float32Array)).toEqual(Array.from(theirs.data as Float32Array));
    expect(Array.from(ours.data as Float32Array)).toEqual([1, 4]);
  });
});
