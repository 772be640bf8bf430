// Queue mode: `enqueue` adds one BullMQ job per image to a Redis queue, `worker` processes run the pipeline
// on them (each with its own atrous pool), `status` reads the queue. The output folder is shared storage that
// every worker sees under the same path.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { Queue, QueueEvents, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { WasmBuild } from 'atrous';
import { checkOutDir, collectInputs, describeError, outputStems, type Failure } from './inputs.js';
import { UndecodableImageError } from './image-files.js';
import { isNamedModel, resolveModel } from './models.js';
import { segmentFile } from './segment-file.js';
import { Segmenter } from './segment.js';

export const DEFAULT_QUEUE = 'atrous-segment';

/** What one job carries: everything a worker on another machine needs, with absolute paths. */
export interface SegmentJobData {
  file: string;
  out: string;
  stem: string;
  /** "default", "isnet" or an absolute path to an .onnx file. */
  model: string;
  size?: number;
  classes?: string[];
  opacity: number;
}

export interface SegmentJobResult {
  mask: string;
  width: number;
  height: number;
  inferenceMs: number;
  worker: string;
}

/** `--redis` as a URL, or an error naming the argument and the value. */
export function parseRedisUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--redis must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new Error(`--redis must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The URL without its password, for messages. */
function shownUrl(value: string): string {
  const url = new URL(value);
  if (url.password) url.password = '***';
  return url.toString();
}

export function parseQueueName(value: string): string {
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(value)) {
    throw new Error(`--queue must be 1 to 100 letters, digits, '_', '.' or '-', got ${JSON.stringify(value)}`);
  }
  return value;
}

function connection(url: string): ConnectionOptions {
  // maxRetriesPerRequest null: BullMQ's blocking commands must wait out a Redis restart, not fail.
  return { url, maxRetriesPerRequest: null };
}

/**
 * Waits for `client` (a Queue or QueueEvents) to reach Redis; commands that only talk to the queue fail after
 * `ms` with the connection's last error instead of retrying forever. Workers, on the contrary, keep retrying.
 */
async function connectOrFail(client: Queue | QueueEvents, url: string, ms = 10_000): Promise<void> {
  let lastError: unknown;
  const onError = (error: unknown) => (lastError = error);
  const emitter = client as unknown as NodeJS.EventEmitter;
  emitter.on('error', onError);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.waitUntilReady(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`--redis ${shownUrl(url)}: no answer in ${ms / 1000} s${lastError ? ` (${describeError(lastError)})` : ''}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    emitter.off('error', onError);
  }
}

export interface EnqueueOptions {
  redis: string;
  queue: string;
  out: string;
  model: string;
  size?: number;
  classes?: string;
  opacity: number;
  attempts: number;
  wait: boolean;
}

/** Jobs added per round trip. */
const BULK = 500;

