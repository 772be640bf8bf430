/**
 * The kernels' extern "C" exports (crates/atrous-wasm/src/lib.rs), typed. Pointers and sizes are u32
 * byte offsets into the module's memory.
 */
export interface KernelExports {
  memory: WebAssembly.Memory;
  atrous_alloc(bytes: number): number;
  atrous_free(ptr: number, bytes: number): void;
  atrous_isa(): number;
  atrous_last_error(): number;
  atrous_conv_plan_create(desc: number, weights: number, bias: number): number;
  atrous_conv_plan_free(plan: number): void;
  atrous_conv_plan_bytes(plan: number): number;
  atrous_conv_plan_output_dims(plan: number, batch: number, height: number, width: number, dims: number): number;
  atrous_conv_plan_run(plan: number, input: number, batch: number, height: number, width: number, output: number, residual: number): number;
  /** Bilinear resize (onnx/ops/resize.ts); optional so that an older build still loads. */
  atrous_resize_bilinear?(src: number, dst: number, planes: number, h: number, w: number, oh: number, ow: number, tables: number): number;
  /** Feature-map element-wise kernels for ONNX sessions (onnx/ops), optional likewise. */
  atrous_scale_planes?(src: number, scale: number, dst: number, planes: number, len: number): void;
  atrous_mean_planes?(src: number, dst: number, planes: number, len: number): void;
  atrous_combine?(a: number, b: number, dst: number, n: number, multiply: number): void;
  atrous_max_pool2d?(src: number, dst: number, desc: number): number;
  atrous_activate?(src: number, dst: number, n: number, code: number, p0: number, p1: number): number;
}

/** Slots of the u32 descriptor read by `atrous_conv_plan_create` (mirrors `desc` in the Rust ABI). */
export const ConvDesc = {
  IN_CHANNELS: 0,
  OUT_CHANNELS: 1,
  KERNEL_H: 2,
  KERNEL_W: 3,
  STRIDE_H: 4,
  STRIDE_W: 5,
  DILATION_H: 6,
  DILATION_W: 7,
  PAD_MODE: 8,
  PADS: 9,
  GROUPS: 13,
  ACTIVATION: 14,
  ACTIVATION_P0: 15,
  ACTIVATION_P1: 16,
  LEN: 17,
} as const;

export const PadMode = { explicit: 0, 'same-upper': 1, 'same-lower': 2, valid: 3 } as const;

export const ActivationCode = {
  none: 0,
  relu: 1,
  clip: 2,
  hardSigmoid: 3,
  hardSwish: 4,
  sigmoid: 5,
  leakyRelu: 6,
} as const;

/** `atrous_kernels::ConvError` discriminants, for messages when a kernel rejects what TypeScript let through. */
export const KernelStatus: Record<number, string> = {
  1: 'a dimension is zero',
  2: 'groups do not divide the channels',
  3: 'a stride is not positive',
  4: 'a dilation is not positive',
  5: 'the output would be smaller than 1 pixel',
  6: 'the weight length does not match the shape',
  7: 'the bias length does not match the output channels',
  8: 'the input length does not match its dims',
  9: 'the output length does not match',
  10: 'the residual length does not match the output',
  11: 'the wasm memory cannot hold the scratch buffers',
  12: 'a size overflows 32-bit wasm addressing',
  13: 'the channel counts do not match',
};
export const STATUS_OUT_OF_MEMORY = 11;
export const STATUS_SIZE_OVERFLOW = 12;
