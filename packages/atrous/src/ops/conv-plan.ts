import { AtrousError, show } from '../errors.js';
import { Tensor, expectFloat32 } from '../tensor.js';
import { ConvMethodCode } from '../wasm/abi.js';
import type { Engine } from '../wasm/engine.js';
import { currentEngine } from '../wasm/loader.js';
import { convOutputDims, encodeConvSpec, resolveConvSpec, type Conv2dOptions, type ConvSpec } from './conv-options.js';

export interface ConvRunOptions {
  /** Output-shaped tensor added before the activation (a fused residual connection). */
  residual?: Tensor<'float32'>;
  /**
   * Threads the run splits over, up to what `init({ intraOpNumThreads })` started (runs are synchronous,
   * so they cannot start threads themselves). Default: that init count (1 unless asked).
   */
  intraOpNumThreads?: number;
}

/** Where an in-thread run writes its result (not part of `ConvRunOptions`: a worker pool cannot write into it). */
export interface ConvOutputOptions {
  /**
   * A float32 tensor with exactly the output's dims to write the result into; the run returns this same
   * tensor, so a loop over frames allocates no output. It must not share memory with the input or the residual.
   */
  output?: Tensor<'float32'>;
}

/** Bytes `a` and `b` both cover, if any (views on the same buffer). */
function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * Checks `options.output` (`name` is how the caller calls it) against the output dims, and that it shares no
 * memory with the arrays it is read from (`sources`, by name).
 */
export function checkOutput(
  value: unknown,
  name: string,
  outDims: readonly number[],
  layout: string,
  sources: readonly [string, ArrayBufferView | undefined][],
): Tensor<'float32'> {
  const t = expectFloat32(value, name, outDims.length, layout);
  if (t.dims.some((d, i) => d !== outDims[i])) {
    throw new AtrousError('INVALID_SHAPE', `${name} must have the output's dims ${show(outDims)}, got ${show(t.dims)}`);
  }
  for (const [source, data] of sources) {
    if (data && overlaps(t.data, data)) {
      throw new AtrousError('INVALID_ARGUMENT', `${name} (dims ${show(t.dims)}) shares memory with the ${source}; give a tensor of its own`);
    }
  }
  return t;
}

/** The kernel families a conv plan runs on (see `ConvPlan.method`). */
export type ConvMethod = keyof typeof ConvMethodCode;

// A plan the user forgot to dispose still frees its wasm memory once it is garbage-collected.
const forgotten = new FinalizationRegistry<{ engine: Engine; ptr: number }>(({ engine, ptr }) => {
  engine.kernels.conv.freePlan(ptr);
});

/**
 * A convolution prepared once: weights checked, packed for the kernels and kept in wasm memory.
 * `run` it on as many inputs as you like (any batch and spatial size), then `dispose()` it.
 */
export class ConvPlan {
  readonly spec: Readonly<ConvSpec>;
  readonly weightDims: readonly number[];
  private readonly engine: Engine;
  private ptr: number;
  private readonly op: string;

  constructor(weights: Tensor<'float32'>, options: Conv2dOptions = {}, op = 'prepareConv2d') {
    const w = expectFloat32(weights, `${op}: weights`, 4, '[M, C/groups, kH, kW]');
    this.op = op;
    this.spec = resolveConvSpec(w, options, op);
    this.weightDims = w.dims;
    this.engine = currentEngine(op);
    const e = this.engine;
    this.ptr = e.kernels.conv.createPlan(encodeConvSpec(this.spec), w.data, this.spec.bias, op, () => `weights ${show(w.dims)}`);
    forgotten.register(this, { engine: e, ptr: this.ptr }, this);
  }

  /** The wasm build this plan runs on. */
  get build(): string {
    return this.engine.build;
  }

  /** Bytes of wasm memory the prepared weights occupy. */
  get preparedBytes(): number {
    return this.engine.kernels.conv.planBytes(this.livePtr());
  }

  /** Output dims `[N, M, OH, OW]` for input dims `[N, C, H, W]`. */
  outputDims(inputDims: readonly number[]): [number, number, number, number] {
    if (inputDims.length !== 4) throw new AtrousError('INVALID_SHAPE', `${this.op}: input must have rank 4 [N, C, H, W], got dims ${show(inputDims)}`);
    return convOutputDims(this.spec, inputDims, this.op);
  }

