// Teach mode: the user paints scribbles, one brush per class (and an eraser), on their own image; a fresh
// head learns them in the worker pool on features of the built-in model computed once per image
// (segment-core's TEACH_FEATURES says which, the README why); the loss curve is drawn as the steps come in;
// the taught model (extractor + tuned head, one .onnx) then gives the mask and is offered as a download.
// The page's controller (main.ts) lends the pool, the pipeline worker, the open image and its mask view.
// Longer than 400 lines for a reason: the mode's controls (brushes, class names, train, cancel, download)
// share one state (scribbles, trainer, curve) that every handler reads; split, each file would take it all.
import * as Comlink from 'comlink';
import { AtrousError, Tensor, type createWorkerPool } from 'atrous';
import { chooseInputSize, FEATURES, labelsOnGrid, ScribbleMap, specForUnknownModel, TEACH_COLORS, TEACH_FEATURES, TEACH_RECIPE, UNPAINTED, type ModelSpec, type TeachFeatureSource } from 'segment-core';
import { LossCurve } from './loss-curve.js';
import type { ModelSource } from './models.js';
import type { PipelineApi } from './pipeline-worker.js';

type Pool = Awaited<ReturnType<typeof createWorkerPool>>;
type Session = Awaited<ReturnType<Pool['loadModel']>>;
type Trainer = Awaited<ReturnType<Pool['createTrainer']>>;
export type MaskResult = Awaited<ReturnType<PipelineApi['finish']>>;
type StatusKind = 'idle' | 'loading' | 'running' | 'done' | 'cancelled' | 'error';

export interface TeachHost {
  pool(): Promise<Pool>;
  pipeline: Comlink.Remote<PipelineApi>;
  /** The open image (its id in the pipeline worker). */
  image(): { id: number; width: number; height: number; name: string } | undefined;
  /** The model whose features the head sits on (its bytes are handed to the pipeline worker: a copy, please). */
  baseModel(source: TeachFeatureSource): Promise<ModelSource>;
  /** Whether this build bundles that model. */
  available(source: TeachFeatureSource): boolean;
  setStatus(text: string, kind?: StatusKind): void;
  showMask(result: MaskResult, spec: ModelSpec, name: string): void;
  clearMask(): void;
  /** Teach mode was left: the page shows the chosen model's mask again. */
  left(): void;
  describe(error: unknown): string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** What one image's features cost once: the extractor's output for it (and the spec its input was made with). */
interface Prepared {
  imageId: number;
  source: TeachFeatureSource;
  features: Tensor<'float32'>;
  spec: ModelSpec;
}

/** A feature source's frozen extractor in the pool (its bytes stay in the pipeline worker, for the splice). */
interface Extractor {
  session: Session;
  spec: ModelSpec;
}

export class TeachMode {
  private readonly ui = {
    toggle: $<HTMLButtonElement>('teach-toggle'),
    tools: $('teach-tools'),
    classes: $('teach-classes'),
    addClass: $<HTMLButtonElement>('teach-add-class'),
    eraser: $<HTMLButtonElement>('teach-eraser'),
    clear: $<HTMLButtonElement>('teach-clear'),
    brush: $<HTMLInputElement>('teach-brush'),
    brushValue: $<HTMLOutputElement>('teach-brush-value'),
    steps: $<HTMLInputElement>('teach-steps'),
    train: $<HTMLButtonElement>('teach-train'),
    cancel: $<HTMLButtonElement>('teach-cancel'),
    loss: $<HTMLCanvasElement>('teach-loss'),
    info: $('teach-info'),
    download: $<HTMLAnchorElement>('teach-download'),
    canvas: $<HTMLCanvasElement>('scribbles'),
    features: $<HTMLSelectElement>('teach-features'),
  };
  private readonly curve = new LossCurve(this.ui.loss);
  private classes = ['background', 'object'];
  /** The class the brush paints, or UNPAINTED for the eraser. */
  private brush = 1;
  private map?: ScribbleMap;
  private last?: { x: number; y: number };
  private on = false;
  private run?: AbortController;
  private readonly extractors = new Map<TeachFeatureSource, Promise<Extractor>>();
  private prepared?: { imageId: number; source: TeachFeatureSource; promise: Promise<Prepared> };
  private trainer?: { imageId: number; source: TeachFeatureSource; classes: number; trainer: Promise<Trainer> };

