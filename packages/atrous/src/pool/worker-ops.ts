// The convolution work a pool worker does: stateless ops, and the resource kinds behind
// `pool.prepareConv2d` (one ConvPlan) and `pool.prepareConvStack` (layers run one after the other).
import { AtrousError, show } from '../errors.js';
import type { Tensor } from '../tensor.js';
import type { Conv2dOptions } from '../ops/conv-options.js';
import { ConvPlan } from '../ops/conv-plan.js';
import { conv2d } from '../ops/conv2d.js';
import { conv1d } from '../ops/conv1d.js';
import type { MethodResult, ResourceKind } from './worker-resources.js';
import { toTensor, type WireConv1dOptions, type WireConv2dOptions, type WireTensor } from './wire.js';

function answer(y: Tensor<'float32'>): MethodResult {
  const out: WireTensor = { data: y.data, dims: [...y.dims] };
  return { value: out, transfer: [y.data.buffer as ArrayBuffer] };
}

function conv2dOptions(o: WireConv2dOptions): Conv2dOptions & { residual?: Tensor<'float32'> } {
  return { ...o, residual: o.residual && toTensor(o.residual) };
}

export const CONV_OPS: Record<string, (args: any) => MethodResult> = {
  conv2d([x, w, options]: [WireTensor, WireTensor, WireConv2dOptions]) {
    return answer(conv2d(toTensor(x), toTensor(w), conv2dOptions(options)));
  },
  conv1d([x, w, options]: [WireTensor, WireTensor, WireConv1dOptions]) {
    return answer(conv1d(toTensor(x), toTensor(w), { ...options, residual: options.residual && toTensor(options.residual) }));
  },
};

/** A layer of a conv stack as it crosses: weights and options (bias as a Float32Array). */
export interface WireConvLayer {
  weights: WireTensor;
  options: Omit<WireConv2dOptions, 'residual'>;
}

const convPlanKind: ResourceKind<ConvPlan> = {
  create(layer: WireConvLayer) {
    return new ConvPlan(toTensor(layer.weights), layer.options, 'prepareConv2d');
  },
  bytes: (plan) => plan.preparedBytes,
  methods: {
    run(plan, [x, residual]: [WireTensor, WireTensor | undefined]) {
      return answer(plan.run(toTensor(x), { residual: residual && toTensor(residual) }));
    },
  },
  dispose: (plan) => plan.dispose(),
};

/** Explicit `[top, left, bottom, right]` pads per layer, or undefined for each layer's own pads. */
export type StackPads = ([number, number, number, number] | undefined)[] | undefined;

// A tile needs each layer with its own pads (true zero padding at the image border, none where the halo
// holds real neighbour pixels): at most 3 x 3 combinations per layer, each a plan packed once and kept.
const PLANS_PER_LAYER = 16;

class ConvStack {
  private readonly layers: { weights: Tensor<'float32'>; options: WireConvLayer['options']; plans: Map<string, ConvPlan> }[];

  constructor(layers: WireConvLayer[]) {
    this.layers = layers.map((l) => ({ weights: toTensor(l.weights), options: l.options, plans: new Map() }));
    try {
      for (let i = 0; i < this.layers.length; i++) this.plan(i, undefined);
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  private plan(i: number, pads: [number, number, number, number] | undefined): ConvPlan {
    const layer = this.layers[i]!;
    const key = pads ? pads.join(',') : 'own';
    let plan = layer.plans.get(key);
    if (!plan) {
      if (layer.plans.size >= PLANS_PER_LAYER) {
        // Forget the oldest tile-specific plan (never the layer's own).
        for (const [k, p] of layer.plans) {
          if (k !== 'own') {
            p.dispose();
            layer.plans.delete(k);
            break;
          }
        }
      }
      plan = new ConvPlan(layer.weights, pads ? { ...layer.options, pads } : layer.options, `convStack: layers[${i}]`);
      layer.plans.set(key, plan);
    }
    return plan;
  }

  get bytes(): number {
    let sum = 0;
    for (const l of this.layers) for (const p of l.plans.values()) sum += p.preparedBytes;
    return sum;
  }

  run(x: Tensor<'float32'>, pads: StackPads): Tensor<'float32'> {
    if (pads !== undefined && pads.length !== this.layers.length) {
      throw new AtrousError('INTERNAL', `convStack: ${pads.length} pads for ${this.layers.length} layers (${show(pads)})`);
    }
    let y = x;
    for (let i = 0; i < this.layers.length; i++) y = this.plan(i, pads?.[i]).run(y);
    return y;
  }

  dispose(): void {
    for (const l of this.layers) {
      for (const p of l.plans.values()) p.dispose();
      l.plans.clear();
    }
  }
}

const convStackKind: ResourceKind<ConvStack> = {
  create: (layers: WireConvLayer[]) => new ConvStack(layers),
  bytes: (stack) => stack.bytes,
  methods: {
    run(stack, [x, pads]: [WireTensor, StackPads]) {
      return answer(stack.run(toTensor(x), pads));
    },
  },
  dispose: (stack) => stack.dispose(),
};

/** The resource kinds behind `pool.prepareConv2d` and `pool.prepareConvStack`. */
export const CONV_RESOURCES: Record<string, ResourceKind> = { convPlan: convPlanKind, convStack: convStackKind };
