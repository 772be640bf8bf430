// Prepared convolutions living in every worker of a pool: a single plan (`pool.prepareConv2d`) and a stack
// of layers run back to back in one worker (`pool.prepareConvStack`, the unit `pool.runTiled` spreads).
import { AtrousError, show } from '../errors.js';
import { Tensor, expectFloat32 } from '../tensor.js';
import { convOutputDims, resolveConvSpec, type Conv2dOptions, type ConvSpec } from '../ops/conv-options.js';
import type { ConvGeometry, ConvLayer } from '../analysis/receptive-field.js';
import type { PoolCallOptions } from './pool-types.js';
import type { PooledResource } from './resource-registry.js';
import type { StackPads, WireConvLayer } from './worker-ops.js';
import { biasData, toTensor, Transfers, type WireTensor } from './wire.js';

/**
 * What a prepared layer sends to each worker: copies of the weights and bias, so that the caller may
 * change its arrays afterwards without changing what a replacement worker will be given.
 */
export function layerPayload(weights: Tensor<'float32'>, options: Conv2dOptions): WireConvLayer {
  const { bias, ...rest } = options;
  const b = biasData(bias);
  return { weights: { data: weights.data.slice(), dims: [...weights.dims] }, options: { ...rest, bias: b?.slice() } };
}

function geometry(spec: ConvSpec): ConvGeometry {
  return { kernel: spec.kernel, strides: spec.strides, dilations: spec.dilations, pads: spec.pads };
}

export interface PooledRunOptions extends PoolCallOptions {
  /** Output-shaped tensor added before the activation (a fused residual connection). */
  residual?: Tensor<'float32'>;
}

/** A convolution prepared in every worker of a pool. */
export class PooledConvPlan {
  readonly weightDims: readonly number[];
  readonly spec: Readonly<ConvSpec>;

  constructor(
    private readonly resource: PooledResource,
    spec: ConvSpec,
    weightDims: readonly number[],
  ) {
    this.spec = spec;
    this.weightDims = weightDims;
  }

  /** Output dims `[N, M, OH, OW]` for input dims `[N, C, H, W]`. */
  outputDims(inputDims: readonly number[]): [number, number, number, number] {
    if (inputDims.length !== 4) throw new AtrousError('INVALID_SHAPE', `prepareConv2d: input must have rank 4 [N, C, H, W], got dims ${show(inputDims)}`);
    return convOutputDims(this.spec, inputDims, 'prepareConv2d');
  }

  /** Runs the plan on `input` in a free worker; only the input (and residual) cross. */
  async run(input: Tensor<'float32'>, options: PooledRunOptions = {}): Promise<Tensor<'float32'>> {
    const x = expectFloat32(input, 'prepareConv2d: input', 4, '[N, C, H, W]');
    const outDims = this.outputDims(x.dims);
    const t = new Transfers(options?.transfer === true);
    let residual: WireTensor | undefined;
    if (options.residual !== undefined) {
      const r = expectFloat32(options.residual, 'prepareConv2d: options.residual', 4, '[N, M, OH, OW]');
      if (r.dims.some((d, i) => d !== outDims[i])) {
        throw new AtrousError('INVALID_SHAPE', `prepareConv2d: options.residual must have the output's dims ${show(outDims)}, got ${show(r.dims)}`);
      }
      residual = t.tensor(r);
    }
    const args = [t.tensor(x), residual];
    return toTensor(await this.resource.invoke<WireTensor>('run', args, t.list, options));
  }

  /** Frees the plan in every worker. */
  dispose(): Promise<void> {
    return this.resource.dispose();
  }
}

/** Convolutions run one after the other inside one worker, prepared in every worker of a pool. */
export class PooledConvStack {
  readonly specs: readonly Readonly<ConvSpec>[];
  /** Each layer's kernel, strides, dilations and pads, as `receptiveField` and `planTiles` take them. */
  readonly geometry: ConvGeometry[];

  constructor(
    private readonly resource: PooledResource,
    specs: ConvSpec[],
  ) {
    this.specs = specs;
    this.geometry = specs.map(geometry);
  }

  /** Checks every layer and that each one's output channels feed the next one's input channels. */
  static check(layers: readonly ConvLayer[], op: string): ConvSpec[] {
    if (!Array.isArray(layers) || layers.length === 0) {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: layers must be a non-empty array of { weights, options? }, got ${show(layers)}`);
    }
    const specs = layers.map((layer, i) => {
      if (layer === null || typeof layer !== 'object') {
        throw new AtrousError('INVALID_ARGUMENT', `${op}: layers[${i}] must be { weights, options? }, got ${show(layer)}`);
      }
      const w = expectFloat32(layer.weights, `${op}: layers[${i}].weights`, 4, '[M, C/groups, kH, kW]');
      return resolveConvSpec(w, layer.options ?? {}, `${op}: layers[${i}]`);
    });
    for (let i = 1; i < specs.length; i++) {
      if (specs[i]!.inChannels !== specs[i - 1]!.outChannels) {
        throw new AtrousError(
          'INVALID_SHAPE',
          `${op}: layers[${i}] takes ${specs[i]!.inChannels} input channels but layers[${i - 1}] gives ${specs[i - 1]!.outChannels}`,
        );
      }
    }
    return specs;
  }

  /** Output dims after the last layer for input dims `[N, C, H, W]`. */
  outputDims(inputDims: readonly number[]): [number, number, number, number] {
    if (inputDims.length !== 4) throw new AtrousError('INVALID_SHAPE', `prepareConvStack: input must have rank 4 [N, C, H, W], got dims ${show(inputDims)}`);
    let dims = [...inputDims] as [number, number, number, number];
    this.specs.forEach((spec, i) => (dims = convOutputDims(spec, dims, `prepareConvStack: layers[${i}]`)));
    return dims;
  }

  /** Runs every layer on `input` in one free worker. */
  run(input: Tensor<'float32'>, options: PoolCallOptions = {}): Promise<Tensor<'float32'>> {
    return this.runPadded(input, undefined, options, 'prepareConvStack');
  }

  /** @internal Runs with explicit pads per layer (a tile of `runTiled`). */
  async runPadded(input: Tensor<'float32'>, pads: StackPads, options: PoolCallOptions, op: string): Promise<Tensor<'float32'>> {
    const x = expectFloat32(input, `${op}: input`, 4, '[N, C, H, W]');
    if (pads === undefined) this.outputDims(x.dims);
    const t = new Transfers(options?.transfer === true);
    const args = [t.tensor(x), pads];
    return toTensor(await this.resource.invoke<WireTensor>('run', args, t.list, options));
  }

  /** Frees the stack in every worker. */
  dispose(): Promise<void> {
    return this.resource.dispose();
  }
}
