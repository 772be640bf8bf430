import { attrInt, attrInts, attrString } from './attributes.js';
import type { GraphIR, NodeIR } from './graph.js';

/**
 * Decoders upsample and then mix channels: `Conv1x1(Resize(x))`. A 1x1 convolution maps channels at each
 * pixel and an upsampling Resize (linear or nearest) maps pixels within each channel with weights that sum
 * to 1, so they commute, bias included: `Resize(Conv1x1(x))` is the same function. Run that way the
 * convolution works on the smaller map and the Resize moves the conv's output channels instead of its
 * inputs. The rewrite is made only when it cannot cost more: spatial scales >= 1 (known from constant
 * `scales`) and no more output channels than input channels.
 *
 * Only a plain Conv is moved (no activation or residual fused yet: this runs before the epilogue fusions,
 * and those then stay after the Resize, where they were), and only when nothing else reads the Resize.
 * Returns how many convs were moved.
 */
export function moveChannelMapsBeforeResize(graph: GraphIR): number {
  if (graph.opset < 11) return 0; // Resize's scales are input 2 from opset 11
  const consts = graph.initializers;
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const producer = new Map<string, NodeIR>();
  const readers = new Map<string, number>();
  for (const node of graph.nodes) {
    for (const o of node.outputs) producer.set(o, node);
    for (const i of new Set(node.inputs)) if (i !== '') readers.set(i, (readers.get(i) ?? 0) + 1);
  }
  let moved = 0;
  for (const conv of [...graph.nodes]) {
    if (conv.opType !== 'Conv' || conv.domain !== '' || conv.outputs.length !== 1 || conv.inputs.length > 3) continue;
    const w = consts.get(conv.inputs[1] ?? '');
    if (!w || w.type !== 'float32' || w.dims.length !== 4 || w.dims[2] !== 1 || w.dims[3] !== 1) continue;
    if (conv.inputs[2] && !consts.has(conv.inputs[2])) continue;
    if (attrInt(conv, 'group', 1) !== 1) continue;
    if (!attrInts(conv, 'strides', [1, 1]).every((s) => s === 1)) continue;
    if (!attrInts(conv, 'pads', [0, 0, 0, 0]).every((p) => p === 0)) continue;
    if (w.dims[0]! > w.dims[1]!) continue;
    const resize = producer.get(conv.inputs[0] ?? '');
    if (!resize || !isUpsamplingResize(resize, graph)) continue;
    const between = resize.outputs[0]!;
    if (outputs.has(between) || readers.get(between) !== 1) continue;

    // x -> Resize -> between -> Conv -> y  becomes  x -> Conv -> fresh -> Resize -> y.
    const y = conv.outputs[0]!;
    let fresh = `${y}/before_resize`;
    for (let k = 1; producer.has(fresh) || consts.has(fresh); k++) fresh = `${y}/before_resize#${k}`;
    conv.inputs[0] = resize.inputs[0]!;
    conv.outputs = [fresh];
    resize.inputs[0] = fresh;
    resize.outputs = [y];
    producer.set(fresh, conv);
    producer.set(y, resize);
    // The conv reads only x and constants, so it can run where the Resize ran, the Resize right after it.
    const nodes = graph.nodes.filter((n) => n !== conv);
    nodes.splice(nodes.indexOf(resize), 0, conv);
    graph.nodes = nodes;
    moved++;
  }
  return moved;
}

/** A Resize by constant scales [1, 1, >= 1, >= 1], linear or nearest, that samples inside the input. */
function isUpsamplingResize(node: NodeIR, graph: GraphIR): boolean {
  if (node.opType !== 'Resize' || node.domain !== '' || node.outputs.length !== 1) return false;
  const mode = attrString(node, 'mode', 'nearest');
  if (mode !== 'linear' && mode !== 'nearest') return false;
  // tf_crop_and_resize fills outside the crop with extrapolation_value: not a weighted sum of inputs.
  if (attrString(node, 'coordinate_transformation_mode', 'half_pixel') === 'tf_crop_and_resize') return false;
  if (node.attributes.has('axes') || attrInt(node, 'antialias', 0) !== 0) return false;
  if (node.inputs[3]) return false; // sizes: the input size, so whether this upsamples, is not known here
  const scales = graph.initializers.get(node.inputs[2] ?? '');
  if (!scales || scales.type !== 'float32' || scales.data.length !== 4) return false;
  const s = Array.from(scales.data as Float32Array);
  return s[0] === 1 && s[1] === 1 && s[2]! >= 1 && s[3]! >= 1;
}
