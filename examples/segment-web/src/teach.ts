// Teach mode: the user paints scribbles, one brush per class (and an eraser), on their own image; a fresh
// head learns them in the worker pool on features of the built-in model computed once per image
// (segment-core's TEACH_RECIPE says which, the README why); the loss curve is drawn as the steps come in;
// the taught model (extractor + tuned head, one .onnx) then gives the mask and is offered as a download.
// The page's controller (main.ts) lends the pool, the pipeline worker, the open image and its mask view.
import * as Comlink from 'comlink';
import { AtrousError, Tensor, type createWorkerPool } from 'atrous';
import { chooseInputSize, FEATURES, labelsOnGrid, readOnnxMetadata, ScribbleMap, specForUnknownModel, TEACH_COLORS, TEACH_RECIPE, UNPAINTED, type ModelSpec } from 'segment-core';
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
  /** The built-in model, whose features the head sits on. */
  baseModel(): Promise<ModelSource>;
  setStatus(text: string, kind?: StatusKind): void;
  showMask(result: MaskResult, spec: ModelSpec, name: string): void;
  clearMask(): void;
  /** Teach mode was left: the page shows the chosen model's mask again. */
  left(): void;
  describe(error: unknown): string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** What one image's features cost once: the model input and the extractor's output for it. */
