import { AtrousError, show } from '../errors.js';
import { foldConstants } from './constant-folding.js';
import { nodeLabel, type GraphIR, type NodeIR } from './graph.js';
import { parseModel } from './model-parser.js';
import { isTfliteModel } from '../tflite/file-identifier.js';
import { importTflite } from '../tflite/importer.js';
import { optimizeGraph, type OptimizerReport } from './optimizer.js';
import { consumedInputs, type NodeState } from './ops/op.js';
import { opFor } from './ops/registry.js';
import { shapeFeedsFor } from './shape-feeds.js';
import { specialize } from './shape-inference.js';
import type { RunEnv } from './value.js';

/** The bytes of a model given as bytes, an ArrayBuffer, or (in Node) a file path. */
export async function readModel(model: unknown): Promise<Uint8Array> {
  if (model instanceof Uint8Array) return model;
  if (model instanceof ArrayBuffer) return new Uint8Array(model);
  if (typeof model === 'string') {
    const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
    if (!isNode) {
      throw new AtrousError('INVALID_ARGUMENT', `InferenceSession.create: a path (${show(model)}) can be read in Node only; pass the model's bytes`);
    }
    // A computed specifier keeps bundlers from pulling node:fs into browser builds.
    const fsModule = 'node:fs/promises';
    const { readFile } = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
    try {
      return new Uint8Array(await readFile(model));
    } catch (cause) {
      throw new AtrousError('INVALID_ARGUMENT', `InferenceSession.create: cannot read the model file ${show(model)}: ${(cause as Error).message}`);
    }
  }
  throw new AtrousError('INVALID_ARGUMENT', `InferenceSession.create: model must be a Uint8Array, an ArrayBuffer or (in Node) a path, got ${show(model)}`);
}

/** Rejects at load what no input dims could make runnable: ops atrous does not have. */
function checkOps(graph: GraphIR): void {
  for (const node of graph.nodes) {
    if (node.domain !== '' && node.domain !== 'ai.onnx') {
      throw new AtrousError('UNSUPPORTED_OP', `${nodeLabel(node)}: ops of domain ${show(node.domain)} are not supported (op type ${show(node.opType)})`);
    }
    if (!opFor(node)) {
      throw new AtrousError('UNSUPPORTED_OP', `op type ${show(node.opType)} (node ${show(node.name)}) is not supported by atrous`);
    }
  }
}

/** What a symbolic dim stands for when a dynamic model is checked at load: divisible by the usual strides. */
const PROBE_DIM = 64;

/**
 * A model with symbolic input dims is specialized at run, once the dims are known. To refuse an op
 * attribute atrous lacks (a cubic Resize, a data-dependent shape) at load all the same, the graph is walked
 * once with stand-in dims; errors that only the stand-in dims cause are ignored.
 */
export function probeUnsupported(graph: GraphIR, states: Map<NodeIR, NodeState>, env: RunEnv): void {
  const dims = new Map(graph.inputs.map((v) => [v.name, (v.dims ?? []).map((d) => (typeof d === 'number' ? d : PROBE_DIM))]));
  if (graph.inputs.some((v) => v.dims === undefined)) return; // not even the rank is known
  try {
    specialize(graph, states, dims, env);
  } catch (e) {
    // A value a shape feed will give at run time is no refusal.
    if (e instanceof AtrousError && (e.code === 'UNSUPPORTED_OP' || e.code === 'UNSUPPORTED') && !shapeFeedsFor(graph, e)) throw e;
  }
}

/** A parsed, folded, optimized graph with every node's load-time state (packed weights). */
export interface LoadedGraph {
  graph: GraphIR;
  states: Map<NodeIR, NodeState>;
  report: OptimizerReport;
}

/**
 * Everything `create` does before the first shape is known: parse, refuse what atrous lacks, fold
 * constants, optimize, and run each op's load hook (weights packed once). On failure nothing stays
 * allocated.
 */
export function loadGraph(bytes: Uint8Array, env: RunEnv): LoadedGraph {
  const states = new Map<NodeIR, NodeState>();
  try {
    // A .tflite file ("TFL3" at byte 4) is imported into the same graph IR as ONNX.
    const graph = isTfliteModel(bytes) ? importTflite(bytes) : parseModel(bytes);
    checkOps(graph);
    foldConstants(graph, env);
    const report = optimizeGraph(graph);
    const consumed = new Set<string>();
    for (const node of graph.nodes) {
      const definition = opFor(node)!;
      if (!definition.load) continue;
      const state = definition.load({ node, opset: graph.opset, engine: env.engine, consts: graph.initializers });
      states.set(node, state);
      for (const i of consumedInputs(definition, state)) if (node.inputs[i]) consumed.add(node.inputs[i]!);
    }
    // Packed weights now live in wasm memory; the parsed copies can go unless another op reads them.
    const readByOthers = new Set(graph.nodes.filter((n) => !states.has(n)).flatMap((n) => n.inputs));
    for (const name of graph.outputs.map((o) => o.name)) readByOthers.add(name);
    for (const name of consumed) if (!readByOthers.has(name)) graph.initializers.delete(name);
    return { graph, states, report };
  } catch (e) {
    for (const k of states.values()) k.dispose();
    throw e;
  }
}

