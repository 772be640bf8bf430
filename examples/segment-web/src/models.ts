// The models the page offers: the built-in one, ISNet and the two person models (shipped beside the page
// when present at build time), and any .onnx the user drops.
import { ISNET_SPEC, SELFIE_LANDSCAPE_SPEC, SELFIE_SPEC, parseModelSpec, readOnnxMetadata, type ModelSpec } from 'segment-core';

export type ModelId = 'default' | 'isnet' | PersonModelId | 'custom';

/** MediaPipe's selfie segmenters: 256 x 256, and 256 x 144 for wide frames. */
export type PersonModelId = 'selfie' | 'selfie-landscape';

export const PERSON_MODELS: Record<PersonModelId, { file: string; spec: ModelSpec }> = {
  selfie: { file: 'selfie_segmentation.tflite', spec: SELFIE_SPEC },
  'selfie-landscape': { file: 'selfie_segmentation_landscape.tflite', spec: SELFIE_LANDSCAPE_SPEC },
};

export function isPersonModel(id: string): id is PersonModelId {
  return id in PERSON_MODELS;
}

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
  'selfie-landscape': boolean;
}

const base = import.meta.env.BASE_URL;

export const NOTHING_BUNDLED: Availability = { default: false, isnet: false, selfie: false, 'selfie-landscape': false };

export async function availableModels(): Promise<Availability> {
  try {
    const response = await fetch(`${base}models/index.json`);
    if (response.ok) return { ...NOTHING_BUNDLED, ...((await response.json()) as Partial<Availability>) };
  } catch {
    // no index: nothing bundled
  }
  return NOTHING_BUNDLED;
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

export async function fetchModel(id: Exclude<ModelId, 'custom'>, onProgress?: (fraction: number) => void): Promise<ModelSource> {
  if (id === 'default') {
    const [bytes, json] = await Promise.all([
      fetchBytes(`${base}models/default/model.onnx`, onProgress),
      fetch(`${base}models/default/model.json`).then((r) => r.json() as Promise<unknown>),
    ]);
    const spec = parseModelSpec(json, 'models/default/model.json');
    return { id, label: `Built-in · ${spec.name}`, bytes, spec, metadata: readOnnxMetadata(bytes) };
  }
  if (isPersonModel(id)) {
    const { file, spec } = PERSON_MODELS[id];
    const bytes = await fetchBytes(`${base}models/selfie/${file}`, onProgress);
    return { id, label: spec.name, bytes, spec, metadata: {} };
  }
  const bytes = await fetchBytes(`${base}models/isnet_fp16.onnx`, onProgress);
  return { id, label: ISNET_SPEC.name, bytes, spec: ISNET_SPEC, metadata: {} };
}

export async function modelFromFile(file: File): Promise<ModelSource> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  return { id: 'custom', label: file.name, bytes, metadata: readOnnxMetadata(bytes) };
}