interface Prepared {
  imageId: number;
  input: Tensor<'float32'>;
  features: Tensor<'float32'>;
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
  };
  private readonly curve = new LossCurve(this.ui.loss);
  private classes = ['background', 'object'];
  /** The class the brush paints, or UNPAINTED for the eraser. */
  private brush = 1;
  private map?: ScribbleMap;
  private last?: { x: number; y: number };
  private on = false;
  private run?: AbortController;
  private extractor?: Promise<Uint8Array>;
  private extractorSession?: Promise<Session>;
  private prepared?: Promise<Prepared>;
  private trainer?: { imageId: number; classes: number; trainer: Promise<Trainer> };
  private taught?: Session;

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
      this.setState(this.taught ? 'done' : 'idle');
    } else {
      this.run?.abort(new Error('teach mode was left'));
      this.setState('off');
      this.host.left();
    }
  }

  private setState(state: 'off' | 'idle' | 'preparing' | 'training' | 'done' | 'cancelled' | 'error'): void {
    document.body.dataset.teach = state;
    const busy = state === 'preparing' || state === 'training';
    this.ui.train.disabled = busy;
    this.ui.cancel.disabled = !busy;
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

  private baseSpec?: ModelSpec;

  private getExtractor(): Promise<Uint8Array> {
    this.extractor ??= this.host.baseModel().then((source) => {
      this.baseSpec = source.spec;
      return this.host.pipeline.teachExtractor(source.bytes.slice());
    });
    this.extractor.catch(() => (this.extractor = undefined));
    return this.extractor;
  }

  /** The model input and features of the open image, computed once per image (the extractor is frozen). */
  private prepare(image: { id: number; width: number; height: number }): Promise<Prepared> {
    if (!this.prepared) {
      const prepared = (async () => {
        const extractor = await this.getExtractor();
        const pool = await this.host.pool();
        this.extractorSession ??= pool.loadModel(extractor);
        const session = await this.extractorSession;
        const spec = this.baseSpec!;
        const size = chooseInputSize(spec, image.width, image.height, TEACH_RECIPE.inputSize);
        const planes = await this.host.pipeline.prepare(image.id, size, [...spec.mean], [...spec.std], 'nchw');
        const input = new Tensor('float32', planes, [1, 3, size[0], size[1]]);
        const out = await session.run({ [session.inputNames[0]!]: input });
        const features = out[FEATURES] as Tensor<'float32'>;
        return { imageId: image.id, input, features };
      })();
      prepared.catch(() => {
        if (this.prepared === prepared) this.prepared = undefined;
      });
      this.prepared = prepared;
    }
    return this.prepared;
  }

  private dropTrainer(): void {
    this.trainer?.trainer.then((t) => t.dispose()).catch(() => undefined);
    this.trainer = undefined;
  }

  /** The head for this image and class count; another image or class count starts a fresh one. */
  private async getTrainer(imageId: number, inChannels: number, classes: number): Promise<{ trainer: Trainer; fresh: boolean }> {
    if (this.trainer && this.trainer.imageId === imageId && this.trainer.classes === classes) return { trainer: await this.trainer.trainer, fresh: false };
    this.dropTrainer();
    const trainer = (async () => {
      const head = await this.host.pipeline.teachHead(inChannels, classes);
      const pool = await this.host.pool();
      return pool.createTrainer(head, {
        trainable: 'all',
        loss: { type: 'softmaxCrossEntropy', ignoreIndex: UNPAINTED },
        optimizer: { type: 'adam', learningRate: TEACH_RECIPE.learningRate },
      });
    })();
    this.trainer = { imageId, classes, trainer };
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
    this.run?.abort();
    const controller = new AbortController();
    this.run = controller;
    const stale = () => this.run !== controller;
    this.setState('preparing');
    host.setStatus('Teach: computing the features of the image in the pool…', 'running');
    let cancelled = false;
    try {
      const prepared = await this.prepare(image);
      if (stale()) return;
      const [, channels, gh, gw] = prepared.features.dims as [number, number, number, number];
      const labels = labelsOnGrid(map, gw, gh, k);
      const { trainer, fresh } = await this.getTrainer(image.id, channels, k);
      if (stale()) return;
      this.setState('training');
      this.curve.start(steps, !fresh);
      const started = performance.now();
      const done = this.curve.points.length;
      host.setStatus(`Teach: training the head in a worker, ${steps} steps…`, 'running');
      try {
        await trainer.train({ [FEATURES]: prepared.features }, labels, {
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
      // Cancelled or not, the head keeps the steps it took: show and offer what it learned.
      if (this.curve.points.length === done) {
        if (!stale()) this.setState('cancelled');
        if (!stale()) host.setStatus('Teach: cancelled before the first step.', 'cancelled');
        return;
      }
      host.setStatus('Teach: building the taught model and its mask…', 'running');
      const head = await trainer.exportModel();
      const info = { classes: [...this.classes], palette: this.classes.map((_, c) => TEACH_COLORS[c]!), mean: [...this.baseSpec!.mean], std: [...this.baseSpec!.std] };
      const extractor = await this.getExtractor();
      const taught = await host.pipeline.teachSplice(extractor.slice(), Comlink.transfer(head, [head.buffer]), info);
      const pool = await host.pool();
      const session = await pool.loadModel(taught);
      if (stale() || host.image()?.id !== image.id) {
        session.dispose();
        return;
      }
      const previous = this.taught;
      this.taught = session;
      previous?.dispose();
      const out = await session.run({ [session.inputNames[0]!]: prepared.input });
      const scores = out[session.outputNames[0]!] as Tensor<'float32'>;
      const spec = specForUnknownModel({ name: 'Taught', outputChannels: k, metadata: readOnnxMetadata(taught) });
      const data = scores.data as Float32Array;
      const result = await host.pipeline.finish(image.id, Comlink.transfer(data, [data.buffer]), [...scores.dims], spec);
      if (stale() || !this.on) return;
      host.showMask(result, spec, image.name);
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
      this.setState('error');
      host.setStatus(`Teach: ${host.describe(error)}`, 'error');
    } finally {
      if (!stale()) this.ui.cancel.disabled = true;
    }
  }

  private setDownload(bytes: Uint8Array | undefined, name = ''): void {
    const link = this.ui.download;
    if (link.href) URL.revokeObjectURL(link.href);
    if (!bytes) {
      link.removeAttribute('href');
      link.setAttribute('aria-disabled', 'true');
      return;
    }
    link.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
    link.download = `${name.replace(/\.[^.]+$/, '') || 'image'}.taught.onnx`;
    link.setAttribute('aria-disabled', 'false');
  }
}
