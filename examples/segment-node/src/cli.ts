#!/usr/bin/env node
// atrous-segment <files or folders...> [options]               segment here, in this process's worker pool
// atrous-segment enqueue <files or folders...> --redis <url>   one BullMQ job per image, for queue workers
// atrous-segment worker --redis <url>                          consume jobs until SIGTERM, then drain
// atrous-segment status --redis <url>                          counts and failures
// atrous-segment finetune <images...> --masks <dir> --out t.onnx  fine-tune the head on labelled images
import { availableParallelism } from 'node:os';
import v8 from 'node:v8';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { WasmBuild } from 'atrous';
import { DEFAULT_MODEL_HEAD, runFinetune, type FinetuneOptions } from './finetune.js';
import { describeError } from './inputs.js';
import { runLocal, type LocalRunOptions } from './local-run.js';
import { DEFAULT_QUEUE, enqueue, parseQueueName, parseRedisUrl, runWorker, showStatus } from './queue.js';

function positiveInt(name: string, max: number, min = 1) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`);
    return n;
  };
}

function opacity(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`opacity must be a number in 0..1, got ${JSON.stringify(value)}`);
  return n;
}

function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(Number.isFinite(n) && n > 0) || value.trim() === '') throw new InvalidArgumentError(`${name} must be a number > 0, got ${JSON.stringify(value)}`);
    return n;
  };
}

function share(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 1) || value.trim() === '') throw new InvalidArgumentError(`--holdout must be a number between 0 and 1 (the share of images held out), got ${JSON.stringify(value)}`);
  return n;
}

/** commander's parsers report InvalidArgumentError with the option's name; these carry their own message. */
function wrap<T>(parse: (value: string) => T) {
  return (value: string): T => {
    try {
      return parse(value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

function enableRelaxedSimd(build: WasmBuild | undefined): void {
  if (build === undefined || build === 'relaxed') {
    // Node 20 keeps relaxed SIMD (fused multiply-add: about 1.5x faster here) behind a V8 flag that cannot go
    // in NODE_OPTIONS nor in a worker's execArgv. Set in-process before any worker starts, every worker sees it.
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  }
}

const defaultWorkers = Math.min(availableParallelism(), 4);
const modelOption = () =>
  new Option('-m, --model <model>', 'default (the built-in model), isnet (salient object, fetched by tools/fetch-isnet.mjs), selfie (the person, MediaPipe selfie segmentation .tflite at 256x256; writes <name>.cutout.png with alpha too), selfie-landscape (the same at 256x144, for wide pictures) or a path to an .onnx file').default('default');
const sizeOption = () =>
  new Option('-s, --size <n>', "model input size: the long side for fully convolutional models, the side for fixed-size ones (default: the model's own)").argParser(
    positiveInt('--size', 4096, 8),
  );
const buildOption = () => new Option('-b, --build <build>', 'wasm build the workers run (default: the best this Node can run)').choices(['relaxed', 'simd128', 'scalar']);
const redisOption = () => new Option('--redis <url>', 'Redis the queue lives in, e.g. redis://127.0.0.1:6379').argParser(wrap(parseRedisUrl)).makeOptionMandatory();
const queueOption = () => new Option('--queue <name>', 'queue name').argParser(wrap(parseQueueName)).default(DEFAULT_QUEUE);

async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command().name('atrous-segment').description('Segment images with atrous (wasm SIMD in a worker pool) into class-colour mask PNGs and overlays.').showHelpAfterError();

  program
    .command('segment', { isDefault: true })
    .description('segment images here (the default command: `atrous-segment <inputs...>`)')
    .argument('<inputs...>', 'image files (PNG, JPEG, WebP, AVIF, TIFF) or folders to scan for them')
    .addOption(modelOption())
    .option('-o, --out <dir>', 'folder for <name>.mask.png and <name>.overlay.png', 'masks')
    .option('-w, --workers <n>', 'worker threads', positiveInt('--workers', 64), defaultWorkers)
    .addOption(sizeOption())
    .option('--classes <names>', 'comma-separated class names for an .onnx that carries none')
    .option('--opacity <alpha>', 'how strongly the overlay colours the image, 0..1', opacity, 0.5)
    .addOption(buildOption())
    .option('--truth <dir>', 'folder of ground-truth masks (<name>.mask.png, grey value = class index): report mIoU against them')
    .showHelpAfterError()
    .action(async (inputs: string[], opts: LocalRunOptions) => {
      enableRelaxedSimd(opts.build);
      code = await runLocal(inputs, opts);
    });

  program
    .command('enqueue')
    .description('add one job per image to a Redis queue for `atrous-segment worker` processes')
    .argument('<inputs...>', 'image files or folders, on storage the workers share (same paths)')
    .addOption(redisOption())
    .addOption(queueOption())
    .requiredOption('-o, --out <dir>', 'output folder on the shared storage')
    .addOption(modelOption())
    .addOption(sizeOption())
    .option('--classes <names>', 'comma-separated class names for an .onnx that carries none')
    .option('--opacity <alpha>', 'how strongly the overlay colours the image, 0..1', opacity, 0.5)
    .option('--attempts <n>', 'tries per job for transient failures (an unreadable image fails at once)', positiveInt('--attempts', 100), 3)
    .option('--wait', 'wait for the jobs: a progress bar, then done, failed (with reasons) and time')
    .showHelpAfterError()
    .action(async (inputs: string[], opts) => {
      code = await enqueue(inputs, { ...opts, wait: Boolean(opts.wait) });
    });

  program
    .command('worker')
    .description('segment jobs from a Redis queue until SIGTERM, then finish the jobs held and exit')
    .addOption(redisOption())
    .addOption(queueOption())
    .option('-w, --workers <n>', 'worker threads in this process (= jobs at once)', positiveInt('--workers', 64), defaultWorkers)
    .addOption(buildOption())
    .option('--lock-ms <ms>', "how long a job stays locked without its worker's heartbeat before another worker takes it over", positiveInt('--lock-ms', 3_600_000, 1000), 30_000)
    .showHelpAfterError()
    .action(async (opts) => {
      enableRelaxedSimd(opts.build);
      code = await runWorker(opts);
    });

  program
    .command('status')
    .description("a queue's counts (waiting, active, done, failed) and its failures")
    .addOption(redisOption())
    .addOption(queueOption())
    .option('--failures <n>', 'how many failures to list', positiveInt('--failures', 100_000), 20)
    .showHelpAfterError()
    .action(async (opts) => {
      code = await showStatus(opts);
    });

  program
    .command('finetune')
    .description('fine-tune a model on images and their masks; prints the loss per step and mIoU on held-out images before and after, writes the tuned ONNX')
    .argument('<images...>', 'image files or folders (PNG, JPEG, WebP, AVIF, TIFF); *.mask.png files are skipped')
    .requiredOption('--masks <dir>', 'folder of masks <name>.mask.png for every image: 8-bit grey, value = class index (as models/default/samples)')
    .requiredOption('-o, --out <file.onnx>', 'where the tuned model goes')
    .addOption(new Option('-m, --model <model>', 'default (the built-in model) or a path to an .onnx file with class scores [N, C, H, W]').default('default'))
    .option('--steps <n>', 'training steps', positiveInt('--steps', 1_000_000), 100)
    .option('--after <node>', `train only the layers after this node (default for the built-in model: ${DEFAULT_MODEL_HEAD}, its decoder and classifier; for another model: every layer)`)
    .option('--lr <x>', 'Adam learning rate', positiveNumber('--lr'), 1e-3)
    .option('--batch <n>', 'images per step', positiveInt('--batch', 256), 4)
    .option('--holdout <share>', 'share of the images held out for mIoU, chosen by file name (deterministic)', share, 0.25)
    .option('--seed <n>', 'seed of the order training images are drawn in', positiveInt('--seed', 2 ** 31 - 1, 0), 1)
    .addOption(sizeOption())
    .option('--classes <names>', 'comma-separated class names for an .onnx that carries none')
    .addOption(buildOption())
    .showHelpAfterError()
    .action(async (images: string[], opts: FinetuneOptions) => {
      enableRelaxedSimd(opts.build);
      code = await runFinetune(images, opts);
    });

  await program.parseAsync(argv);
  return code;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`atrous-segment: ${describeError(error)}`);
    process.exitCode = 2;
  },
);