  constructor(private readonly host: TeachHost) {
    const { ui } = this;
    ui.toggle.addEventListener('click', () => this.setActive(!this.on));
    ui.addClass.addEventListener('click', () => this.addClass());
    ui.eraser.addEventListener('click', () => this.pick(UNPAINTED));
    ui.clear.addEventListener('click', () => {
      this.map?.clear();
      this.redraw();
    });
    ui.brush.addEventListener('input', () => (ui.brushValue.textContent = `${ui.brush.value} px`));
    ui.brushValue.textContent = `${ui.brush.value} px`;
    ui.train.addEventListener('click', () => void this.train());
    ui.cancel.addEventListener('click', () => this.run?.abort(new Error('cancelled by the user')));
    ui.features.addEventListener('change', () => {
      this.curve.clear();
      this.setDownload(undefined);
    });
    ui.canvas.addEventListener('pointerdown', (e) => this.pointerDown(e));
    ui.canvas.addEventListener('pointermove', (e) => this.pointerMove(e));
    for (const end of ['pointerup', 'pointercancel', 'lostpointercapture'] as const) ui.canvas.addEventListener(end, () => (this.last = undefined));
    this.renderClasses();
    this.setState('off');
  }

  active(): boolean {
    return this.on;
  }

  /** A new image is shown: new scribbles, and the head and features of the old one are dropped. */
  imageShown(width: number, height: number): void {
    this.run?.abort(new Error('another image was opened'));
    this.map = new ScribbleMap(width, height);
    this.ui.canvas.width = width;
    this.ui.canvas.height = height;
    this.prepared = undefined;
    this.dropTrainer();
    this.ui.info.textContent = '';
    this.curve.clear();
    this.setDownload(undefined);
    if (this.on) this.host.setStatus('Teach: paint a few strokes of each class, then Train.', 'idle');
  }

  setActive(on: boolean): void {
    this.on = on;
    document.body.dataset.mode = on ? 'teach' : 'segment';
    this.ui.toggle.textContent = on ? 'Leave teach mode' : 'Teach mode';
    this.ui.toggle.setAttribute('aria-pressed', String(on));
    this.ui.tools.hidden = !on;
    this.ui.canvas.hidden = !on;
    if (on) {
      this.run?.abort();
      this.host.clearMask();
      this.host.setStatus(this.host.image() ? 'Teach: paint a few strokes of each class, then Train.' : 'Teach: open an image first (drop one, or click a sample).', 'idle');
      this.setState('idle');
    } else {
      this.run?.abort(new Error('teach mode was left'));
      // The extractors hold a model's weights in the pool; teach mode builds them again when it comes back.
      for (const extractor of this.extractors.values()) extractor.then((e) => e.session.dispose()).catch(() => undefined);
      this.extractors.clear();
      void this.host.pipeline.teachRelease();
      this.prepared = undefined;
      this.setState('off');
      this.host.left();
    }
  }

  private setState(state: 'off' | 'idle' | 'preparing' | 'training' | 'done' | 'cancelled' | 'error'): void {
    document.body.dataset.teach = state;
    const busy = state === 'preparing' || state === 'training';
    this.ui.train.disabled = busy;
    this.ui.cancel.disabled = !busy;
    // Another source mid-run would start a new head under the running one.
    this.ui.features.disabled = busy;
  }

  private renderClasses(): void {
    const { ui } = this;
    ui.classes.replaceChildren(
      ...this.classes.map((name, c) => {
        const row = document.createElement('div');
        row.className = 'brush-row';
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'brush';
        button.dataset.class = String(c);
        button.setAttribute('aria-pressed', String(this.brush === c));
        button.title = `Paint ${name}`;
        const [r, g, b] = TEACH_COLORS[c]!;
        button.style.setProperty('--brush', `rgb(${r}, ${g}, ${b})`);
        button.addEventListener('click', () => this.pick(c));
        const input = document.createElement('input');
        input.type = 'text';
        input.value = name;
        input.spellcheck = false;
        input.setAttribute('aria-label', `Name of class ${c + 1}`);
        input.addEventListener('change', () => (this.classes[c] = input.value.trim() || `class ${c}`));
        row.append(button, input);
        return row;
      }),
    );
    ui.eraser.setAttribute('aria-pressed', String(this.brush === UNPAINTED));
    ui.addClass.disabled = this.classes.length >= TEACH_RECIPE.maxClasses;
  }

