// The page's controller, over 400 lines for a reason: every control's handler shares the `ui` elements and the
// page `state`; the work itself lives elsewhere (pipeline-worker.ts, camera.ts, camera-compositor.ts, models.ts,
// teach.ts for teach mode).
import './style.css';
import * as Comlink from 'comlink';
import { AtrousError, createWorkerPool, Tensor } from 'atrous';
import { chooseInputSize, specForUnknownModel, type ModelSpec } from 'segment-core';
import { CameraSession, cameraErrorMessage, type Background } from './camera.js';
import { fetchBlob } from './image-input.js';
import type { PipelineApi } from './pipeline-worker.js';
import { TeachMode, type MaskResult } from './teach.js';
import { NOTHING_BUNDLED, PERSON_MODELS, availableModels, fetchModel, isPersonModel, modelFromFile, type Availability, type ModelId, type ModelSource, type PersonModelId } from './models.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  engine: $('engine'),
  model: $<HTMLSelectElement>('model'),
  modelHint: $('model-hint'),
  size: $<HTMLSelectElement>('size'),
  customModel: $('custom-model'),
  modelFile: $<HTMLInputElement>('model-file'),
  classNames: $<HTMLInputElement>('class-names'),
  drop: $('drop'),
  imageFile: $<HTMLInputElement>('image-file'),
  samples: $('samples'),
  opacity: $<HTMLInputElement>('opacity'),
  opacityValue: $<HTMLOutputElement>('opacity-value'),
  status: $('status'),
  cancel: $<HTMLButtonElement>('cancel'),
  download: $<HTMLAnchorElement>('download'),
  downloadCutout: $<HTMLAnchorElement>('download-cutout'),
  stage: $('stage'),
  empty: $('empty'),
  canvasBox: $('canvas-box'),
  photo: $<HTMLCanvasElement>('photo'),
  overlay: $<HTMLCanvasElement>('overlay'),
  busy: $('busy'),
  busyText: $('busy-text'),
  metrics: $('metrics'),
  latency: $('latency'),
  inference: $('inference'),
  inputSize: $('input-size'),
  build: $('build'),
  legend: $('legend'),
  cameraModel: $<HTMLSelectElement>('camera-model'),
  cameraBg: $<HTMLSelectElement>('camera-bg'),
  cameraToggle: $<HTMLButtonElement>('camera-toggle'),
  cameraMessage: $('camera-message'),
  cameraSnapshot: $<HTMLButtonElement>('camera-snapshot'),
  cameraDownloads: $('camera-downloads'),
  cameraFrameDownload: $<HTMLAnchorElement>('camera-frame-download'),
  cameraMaskDownload: $<HTMLAnchorElement>('camera-mask-download'),
  cameraBox: $('camera-box'),
  camera: $<HTMLCanvasElement>('camera'),
  cameraMetrics: $('camera-metrics'),
  camFps: $('cam-fps'),
  camLatency: $('cam-latency'),
  camFrames: $('cam-frames'),
  camDropped: $('cam-dropped'),
  camInput: $('cam-input'),
};

type Pool = Awaited<ReturnType<typeof createWorkerPool>>;
type Session = Awaited<ReturnType<Pool['loadModel']>>;

interface LoadedModel {
  source: ModelSource;
  session: Session;
}

const state: {
  pool?: Promise<Pool>;
  workers: number;
  build: string;
  availability: Availability;
  models: Map<ModelId, Promise<LoadedModel>>;
  custom?: ModelSource;
  image?: { id: number; width: number; height: number; name: string; note: string };
  run?: AbortController;
  runId: number;
  imageId: number;
} = { workers: 1, build: '', availability: NOTHING_BUNDLED, models: new Map(), runId: 0, imageId: 0 };

/** Decoding, resampling and mask making, in a worker of their own (see pipeline-worker.ts). */
const pipeline = Comlink.wrap<PipelineApi>(new Worker(new URL('./pipeline-worker.ts', import.meta.url), { type: 'module' }));

const teach = new TeachMode({
  pool: getPool,
  pipeline,
  image: () => state.image,
  baseModel: async (source) => {
    if (source === 'isnet') return fetchModel('isnet', (f) => setStatus(`Teach: downloading ISNet… ${Math.round(f * 100)}%`, 'loading'));
    const { source: builtIn } = await loadModel('default');
    return { ...builtIn, bytes: builtIn.bytes.slice() };
  },
  available: (source) => state.availability[source === 'isnet' ? 'isnet' : 'default'],
  setStatus,
  showMask,
  clearMask,
  left: () => {
    if (state.image) void segment();
  },
  describe,
});