export async function enqueue(inputs: string[], opts: EnqueueOptions): Promise<number> {
  const outDir = resolve(opts.out);
  checkOutDir(inputs, opts.out);
  const failures: Failure[] = [];
  const files = (await collectInputs(inputs, outDir, failures)).map((f) => resolve(f));
  for (const f of failures) console.error(`atrous-segment enqueue: ${f.file}: ${f.reason}`);
  if (files.length === 0) {
    console.error(`atrous-segment enqueue: no image files (PNG, JPEG, WebP, AVIF, TIFF) found in ${inputs.join(', ')}`);
    return 1;
  }
  // Checked here, where a mistake is cheap: workers load the same path (shared storage) later.
  const model = await resolveModel(opts.model);
  // A named model goes by its name (a worker resolves it in its own checkout); a file by its full path.
  const modelRef = isNamedModel(opts.model) ? opts.model : model.path;
  await mkdir(outDir, { recursive: true });

  const queue = new Queue<SegmentJobData, SegmentJobResult>(opts.queue, { connection: connection(opts.redis) });
  const events = opts.wait ? new QueueEvents(opts.queue, { connection: connection(opts.redis) }) : undefined;
  try {
    await connectOrFail(queue, opts.redis);
    // Listening before the first job is added, so no job can finish unseen.
    if (events) await connectOrFail(events, opts.redis);

    const batch = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const stems = outputStems(files);
    const classes = opts.classes?.split(',').map((c) => c.trim());
    const ids = files.map((_, i) => `${batch}-${i}`);
    const fileOf = new Map(ids.map((id, i) => [id, files[i]]));
    const pending = new Set(ids);
    let done = 0;
    const failed: Failure[] = [];
    const start = performance.now();
    const bar =
      events && process.stderr.isTTY
        ? new cliProgress.SingleBar(
            { format: 'segmenting {bar} {value}/{total} | {done} done, {failed} failed | {rate} images/s', hideCursor: true, clearOnComplete: false, barsize: 30 },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
    let finished: () => void = () => {};
    const allFinished = new Promise<void>((resolve) => (finished = resolve));
    const settle = (jobId: string, reason?: string) => {
      if (!pending.delete(jobId)) return;
      if (reason === undefined) done++;
      else failed.push({ file: fileOf.get(jobId) ?? jobId, reason });
      const seconds = (performance.now() - start) / 1000;
      bar?.update(done + failed.length, { done, failed: failed.length, rate: ((done + failed.length) / seconds).toFixed(1) });
      if (pending.size === 0) finished();
    };
    events?.on('completed', ({ jobId }) => settle(jobId));
    events?.on('failed', ({ jobId, failedReason }) => settle(jobId, failedReason));

    bar?.start(files.length, 0, { done: 0, failed: 0, rate: '0.0' });
    for (let i = 0; i < files.length; i += BULK) {
      await queue.addBulk(
        files.slice(i, i + BULK).map((file, k) => ({
          name: 'segment',
          data: { file, out: outDir, stem: stems[i + k], model: modelRef, size: opts.size, classes, opacity: opts.opacity },
          opts: {
            jobId: ids[i + k],
            attempts: opts.attempts,
            backoff: { type: 'exponential', delay: 1000 },
            removeOnComplete: { count: 100_000 },
            removeOnFail: false,
          },
        })),
      );
    }
    const where = `queue ${JSON.stringify(opts.queue)} at ${shownUrl(opts.redis)}`;
    if (!events) {
      process.stdout.write(`atrous-segment enqueue: ${files.length} jobs added to ${where} (batch ${batch}); outputs go to ${outDir}\n`);
      return failures.length > 0 ? 1 : 0;
    }
    // Events can be missed if the connection drops: every few seconds, ask Redis for the jobs still open.
    const reconcile = setInterval(() => {
      for (const id of [...pending].slice(0, 1000)) {
        queue.getJob(id).then(async (job) => {
          if (!job) return;
          const state = await job.getState();
          if (state === 'completed') settle(id);
          else if (state === 'failed') settle(id, job.failedReason);
        }, () => {});
      }
    }, 5000);
    try {
      await allFinished;
    } finally {
      clearInterval(reconcile);
      bar?.stop();
    }
    const seconds = (performance.now() - start) / 1000;
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(`atrous-segment enqueue: ${files.length} jobs on ${where} (batch ${batch})`);
    out(`  ${done} done, ${failed.length} failed in ${seconds.toFixed(2)} s (${(files.length / seconds).toFixed(2)} images/s)`);
    out(`  masks in ${outDir}`);
    if (failed.length > 0) {
      out(`  ${failed.length} failed:`);
      for (const f of failed) out(`    ${f.file}: ${f.reason}`);
    }
    return failed.length > 0 || failures.length > 0 ? 1 : 0;
  } finally {
    await events?.close();
    await queue.close();
  }
}

export interface WorkerOptions {
  redis: string;
  queue: string;
  workers: number;
  build?: WasmBuild;
  lockMs: number;
}

export async function runWorker(opts: WorkerOptions): Promise<number> {
  const name = `${hostname()}:${process.pid}`;
  const log = (line: string) => process.stderr.write(`atrous-segment worker ${name}: ${line}\n`);
  // One pool per model (and size and classes) the jobs ask for; in practice one.
  const segmenters = new Map<string, Promise<Segmenter>>();
  const segmenterFor = (data: SegmentJobData): Promise<Segmenter> => {
    const key = JSON.stringify([data.model, data.size, data.classes]);
    let segmenter = segmenters.get(key);
    if (!segmenter) {
      segmenter = resolveModel(data.model).then((model) => Segmenter.create({ model, workers: opts.workers, size: data.size, classes: data.classes, build: opts.build }));
      segmenters.set(key, segmenter);
      // A failed load is not kept: the next job tries again (the model may appear on the shared storage).
      segmenter.catch(() => segmenters.delete(key));
    }
    return segmenter;
  };

  const process_ = async (job: Job<SegmentJobData, SegmentJobResult>): Promise<SegmentJobResult> => {
    const { file, out, stem, opacity } = job.data;
    const segmenter = await segmenterFor(job.data);
    await mkdir(out, { recursive: true });
    try {
      const result = await segmentFile(segmenter, file, out, stem, opacity);
      return { mask: result.maskPath, width: result.width, height: result.height, inferenceMs: result.inferenceMs, worker: name };
    } catch (error) {
      // A file the decoder rejects will be rejected again: fail it now, with the decoder's reason.
      if (error instanceof UndecodableImageError) throw new UnrecoverableError(error.message);
      throw error;
    }
  };

  const worker = new Worker<SegmentJobData, SegmentJobResult>(opts.queue, process_, {
    connection: connection(opts.redis),
    name,
    concurrency: opts.workers,
    // A worker that dies holding jobs stops renewing their locks; after lockMs another worker's stalled-job
    // check moves them back to waiting (once: a job that stalls twice is failed, it may be what kills workers).
    lockDuration: opts.lockMs,
    stalledInterval: opts.lockMs,
    maxStalledCount: 1,
    autorun: false,
  });
  worker.on('failed', (job, error) => {
    if (job) log(`job ${job.id} (${job.data.file}) attempt ${job.attemptsMade} failed: ${error.message}`);
  });
  worker.on('error', (error) => log(`error: ${describeError(error)}`));

  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    if (stopping) return;
    log(`${signal}: taking no new jobs, finishing the ones held`);
    stopping = (async () => {
      await worker.close();
      for (const segmenter of segmenters.values()) await segmenter.then((s) => s.close(), () => {});
      log('drained, exiting');
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  await worker.waitUntilReady();
  log(`consuming queue ${JSON.stringify(opts.queue)} at ${shownUrl(opts.redis)} with ${opts.workers} worker thread${opts.workers > 1 ? 's' : ''}`);
  await worker.run();
  await stopping;
  return 0;
}

export interface StatusOptions {
  redis: string;
  queue: string;
  failures: number;
}

export async function showStatus(opts: StatusOptions): Promise<number> {
  const queue = new Queue<SegmentJobData, SegmentJobResult>(opts.queue, { connection: connection(opts.redis) });
  try {
    await connectOrFail(queue, opts.redis);
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
    const workers = await queue.getWorkers();
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(`queue ${JSON.stringify(opts.queue)} at ${shownUrl(opts.redis)}`);
    out(
      `  waiting ${counts.waiting + counts.prioritized}  active ${counts.active}  delayed (retry backoff) ${counts.delayed}  done ${counts.completed}  failed ${counts.failed}`,
    );
    out(`  worker processes connected: ${workers.length}`);
    if (counts.failed > 0) {
      const shown = Math.min(counts.failed, opts.failures);
      const failed = await queue.getFailed(0, shown - 1);
      out(`  failures${shown < counts.failed ? ` (latest ${shown} of ${counts.failed})` : ''}:`);
      for (const job of failed) out(`    ${job.data.file}: ${job.failedReason} (${job.attemptsMade} attempt${job.attemptsMade === 1 ? '' : 's'})`);
    }
    return 0;
  } finally {
    await queue.close();
  }
}
