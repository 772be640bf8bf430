// The models the page offers: the built-in one and ISNet (shipped beside the page when present at build
// time), and any .onnx the user drops.
import { ISNET_SPEC, SELFIE_SPEC, parseModelSpec, readOnnxMetadata, type ModelSpec } from 'segment-core';

export type ModelId = 'default' | 'isnet' | 'selfie' | 'custom';

export interface ModelSource {
  id: ModelId;
  label: string;
  bytes: Uint8Array;
  /** The model's own description; undefined for a dropped .onnx (made from its output and metadata). */
  spec?: ModelSpec;
  metadata: Record<string, string>;
}

export interface Availability {
  default: boolean;
  isnet: boolean;
  selfie: boolean;
}

const base = import.meta.env.BASE_URL;

export async function availableModels(): Promise<Availability> {
  try {
    const response = await fetch(`${base}models/index.json`);
    if (response.ok) return (await response.json()) as Availability;
  } catch {
    // no index: nothing bundled
  }
  return { default: false, isnet: false, selfie: false };
}

async function fetchBytes(url: string, onProgress?: (fraction: number) => void): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`${url}: HTTP ${response.status}`);
  const total = Number(response.headers.get('content-length')) || 0;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    if (total) onProgress?.(received / total);
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

export async function fetchModel(id: 'default' | 'isnet' | 'selfie', onProgress?: (fraction: number) => void): Promise<ModelSource> {
  if (id === 'default') {
    const [bytes, json] = await Promise.all([
      fetchBytes(`${base}models/default/model.onnx`, onProgress),
      fetch(`${base}models/default/model.json`).then((r) => r.json() as Promise<unknown>),
    ]);
    const spec = parseModelSpec(json, 'models/default/model.json');
    return { id, label: `Built-in · ${spec.name}`, bytes, spec, metadata: readOnnxMetadata(bytes) };
  }
  if (id === 'selfie') {
    const bytes = await fetchBytes(`${base}models/selfie/selfie_segmentation.tflite`, onProgress);
    return { id, label: SELFIE_SPEC.name, bytes, spec: SELFIE_SPEC, metadata: {} };
  }
  const bytes = await fetchBytes(`${base}models/isnet_fp16.onnx`, onProgress);
  return { id, label: ISNET_SPEC.name, bytes, spec: ISNET_SPEC, metadata: {} };
}

export async function modelFromFile(file: File): Promise<ModelSource> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  return { id: 'custom', label: file.name, bytes, metadata: readOnnxMetadata(bytes) };
}