  private pick(id: number): void {
    this.brush = id;
    this.renderClasses();
  }

  private addClass(): void {
    if (this.classes.length >= TEACH_RECIPE.maxClasses) return;
    this.classes.push(`object ${this.classes.length}`);
    this.brush = this.classes.length - 1;
    this.renderClasses();
  }

  // ---- painting ----

  private toImage(e: PointerEvent): { x: number; y: number } {
    const rect = this.ui.canvas.getBoundingClientRect();
    return { x: ((e.clientX - rect.left) / rect.width) * this.ui.canvas.width, y: ((e.clientY - rect.top) / rect.height) * this.ui.canvas.height };
  }

  private pointerDown(e: PointerEvent): void {
    if (!this.on || !this.map || e.button !== 0) return;
    e.preventDefault();
    this.ui.canvas.setPointerCapture(e.pointerId);
    this.last = this.toImage(e);
    this.paint(this.last, this.last);
  }

  private pointerMove(e: PointerEvent): void {
    if (!this.last || !this.map) return;
    const p = this.toImage(e);
    this.paint(this.last, p);
    this.last = p;
  }

  private paint(from: { x: number; y: number }, to: { x: number; y: number }): void {
    const box = this.map!.stroke(from.x, from.y, to.x, to.y, Number(this.ui.brush.value) / 2, this.brush);
    if (box) this.redraw(box);
  }

  /** Draws the scribbles (all of them, or the box a stroke touched) in their brush colours. */
  private redraw(box = { x: 0, y: 0, width: this.map?.width ?? 0, height: this.map?.height ?? 0 }): void {
    const map = this.map;
    if (!map || box.width === 0) return;
    const pixels = new ImageData(box.width, box.height);
    for (let y = 0; y < box.height; y++) {
      for (let x = 0; x < box.width; x++) {
        const id = map.ids[(box.y + y) * map.width + box.x + x]!;
        if (id === UNPAINTED) continue;
        const o = 4 * (y * box.width + x);
        const [r, g, b] = TEACH_COLORS[id]!;
        pixels.data[o] = r;
        pixels.data[o + 1] = g;
        pixels.data[o + 2] = b;
        pixels.data[o + 3] = 255;
      }
    }
    this.ui.canvas.getContext('2d')!.putImageData(pixels, box.x, box.y);
  }

  // ---- training ----

  /** Which features the head sits on: ISNet's when bundled, else the built-in model's (the select). */
  refreshSources(): void {
    const select = this.ui.features;
    const wanted = select.value as TeachFeatureSource | '';
    select.replaceChildren(
      ...(Object.keys(TEACH_FEATURES) as TeachFeatureSource[]).map((id) => {
        const option = document.createElement('option');
        option.value = id;
        const available = this.host.available(id);
        option.disabled = !available;
        option.textContent = available ? TEACH_FEATURES[id].label : `${TEACH_FEATURES[id].label} (not bundled)`;
        return option;
      }),
    );
    const first = [...select.options].find((o) => !o.disabled);
    select.value = wanted && this.host.available(wanted) ? wanted : (first?.value ?? 'builtin');
  }

  private source(): TeachFeatureSource {
    return this.ui.features.value === 'isnet' ? 'isnet' : 'builtin';
  }

