import { AtrousError, show } from '../errors.js';
import type { GraphBuilder, Held, TensorRef } from './graph-builder.js';
import { ActivationFunctionType, Padding, type Operator } from './schema/tflite_generated.js';

/** What an op importer gets: the operator, its tensors and the graph being built. */
export interface OpImport {
  b: GraphBuilder;
  /** The TFLite op's name (`CONV_2D`, or a custom op's name). */
  opName: string;
  /** Position of the operator in the subgraph. */
  index: number;
  op: Operator;
  /** Inputs in order; undefined where the model leaves an optional input out (-1). */
  inputs: (TensorRef | undefined)[];
  outputs: TensorRef[];
  /** Names output `i` held in `layout` and records it. */
  output(i: number, layout: Held['layout']): string;
}

/** Turns one TFLite operator into ONNX nodes. */
export type OpImporter = (ctx: OpImport) => void;

export function opLabel(ctx: OpImport): string {
  return `TFLite ${ctx.opName} (operator ${ctx.index}, output ${show(ctx.outputs[0]?.name ?? '')})`;
}

export function unsupportedOp(ctx: OpImport, why: string): AtrousError {
  return new AtrousError('UNSUPPORTED_OP', `${opLabel(ctx)}: ${why}`);
}

export function invalidOp(ctx: OpImport, why: string): AtrousError {
  return new AtrousError('INVALID_MODEL', `${opLabel(ctx)}: ${why}`);
}

export function input(ctx: OpImport, i: number, what: string): TensorRef {
  const ref = ctx.inputs[i];
  if (!ref) throw invalidOp(ctx, `input ${i} (${what}) is missing`);
  return ref;
}

export function constantInput(ctx: OpImport, i: number, what: string): number[] {
  const ref = input(ctx, i, what);
  if (!ref.constant) throw unsupportedOp(ctx, `${what} (tensor ${show(ref.name)}) must be a constant`);
  return Array.from(ref.constant.data as ArrayLike<number>);
}

/** ONNX auto_pad for a TFLite padding: TF's SAME puts the odd pad at the end, as SAME_UPPER does. */
export function autoPad(ctx: OpImport, padding: Padding): string {
  if (padding === Padding.SAME) return 'SAME_UPPER';
  if (padding === Padding.VALID) return 'VALID';
  throw invalidOp(ctx, `padding ${padding} is neither SAME nor VALID`);
}

/**
 * Writes output 0 through a fused activation: `emit` gets the name to write before the activation (the
 * optimizer fuses Conv + Relu / Clip back into the conv epilogue).
 */
export function withActivation(ctx: OpImport, activation: ActivationFunctionType, layout: Held['layout'], emit: (name: string) => void): void {
  if (activation === ActivationFunctionType.NONE) {
    emit(ctx.output(0, layout));
    return;
  }
  const pre = ctx.b.fresh(`${ctx.outputs[0]!.name}/pre_activation`);
  emit(pre);
  const out = ctx.output(0, layout);
  const b = ctx.b;
  switch (activation) {
    case ActivationFunctionType.RELU: b.node('Relu', [pre], [out]); break;
    case ActivationFunctionType.RELU6: b.node('Clip', [pre, b.scalar('zero', 0), b.scalar('six', 6)], [out]); break;
    case ActivationFunctionType.RELU_N1_TO_1: b.node('Clip', [pre, b.scalar('minus_one', -1), b.scalar('one', 1)], [out]); break;
    case ActivationFunctionType.TANH: b.node('Tanh', [pre], [out]); break;
    default: throw unsupportedOp(ctx, `fused activation ${ActivationFunctionType[activation] ?? activation} is not supported`);
  }
}

/**
 * Dim `axis` of `ref`, which this op needs at import (channels, a transposed conv's sizes): refused when
 * the model leaves it to run time (-1 in shape_signature).
 */
export function fixedDim(ctx: OpImport, ref: TensorRef, axis: number, what: string): number {
  if (ref.signature[axis]! < 0) throw unsupportedOp(ctx, `${what} (dim ${axis} of tensor ${show(ref.name)}, dims ${show(ref.signature)}) must be fixed; the model leaves it to run time`);
  return ref.dims[axis]!;
}

/** A Reshape target with any dim left to run time as -1, which Reshape infers: at most one can be. */
export function reshapeTarget(ctx: OpImport, dims: number[]): number[] {
  if (dims.filter((d) => d < 0).length > 1) throw unsupportedOp(ctx, `the output dims ${show(dims)} leave more than one dim to run time`);
  return dims;
}
