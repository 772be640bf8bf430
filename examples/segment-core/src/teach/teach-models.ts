// The three ONNX models of teach mode, built here with the protobuf schema atrous's parser reads:
//  - the feature extractor: a segmentation model cut after the tensors the head sits on, those tensors
//    (and the normalised image, if asked) resized to the first one's grid and concatenated as `features`;
//    it runs once per image, frozen;
//  - the head: a fresh, small network `features` -> `logits` [N, K, h, w] for the user's K classes; only
//    this is trained, on the features computed once, so a step costs the head alone;
//  - the taught model: extractor and tuned head spliced into one file, `image` -> `logits` at the input's
//    size, which is what the page runs for the mask and what the user downloads.
import onnxProto from 'onnx-proto';
import { seededRandom } from '../seeded-random.js';

const { onnx } = onnxProto;
type IModel = onnxProto.onnx.IModelProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
type IValueInfo = onnxProto.onnx.IValueInfoProto;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const A = onnx.AttributeProto.AttributeType;

/** The name of the extractor's output and the head's input. */
export const FEATURES = 'features';

export interface ExtractorOptions {
  /** Tensors of `base` the head sits on (node outputs), all [N, C_i, h_i, w_i]; the first sets the grid. */
  tensors: string[];
  /** Also feed the head the normalised image, resized to the grid (colour at the head's resolution). */
  withImage: boolean;
  /**
   * Also two planes of position, x and y in [-1, 1] over the grid (a 2 x 2 constant resized to the grid, so
   * it needs no shape arithmetic): a head can then tell the person's sky-blue shirt from the sky by where it
   * is. The constant has batch 1, so such an extractor takes one image at a time.
   */
  withCoordinates?: boolean;
}

export interface HeadOptions {
  /** Channels of `features`. */
  inChannels: number;
  classes: number;
  /** Channels of the hidden layer. */
  hidden: number;
  /** Kernel size of the first conv (odd; padded to keep the grid). */
  kernel: number;
  /** Seed of the initial weights (PyTorch's default Conv init: uniform in +-1/sqrt(fan_in)). */
  seed: number;
}

export interface TaughtModelInfo {
  classes: string[];
  palette: [number, number, number][];
  mean: number[];
  std: number[];
}

function valueInfo(name: string, dims: (number | string)[]): IValueInfo {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

function int64s(name: string, values: number[]): ITensor {
  return { name, dims: [values.length], dataType: INT64, int64Data: values };
}

function floats(name: string, dims: number[], values: Float32Array): ITensor {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)) };
}

function node(opType: string, name: string, input: string[], output: string[], attribute: onnxProto.onnx.IAttributeProto[] = []): INode {
  return { opType, name, input, output, attribute };
}

