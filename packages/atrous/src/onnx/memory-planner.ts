import { attrInt } from './attributes.js';
import { sizeOf } from './data-types.js';
import type { Program, Step } from './shape-inference.js';
import { elemBytes, residesInWasm } from './value.js';

/** Where each value of a run lives. */
export interface MemoryPlan {
  /** Byte offset in the arena of every wasm-resident value (float32, bool, uint8; a view has its base's offset). */
  offsets: Map<string, number>;
  /** Size of the arena: the peak of simultaneously live activations, after sharing. */
  arenaBytes: number;
  /** What the same activations would take if none shared memory. */
  unsharedBytes: number;
  /** Values held on the JavaScript side instead (integers: shapes, indices, ArgMax results). */
  hostValues: Set<string>;
  /** Concat steps whose inputs were written in place into their output: nothing to run. */
  inPlace: Set<Step>;
}

const ALIGN = 64;

interface Buffer {
  name: string;
  bytes: number;
  first: number; // step that writes it first (-1: a graph input, written before the first step)
  last: number; // last step that reads it (steps.length: a graph output, read after the last)
  offset: number;
}

/** The value whose storage `name` uses (itself unless it is a view). */
export function storageOf(program: Program, name: string): string {
  let n = name;
  for (let v = program.viewOf.get(n); v !== undefined; v = program.viewOf.get(n)) n = v;
  return n;
}

/**
 * Concatenations along an axis with nothing before it (`[1, C, H, W]` on channels) need no copy: each
 * input is a contiguous slice of the output, so its producer can write it there. Returns, per input
 * storage, the concat output holding it and the byte offset of its slice. All inputs of a concat qualify
 * or none does: each must be written by a step of this run (not a graph input or constant), once, and
 * belong to no other concat.
 */
function planInPlaceConcats(program: Program, inputNames: readonly string[]): { parents: Map<string, { parent: string; offset: number }>; steps: Set<Step> } {
  const parents = new Map<string, { parent: string; offset: number }>();
  const steps = new Set<Step>();
  const written = new Set(program.steps.flatMap((s) => s.outputs));
  const graphInputs = new Set(inputNames);
  for (const step of program.steps) {
    if (step.node.opType !== 'Concat') continue;
    const out = program.metas.get(step.outputs[0]!)!;
    if (out.type !== 'float32') continue;
    const rank = out.dims.length;
    const rawAxis = attrInt(step.node, 'axis', 0);
    const axis = rawAxis < 0 ? rawAxis + rank : rawAxis;
    if (sizeOf(out.dims.slice(0, axis)) !== 1) continue;
    const bases = step.inputs.map((n) => storageOf(program, n));
    const ok = bases.every(
      (b, i) =>
        written.has(b) && !graphInputs.has(b) && !program.consts.has(b) && !parents.has(b) && b !== storageOf(program, step.outputs[0]!) &&
        bases.indexOf(b) === i && program.metas.get(b)!.type === 'float32',
    );
    if (!ok) continue;
    let offset = 0;
    step.inputs.forEach((n, i) => {
      parents.set(bases[i]!, { parent: step.outputs[0]!, offset });
      offset += sizeOf(program.metas.get(n)!.dims) * 4;
    });
    steps.add(step);
  }
  return { parents, steps };
}

/**
 * Assigns arena offsets so that values whose lifetimes overlap never share bytes, and values whose
 * lifetimes do not may: the greedy "largest first, lowest free offset" placement, which lands within a
 * few percent of the live-set peak on CNN graphs.
 */
export function planMemory(program: Program, inputNames: readonly string[], outputNames: readonly string[]): MemoryPlan {
  const { parents, steps: inPlace } = planInPlaceConcats(program, inputNames);
  /** The arena buffer a value lives in and its byte offset inside it. */
  const locate = (name: string): { root: string; delta: number } => {
    let root = storageOf(program, name);
    let delta = 0;
    for (let p = parents.get(root); p !== undefined; p = parents.get(root)) {
      delta += p.offset;
      root = storageOf(program, p.parent);
    }
    return { root, delta };
  };
  const buffers = new Map<string, Buffer>();
  const hostValues = new Set<string>();
  const define = (name: string, step: number) => {
    if (name === '' || program.consts.has(name)) return;
    const meta = program.metas.get(name)!;
    if (!residesInWasm(meta.type)) {
      hostValues.add(name);
      return;
    }
    const { root } = locate(name);
    const rootMeta = program.metas.get(root)!;
    const b = buffers.get(root);
    if (b) b.first = Math.min(b.first, step);
    else buffers.set(root, { name: root, bytes: Math.max(ALIGN, Math.ceil((sizeOf(rootMeta.dims) * elemBytes(rootMeta.type)) / ALIGN) * ALIGN), first: step, last: step, offset: 0 });
  };
  const use = (name: string, step: number) => {
    if (name === '' || program.consts.has(name)) return;
    const b = buffers.get(locate(name).root);
    if (b) b.last = Math.max(b.last, step);
  };
  for (const name of inputNames) define(name, -1);
  program.steps.forEach((step, i) => {
    for (const out of step.outputs) define(out, i);
    for (const input of step.inputs) use(input, i);
  });
  // Views of integer values stay on the host with their base.
  for (const [view, base] of program.viewOf) if (hostValues.has(storageOf(program, base))) hostValues.add(view);
  for (const name of outputNames) use(name, program.steps.length);

  const placed: Buffer[] = [];
  let arenaBytes = 0;
  let unsharedBytes = 0;
  for (const b of [...buffers.values()].sort((x, y) => y.bytes - x.bytes || x.first - y.first)) {
    unsharedBytes += b.bytes;
    const clashes = placed.filter((p) => p.first <= b.last && b.first <= p.last).sort((x, y) => x.offset - y.offset);
    let offset = 0;
    for (const p of clashes) {
      if (offset + b.bytes <= p.offset) break;
      offset = Math.max(offset, p.offset + p.bytes);
    }
    b.offset = offset;
    placed.push(b);
    arenaBytes = Math.max(arenaBytes, offset + b.bytes);
  }
  const offsets = new Map<string, number>();
  const all = new Set([...inputNames, ...program.steps.flatMap((s) => s.outputs), ...program.viewOf.keys()]);
  for (const name of all) {
    if (name === '' || program.consts.has(name)) continue;
    const { root, delta } = locate(name);
    const b = buffers.get(root);
    if (b) offsets.set(name, b.offset + delta);
  }
  return { offsets, arenaBytes, unsharedBytes, hostValues, inPlace };
}
