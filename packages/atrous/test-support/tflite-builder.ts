// Builds small .tflite models in tests with the builder API flatc generated from atrous' own schema
// (src/tflite/schema/tflite.fbs): no converter is installable here, so the tests write the flatbuffers.
import * as flatbuffers from 'flatbuffers';
import * as tfl from '../src/tflite/schema/tflite_generated.js';

export { tfl };

/** Builds one op's options table; returns its union type and offset. */
export type OptionsWriter = (fbb: flatbuffers.Builder) => [tfl.BuiltinOptions, flatbuffers.Offset];

interface TensorSpec {
  name: string;
  shape: number[];
  type: tfl.TensorType;
  data?: Uint8Array;
  quantScale?: number;
  /** shape_signature: -1 where a dim is left to run time (the shape then holds 1 there, as converters write it). */
  signature?: number[];
}

interface OpSpec {
  builtin: number;
  custom?: string;
  inputs: number[];
  outputs: number[];
  options?: OptionsWriter;
  customOptions?: Uint8Array;
}

/** float16 bits of each value, rounded to nearest (tiny values flush to zero; the tests use none). */
export function halfBits(values: ArrayLike<number>): Uint16Array {
  const bits = new Uint16Array(values.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i]!;
    const x = u[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = ((x >>> 23) & 0xff) - 127 + 15;
    const mant = x & 0x7fffff;
    // A carry out of the mantissa rounds into the exponent, as it should.
    bits[i] = exp <= 0 ? sign : sign | ((exp << 10) + ((mant + 0x1000) >>> 13));
  }
  return bits;
}

export class TfliteBuilder {
  private readonly tensors: TensorSpec[] = [];
  private readonly ops: OpSpec[] = [];
  private readonly inputs: number[] = [];
  private readonly outputs: number[] = [];
  private readonly metadata: { name: string; data: Uint8Array }[] = [];
  description = 'atrous test model';

  tensor(name: string, shape: number[], type = tfl.TensorType.FLOAT32, data?: Uint8Array, quantScale?: number): number {
    this.tensors.push({ name, shape, type, data, quantScale });
    return this.tensors.length - 1;
  }

  input(name: string, shape: number[], signature?: number[]): number {
    const i = this.tensor(name, shape);
    if (signature) this.signature(i, signature);
    this.inputs.push(i);
    return i;
  }

  /** Gives tensor `i` a shape_signature (-1 for a dim left to run time). */
  signature(i: number, signature: number[]): void {
    this.tensors[i]!.signature = signature;
  }

  output(i: number): void {
    this.outputs.push(i);
  }

  f32(name: string, shape: number[], values: ArrayLike<number>): number {
    return this.tensor(name, shape, tfl.TensorType.FLOAT32, new Uint8Array(Float32Array.from(values).buffer));
  }

  i32(name: string, shape: number[], values: number[]): number {
    return this.tensor(name, shape, tfl.TensorType.INT32, new Uint8Array(Int32Array.from(values).buffer));
  }

  /** A float16 constant, as a .tflite with fp16 weights stores them (see halfBits). */
  f16(name: string, shape: number[], values: ArrayLike<number>): number {
    return this.tensor(name, shape, tfl.TensorType.FLOAT16, new Uint8Array(halfBits(values).buffer));
  }

  op(builtin: number, inputs: number[], outputs: number[], options?: OptionsWriter): void {
    this.ops.push({ builtin, inputs, outputs, options });
  }

  custom(name: string, inputs: number[], outputs: number[], customOptions: Uint8Array): void {
    this.ops.push({ builtin: tfl.BuiltinOperator.CUSTOM, custom: name, inputs, outputs, customOptions });
  }

  meta(name: string, data: Uint8Array): void {
    this.metadata.push({ name, data });
  }