/** What the page is doing, for people (the status line) and for tests (data-state on <body>). */
function setStatus(text: string, kind: 'idle' | 'loading' | 'running' | 'done' | 'cancelled' | 'error' = 'idle'): void {
  ui.status.textContent = text;
  ui.status.classList.toggle('error', kind === 'error');
  document.body.dataset.state = kind;
}

function describe(error: unknown): string {
  if (error instanceof AtrousError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

function isAbort(error: unknown): boolean {
  return (error instanceof AtrousError && error.code === 'ABORTED') || (error instanceof Error && error.name === 'AbortError');
}

function getPool(): Promise<Pool> {
  if (!state.pool) {
    // Leave a core for the page itself; at least one worker, at most four (one model copy each).
    state.workers = Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1));
    state.pool = createWorkerPool({ size: state.workers, maxQueue: 8 });
    state.pool.then(
      (pool) => {
        state.build = poolBuild(pool);
        ui.engine.textContent = `${state.workers} worker${state.workers > 1 ? 's' : ''} · wasm ${state.build}`;
        ui.engine.classList.add('ready');
      },
      (error: unknown) => {
        ui.engine.textContent = 'workers failed to start';
        setStatus(`Could not start the worker pool: ${describe(error)}`, 'error');
      },
    );
  }
  return state.pool;
}

/**
 * The threads each worker's runs use (intra-op threads need a cross-origin-isolated page, see the README),
 * and why there is only one when more were wanted; also on <body> (data-threads, data-threads-reason).
 */
function showThreads(session: Session): void {
  const threads = session.intraOpNumThreads;
  const why = session.threadsUnavailable;
  document.body.dataset.threads = String(threads);
  if (why) document.body.dataset.threadsReason = why;
  else delete document.body.dataset.threadsReason;
  ui.engine.textContent = `${state.workers} worker${state.workers > 1 ? 's' : ''} · ${threads} thread${threads > 1 ? 's' : ''} each · wasm ${state.build}`;
  ui.engine.title = why ? `one thread: ${why}` : `intra-op threads over one shared wasm memory`;
}

/** The wasm build the pool's workers loaded. */
function poolBuild(pool: Pool): string {
  return pool.stats().build ?? 'none';
}

function selectedModel(): ModelId {
  return ui.model.value as ModelId;
}

function loadModel(id: ModelId): Promise<LoadedModel> {
  let loaded = state.models.get(id);
  if (!loaded) {
    loaded = (async () => {
      const pool = await getPool();
      let source: ModelSource;
      if (id === 'custom') {
        if (!state.custom) throw new Error('choose an .onnx file first');
        source = state.custom;
      } else {
        source = await fetchModel(id, (f) => setStatus(`Downloading ${id === 'isnet' ? 'ISNet' : 'the model'}… ${Math.round(f * 100)}%`, 'loading'));
      }
      setStatus(`Loading ${source.label} into ${state.workers} worker${state.workers > 1 ? 's' : ''}…`, 'loading');
      const session = await pool.loadModel(source.bytes);
      showThreads(session);
      return { source, session };
    })();
    state.models.set(id, loaded);
    loaded.catch(() => state.models.delete(id));
  }
  return loaded;
}

/** The spec the page decodes with: the model's own, or one made from the output for a dropped .onnx. */
function specFor(source: ModelSource, channels: number, inputDims?: readonly (number | string | undefined)[]): ModelSpec {
  if (source.spec) return source.spec;
  const classNames = ui.classNames.value.split(',').map((s) => s.trim()).filter(Boolean);
  return specForUnknownModel({ name: source.label, outputChannels: channels, metadata: source.metadata, classNames, inputDims });
}

function inputDimsOf(session: Session, name: string): readonly (number | string | undefined)[] | undefined {
  return session.inputMetadata.find((m) => m.name === name)?.dims;
}

/** The input size the user picked; fixed-size models (ISNet) always get their own. */
function requestedSize(spec: ModelSpec): number | undefined {
  ui.size.disabled = spec.fixedSize;
  if (spec.fixedSize) return undefined;
  return ui.size.value ? Number(ui.size.value) : undefined;
}

