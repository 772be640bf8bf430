import { AtrousError, show } from '../errors.js';
import type { HostTensor } from './data-types.js';
import { nodeLabel, type NodeIR } from './graph.js';

function bad(node: NodeIR, name: string, want: string, got: unknown): AtrousError {
  return new AtrousError('INVALID_MODEL', `${nodeLabel(node)}: attribute ${show(name)} must be ${want}, got ${show(got)}`);
}

export function hasAttr(node: NodeIR, name: string): boolean {
  return node.attributes.has(name);
}

export function attrInt(node: NodeIR, name: string, fallback?: number): number {
  const v = node.attributes.get(name);
  if (v === undefined) {
    if (fallback === undefined) throw new AtrousError('INVALID_MODEL', `${nodeLabel(node)}: attribute ${show(name)} is required`);
    return fallback;
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(node, name, 'an integer', v);
  return v;
}

export function attrFloat(node: NodeIR, name: string, fallback?: number): number {
  const v = node.attributes.get(name);
  if (v === undefined) {
    if (fallback === undefined) throw new AtrousError('INVALID_MODEL', `${nodeLabel(node)}: attribute ${show(name)} is required`);
    return fallback;
  }
  if (typeof v !== 'number') throw bad(node, name, 'a number', v);
  return v;
}

export function attrString(node: NodeIR, name: string, fallback?: string): string {
  const v = node.attributes.get(name);
  if (v === undefined) {
    if (fallback === undefined) throw new AtrousError('INVALID_MODEL', `${nodeLabel(node)}: attribute ${show(name)} is required`);
    return fallback;
  }
  if (typeof v !== 'string') throw bad(node, name, 'a string', v);
  return v;
}

export function attrInts(node: NodeIR, name: string): number[] | undefined;
export function attrInts(node: NodeIR, name: string, fallback: number[]): number[];
export function attrInts(node: NodeIR, name: string, fallback?: number[]): number[] | undefined {
  const v = node.attributes.get(name);
  if (v === undefined) return fallback;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isInteger(x))) throw bad(node, name, 'a list of integers', v);
  return v as number[];
}

export function attrFloats(node: NodeIR, name: string): number[] | undefined {
  const v = node.attributes.get(name);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) throw bad(node, name, 'a list of numbers', v);
  return v as number[];
}

export function attrTensor(node: NodeIR, name: string): HostTensor | undefined {
  const v = node.attributes.get(name);
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || !('data' in v)) throw bad(node, name, 'a tensor', v);
  return v;
}
