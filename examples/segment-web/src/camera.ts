// Live camera mode, the main thread's side: each camera frame becomes an ImageBitmap that is transferred
// (not copied) to the pipeline worker, which resamples it into the model input; the pool runs the person
// model; the pipeline worker turns the output into a matte and composites frame and matte into the camera
// canvas, handed to it with transferControlToOffscreen() (camera-compositor.ts), at its next animation
// frame. The main thread only passes messages: no drawing, no per-pixel work.
// Latest frame wins: while `maxInFlight` frames are in flight, new camera frames are dropped (and counted),
// never queued. The page allows one frame more than the pool has workers, so that one frame's resampling and
// compositing in the pipeline worker overlap the next frame's model run instead of leaving the pool idle:
// a pipeline rather than a round trip, at most one frame waiting in the pool's queue.
import * as Comlink from 'comlink';
import { Tensor } from 'atrous';
import type { ModelSpec } from 'segment-core';
import type { PipelineApi } from './pipeline-worker.js';

import type { Background } from './camera-compositor.js';

export type { Background };

interface RunSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, Tensor>, options?: { transfer?: boolean }): Promise<Record<string, Tensor>>;
}

export interface CameraStats {
  /** Frames segmented and drawn since start. */
  frames: number;
  /** Camera frames skipped because every worker was busy. */
  dropped: number;
  /** Segmented frames per second over the last second. */
  fps: number;
  /** Camera frame taken -> its matte ready, last frame and median of the last 30, in ms. */
  latencyMs: number;
  medianLatencyMs: number;
  /** Of the last frame's latency: grabbing the frame and resampling it into the model input (pipeline worker), ms. */
  inputMs: number;
  /** Of the last frame's latency, the time in the pool (session.run, including any wait in its queue), ms. */
  modelMs: number;
  /** Of the last frame's latency: output -> matte, queued for compositing (pipeline worker), ms. */
  matteMs: number;
  /** Person share of the last frame (matte > 0.5). */
  personShare: number;
  width: number;
  height: number;
  /** The model's output grid [height, width] on the last frame (256 x 256, or 144 x 256 for the landscape model). */
  modelSize: [number, number];
}

export interface CameraOptions {
  pipeline: Comlink.Remote<PipelineApi>;
  session: RunSession;
  spec: ModelSpec;
  /** Frames that may be in flight at once (the pool's worker count + 1: see the top of this file). */
  maxInFlight: number;
  onStats: (stats: CameraStats) => void;
  onError: (error: unknown) => void;
}

/** Why the camera could not start, in words for the page. */
export function cameraErrorMessage(error: unknown): string {
  const name = error instanceof DOMException || error instanceof Error ? error.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera permission was denied. Allow the camera for this site (the icon in the address bar) and press Start camera again.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera found. Connect a camera, or segment a photo instead.';
    case 'NotReadableError':
    case 'AbortError':
      return 'The camera is in use by another application or could not be started.';
    default:
      return `The camera could not be started: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export class CameraSession {
  private stream?: MediaStream;
  private video = document.createElement('video');
  private inFlight = 0;
  private running = false;
  private seq = 0;
  private raf = 0;
  private lastVideoTime = -1;
  private done: number[] = [];
  private latencies: number[] = [];
  private stats: CameraStats = { frames: 0, dropped: 0, fps: 0, latencyMs: 0, medianLatencyMs: 0, inputMs: 0, modelMs: 0, matteMs: 0, personShare: 0, width: 0, height: 0, modelSize: [0, 0] };

  constructor(private readonly options: CameraOptions) {
    this.video.muted = true;
    this.video.playsInline = true;
  }

  get tracks(): MediaStreamTrack[] {
    return this.stream?.getTracks() ?? [];
  }

  /** Asks for the camera and starts segmenting; rejects with a DOMException when there is none or no permission. */
  async start(): Promise<void> {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new DOMException('this page has no camera access (it needs https or localhost)', 'SecurityError');
    }
    this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    this.video.srcObject = this.stream;
    await this.video.play();
    this.running = true;
    this.stats = { ...this.stats, width: this.video.videoWidth, height: this.video.videoHeight };
    this.raf = requestAnimationFrame(this.tick);
  }

  /** Stops segmenting and releases the camera (every track stopped: the camera light goes off). */
  stop(): void {
    this.running = false;
    cancelAnimationFrame(this.raf);
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.video.pause();
    this.video.srcObject = null;
    this.stream = undefined;
    void this.options.pipeline.cameraClear();
  }

  /** The last segmented frame and its mask as PNGs (encoded in the pipeline worker). */
  snapshot(): Promise<{ frame: Blob; mask: Blob; share: number } | undefined> {
    return this.options.pipeline.cameraSnapshot(this.options.spec);
  }

  private tick = (now: number): void => {
    if (!this.running) return;
    this.raf = requestAnimationFrame(this.tick);
    // A new camera frame since the last look?
    if (this.video.readyState >= 2 && this.video.currentTime !== this.lastVideoTime) {
      this.lastVideoTime = this.video.currentTime;
      if (this.inFlight < this.options.maxInFlight) void this.segmentFrame();
      else this.stats.dropped++;
    }
    while (this.done.length && now - this.done[0] > 1000) this.done.shift();
    this.stats.fps = this.done.length;
  };

  private async segmentFrame(): Promise<void> {
    this.inFlight++;
    const seq = ++this.seq;
    const taken = performance.now();
    const { spec, session, pipeline } = this.options;
    try {
      const bitmap = await createImageBitmap(this.video);
      if (!this.running) {
        bitmap.close();
        return;
      }
      const size = spec.inputSize ?? [256, 256];
      const nhwc = spec.layout === 'nhwc';
      const input = await pipeline.cameraInput(seq, Comlink.transfer(bitmap, [bitmap]), size, [...spec.mean], [...spec.std], nhwc ? 'nhwc' : 'nchw');
      const tensor = new Tensor('float32', input, nhwc ? [1, size[0], size[1], 3] : [1, 3, size[0], size[1]]);
      const runStart = performance.now();
      const inputMs = runStart - taken;
      const outputs = await session.run({ [spec.inputName ?? session.inputNames[0]]: tensor }, { transfer: true });
      const matteStart = performance.now();
      const modelMs = matteStart - runStart;
      const out = outputs[spec.outputName ?? session.outputNames[0]];
      const data = out.data as Float32Array;
      if (!this.running) {
        void pipeline.cameraDrop(seq);
        return;
      }
      const { share, width, height } = await pipeline.cameraMatte(seq, Comlink.transfer(data, [data.buffer]), [...out.dims], spec);
      if (!this.running) return;
      const now = performance.now();
      const latency = now - taken;
      const matteMs = now - matteStart;
      this.latencies.push(latency);
      if (this.latencies.length > 30) this.latencies.shift();
      const sorted = [...this.latencies].sort((a, b) => a - b);
      this.done.push(now);
      this.stats = {
        ...this.stats,
        frames: this.stats.frames + 1,
        latencyMs: latency,
        medianLatencyMs: sorted[Math.floor(sorted.length / 2)],
        inputMs,
        modelMs,
        matteMs,
        personShare: share,
        width,
        height,
        modelSize: (nhwc ? [out.dims[1], out.dims[2]] : [out.dims[2], out.dims[3]]) as [number, number],
      };
      this.options.onStats(this.stats);
    } catch (error) {
      void pipeline.cameraDrop(seq);
      if (this.running) this.options.onError(error);
    } finally {
      this.inFlight--;
    }
  }
}
