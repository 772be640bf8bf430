import { AtrousError, show } from '../errors.js';
import type { HostTensor } from '../onnx/data-types.js';
import type { AttrValue, NodeIR } from '../onnx/graph.js';
import { NCHW_TO_NHWC, NHWC_TO_NCHW, permuteTensor } from './layout.js';

/**
 * How a TFLite tensor is held in the graph being built: `nchw` is a 4-D NHWC tensor held transposed (every
 * feature map between convolutions), `plain` is the tensor as TFLite lays it out.
 */
export interface Held {
  name: string;
  layout: 'nchw' | 'plain';
}

/** A TFLite tensor as the op importers see it. */
export interface TensorRef {
  index: number;
  name: string;
  /** Declared dims, in TFLite's layout (NHWC for 4-D); a dim left to run time is 1 here (TFLite's `shape`). */
  dims: number[];
  /** The same dims with -1 where the model leaves them to run time (`shape_signature`): what the graph must not bake in. */
  signature: number[];
  /** Set for constants (weights, shapes, axes), decoded, in TFLite's layout. */
  constant?: HostTensor;
}

/**
 * The ONNX-shaped graph a TFLite subgraph becomes: nodes in order, constants, and the layout each tensor is
 * held in. Transposes between the two layouts are made on demand, once per tensor.
 */
export class GraphBuilder {
  readonly nodes: NodeIR[] = [];
  readonly initializers = new Map<string, HostTensor>();
  private readonly held = new Map<number, Held>();
  private readonly otherLayout = new Map<string, string>();
  private readonly used = new Set<string>();

  /** A name no value of the graph has yet, from `base`. */
  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}#${k}`;
    this.used.add(name);
    return name;
  }

  /** Reserves the model's own names (inputs, outputs) before anything else is named. */
  reserve(name: string): void {
    this.used.add(name);
  }

  node(opType: string, inputs: string[], outputs: string[], attributes: Record<string, AttrValue> = {}, name = outputs[0] ?? opType): void {
    this.nodes.push({ name, opType, domain: '', inputs, outputs, attributes: new Map(Object.entries(attributes)) });
  }

  constant(base: string, tensor: HostTensor): string {
    const name = this.fresh(base);
    this.initializers.set(name, tensor);
    return name;
  }

  /** An int64 constant (shapes, sizes, pads, axes). */
  ints(base: string, values: number[]): string {
    return this.constant(base, { type: 'int64', dims: [values.length], data: Float64Array.from(values) });
  }

  scalar(base: string, value: number): string {
    return this.constant(base, { type: 'float32', dims: [], data: Float32Array.of(value) });
  }

  define(index: number, held: Held): void {
    this.held.set(index, held);
  }

  heldOf(ref: TensorRef): Held {
    const h = this.held.get(ref.index);
    if (h) return h;
    if (ref.constant) {
      const held: Held = { name: this.constant(ref.name, ref.constant), layout: 'plain' };
      this.held.set(ref.index, held);
      return held;
    }
    throw new AtrousError('INVALID_MODEL', `tensor ${show(ref.name)} (#${ref.index}) is read before any operator writes it`);
  }

  /** The tensor as NCHW (a 4-D tensor), transposing once if it is held as NHWC. */
  asNchw(ref: TensorRef): string {
    if (ref.dims.length !== 4) throw new AtrousError('UNSUPPORTED_OP', `tensor ${show(ref.name)} (#${ref.index}) must be 4-D [N, H, W, C] here, got dims ${show(ref.dims)}`);
    if (ref.constant && !this.held.has(ref.index)) return this.constant(`${ref.name}/nchw`, permuteTensor(ref.constant, NHWC_TO_NCHW));
    const h = this.heldOf(ref);
    return h.layout === 'nchw' ? h.name : this.transposed(h.name, NHWC_TO_NCHW, `${ref.name}/nchw`);
  }

  /** The tensor in TFLite's own layout. */
  asPlain(ref: TensorRef): string {
    const h = this.heldOf(ref);
    return h.layout === 'plain' ? h.name : this.transposed(h.name, NCHW_TO_NHWC, ref.name);
  }

  /**
   * An operand of an element-wise op whose result is held as NCHW: lower-rank operands broadcast as numpy
   * does (ones in front), so they are made 4-D first, then NCHW.
   */
  asNchwOperand(ref: TensorRef): string {
    if (ref.dims.length === 4) return this.asNchw(ref);
    const size = ref.dims.reduce((a, b) => a * b, 1);
    if (size === 1 && ref.constant) return this.heldOf(ref).name; // a scalar broadcasts in any layout
    if (ref.dims.length > 4) throw new AtrousError('UNSUPPORTED_OP', `tensor ${show(ref.name)} (#${ref.index}) of rank ${ref.dims.length} cannot broadcast against a 4-D feature map`);
    const dims4 = [...new Array<number>(4 - ref.dims.length).fill(1), ...ref.dims];
    if (ref.constant) return this.constant(`${ref.name}/nchw`, permuteTensor({ ...ref.constant, dims: dims4 }, NHWC_TO_NCHW));
    // A dim left to run time stays -1 for Reshape to infer; two of them cannot be told apart.
    const shape4 = [...new Array<number>(4 - ref.dims.length).fill(1), ...ref.signature];
    if (shape4.filter((d) => d < 0).length > 1) throw new AtrousError('UNSUPPORTED_OP', `tensor ${show(ref.name)} (#${ref.index}) has more than one dim left to run time (${show(ref.signature)}); it cannot broadcast against a 4-D feature map`);
    const reshaped = this.fresh(`${ref.name}/4d`);
    this.node('Reshape', [this.asPlain(ref), this.ints(`${ref.name}/4d_shape`, shape4)], [reshaped]);
    return this.transposed(reshaped, NHWC_TO_NCHW, `${ref.name}/nchw`);
  }

  /** `name` transposed by `perm` (made once per name and permutation). */
  transposed(name: string, perm: number[], base: string): string {
    const key = `${name}|${perm.join(',')}`;
    const known = this.otherLayout.get(key);
    if (known) return known;
    const out = this.fresh(base);
    this.node('Transpose', [name], [out], { perm });
    this.otherLayout.set(key, out);
    return out;
  }
}