  /** The frozen extractor of a feature source, built (in the pipeline worker) and loaded in the pool once. */
  private getExtractor(source: TeachFeatureSource): Promise<Extractor> {
    let extractor = this.extractors.get(source);
    if (!extractor) {
      extractor = (async () => {
        const base = await this.host.baseModel(source);
        this.host.setStatus(`Teach: building the feature extractor from ${base.label}…`, 'running');
        // The pipeline worker keeps the extractor for the splice; the page only hands a copy to the pool.
        const bytes = await this.host.pipeline.teachExtractor(Comlink.transfer(base.bytes, [base.bytes.buffer]), source);
        const pool = await this.host.pool();
        this.host.setStatus(`Teach: loading the feature extractor into the pool…`, 'running');
        const session = await pool.loadModel(bytes);
        return { session, spec: base.spec! };
      })();
      this.extractors.set(source, extractor);
      extractor.catch(() => this.extractors.delete(source));
    }
    return extractor;
  }

  /** The model input and features of the open image, computed once per image and source (the extractor is frozen). */
  private prepare(image: { id: number; width: number; height: number }, source: TeachFeatureSource): Promise<Prepared> {
    if (this.prepared?.imageId !== image.id || this.prepared.source !== source) {
      const promise = (async () => {
        const { session, spec } = await this.getExtractor(source);
        const size = chooseInputSize(spec, image.width, image.height, TEACH_FEATURES[source].inputSize);
        const planes = await this.host.pipeline.prepare(image.id, size, [...spec.mean], [...spec.std], 'nchw');
        const input = new Tensor('float32', planes, [1, 3, size[0], size[1]]);
        const started = performance.now();
        const what = `Teach: computing the ${source === 'isnet' ? 'ISNet' : 'built-in model'} features of the image in the pool (once per image)…`;
        this.host.setStatus(what, 'running');
        const ticker = setInterval(() => this.host.setStatus(`${what} ${((performance.now() - started) / 1000).toFixed(0)} s`, 'running'), 1000);
        try {
          const out = await session.run({ [session.inputNames[0]!]: input }, { transfer: true });
          return { imageId: image.id, source, features: out[FEATURES] as Tensor<'float32'>, spec };
        } finally {
          clearInterval(ticker);
        }
      })();
      const slot = { imageId: image.id, source, promise };
      promise.catch(() => {
        if (this.prepared === slot) this.prepared = undefined;
      });
      this.prepared = slot;
    }
    return this.prepared.promise;
  }

  private dropTrainer(): void {
    this.trainer?.trainer.then((t) => t.dispose()).catch(() => undefined);
    this.trainer = undefined;
  }

  /** The head for this image, source and class count; any other starts a fresh one. */
  private async getTrainer(key: { imageId: number; source: TeachFeatureSource; classes: number }, inChannels: number): Promise<{ trainer: Trainer; fresh: boolean }> {
    const t = this.trainer;
    if (t && t.imageId === key.imageId && t.source === key.source && t.classes === key.classes) return { trainer: await t.trainer, fresh: false };
    this.dropTrainer();
    const trainer = (async () => {
      const head = await this.host.pipeline.teachHead(inChannels, key.classes);
      const pool = await this.host.pool();
      return pool.createTrainer(head, {
        trainable: 'all',
        loss: { type: 'softmaxCrossEntropy', ignoreIndex: UNPAINTED },
        optimizer: { type: 'adam', learningRate: TEACH_RECIPE.learningRate },
      });
    })();
    this.trainer = { ...key, trainer };
    trainer.catch(() => {
      if (this.trainer?.trainer === trainer) this.trainer = undefined;
    });
    return { trainer: await trainer, fresh: true };
  }

