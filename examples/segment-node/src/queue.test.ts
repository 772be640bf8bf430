// Queue mode against a real Redis (Debian's redis-server, installed by `scripts/setup.sh --tests`), started
// here on a random loopback port with persistence off and always stopped. 60 images (one corrupt) go through
// worker processes, one of which is SIGKILLed mid-run and one stopped with SIGTERM: every good image's mask
// must appear exactly once and equal the local CLI's, the corrupt one must fail with the decoder's reason.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = resolve(import.meta.dirname, '../dist/cli.js');
const SAMPLES = resolve(import.meta.dirname, '../../../models/default/samples');
const SIZE = '128';
const QUEUE = 'test-segment';

interface Child {
  proc: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: Child[] = [];

function start(command: string, args: string[], cwd: string): Child {
  const proc = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const child: Child = { proc, stdout: '', stderr: '', exited: new Promise((done) => proc.on('exit', (code, signal) => done({ code, signal }))) };
  proc.stdout!.on('data', (d) => (child.stdout += d));
  proc.stderr!.on('data', (d) => (child.stderr += d));
  children.push(child);
  return child;
}

const cli = (args: string[], cwd: string) => start('node', [CLI, ...args], cwd);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

async function pixels(path: string): Promise<Buffer> {
  return sharp(path).raw().toBuffer();
}

let dir: string;
let redis: Child;
let url: string;

beforeAll(async () => {
  try {
    execFileSync('redis-server', ['--version']);
  } catch {
    throw new Error('redis-server is not installed: `bash scripts/setup.sh --tests` (run by scripts/test-all.sh) installs it');
  }
  dir = mkdtempSync(join(tmpdir(), 'atrous-queue-'));
  const images = join(dir, 'images');
  mkdirSync(images);
  // 59 good images from the 20 samples: each as PNG, as JPEG, and (19 of them) smaller as WebP; one corrupt.
  const samples = readdirSync(SAMPLES).filter((f) => /^scene-\d+\.png$/.test(f)).sort().slice(0, 20);
  expect(samples).toHaveLength(20);
  for (const [i, name] of samples.entries()) {
    const stem = name.replace(/\.png$/, '');
    copyFileSync(join(SAMPLES, name), join(images, name));
    await sharp(join(SAMPLES, name)).jpeg({ quality: 90 }).toFile(join(images, `${stem}-q.jpg`));
    if (i < 19) await sharp(join(SAMPLES, name)).resize(200, 160, { fit: 'fill' }).webp().toFile(join(images, `${stem}-s.webp`));
  }
  writeFileSync(join(images, 'corrupt.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('not a JPEG after all')]));

  const port = await freePort();
  url = `redis://127.0.0.1:${port}`;
  redis = start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], dir);
  await until('redis-server to listen', 10_000, () => (/Ready to accept connections/.test(redis.stdout) ? true : redis.proc.exitCode !== null ? Promise.reject(new Error(`redis-server exited: ${redis.stdout}${redis.stderr}`)) : undefined));
});

afterAll(async () => {
  // Whatever happened above: nothing keeps running.
  for (const child of children) if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('atrous-segment queue mode on Redis', () => {
  it('segments 60 images over worker processes, survives a SIGKILLed worker, drains on SIGTERM, fails the corrupt image at once', async () => {
    // The local CLI's masks are the reference.
    const local = cli(['images', '--out', 'local', '--size', SIZE, '--workers', '2'], dir);
    expect((await local.exited).code).toBe(1);
    expect(local.stdout).toMatch(/59 of 60 images/);
    const localReason = /corrupt\.jpg: INVALID_ARGUMENT: (.*)/.exec(local.stdout)?.[1];
    expect(localReason).toMatch(/decodeImage: .*corrupt\.jpg is not a readable image \(.*VipsJpeg.*\)/);

    const queue = new Queue(QUEUE, { connection: { url, maxRetriesPerRequest: null } });
    try {
      const workerArgs = ['worker', '--redis', url, '--queue', QUEUE, '--workers', '1', '--lock-ms', '2000'];
      const a = cli(workerArgs, dir);
      const b = cli(workerArgs, dir);
      await until('two workers to connect', 30_000, () => (/consuming/.test(a.stderr) && /consuming/.test(b.stderr) ? true : undefined));
      const nameOf = (c: Child) => `${hostname()}:${c.proc.pid}`;

      const enqueue = cli(['enqueue', 'images', '--redis', url, '--queue', QUEUE, '--out', 'out', '--size', SIZE, '--wait'], dir);

      // Mid-run, while both hold a job: SIGKILL one (its job is left active, locked by a dead process) and
      // SIGTERM the other (it must finish what it holds).
      const heldByB = await until('both workers busy after a few jobs', 60_000, async () => {
        const [active, counts] = await Promise.all([queue.getActive(), queue.getJobCounts('completed')]);
        const b_ = active.filter((j) => j.processedBy === nameOf(b)).map((j) => j.id!);
        return counts.completed >= 3 && active.some((j) => j.processedBy === nameOf(a)) && b_.length > 0 ? b_ : undefined;
      });
      a.proc.kill('SIGKILL');
      b.proc.kill('SIGTERM');
      expect((await a.exited).signal).toBe('SIGKILL');
      const abandoned = (await queue.getActive()).filter((j) => j.processedBy === nameOf(a)).map((j) => j.id!);
      expect(abandoned.length).toBeGreaterThan(0);
      const c = cli(workerArgs, dir);

      const bExit = await b.exited;
      expect(bExit.code).toBe(0);
      expect(b.stderr).toMatch(/SIGTERM: taking no new jobs[\s\S]*drained, exiting/);

      const enqueued = await enqueue.exited;
      expect(enqueue.stderr).toBe('');
      expect(enqueued.code).toBe(1);
      expect(enqueue.stdout).toMatch(/60 jobs on queue "test-segment"/);
      expect(enqueue.stdout).toMatch(/59 done, 1 failed in [\d.]+ s/);
      const queueReason = /corrupt\.jpg: (.*)/.exec(enqueue.stdout)?.[1];
      // The same decoder message as the local run's; workers get absolute paths.
      expect(queueReason).toBe(localReason!.replace('images/corrupt.jpg', join(dir, 'images/corrupt.jpg')));

      // The dead worker's job was taken over by stalled-job handling; the drained worker finished its own. The
      // killed worker may have held the corrupt image (the order of the jobs is the workers'): taken over, that
      // one fails, as it does wherever it runs.
      for (const id of abandoned) {
        const job = (await queue.getJob(id))!;
        expect(job.stalledCounter).toBeGreaterThanOrEqual(1);
        if (job.data.file.endsWith('corrupt.jpg')) {
          expect(await job.getState()).toBe('failed');
          continue;
        }
        expect(await job.getState()).toBe('completed');
        expect(job.returnvalue.worker).toBe(nameOf(c));
      }
      for (const id of heldByB) {
        const job = (await queue.getJob(id))!;
        expect(await job.getState()).toBe('completed');
        expect(job.returnvalue.worker).toBe(nameOf(b));
      }
      // The corrupt image failed on its first attempt (no retries), with the decoder's reason.
      const [failed] = await queue.getFailed();
      expect(failed.data.file).toBe(join(dir, 'images/corrupt.jpg'));
      expect(failed.attemptsMade).toBe(1);

      // Exactly one mask and one overlay per good image, equal to the local CLI's; nothing for the corrupt one.
      const expected = readdirSync(join(dir, 'local')).filter((f) => !f.startsWith('.')).sort();
      expect(expected).toHaveLength(2 * 59);
      const written = readdirSync(join(dir, 'out')).filter((f) => !f.startsWith('.')).sort();
      expect(written).toEqual(expected);
      for (const name of expected.filter((f) => f.endsWith('.mask.png'))) {
        expect((await pixels(join(dir, 'out', name))).equals(await pixels(join(dir, 'local', name))), name).toBe(true);
      }

      const status = cli(['status', '--redis', url, '--queue', QUEUE], dir);
      expect((await status.exited).code).toBe(0);
      expect(status.stdout).toMatch(/waiting 0 {2}active 0 {2}delayed \(retry backoff\) 0 {2}done 59 {2}failed 1/);
      expect(status.stdout).toContain(`corrupt.jpg: ${queueReason} (1 attempt)`);

      c.proc.kill('SIGTERM');
      expect((await c.exited).code).toBe(0);
    } finally {
      await queue.close();
    }

    redis.proc.kill('SIGTERM');
    expect((await redis.exited).code).toBe(0);
    for (const child of children) expect(alive(child.proc.pid!), `pid ${child.proc.pid} (${child.proc.spawnargs.join(' ')})`).toBe(false);
  }, 240_000);

  it('refuses a bad --redis or --queue with a message naming the value', async () => {
    const badUrl = cli(['status', '--redis', 'localhost:6379'], dir);
    expect((await badUrl.exited).code).not.toBe(0);
    expect(badUrl.stderr).toMatch(/--redis must be a redis:\/\/ or rediss:\/\/ URL such as redis:\/\/127\.0\.0\.1:6379, got "localhost:6379"/);
    const badQueue = cli(['status', '--redis', 'redis://127.0.0.1:1', '--queue', 'a b'], dir);
    expect((await badQueue.exited).code).not.toBe(0);
    expect(badQueue.stderr).toMatch(/--queue must be 1 to 100 letters, digits, '_', '\.' or '-', got "a b"/);
    const noRedis = cli(['worker'], dir);
    expect((await noRedis.exited).code).not.toBe(0);
    expect(noRedis.stderr).toMatch(/required option '--redis <url>' not specified/);
  });
});