function decode(bytes: Uint8Array, what: string): IModel {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new Error(`${what}: not an ONNX model (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** The encoded model in a buffer of its own (protobufjs may hand out a view of a shared pool in Node), so it can be transferred. */
function encode(model: IModel): Uint8Array {
  const bytes = onnx.ModelProto.encode(model).finish();
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

/**
 * Nodes resizing `x` to the spatial size of `like` (bilinear, half_pixel, sizes read at run time, so any
 * input size works): [N, C] of x, [h, w] of like.
 */
function resizeLike(prefix: string, x: string, like: string): { nodes: INode[]; inits: ITensor[]; output: string } {
  const out = `${prefix}/resized`;
  return {
    nodes: [
      node('Shape', `${prefix}/Shape_x`, [x], [`${prefix}/shape_x`]),
      node('Slice', `${prefix}/Slice_nc`, [`${prefix}/shape_x`, `${prefix}/zero`, `${prefix}/two`], [`${prefix}/nc`]),
      node('Shape', `${prefix}/Shape_like`, [like], [`${prefix}/shape_like`]),
      node('Slice', `${prefix}/Slice_hw`, [`${prefix}/shape_like`, `${prefix}/two`, `${prefix}/four`], [`${prefix}/hw`]),
      node('Concat', `${prefix}/Concat_sizes`, [`${prefix}/nc`, `${prefix}/hw`], [`${prefix}/sizes`], [{ name: 'axis', type: A.INT, i: 0 }]),
      node('Resize', `${prefix}/Resize`, [x, '', '', `${prefix}/sizes`], [out], [
        { name: 'mode', type: A.STRING, s: new TextEncoder().encode('linear') },
        { name: 'coordinate_transformation_mode', type: A.STRING, s: new TextEncoder().encode('half_pixel') },
      ]),
    ],
    inits: [int64s(`${prefix}/zero`, [0]), int64s(`${prefix}/two`, [2]), int64s(`${prefix}/four`, [4])],
    output: out,
  };
}

/** The nodes of `graph` that `targets` depend on, in the graph's order. */
function nodesFor(graph: onnxProto.onnx.IGraphProto, targets: string[], what: string): INode[] {
  const producer = new Map<string, number>();
  const nodes = graph.node ?? [];
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => producer.set(o, i)));
  const keep = new Set<number>();
  const todo = [...targets];
  for (const t of targets) if (!producer.has(t)) throw new Error(`${what}: no node of the model outputs ${JSON.stringify(t)}`);
  while (todo.length) {
    const i = producer.get(todo.pop()!);
    if (i === undefined || keep.has(i)) continue;
    keep.add(i);
    todo.push(...(nodes[i]!.input ?? []).filter(Boolean));
  }
  return nodes.filter((_, i) => keep.has(i));
}

/** `base` cut after `options.tensors`: input `image` as base has it, output FEATURES. */
export function buildFeatureExtractor(base: Uint8Array, options: ExtractorOptions): Uint8Array {
  const what = 'buildFeatureExtractor';
  if (!Array.isArray(options.tensors) || options.tensors.length === 0) throw new Error(`${what}: options.tensors must name at least one tensor, got ${JSON.stringify(options.tensors)}`);
  const model = decode(base, `${what}: base`);
  const graph = model.graph!;
  const initNames = new Set((graph.initializer ?? []).map((t) => t.name!));
  const imageInput = (graph.input ?? []).find((i) => !initNames.has(i.name!));
  if (!imageInput) throw new Error(`${what}: the base model has no input`);
  const image = imageInput.name!;
  const nodes = nodesFor(graph, options.tensors, what);
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  const inits = (graph.initializer ?? []).filter((t) => used.has(t.name!));
  const extra: INode[] = [];
  const extraInits: ITensor[] = [];
  // Every feature as float32 (a float16 model's tensors are cast; a Cast of float32 to itself is a copy).
  const [grid, ...rest] = options.tensors.map((t, i) => {
    const out = `/teach/float_${i}`;
    extra.push(node('Cast', `/teach/Cast_${i}`, [t], [out], [{ name: 'to', type: A.INT, i: FLOAT }]));
    return out;
  });
  const parts = [grid!];
  const toResize = [...rest, ...(options.withImage ? [image] : [])];
  toResize.forEach((t, i) => {
    const r = resizeLike(`/teach/features_${i}`, t, grid!);
    extra.push(...r.nodes);
    extraInits.push(...r.inits);
    parts.push(r.output);
  });
  if (options.withCoordinates) {
    const corners = new Float32Array([-1, 1, -1, 1, -1, -1, 1, 1]);
    extraInits.push(floats('/teach/corners', [1, 2, 2, 2], corners));
    const r = resizeLike('/teach/coordinates', '/teach/corners', grid!);
    extra.push(...r.nodes);
    extraInits.push(...r.inits);
    parts.push(r.output);
  }
  extra.push(node('Concat', '/teach/Concat_features', parts, [FEATURES], [{ name: 'axis', type: A.INT, i: 1 }]));
  return encode({
    ...model,
    metadataProps: [],
    graph: {
      name: 'teach_features',
      node: [...nodes, ...extra],
      initializer: [...inits, ...extraInits],
      input: [imageInput],
      output: [valueInfo(FEATURES, ['N', 'F', 'h', 'w'])],
      valueInfo: [],
    },
  });
}

function uniform(n: number, bound: number, random: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * bound;
  return out;
}

/** Initializer names of the head, the parameters the trainer tunes. */
export const HEAD_PARAMETERS = ['head.conv1.weight', 'head.conv1.bias', 'head.conv2.weight', 'head.conv2.bias'] as const;

/** FEATURES [N, F, h, w] -> Conv k x k (hidden) -> Relu -> Conv 1x1 (classes) -> `logits` [N, K, h, w]. */
export function buildHead(options: HeadOptions): Uint8Array {
  const { inChannels: f, classes: k, hidden, kernel, seed } = options;
  const check = (name: string, v: number, ok: boolean, want: string) => {
    if (!ok) throw new Error(`buildHead: options.${name} must be ${want}, got ${JSON.stringify(v)}`);
  };
  check('inChannels', f, Number.isInteger(f) && f >= 1, 'a positive integer');
  check('classes', k, Number.isInteger(k) && k >= 2, 'an integer >= 2');
  check('hidden', hidden, Number.isInteger(hidden) && hidden >= 1, 'a positive integer');
  check('kernel', kernel, Number.isInteger(kernel) && kernel >= 1 && kernel % 2 === 1, 'an odd positive integer');
  check('seed', seed, Number.isInteger(seed), 'an integer');
  const random = seededRandom(seed);
  const fan1 = f * kernel * kernel;
  const pad = (kernel - 1) / 2;
  const [w1, b1, w2, b2] = HEAD_PARAMETERS;
  return encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'segment-core teach',
    graph: {
      name: 'teach_head',
      node: [
        node('Conv', '/head/conv1', [FEATURES, w1, b1], ['/head/conv1_out'], [
          { name: 'kernel_shape', type: A.INTS, ints: [kernel, kernel] },
          { name: 'pads', type: A.INTS, ints: [pad, pad, pad, pad] },
        ]),
        node('Relu', '/head/relu', ['/head/conv1_out'], ['/head/relu_out']),
        node('Conv', '/head/conv2', ['/head/relu_out', w2, b2], ['logits'], [{ name: 'kernel_shape', type: A.INTS, ints: [1, 1] }]),
      ],
      initializer: [
        floats(w1, [hidden, f, kernel, kernel], uniform(hidden * fan1, 1 / Math.sqrt(fan1), random)),
        floats(b1, [hidden], uniform(hidden, 1 / Math.sqrt(fan1), random)),
        floats(w2, [k, hidden, 1, 1], uniform(k * hidden, 1 / Math.sqrt(hidden), random)),
        floats(b2, [k], uniform(k, 1 / Math.sqrt(hidden), random)),
      ],
      input: [valueInfo(FEATURES, ['N', f, 'h', 'w'])],
      output: [valueInfo('logits', ['N', k, 'h', 'w'])],
    },
  });
}

/**
 * The extractor and a (tuned) head as one model: `image` -> `logits` [N, K, H, W], the head's scores
 * resized (bilinear, half_pixel) to the input's size, as the built-in model's output is. The metadata
 * carries the classes, palette and normalisation, so the page (or segment-node) decodes it unaided.
 */
export function spliceTaughtModel(extractor: Uint8Array, head: Uint8Array, info: TaughtModelInfo): Uint8Array {
  const ex = decode(extractor, 'spliceTaughtModel: extractor');
  const hd = decode(head, 'spliceTaughtModel: head');
  const exGraph = ex.graph!;
  const hdGraph = hd.graph!;
  if (!(exGraph.output ?? []).some((o) => o.name === FEATURES)) throw new Error(`spliceTaughtModel: the extractor has no output ${JSON.stringify(FEATURES)}`);
  if (!(hdGraph.input ?? []).some((i) => i.name === FEATURES)) throw new Error(`spliceTaughtModel: the head has no input ${JSON.stringify(FEATURES)}`);
  const headOut = hdGraph.output?.[0]?.name;
  if (!headOut) throw new Error('spliceTaughtModel: the head has no output');
  const classes = Number(hdGraph.output![0]!.type?.tensorType?.shape?.dim?.[1]?.dimValue ?? 0);
  if (classes !== info.classes.length) throw new Error(`spliceTaughtModel: the head scores ${classes} classes but info.classes names ${info.classes.length}`);
  // The head's tensors get a prefix so no name can meet one of the extractor's.
  const rename = (name: string) => (name === FEATURES || name === '' ? name : `teach_head/${name}`);
  const headNodes = (hdGraph.node ?? []).map((n) => ({ ...n, input: (n.input ?? []).map(rename), output: (n.output ?? []).map(rename) }));
  const headInits = (hdGraph.initializer ?? []).map((t) => ({ ...t, name: rename(t.name!) }));
  const image = exGraph.input![0]!.name!;
  const up = resizeLike('/teach/upsample', rename(headOut), image);
  const last = up.nodes[up.nodes.length - 1]!;
  last.output = ['logits'];
  return encode({
    ...ex,
    producerName: 'atrous segment-web teach mode',
    metadataProps: [
      { key: 'classes', value: JSON.stringify(info.classes) },
      { key: 'palette', value: JSON.stringify(info.palette) },
      { key: 'mean', value: JSON.stringify(info.mean) },
      { key: 'std', value: JSON.stringify(info.std) },
    ],
    graph: {
      name: 'taught',
      node: [...(exGraph.node ?? []), ...headNodes, ...up.nodes],
      initializer: [...(exGraph.initializer ?? []), ...headInits, ...up.inits],
      input: exGraph.input,
      output: [valueInfo('logits', ['N', classes, 'H', 'W'])],
      valueInfo: [],
    },
  });
}
