import type { Tensor } from '../tensor.js';
import { allocData, sizeOf, type HostData, type HostTensor } from '../onnx/data-types.js';
import { runStep } from '../onnx/run-step.js';
import type { Program } from '../onnx/shape-inference.js';
import { elemBytes, residesInWasm, wasmValue, type RunEnv, type Value } from '../onnx/value.js';
import type { StepBuffers } from './buffers.js';

/** The storage a value lives in: views (Reshape, Flatten...) share their source's. */
export function rootOf(program: Program, name: string): string {
  let n = name;
  for (let next = program.viewOf.get(n); next !== undefined; next = program.viewOf.get(n)) n = next;
  return n;
}

/**
 * One forward pass over `program` on the same op implementations a session runs, each value in a buffer of
 * its own, freed after its last reader, except those in `keep` (storage name -> how many backward steps
 * will read it) and `output`: those stay, and their addresses are returned. So frozen layers' activations
 * are gone by the time the loss is computed, unless a trained layer's backward needs one.
 */
export function runForward(
  env: RunEnv,
  program: Program,
  buffers: StepBuffers,
  inputNames: readonly string[],
  feeds: Record<string, Tensor>,
  keep: ReadonlyMap<string, number>,
  output: string,
): Map<string, number> {
  const e = env.engine;
  const where = new Map<string, number>();
  const host = new Map<string, HostData>();
  const uses = new Map<string, number>();
  const use = (root: string, by = 1) => uses.set(root, (uses.get(root) ?? 0) + by);
  for (const step of program.steps) for (const name of new Set(step.inputs)) if (name !== '' && !program.consts.has(rootOf(program, name))) use(rootOf(program, name));
  const outputRoot = rootOf(program, output);
  const held = new Set([...keep.keys(), outputRoot]);
  const constPtrs = new Map<HostTensor, number>();
  const place = (root: string): number => {
    const meta = program.metas.get(root)!;
    const ptr = buffers.alloc(Math.ceil((sizeOf(meta.dims) * elemBytes(meta.type)) / 4), `training forward: ${root}`);
    where.set(root, ptr);
    return ptr;
  };
  const valueOf = (name: string): Value => {
    const root = rootOf(program, name);
    const meta = program.metas.get(name)!;
    const c = program.consts.get(root);
    if (c) {
      if (!residesInWasm(c.type)) return { ...c, dims: meta.dims, ptr: 0 };
      let ptr = constPtrs.get(c);
      if (ptr === undefined) {
        ptr = buffers.alloc(Math.ceil((sizeOf(c.dims) * elemBytes(c.type)) / 4), `training forward: constant ${root}`);
        wasmValue(e, c.type, c.dims, ptr).data.set(c.data as ArrayLike<number> & Float32Array);
        constPtrs.set(c, ptr);
      }
      return wasmValue(e, meta.type, meta.dims, ptr);
    }
    if (!residesInWasm(meta.type)) {
      let data = host.get(root);
      if (!data) host.set(root, (data = allocData(meta.type, sizeOf(meta.dims))));
      return { type: meta.type, dims: meta.dims, data, ptr: 0 };
    }
    return wasmValue(e, meta.type, meta.dims, where.get(root) ?? place(root));
  };
  for (const name of inputNames) {
    if (program.consts.has(name)) continue;
    const feed = feeds[name]!;
    const v = valueOf(name);
    if (feed.type === 'int64') (v.data as Float64Array).set(Float64Array.from(feed.data as BigInt64Array, Number));
    else v.data.set(feed.data as ArrayLike<number>);
  }
  for (const step of program.steps) {
    runStep(step, valueOf, env);
    for (const name of new Set(step.inputs)) {
      const root = name === '' ? '' : rootOf(program, name);
      if (!uses.has(root)) continue;
      const left = uses.get(root)! - 1;
      uses.set(root, left);
      if (left === 0 && !held.has(root) && where.has(root)) {
        buffers.free(where.get(root)!);
        where.delete(root);
      }
    }
  }
  for (const ptr of constPtrs.values()) buffers.free(ptr);
  // Values no step read (dead outputs) go too.
  for (const [root, ptr] of where) if (!held.has(root)) { buffers.free(ptr); where.delete(root); }
  return where;
}
