import { AtrousError, show } from '../errors.js';
import { Tensor } from '../tensor.js';
import { ConvDesc, ConvMethodRequest, PadMode } from '../wasm/abi.js';
import { resolveActivation, type Activation } from './activation.js';

export type AutoPad = 'same-upper' | 'same-lower' | 'valid';

export interface Conv2dOptions {
  /** `[M]` */
  bias?: Tensor<'float32'> | Float32Array;
  /** `[strideH, strideW]`, default `[1, 1]` */
  strides?: readonly [number, number] | number;
  /** `[dilationH, dilationW]`, default `[1, 1]` */
  dilations?: readonly [number, number] | number;
  /** `[top, left, bottom, right]`, or automatic padding computed from the dilated kernel. Default `[0, 0, 0, 0]`. */
  pads?: readonly [number, number, number, number] | AutoPad;
  /** Default 1. Equal to the input channels for a depthwise convolution. */
  groups?: number;
  activation?: Activation;
  /**
   * The kernel family: `'auto'` (default: the cost model picks Winograd or the direct method from the shape,
   * and again per input size: a plan packed for the direct method adds Winograd's weights on its first run
   * at a map where Winograd pays, so `preparedBytes` may grow then),
   * `'direct'` (the direct GEMM, or depthwise), or `'winograd'` (3x3, stride 1, one group only). Both give
   * the same answer within float rounding; only speed and the prepared weights' size differ.
   */
  method?: ConvMethodChoice;
}

export type ConvMethodChoice = keyof typeof ConvMethodRequest;

/** A convolution described for the kernels: everything but the input size. */
export interface ConvSpec {
  inChannels: number;
  outChannels: number;
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  pads: [number, number, number, number] | AutoPad;
  groups: number;
  bias: Float32Array | undefined;
  activation: ReturnType<typeof resolveActivation>;
  /** Default `'auto'`. */
  method?: ConvMethodChoice;
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new AtrousError('INVALID_ARGUMENT', `${name} must be a positive integer, got ${show(value)}`);
  }
  return value;
}

function pair(value: unknown, name: string): [number, number] {
  if (value === undefined) return [1, 1];
  if (typeof value === 'number') {
    const v = positiveInteger(value, name);
    return [v, v];
  }
  if (!Array.isArray(value) || value.length !== 2) {
    throw new AtrousError('INVALID_ARGUMENT', `${name} must be a positive integer or a pair [h, w], got ${show(value)}`);
  }
  return [positiveInteger(value[0], `${name}[0]`), positiveInteger(value[1], `${name}[1]`)];
}

function resolvePads(value: unknown, name: string): ConvSpec['pads'] {
  if (value === undefined) return [0, 0, 0, 0];
  if (value === 'same-upper' || value === 'same-lower' || value === 'valid') return value;
  if (!Array.isArray(value) || value.length !== 4) {
    throw new AtrousError(
      'INVALID_ARGUMENT',
      `${name} must be [top, left, bottom, right] or "same-upper", "same-lower", "valid", got ${show(value)}`,
    );
  }
  return value.map((p, i) => {
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0) {
      throw new AtrousError('INVALID_ARGUMENT', `${name}[${i}] must be a non-negative integer, got ${show(p)} in ${show(value)}`);
    }
    return p;
  }) as [number, number, number, number];
}

/** Checks weights `[M, C/groups, kH, kW]` and options; `op` names the caller in errors. */
export function resolveConvSpec(weights: Tensor<'float32'>, options: Conv2dOptions, op: string): ConvSpec {
  if (options === null || typeof options !== 'object') {
    throw new AtrousError('INVALID_ARGUMENT', `${op}: options must be an object, got ${show(options)}`);
  }
  const [m, cPerGroup, kh, kw] = weights.dims as [number, number, number, number];
  for (const [i, d] of weights.dims.entries()) {
    if (d < 1) throw new AtrousError('INVALID_SHAPE', `${op}: weights dims[${i}] must be at least 1, got dims ${show(weights.dims)}`);
  }
  const groups = options.groups === undefined ? 1 : positiveInteger(options.groups, `${op}: options.groups`);
  if (m % groups !== 0) {
    throw new AtrousError('INVALID_SHAPE', `${op}: options.groups (${groups}) must divide the output channels M = ${m} of weights ${show(weights.dims)}`);
  }
  let bias: Float32Array | undefined;
  if (options.bias !== undefined) {
    const b = options.bias;
    if (b instanceof Tensor && b.type !== 'float32') {
      throw new AtrousError('INVALID_TENSOR', `${op}: options.bias must be float32, got type ${show(b.type)}`);
    }
    const data = b instanceof Tensor ? (b.data as Float32Array) : b;
    if (!(data instanceof Float32Array)) {
      throw new AtrousError('INVALID_TENSOR', `${op}: options.bias must be a float32 Tensor or a Float32Array, got ${show(b)}`);
    }
    if (data.length !== m) {
      throw new AtrousError('INVALID_SHAPE', `${op}: options.bias must have M = ${m} values (weights ${show(weights.dims)}), got ${data.length}`);
    }
    bias = data;
  }
  return {
    inChannels: cPerGroup * groups,
    outChannels: m,
    kernel: [kh, kw],
    strides: pair(options.strides, `${op}: options.strides`),
    dilations: pair(options.dilations, `${op}: options.dilations`),
    pads: resolvePads(options.pads, `${op}: options.pads`),
    groups,
    bias,
    activation: resolveActivation(options.activation, `${op}: options.activation`),
    method: resolveMethod(options.method, `${op}: options.method`),
  };
}