/** Fits the image into the stage, keeping its aspect ratio; small images are enlarged to a usable size. */
function layoutCanvas(): void {
  if (!state.image) return;
  const { width, height } = state.image;
  const padding = parseFloat(getComputedStyle(ui.stage).paddingLeft) * 2;
  const maxW = ui.stage.clientWidth - padding;
  // Leave room for the header, toolbar, legend and metrics on one screen.
  const maxH = Math.max(240, Math.min(window.innerHeight - 340, 900));
  const scale = Math.min(maxW / width, maxH / height);
  ui.photo.style.width = `${Math.floor(width * scale)}px`;
  ui.photo.style.height = `${Math.floor(height * scale)}px`;
  ui.photo.style.imageRendering = scale > 2 ? 'pixelated' : 'auto';
  ui.overlay.style.imageRendering = ui.photo.style.imageRendering;
}

function showImage(width: number, height: number, pixels: Uint8ClampedArray<ArrayBuffer>): void {
  ui.empty.hidden = true;
  ui.canvasBox.hidden = false;
  ui.photo.width = width;
  ui.photo.height = height;
  ui.photo.getContext('2d')!.putImageData(new ImageData(pixels, width, height), 0, 0);
  ui.overlay.width = width;
  ui.overlay.height = height;
  ui.overlay.getContext('2d')!.clearRect(0, 0, width, height);
  ui.legend.replaceChildren();
  ui.download.setAttribute('aria-disabled', 'true');
  ui.download.removeAttribute('href');
  ui.downloadCutout.hidden = true;
  teach.imageShown(width, height);
  layoutCanvas();
}

function showLegend(shares: number[], spec: ModelSpec): void {
  ui.legend.replaceChildren(
    ...spec.classes.map((name, c) => {
      const li = document.createElement('li');
      li.classList.toggle('absent', shares[c] === 0);
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      const [r, g, b] = spec.colors[c];
      swatch.style.background = `rgb(${r}, ${g}, ${b})`;
      if (c === spec.background) swatch.title = 'background: not coloured in the overlay';
      const label = document.createElement('span');
      label.textContent = name;
      const share = document.createElement('span');
      share.className = 'share';
      share.textContent = shares[c] === 0 ? '–' : `${(shares[c] * 100).toFixed(shares[c] < 0.01 ? 2 : 1)}%`;
      li.append(swatch, label, share);
      return li;
    }),
  );
}

function setMaskDownload(png: Blob, name: string): void {
  if (ui.download.href) URL.revokeObjectURL(ui.download.href);
  ui.download.href = URL.createObjectURL(png);
  ui.download.download = `${name.replace(/\.[^.]+$/, '')}.mask.png`;
  ui.download.setAttribute('aria-disabled', 'false');
}

