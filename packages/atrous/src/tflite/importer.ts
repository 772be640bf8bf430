import { AtrousError, show } from '../errors.js';
import type { HostTensor } from '../onnx/data-types.js';
import type { GraphIR, ValueInfoIR } from '../onnx/graph.js';
import { GraphBuilder, type TensorRef } from './graph-builder.js';
import { NCHW_TO_NHWC } from './layout.js';
import { tfliteMetadata } from './metadata.js';
import { readTfliteModel } from './model-reader.js';
import type { OpImport } from './op-import.js';
import { BUILTIN_OPS, CUSTOM_OPS } from './op-table.js';
import { BuiltinOperator, TensorType, type Tensor } from './schema/tflite_generated.js';
import { bufferBytes, decodeConstant, elemTypeOfTflite, isQuantized, tensorDims, tensorLabel, tensorSignature } from './tensors.js';

/** The op set the imported graph is written in (HardSwish needs 14; ReduceMean still takes axes as an attribute). */
const OPSET = 17;

/**
 * A .tflite model as atrous' graph IR: subgraph 0, its ops mapped onto ONNX ops so they run on the same
 * kernels and fusions. Inputs and outputs keep the model's names and NHWC layout; inside, feature maps are
 * NCHW, with Transposes at the boundary and weights permuted to OIHW here, once.
 */