  bytes(): Uint8Array {
    const fbb = new flatbuffers.Builder(1024);
    // Buffer 0 is the empty sentinel; every constant gets its own.
    const buffers: flatbuffers.Offset[] = [tfl.Buffer.createBuffer(fbb, 0, 0n, 0n)];
    const bufferOf = (data: Uint8Array): number => {
      fbb.startVector(1, data.length, 16);
      for (let i = data.length - 1; i >= 0; i--) fbb.addInt8(data[i]!);
      const vec = fbb.endVector();
      buffers.push(tfl.Buffer.createBuffer(fbb, vec, 0n, 0n));
      return buffers.length - 1;
    };
    const tensorOffsets = this.tensors.map((t) => {
      const buffer = t.data ? bufferOf(t.data) : 0;
      const name = fbb.createString(t.name);
      const shape = tfl.Tensor.createShapeVector(fbb, t.shape);
      const signature = t.signature ? tfl.Tensor.createShapeSignatureVector(fbb, t.signature) : 0;
      let quant = 0;
      if (t.quantScale !== undefined) {
        const scale = tfl.QuantizationParameters.createScaleVector(fbb, [t.quantScale]);
        const zero = tfl.QuantizationParameters.createZeroPointVector(fbb, [0n]);
        tfl.QuantizationParameters.startQuantizationParameters(fbb);
        tfl.QuantizationParameters.addScale(fbb, scale);
        tfl.QuantizationParameters.addZeroPoint(fbb, zero);
        quant = tfl.QuantizationParameters.endQuantizationParameters(fbb);
      }
      tfl.Tensor.startTensor(fbb);
      tfl.Tensor.addShape(fbb, shape);
      tfl.Tensor.addType(fbb, t.type);
      tfl.Tensor.addBuffer(fbb, buffer);
      tfl.Tensor.addName(fbb, name);
      if (quant) tfl.Tensor.addQuantization(fbb, quant);
      if (signature) tfl.Tensor.addShapeSignature(fbb, signature);
      return tfl.Tensor.endTensor(fbb);
    });
    const codeKeys: string[] = [];
    const codeOffsets: flatbuffers.Offset[] = [];
    const codeIndex = (op: OpSpec): number => {
      const key = `${op.builtin}:${op.custom ?? ''}`;
      let i = codeKeys.indexOf(key);
      if (i < 0) {
        const custom = op.custom ? fbb.createString(op.custom) : 0;
        tfl.OperatorCode.startOperatorCode(fbb);
        tfl.OperatorCode.addDeprecatedBuiltinCode(fbb, Math.min(op.builtin, 127));
        if (custom) tfl.OperatorCode.addCustomCode(fbb, custom);
        tfl.OperatorCode.addVersion(fbb, 1);
        tfl.OperatorCode.addBuiltinCode(fbb, op.builtin);
        codeOffsets.push(tfl.OperatorCode.endOperatorCode(fbb));
        codeKeys.push(key);
        i = codeKeys.length - 1;
      }
      return i;
    };
    const opOffsets = this.ops.map((op) => {
      const code = codeIndex(op);
      const inputs = tfl.Operator.createInputsVector(fbb, op.inputs);
      const outputs = tfl.Operator.createOutputsVector(fbb, op.outputs);
      const options = op.options?.(fbb);
      const custom = op.customOptions ? tfl.Operator.createCustomOptionsVector(fbb, op.customOptions) : 0;
      tfl.Operator.startOperator(fbb);
      tfl.Operator.addOpcodeIndex(fbb, code);
      tfl.Operator.addInputs(fbb, inputs);
      tfl.Operator.addOutputs(fbb, outputs);
      if (options) {
        tfl.Operator.addBuiltinOptionsType(fbb, options[0]);
        tfl.Operator.addBuiltinOptions(fbb, options[1]);
      }
      if (custom) tfl.Operator.addCustomOptions(fbb, custom);
      return tfl.Operator.endOperator(fbb);
    });
    const sgName = fbb.createString('main');
    const subgraph = tfl.SubGraph.createSubGraph(
      fbb,
      tfl.SubGraph.createTensorsVector(fbb, tensorOffsets),
      tfl.SubGraph.createInputsVector(fbb, this.inputs),
      tfl.SubGraph.createOutputsVector(fbb, this.outputs),
      tfl.SubGraph.createOperatorsVector(fbb, opOffsets),
      sgName,
    );
    const metadata = this.metadata.map((m) => {
      const name = fbb.createString(m.name);
      const buffer = bufferOf(m.data);
      return tfl.Metadata.createMetadata(fbb, name, buffer);
    });
    const description = fbb.createString(this.description);
    const model = tfl.Model.createModel(
      fbb,
      3,
      tfl.Model.createOperatorCodesVector(fbb, codeOffsets),
      tfl.Model.createSubgraphsVector(fbb, [subgraph]),
      description,
      tfl.Model.createBuffersVector(fbb, buffers),
      0,
      metadata.length ? tfl.Model.createMetadataVector(fbb, metadata) : 0,
    );
    tfl.Model.finishModelBuffer(fbb, model);
    return fbb.asUint8Array().slice();
  }
}