  private async train(): Promise<void> {
    const { host, ui } = this;
    const image = host.image();
    const map = this.map;
    if (!image || !map) {
      host.setStatus('Teach: open an image first.', 'error');
      return;
    }
    const steps = Number(ui.steps.value);
    if (!Number.isInteger(steps) || steps < 1 || steps > 5000) {
      host.setStatus(`Teach: steps must be a whole number from 1 to 5000, got ${JSON.stringify(ui.steps.value)}.`, 'error');
      return;
    }
    const k = this.classes.length;
    const counts = map.counts(k);
    const missing = this.classes.filter((_, c) => counts[c] === 0);
    if (missing.length > 0) {
      host.setStatus(`Teach: paint at least one stroke of every class (${missing.join(', ')} ${missing.length > 1 ? 'have' : 'has'} none).`, 'error');
      return;
    }
    const source = this.source();
    this.run?.abort();
    const controller = new AbortController();
    this.run = controller;
    const stale = () => this.run !== controller;
    this.setState('preparing');
    this.setDownload(undefined);
    let cancelled = false;
    try {
      const prepared = await this.prepare(image, source);
      if (stale()) return;
      controller.signal.throwIfAborted();
      const [, channels, gh, gw] = prepared.features.dims as [number, number, number, number];
      const labels = labelsOnGrid(map, gw, gh, k);
      const { trainer, fresh } = await this.getTrainer({ imageId: image.id, source, classes: k }, channels);
      if (stale()) return;
      this.setState('training');
      this.curve.start(steps, !fresh);
      const started = performance.now();
      const done = this.curve.points.length;
      host.setStatus(`Teach: training the head in a worker, ${steps} steps…`, 'running');
      const feeds = { [FEATURES]: prepared.features };
      try {
        await trainer.train(feeds, labels, {
          steps,
          signal: controller.signal,
          onProgress: ({ step, loss }) => {
            this.curve.add(loss);
            const perStep = (performance.now() - started) / step;
            ui.info.textContent = `step ${step} of ${steps} · loss ${loss.toFixed(4)} · ${perStep.toFixed(0)} ms per step · head on a ${gw} × ${gh} grid of ${channels} features`;
          },
        });
      } catch (error) {
        if (!(error instanceof AtrousError && error.code === 'ABORTED')) throw error;
        cancelled = true;
      }
      if (this.curve.points.length === done) {
        if (!stale()) {
          this.setState('cancelled');
          host.setStatus('Teach: cancelled before the first step.', 'cancelled');
        }
        return;
      }
      // Cancelled or not, the head keeps the steps it took: its prediction over the whole image (the head on
      // the image's features, in the trainer's worker) is the mask.
      host.setStatus('Teach: the mask of the taught model…', 'running');
      const scores = await trainer.forward(feeds);
      const info = { classes: [...this.classes], palette: this.classes.map((_, c) => TEACH_COLORS[c]!), mean: [...prepared.spec.mean], std: [...prepared.spec.std] };
      const spec = specForUnknownModel({ name: 'Taught', outputChannels: k, metadata: { classes: JSON.stringify(info.classes), palette: JSON.stringify(info.palette) } });
      const data = scores.data as Float32Array;
      const result = await host.pipeline.finish(image.id, Comlink.transfer(data, [data.buffer]), [...scores.dims], spec);
      if (stale() || !this.on) return;
      host.showMask(result, spec, image.name);
      // The download: the extractor and the tuned head spliced into one .onnx (image in, scores at its size).
      host.setStatus('Teach: writing the taught model…', 'running');
      const head = await trainer.exportModel();
      const taught = await host.pipeline.teachSplice(source, Comlink.transfer(head, [head.buffer]), info);
      if (stale()) return;
      this.setDownload(taught, image.name);
      const trained = this.curve.points.length;
      this.setState(cancelled ? 'cancelled' : 'done');
      host.setStatus(
        cancelled
          ? `Teach: cancelled after ${trained - done} of ${steps} steps; the mask is what the head learned so far.`
          : `Teach: ${trained} step${trained > 1 ? 's' : ''}, loss ${this.curve.points[trained - 1]!.toFixed(4)}; the mask is the taught model's.`,
        cancelled ? 'cancelled' : 'done',
      );
    } catch (error) {
      if (stale()) return;
      if (controller.signal.aborted) {
        this.setState('cancelled');
        host.setStatus('Teach: cancelled.', 'cancelled');
        return;
      }
      this.setState('error');
      host.setStatus(`Teach: ${host.describe(error)}`, 'error');
    } finally {
      if (!stale()) this.ui.cancel.disabled = true;
    }
  }

  private setDownload(file: Blob | undefined, name = ''): void {
    const link = this.ui.download;
    if (link.href) URL.revokeObjectURL(link.href);
    if (!file) {
      link.removeAttribute('href');
      link.setAttribute('aria-disabled', 'true');
      return;
    }
    link.href = URL.createObjectURL(file);
    link.download = `${name.replace(/\.[^.]+$/, '') || 'image'}.taught.onnx`;
    link.setAttribute('aria-disabled', 'false');
  }
}