export function importTflite(bytes: Uint8Array): GraphIR {
  const model = readTfliteModel(bytes);
  // A damaged length would make the loops below run for ever over zeros: every table entry takes at least
  // a 4-byte offset, so no vector can list more entries than the file has 4-byte words.
  const count = (n: number, what: string): number => {
    if (!Number.isInteger(n) || n < 0 || 4 * n > bytes.length) throw new AtrousError('INVALID_MODEL', `model: ${what} claims ${n} entries, more than the ${bytes.length}-byte file can hold`);
    return n;
  };
  count(model.buffersLength(), 'the buffer list');
  count(model.metadataLength(), 'the metadata list');
  if (count(model.subgraphsLength(), 'the subgraph list') < 1) throw new AtrousError('INVALID_MODEL', 'model: the TFLite model has no subgraph');
  const sg = model.subgraphs(0)!;
  const tensorCount = count(sg.tensorsLength(), 'the tensor list');
  const tensorAt = (i: number, what: string): Tensor => {
    if (!Number.isInteger(i) || i < 0 || i >= tensorCount) throw new AtrousError('INVALID_MODEL', `model: ${what} names tensor ${i}, the subgraph has ${tensorCount}`);
    return sg.tensors(i)!;
  };
  const opNames: string[] = [];
  const codes: { builtin: number; custom: string | null }[] = [];
  for (let i = 0; i < count(model.operatorCodesLength(), 'the operator code list'); i++) {
    const c = model.operatorCodes(i)!;
    // Codes past 127 live in builtin_code; older files have only the byte.
    const builtin = Math.max(c.deprecatedBuiltinCode(), c.builtinCode());
    const custom = builtin === BuiltinOperator.CUSTOM ? c.customCode() : null;
    codes.push({ builtin, custom });
    opNames.push(custom ?? BuiltinOperator[builtin] ?? `builtin op ${builtin}`);
  }

  // DEQUANTIZE of a constant (fp16 or int8 weights) is folded: its output is a float32 constant.
  const folded = new Map<number, HostTensor>();
  const decoded = new Map<number, HostTensor | null>();
  const constantOf = (i: number): HostTensor | undefined => {
    const f = folded.get(i);
    if (f) return f;
    if (!decoded.has(i)) {
      const t = tensorAt(i, 'an operator');
      const data = bufferBytes(model, bytes, t, i);
      decoded.set(i, data ? decodeConstant(t, i, data) : null);
    }
    return decoded.get(i) ?? undefined;
  };
  const refOf = (i: number): TensorRef => {
    const t = tensorAt(i, 'an operator');
    return { index: i, name: t.name() ?? `tensor_${i}`, dims: tensorDims(t), signature: tensorSignature(t, i), constant: constantOf(i) };
  };

  const b = new GraphBuilder();
  const valueInfo = (i: number, what: string): ValueInfoIR => {
    const t = tensorAt(i, what);
    if (isQuantized(t)) throw new AtrousError('UNSUPPORTED_OP', `${what} ${tensorLabel(t, i)} is int8-quantised (${TensorType[t.type()]}); atrous runs float models`);
    const type = elemTypeOfTflite(t.type());
    // A dim the model leaves to run time (-1 in shape_signature) is symbolic, "?" as in ONNX: any size
    // at run, the graph specialized per input dims as for ONNX models.
    const signature = tensorSignature(t, i);
    if (signature.some((d) => d !== -1 && !(d >= 1))) throw new AtrousError('UNSUPPORTED', `${what} ${tensorLabel(t, i)} has dims ${show(signature)}; atrous needs every dim positive or -1 (left to run time)`);
    return { name: t.name() ?? `tensor_${i}`, dataType: type?.onnx ?? 0, elemType: type?.elemType, dims: signature.map((d) => (d === -1 ? '?' : d)) };
  };
  const inputIndices = Array.from(sg.inputsArray() ?? []);
  const outputIndices = Array.from(sg.outputsArray() ?? []);
  const inputs = inputIndices.map((i) => valueInfo(i, 'graph input'));
  const outputs = outputIndices.map((i) => valueInfo(i, 'graph output'));
  for (const v of [...inputs, ...outputs]) b.reserve(v.name);
  inputIndices.forEach((i, k) => b.define(i, { name: inputs[k]!.name, layout: 'plain' }));
  const graphOutputs = new Set(outputIndices);
  const claimed = new Set<string>();

  for (let index = 0, n = count(sg.operatorsLength(), 'the operator list'); index < n; index++) {
    const op = sg.operators(index)!;
    const code = codes[op.opcodeIndex()];
    if (!code) throw new AtrousError('INVALID_MODEL', `model: operator ${index} uses op code ${op.opcodeIndex()}, the model lists ${codes.length}`);
    const opName = opNames[op.opcodeIndex()]!;
    const inIdx = Array.from(op.inputsArray() ?? []);
    const outIdx = Array.from(op.outputsArray() ?? []);
    const label = () => `TFLite ${opName} (operator ${index}, output ${show(outIdx[0] !== undefined ? tensorAt(outIdx[0], `operator ${index}`).name() ?? '' : '')})`;
    if (code.builtin === BuiltinOperator.DEQUANTIZE) {
      const src = tensorAt(inIdx[0] ?? -1, `operator ${index}`);
      const data = bufferBytes(model, bytes, src, inIdx[0]!);
      if (!data) throw new AtrousError('UNSUPPORTED_OP', `${label()}: dequantizing a computed tensor (${tensorLabel(src, inIdx[0]!)}) is not supported; atrous folds DEQUANTIZE of constant weights`);
      folded.set(outIdx[0]!, decodeConstant(src, inIdx[0]!, data, true));
      continue;
    }
    const importer = code.custom !== null ? CUSTOM_OPS.get(code.custom) : BUILTIN_OPS.get(code.builtin);
    if (!importer) {
      const kind = code.custom !== null ? `custom op ${show(code.custom)}` : `op ${opName}`;
      throw new AtrousError('UNSUPPORTED_OP', `${label()}: TFLite ${kind} is not supported by atrous`);
    }
    for (const i of [...inIdx, ...outIdx]) {
      if (i < 0 || folded.has(i)) continue;
      const t = tensorAt(i, `operator ${index}`);
      if (isQuantized(t)) throw new AtrousError('UNSUPPORTED_OP', `${label()}: ${tensorLabel(t, i)} is int8-quantised (${TensorType[t.type()]}); atrous runs float models`);
      if (t.sparsity()) throw new AtrousError('UNSUPPORTED_OP', `${label()}: ${tensorLabel(t, i)} is sparse; atrous reads dense tensors`);
    }
    const outRefs = outIdx.map((i) => refOf(i));
    const ctx: OpImport = {
      b,
      opName,
      index,
      op,
      inputs: inIdx.map((i) => (i < 0 ? undefined : refOf(i))),
      outputs: outRefs,
      output(i, layout) {
        const ref = outRefs[i];
        if (!ref) throw new AtrousError('INVALID_MODEL', `${label()}: output ${i} is missing`);
        const exact = layout === 'plain' && graphOutputs.has(ref.index) && !claimed.has(ref.name);
        const name = exact ? ref.name : b.fresh(layout === 'nchw' ? `${ref.name}/nchw` : ref.name);
        if (exact) claimed.add(name);
        b.define(ref.index, { name, layout });
        return name;
      },
    };
    importer(ctx);
  }

  outputIndices.forEach((i, k) => {
    const name = outputs[k]!.name;
    const held = b.heldOf(refOf(i));
    if (held.name === name) return;
    if (held.layout === 'nchw') b.node('Transpose', [held.name], [name], { perm: NCHW_TO_NHWC });
    else b.node('Identity', [held.name], [name]);
  });

  return {
    irVersion: 8,
    opset: OPSET,
    nodes: b.nodes,
    inputs,
    outputs,
    initializers: b.initializers,
    metadata: tfliteMetadata(model, sg.name() ?? ''),
  };
}
