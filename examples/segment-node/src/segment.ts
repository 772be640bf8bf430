// The Node side of the pipeline: decode -> resample -> worker pool -> decode scores -> mask and overlay.
import { AtrousError, createWorkerPool, Tensor, type PooledSession, type WasmBuild, type WorkerPool } from 'atrous';
import {
  chooseInputSize,
  decodeMask,
  probabilityAlpha,
  specForUnknownModel,
  type ClassMask,
  type ModelSpec,
  type RgbaImage,
} from 'segment-core';
import { resizeToRgb } from './image-files.js';
import type { ResolvedModel } from './models.js';

export { resolveModel, REPO_ROOT, DEFAULT_MODEL_DIR, ISNET_PATH, type ResolvedModel } from './models.js';

export interface SegmenterOptions {
  model: ResolvedModel;
  /** Worker threads, each with its own wasm instance and copy of the model. */
  workers: number;
  /** Long side (or side, for fixed-size models) of the model input; default: the model's own. */
  size?: number;
  /** Class names for a model that carries none. */
  classes?: string[];
  /** The wasm build every worker loads; default: the best the engine validates. */
  build?: WasmBuild;
}

export interface Segmentation {
  mask: ClassMask;
  spec: ModelSpec;
  /** [height, width] the model ran at. */
  inputSize: [number, number];
  /** Time in the pool (queue + transfer + inference), ms. */
  inferenceMs: number;
  /** For a person/foreground model (spec.view 'cutout'): the soft matte at the image's size, 0..255. */
  alpha?: Uint8Array;
}

/**
 * The model input for an image: [1, 3, H, W] at `size` ([height, width]), x = (pixel / 255 - mean) / std;
 * [1, H, W, 3] for an NHWC model (spec.layout, the TFLite selfie segmenter).
 * sharp (libvips) resizes; only the small resized image is walked here, to normalise it into planes.
 */
export async function rgbToTensor(image: RgbaImage, spec: ModelSpec, size: [number, number]): Promise<Tensor<'float32'>> {
  const [height, width] = size;
  const rgb = await resizeToRgb(image, width, height);
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  if (spec.layout === 'nhwc') {
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) out[3 * i + c] = rgb[3 * i + c] / (255 * spec.std[c]) - spec.mean[c] / spec.std[c];
    }
    return new Tensor('float32', out, [1, height, width, 3]);
  }
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * spec.std[c]);
    const offset = spec.mean[c] / spec.std[c];
    const base = c * plane;
    for (let i = 0; i < plane; i++) out[base + i] = rgb[3 * i + c] * scale - offset;
  }
  return new Tensor('float32', out, [1, 3, height, width]);
}

/** Segments images with one model loaded into every worker of an atrous worker pool. */
export class Segmenter {
  private specs = new Map<number, ModelSpec>();
  /** The wasm build the workers run (relaxed, simd128 or scalar). */
  readonly build: string;

  private constructor(
    private readonly pool: WorkerPool,
    private readonly session: PooledSession,
    private readonly options: SegmenterOptions,
    /** Input-side description (mean, std, size); for a bare .onnx the class list comes with the first output. */
    private readonly inputSpec: ModelSpec,
    build: string,
  ) {
    this.build = build;
  }

  static async create(options: SegmenterOptions): Promise<Segmenter> {
    const pool = await createWorkerPool({ size: options.workers, maxQueue: Math.max(16, options.workers * 4), ...(options.build ? { build: options.build } : {}) });
    try {
      const session = await pool.loadModel(options.model.bytes);
      const inputSpec = options.model.spec ?? specForUnknownModel({ name: options.model.label, outputChannels: 1, metadata: options.model.metadata, classNames: options.classes });
      return new Segmenter(pool, session, options, inputSpec, pool.stats().build ?? 'none');
    } catch (error) {
      await pool.terminate();
      throw error;
    }
  }

  /** The spec for an output with `channels` classes (the model's own, or one made for a bare .onnx). */
  private specFor(channels: number): ModelSpec {
    const known = this.options.model.spec;
    if (known) {
      const expected = known.output === 'probability' ? 1 : known.classes.length;
      if (channels !== expected) {
        throw new AtrousError('INVALID_SHAPE', `Segmenter: ${this.options.model.label} outputs ${channels} channels but its description names ${known.classes.length} classes`);
      }
      return known;
    }
    let spec = this.specs.get(channels);
    if (!spec) {
      const { model, classes } = this.options;
      spec = specForUnknownModel({ name: model.label, outputChannels: channels, metadata: model.metadata, classNames: classes });
      this.specs.set(channels, spec);
    }
    return spec;
  }

  async segment(image: RgbaImage, signal?: AbortSignal): Promise<Segmentation> {
    const inputSize = chooseInputSize(this.inputSpec, image.width, image.height, this.options.size);
    const input = await rgbToTensor(image, this.inputSpec, inputSize);
    const inputName = this.inputSpec.inputName ?? this.session.inputNames[0];
    const outputName = this.inputSpec.outputName ?? this.session.outputNames[0];
    const start = performance.now();
    // transfer: the input's buffer moves to the worker (it is not used again here).
    const outputs = await this.session.run({ [inputName]: input }, { signal, transfer: true });
    const inferenceMs = performance.now() - start;
    const scores = outputs[outputName];
    if (!scores || scores.type !== 'float32') {
      throw new AtrousError('INVALID_SHAPE', `Segmenter: the model gave no float32 output ${JSON.stringify(outputName)} (outputs: ${Object.keys(outputs).join(', ')})`);
    }
    const spec = this.specFor((this.inputSpec.layout === 'nhwc' ? scores.dims[3] : scores.dims[1]) ?? 1);
    const map = { data: scores.data as Float32Array, dims: scores.dims };
    const mask = decodeMask(map, spec, image.width, image.height);
    const alpha = spec.view === 'cutout' ? probabilityAlpha(map, spec, image.width, image.height) : undefined;
    return { mask, spec, inputSize, inferenceMs, alpha };
  }

  async close(): Promise<void> {
    await this.pool.terminate();
  }
}