function resolveMethod(value: unknown, name: string): ConvMethodChoice {
  if (value === undefined) return 'auto';
  if (typeof value !== 'string' || !Object.hasOwn(ConvMethodRequest, value)) {
    throw new AtrousError('INVALID_ARGUMENT', `${name} must be one of ${Object.keys(ConvMethodRequest).map((k) => `'${k}'`).join(', ')}, got ${show(value)}`);
  }
  return value as ConvMethodChoice;
}

/** The descriptor `atrous_conv_plan_create` reads. */
export function encodeConvSpec(spec: ConvSpec): Uint32Array {
  const d = new Uint32Array(ConvDesc.LEN);
  const f = new Float32Array(d.buffer);
  d[ConvDesc.IN_CHANNELS] = spec.inChannels;
  d[ConvDesc.OUT_CHANNELS] = spec.outChannels;
  d[ConvDesc.KERNEL_H] = spec.kernel[0];
  d[ConvDesc.KERNEL_W] = spec.kernel[1];
  d[ConvDesc.STRIDE_H] = spec.strides[0];
  d[ConvDesc.STRIDE_W] = spec.strides[1];
  d[ConvDesc.DILATION_H] = spec.dilations[0];
  d[ConvDesc.DILATION_W] = spec.dilations[1];
  if (typeof spec.pads === 'string') {
    d[ConvDesc.PAD_MODE] = PadMode[spec.pads];
  } else {
    d[ConvDesc.PAD_MODE] = PadMode.explicit;
    d.set(spec.pads, ConvDesc.PADS);
  }
  d[ConvDesc.GROUPS] = spec.groups;
  d[ConvDesc.ACTIVATION] = spec.activation.code;
  f[ConvDesc.ACTIVATION_P0] = spec.activation.p0;
  f[ConvDesc.ACTIVATION_P1] = spec.activation.p1;
  d[ConvDesc.METHOD] = ConvMethodRequest[spec.method ?? 'auto'];
  return d;
}

/** Output `[N, M, OH, OW]` for an input `[N, C, H, W]`, with the reason when there is none. */
export function convOutputDims(spec: ConvSpec, inputDims: readonly number[], op: string): [number, number, number, number] {
  const [n, c, h, w] = inputDims as [number, number, number, number];
  for (const [i, d] of inputDims.entries()) {
    if (d < 1) throw new AtrousError('INVALID_SHAPE', `${op}: input dims[${i}] must be at least 1, got dims ${show(inputDims)}`);
  }
  if (c !== spec.inChannels) {
    throw new AtrousError(
      'INVALID_SHAPE',
      `${op}: input has C = ${c} channels (dims ${show(inputDims)}) but the weights expect ${spec.inChannels}` +
        (spec.groups > 1 ? ` (${spec.inChannels / spec.groups} per group x ${spec.groups} groups)` : ''),
    );
  }
  const out: number[] = [];
  for (const axis of [0, 1]) {
    const size = axis === 0 ? h : w;
    const effective = (spec.kernel[axis]! - 1) * spec.dilations[axis]! + 1;
    const stride = spec.strides[axis]!;
    let o: number;
    if (spec.pads === 'same-upper' || spec.pads === 'same-lower') {
      o = Math.ceil(size / stride);
    } else {
      const [begin, end] = spec.pads === 'valid' ? [0, 0] : [spec.pads[axis]!, spec.pads[axis + 2]!];
      const span = size + begin + end;
      if (span < effective) {
        const axisName = axis === 0 ? 'height' : 'width';
        throw new AtrousError(
          'INVALID_SHAPE',
          `${op}: output ${axisName} would be below 1: input ${axisName} ${size} + pads ${begin} + ${end} = ${span} is smaller than ` +
            `the dilated kernel (${spec.kernel[axis]} - 1) * ${spec.dilations[axis]} + 1 = ${effective} (input dims ${show(inputDims)})`,
        );
      }
      o = Math.floor((span - effective) / stride) + 1;
    }
    out.push(o);
  }
  return [n, spec.outChannels, out[0]!, out[1]!];
}