function setCutoutDownload(png: Blob | undefined, name: string): void {
  if (ui.downloadCutout.href) URL.revokeObjectURL(ui.downloadCutout.href);
  ui.downloadCutout.hidden = !png;
  if (!png) {
    ui.downloadCutout.removeAttribute('href');
    return;
  }
  ui.downloadCutout.href = URL.createObjectURL(png);
  ui.downloadCutout.download = `${name.replace(/\.[^.]+$/, '')}.cutout.png`;
}

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(0)} ms`;
}

/** A mask (from pipeline.finish) on the overlay, with its legend and downloads: the models' and teach mode's. */
function showMask(result: MaskResult, spec: ModelSpec, name: string): void {
  if (!state.image) return;
  ui.overlay.getContext('2d')!.putImageData(new ImageData(result.overlay as Uint8ClampedArray<ArrayBuffer>, state.image.width, state.image.height), 0, 0);
  showLegend(result.shares, spec);
  setMaskDownload(result.png, name);
  setCutoutDownload(result.cutout, name);
}

function clearMask(): void {
  ui.overlay.getContext('2d')!.clearRect(0, 0, ui.overlay.width, ui.overlay.height);
  // The latency panel describes the chosen model's run, not teach mode's.
  ui.metrics.hidden = true;
  ui.legend.replaceChildren();
  ui.download.setAttribute('aria-disabled', 'true');
  setCutoutDownload(undefined, '');
}

async function segment(): Promise<void> {
  const current = state.image;
  // In teach mode the overlay is the taught model's (teach.ts).
  if (!current || teach.active()) return;
  state.run?.abort();
  const controller = new AbortController();
  state.run = controller;
  const runId = ++state.runId;
  const stale = () => runId !== state.runId;
  ui.cancel.disabled = false;
  ui.busy.hidden = false;
  // The elapsed time ticks while the workers run: a visible sign that the page itself is not blocked.
  const shownAt = performance.now();
  ui.busyText.textContent = 'Segmenting in a worker…';
  const ticker = setInterval(() => {
    ui.busyText.textContent = `Segmenting in a worker… ${((performance.now() - shownAt) / 1000).toFixed(1)} s`;
  }, 100);
  const modelId = selectedModel();
  try {
    const { source, session } = await loadModel(modelId);
    if (stale()) return;
    controller.signal.throwIfAborted();
    setStatus(`Segmenting ${current.name} with ${source.label}…`, 'running');
    const start = performance.now();
    const inputDims = inputDimsOf(session, source.spec?.inputName ?? session.inputNames[0]);
    const inputSpec = specFor(source, 1, inputDims);
    const size = chooseInputSize(inputSpec, current.width, current.height, requestedSize(inputSpec));
    const nhwc = inputSpec.layout === 'nhwc';
    const planes = await pipeline.prepare(current.id, size, [...inputSpec.mean], [...inputSpec.std], nhwc ? 'nhwc' : 'nchw');
    if (stale()) return;
    const input = new Tensor('float32', planes, nhwc ? [1, size[0], size[1], 3] : [1, 3, size[0], size[1]]);
    const inputName = inputSpec.inputName ?? session.inputNames[0];
    const outputName = inputSpec.outputName ?? session.outputNames[0];
    const runStart = performance.now();
    const outputs: Record<string, Tensor> = await session.run({ [inputName]: input }, { signal: controller.signal, transfer: true });
    const inferenceMs = performance.now() - runStart;
    if (stale()) return;
    const scores = outputs[outputName];
    if (!scores || scores.type !== 'float32') throw new Error(`the model has no float32 output ${JSON.stringify(outputName)}`);
    const spec = specFor(source, (nhwc ? scores.dims[3] : scores.dims[1]) ?? 1, inputDims);
    const data = scores.data as Float32Array;
    const result = await pipeline.finish(current.id, Comlink.transfer(data, [data.buffer]), [...scores.dims], spec);
    if (stale()) return;
    showMask(result, spec, current.name);
    const totalMs = performance.now() - start;
    ui.metrics.hidden = false;
    ui.latency.textContent = ms(totalMs);
    ui.inference.textContent = ms(inferenceMs);
    ui.inputSize.textContent = `${size[1]} × ${size[0]}`;
    ui.build.textContent = state.build || '…';
    document.body.dataset.shownImage = String(current.id);
    setStatus(`${current.name}: ${current.width} × ${current.height}${current.note}, segmented in ${ms(totalMs)}.`, 'done');
  } catch (error) {
    if (stale()) return;
    if (isAbort(error) || controller.signal.aborted) setStatus('Cancelled. Pick another image or press a sample to run again.', 'cancelled');
    else setStatus(describe(error), 'error');
  } finally {
    clearInterval(ticker);
    if (!stale()) {
      ui.cancel.disabled = true;
      ui.busy.hidden = true;
    }
  }
}

async function openImage(blob: Blob, name: string): Promise<void> {
  stopCamera();
  try {
    const id = ++state.imageId;
    // For tests: which image is the latest opened, and (below, data-shown-image) whose mask is shown.
    document.body.dataset.openedImage = String(id);
    const opened = await pipeline.open(id, blob);
    if (id !== state.imageId) return;
    const { width, height, pixels, scaled, original } = opened;
    state.image = { id, width, height, name, note: scaled ? ` (scaled from ${original.width} × ${original.height})` : '' };
    showImage(width, height, pixels as Uint8ClampedArray<ArrayBuffer>);
    if (!teach.active()) await segment();
  } catch (error) {
    setStatus(`Could not open ${name}: ${describe(error)}`, 'error');
  }
}

async function openModelFile(file: File): Promise<void> {
  try {
    state.custom = await modelFromFile(file);
    // A model dropped before is freed in every worker.
    state.models.get('custom')?.then((m) => m.session.dispose()).catch(() => undefined);
    state.models.delete('custom');
    const names = state.custom.metadata.classes ?? state.custom.metadata.labels ?? state.custom.metadata.names;
    if (names) {
      try {
        const parsed: unknown = JSON.parse(names);
        ui.classNames.value = Array.isArray(parsed) ? parsed.join(', ') : names;
      } catch {
        ui.classNames.value = names;
      }
    }
    let option = ui.model.querySelector<HTMLOptionElement>('option[value="custom"]');
    if (!option) {
      option = document.createElement('option');
      option.value = 'custom';
      ui.model.append(option);
    }
    option.disabled = false;
    option.textContent = `Your model · ${file.name}`;
    ui.model.value = 'custom';
    updateModelHint();
    if (state.image) await segment();
    else setStatus(`${file.name} is ready: pick an image.`);
  } catch (error) {
    setStatus(`Could not read ${file.name}: ${describe(error)}`, 'error');
  }
}

function updateModelHint(): void {
  const id = selectedModel();
  ui.size.disabled = id === 'isnet' || isPersonModel(id);
  ui.customModel.hidden = id !== 'custom' && !!ui.model.querySelector('option:not([disabled])');
  ui.modelHint.textContent =
    id === 'default'
      ? 'Trained by the project on generated scenes: shapes on textured backgrounds. It knows nothing of photos.'
      : id === 'selfie'
        ? 'MediaPipe selfie segmentation (.tflite, Apache-2.0): the person in a photo or a camera frame, at 256 × 256. The background is dimmed; the cut-out (PNG with alpha) is a download.'
        : id === 'selfie-landscape'
        ? 'MediaPipe selfie segmentation, landscape (.tflite, Apache-2.0): the same person model at 256 × 144, for wide pictures and video; the picture is stretched to it. The cut-out (PNG with alpha) is a download.'
        : id === 'isnet'
        ? 'ISNet (DIS, MIT licence): salient-object segmentation at 1024 × 1024, 88 MB of fp16 weights. Tens of seconds per image, but a real network on real photos.'
        : state.custom
          ? 'Your model: class names come from its metadata or from the field below.'
          : 'Drop an .onnx segmentation model ([1, 3, H, W] in, [1, C, H, W] scores out).';
}

function handleFiles(files: FileList | null): void {
  const file = files?.[0];
  if (!file) return;
  if (file.name.toLowerCase().endsWith('.onnx')) void openModelFile(file);
  else void openImage(file, file.name);
}

async function buildSamples(): Promise<void> {
  let samples: { file: string; title: string; kind: string; credit: string }[] = [];
  try {
    samples = await (await fetch(`${import.meta.env.BASE_URL}samples/index.json`)).json();
  } catch {
    ui.samples.textContent = 'No samples bundled.';
    return;
  }
  ui.samples.replaceChildren(
    ...samples.map((sample) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'sample';
      button.dataset.sample = sample.title;
      button.title = `${sample.title} · ${sample.credit}`;
      const img = document.createElement('img');
      img.src = `${import.meta.env.BASE_URL}${sample.file}`;
      img.alt = sample.title;
      img.loading = 'lazy';
      const label = document.createElement('span');
      label.textContent = sample.title;
      button.append(img, label);
      button.addEventListener('click', async () => {
        ui.samples.querySelectorAll('.sample').forEach((b) => b.classList.toggle('active', b === button));
        try {
          await openImage(await fetchBlob(`${import.meta.env.BASE_URL}${sample.file}`), `${sample.title}.png`);
        } catch (error) {
          setStatus(describe(error), 'error');
        }
      });
      return button;
    }),
  );
}

async function start(): Promise<void> {
  setStatus('Starting the workers…', 'loading');
  state.availability = await availableModels();
  const options: [ModelId, string, boolean][] = [
    ['default', state.availability.default ? 'Built-in · shapes (6 classes)' : 'Built-in (not bundled with this build)', state.availability.default],
    ['selfie', state.availability.selfie ? 'Person (selfie) · MediaPipe, 256 × 256' : 'Person (selfie) (not bundled: bash scripts/setup.sh)', state.availability.selfie],
    [
      'selfie-landscape',
      state.availability['selfie-landscape'] ? 'Person, landscape · MediaPipe, 256 × 144' : 'Person, landscape (not bundled: bash scripts/setup.sh)',
      state.availability['selfie-landscape'],
    ],
    ['isnet', state.availability.isnet ? 'ISNet · salient object (88 MB)' : 'ISNet (not fetched: node tools/fetch-isnet.mjs)', state.availability.isnet],
    ['custom', 'Your model · drop an .onnx file', true],
  ];
  ui.model.replaceChildren(
    ...options.map(([value, label, enabled]) => {
      const option = document.createElement('option');
      option.value = value;
      option.textContent = label;
      option.disabled = !enabled;
      return option;
    }),
  );
  ui.model.value = state.availability.default ? 'default' : state.availability.isnet ? 'isnet' : 'custom';
  updateModelHint();
  teach.refreshSources();
  for (const option of ui.cameraModel.options) option.disabled = !state.availability[option.value as PersonModelId];
  await buildSamples();
  try {
    await getPool();
    // Load the default model at once so the first click only runs inference.
    if (selectedModel() !== 'custom') await loadModel(selectedModel());
    setStatus('Ready. Pick a sample or drop an image.', 'idle');
    document.body.dataset.ready = 'true';
  } catch (error) {
    setStatus(describe(error), 'error');
  }
}

ui.model.addEventListener('change', () => {
  updateModelHint();
  if (selectedModel() === 'custom' && !state.custom) {
    setStatus('Choose or drop an .onnx file.');
    return;
  }
  if (state.image) void segment();
  else void loadModel(selectedModel()).then(() => setStatus('Model ready. Pick an image.'), (e: unknown) => setStatus(describe(e), 'error'));
});
ui.modelFile.addEventListener('change', () => handleFiles(ui.modelFile.files));
ui.imageFile.addEventListener('change', () => handleFiles(ui.imageFile.files));
ui.size.addEventListener('change', () => {
  if (state.image) void segment();
});
ui.classNames.addEventListener('change', () => {
  if (selectedModel() === 'custom' && state.image) void segment();
});
ui.opacity.addEventListener('input', () => {
  ui.overlay.style.opacity = String(Number(ui.opacity.value) / 100);
  ui.opacityValue.textContent = `${ui.opacity.value}%`;
});
ui.overlay.style.opacity = String(Number(ui.opacity.value) / 100);
ui.cancel.addEventListener('click', () => state.run?.abort());
for (const target of [ui.drop, document.body]) {
  target.addEventListener('dragover', (event) => {
    event.preventDefault();
    ui.drop.classList.add('over');
  });
  target.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
  target.addEventListener('drop', (event) => {
    event.preventDefault();
    event.stopPropagation();
    ui.drop.classList.remove('over');
    handleFiles(event.dataTransfer?.files ?? null);
  });
}
window.addEventListener('resize', layoutCanvas);

// ---- Live camera ----
let camera: CameraSession | undefined;
let replacementSent = false;
let cameraCanvasAttached = false;

/** The camera canvas is drawn by the pipeline worker (camera-compositor.ts): handed over once. */
function attachCameraCanvas(): void {
  if (cameraCanvasAttached) return;
  cameraCanvasAttached = true;
  const offscreen = ui.camera.transferControlToOffscreen();
  void pipeline.cameraAttach(Comlink.transfer(offscreen, [offscreen]));
}

function sendBackground(): void {
  void pipeline.cameraBackground(ui.cameraBg.value as Background);
}

/** For people (the button, the message) and for tests (data-camera on <body>: off, starting, on, error). */
function setCameraState(kind: 'off' | 'starting' | 'on' | 'error', message = ''): void {
  document.body.dataset.camera = kind;
  ui.cameraToggle.textContent = kind === 'on' || kind === 'starting' ? 'Stop camera' : 'Start camera';
  ui.cameraSnapshot.hidden = kind !== 'on';
  ui.cameraMessage.hidden = !message;
  ui.cameraMessage.textContent = message;
}

function showCameraStage(on: boolean): void {
  ui.cameraBox.hidden = !on;
  ui.cameraMetrics.hidden = !on;
  if (on) {
    ui.empty.hidden = true;
    ui.canvasBox.hidden = true;
    ui.metrics.hidden = true;
    ui.legend.replaceChildren();
  } else {
    ui.canvasBox.hidden = !state.image;
    ui.empty.hidden = !!state.image;
    ui.metrics.hidden = !state.image;
  }
}

/** The person model the camera runs (its own choice: the photo model may be any). */
function cameraModel(): PersonModelId {
  const id = ui.cameraModel.value;
  return isPersonModel(id) ? id : 'selfie';
}

async function startCamera(): Promise<void> {
  const id = cameraModel();
  if (!state.availability[id]) {
    setCameraState('error', `The camera mode needs the person model ${PERSON_MODELS[id].file}, which this build does not bundle (bash scripts/setup.sh, then rebuild).`);
    return;
  }
  setCameraState('starting');
  // A new camera session starts its counters from nothing: a reader (the page's tests) must not see the
  // previous session's frames or model size as this one's.
  for (const key of ['frames', 'modelSize', 'dropped', 'person']) delete ui.cameraBox.dataset[key];
  state.run?.abort();
  try {
    const { session, source } = await loadModel(id);
    attachCameraCanvas();
    sendBackground();
    if (!replacementSent) {
      replacementSent = true;
      // The replacement background, decoded in the pipeline worker's compositor.
      fetchBlob(`${import.meta.env.BASE_URL}samples/coffee.png`)
        .then((blob) => createImageBitmap(blob))
        .then((bitmap) => pipeline.cameraBackground(ui.cameraBg.value as Background, Comlink.transfer(bitmap, [bitmap])), () => undefined);
    }
    const cam = new CameraSession({
      pipeline,
      session,
      spec: source.spec!,
      maxInFlight: state.workers + 1,
      onStats: (stats) => {
        ui.camFps.textContent = `${stats.fps}`;
        ui.camLatency.textContent = `${stats.latencyMs.toFixed(0)} ms (median ${stats.medianLatencyMs.toFixed(0)}; input ${stats.inputMs.toFixed(0)}, model ${stats.modelMs.toFixed(0)}, matte ${stats.matteMs.toFixed(0)})`;
        ui.camFrames.textContent = `${stats.frames}`;
        ui.camDropped.textContent = `${stats.dropped}`;
        ui.camInput.textContent = `${stats.modelSize[1]} × ${stats.modelSize[0]}`;
        ui.cameraBox.dataset.modelSize = `${stats.modelSize[1]}x${stats.modelSize[0]}`;
        ui.cameraBox.dataset.frames = String(stats.frames);
        ui.cameraBox.dataset.dropped = String(stats.dropped);
        ui.cameraBox.dataset.person = stats.personShare.toFixed(4);
      },
      onError: (error) => {
        stopCamera();
        setCameraState('error', `Camera stopped: ${describe(error)}`);
      },
    });
    camera = cam;
    await cam.start();
    if (camera !== cam) return;
    showCameraStage(true);
    setCameraState('on');
    setStatus(`Camera on: ${source.label} on every frame in ${state.workers} worker${state.workers > 1 ? 's' : ''}.`, 'idle');
  } catch (error) {
    camera?.stop();
    camera = undefined;
    setCameraState('error', error instanceof DOMException || (error instanceof Error && error.name !== 'Error') ? cameraErrorMessage(error) : describe(error));
  }
}

function stopCamera(): void {
  if (!camera) return;
  camera.stop();
  camera = undefined;
  showCameraStage(false);
  setCameraState('off');
  setStatus('Camera off: it is released.', 'idle');
}

ui.cameraBg.addEventListener('change', sendBackground);
// Another camera model while the camera runs: restart it on the new one.
ui.cameraModel.addEventListener('change', () => {
  if (!camera) return;
  stopCamera();
  void startCamera();
});
ui.cameraSnapshot.addEventListener('click', async () => {
  const shot = await camera?.snapshot().catch((error: unknown) => {
    setStatus(`Snapshot failed: ${describe(error)}`, 'error');
    return undefined;
  });
  if (!shot) return;
  for (const [link, blob] of [[ui.cameraFrameDownload, shot.frame], [ui.cameraMaskDownload, shot.mask]] as const) {
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(blob);
  }
  ui.cameraDownloads.hidden = false;
  ui.cameraDownloads.dataset.person = shot.share.toFixed(4);
  setStatus(`Snapshot: the frame and its mask (person ${(shot.share * 100).toFixed(1)}%) are ready to download.`, 'idle');
});

ui.cameraToggle.addEventListener('click', () => {
  if (camera) stopCamera();
  else void startCamera();
});
document.body.dataset.camera = 'off';
void start();