  /**
   * The kernel family a run on an input of dims `[N, C, H, W]` uses: `'winograd'` (3x3, stride 1, one group,
   * where the cost model expects it to be faster at that size), `'depthwise'`, or `'gemm'` (the direct method).
   */
  method(inputDims: readonly number[]): ConvMethod {
    const ptr = this.livePtr();
    this.outputDims(inputDims);
    const [n, , h, w] = inputDims as [number, number, number, number];
    const code = this.engine.kernels.conv.planMethod(ptr, n, h, w, this.op, () => `input ${show(inputDims)}`);
    const name = (Object.keys(ConvMethodCode) as ConvMethod[]).find((k) => ConvMethodCode[k] === code);
    if (name === undefined) throw new AtrousError('INTERNAL', `${this.op}: unknown conv method code ${code}`);
    return name;
  }

  /**
   * Runs the convolution on `input` `[N, C, H, W]`. With `options.output`, writes into that tensor and
   * returns it; otherwise returns a new tensor.
   */
  run(input: Tensor<'float32'>, options: ConvRunOptions & ConvOutputOptions = {}): Tensor<'float32'> {
    const ptr = this.livePtr();
    const x = expectFloat32(input, `${this.op}: input`, 4, '[N, C, H, W]');
    const outDims = this.outputDims(x.dims);
    const outLength = outDims.reduce((a, b) => a * b, 1);
    let residual: Float32Array | undefined;
    if (options.residual !== undefined) {
      const r = expectFloat32(options.residual, `${this.op}: options.residual`, 4, '[N, M, OH, OW]');
      if (r.dims.some((d, i) => d !== outDims[i])) {
        throw new AtrousError('INVALID_SHAPE', `${this.op}: options.residual must have the output's dims ${show(outDims)}, got ${show(r.dims)}`);
      }
      residual = r.data;
    }
    const output =
      options.output === undefined
        ? undefined
        : checkOutput(options.output, `${this.op}: options.output`, outDims, '[N, M, OH, OW]', [['input', x.data], ['residual', residual]]);
    const e = this.engine;
    const [n, , h, w] = x.dims as [number, number, number, number];
    const outBytes = outLength * 4;
    let inPtr = 0;
    let outPtr = 0;
    let resPtr = 0;
    try {
      inPtr = e.upload(x.data, `${this.op}: input ${show(x.dims)}`);
      outPtr = e.alloc(outBytes, `${this.op}: output ${show(outDims)}`);
      if (residual) resPtr = e.upload(residual, `${this.op}: residual ${show(outDims)}`);
      e.useThreadsNow(options.intraOpNumThreads ?? e.initThreads, this.op);
      e.kernels.conv.run(ptr, inPtr, n, h, w, outPtr, resPtr, this.op, () => `input ${show(x.dims)}, weights ${show(this.weightDims)}`);
      // `set` from a view on wasm memory is a plain copy; `slice()` on such a view was measured 3x slower.
      if (output) {
        output.data.set(e.f32(outPtr, outLength));
        return output;
      }
      const result = new Float32Array(outLength);
      result.set(e.f32(outPtr, outLength));
      return new Tensor('float32', result, outDims);
    } finally {
      e.free(inPtr, x.data.byteLength);
      e.free(outPtr, outBytes);
      if (residual) e.free(resPtr, residual.byteLength);
    }
  }

  /** Frees the prepared weights. The plan cannot run afterwards. */
  dispose(): void {
    if (this.ptr !== 0) {
      forgotten.unregister(this);
      this.engine.kernels.conv.freePlan(this.ptr);
      this.ptr = 0;
    }
  }

  private livePtr(): number {
    if (this.ptr === 0) throw new AtrousError('DISPOSED', `${this.op}: this plan was disposed`);
    return this.ptr;
  }
}

/** Prepares a 2-D convolution: weights `[M, C/groups, kH, kW]` are packed once for many `run`s. */
export function prepareConv2d(weights: Tensor<'float32'>, options: Conv2dOptions = {}): ConvPlan {
  return new ConvPlan(weights, options, 'prepareConv2d');
}
