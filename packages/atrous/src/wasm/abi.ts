/**
 * The kernels' extern "C" ABI (crates/atrous-wasm), typed. Pointers and sizes are u32 byte offsets into
 * the module's memory; every export that can fail returns a `StatusCode`.
 *
 * The numbers below mirror crates/atrous-wasm/src/abi_table.rs. They are not trusted: `abi.test.ts` reads
 * the module's own table (`atrous_abi_table`) and checks every entry of `ABI_TABLES` against it, both ways.
 * Only the kernel facade (src/kernels/) touches these exports; ops call the facade.
 */
export interface KernelExports {
  memory: WebAssembly.Memory;
  atrous_alloc(bytes: number): number;
  atrous_free(ptr: number, bytes: number): void;
  atrous_isa(): number;
  atrous_abi_table(buf: number, capacity: number): number;
  atrous_conv_plan_create(desc: number, weights: number, bias: number, planOut: number): number;
  atrous_conv_plan_free(plan: number): void;
  atrous_conv_plan_bytes(plan: number): number;
  atrous_conv_plan_output_dims(plan: number, batch: number, height: number, width: number, dims: number): number;
  atrous_conv_plan_run(plan: number, input: number, batch: number, height: number, width: number, output: number, residual: number): number;
  atrous_resize_bilinear(src: number, dst: number, planes: number, h: number, w: number, oh: number, ow: number, tables: number): number;
  atrous_scale_planes(src: number, scale: number, dst: number, planes: number, len: number): number;
  atrous_mean_planes(src: number, dst: number, planes: number, len: number): number;
  atrous_combine(a: number, b: number, dst: number, n: number, multiply: number): number;
  atrous_max_pool2d(src: number, dst: number, desc: number): number;
  atrous_activate(src: number, dst: number, n: number, code: number, p0: number, p1: number): number;
  atrous_copy_strided(src: number, dst: number, desc: number): number;
  atrous_pad(src: number, dst: number, desc: number): number;
  atrous_gather(src: number, indices: number, dst: number, outer: number, axisLen: number, inner: number, count: number): number;
  atrous_fill(dst: number, n: number, value: number): number;
  atrous_top_k(src: number, outer: number, len: number, inner: number, k: number, largest: number, values: number, indices: number): number;
  atrous_conv_transpose_plan_create(desc: number, weights: number, bias: number, planOut: number): number;
  atrous_conv_transpose_plan_free(plan: number): void;
  atrous_conv_transpose_plan_bytes(plan: number): number;
  atrous_conv_transpose_plan_run(plan: number, input: number, batch: number, height: number, width: number, output: number, outHeight: number, outWidth: number): number;
}

/** Slots of the u32 descriptor read by `atrous_conv_plan_create`. */
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

/** Slots of the u32 descriptor read by `atrous_max_pool2d`. */
export const PoolDesc = {
  PLANES: 0,
  IN_H: 1,
  IN_W: 2,
  OUT_H: 3,
  OUT_W: 4,
  KERNEL_H: 5,
  KERNEL_W: 6,
  STRIDE_H: 7,
  STRIDE_W: 8,
  DILATION_H: 9,
  DILATION_W: 10,
  PAD_TOP: 11,
  PAD_LEFT: 12,
  LEN: 13,
} as const;

/** Slots of the u32 descriptor read by `atrous_copy_strided`: `MAX_RANK` (6) slots per list, strides as i32 bits. */
export const StridedDesc = {
  RANK: 0,
  DIMS: 1,
  SRC_STRIDES: 7,
  DST_STRIDES: 13,
  LEN: 19,
} as const;

export const PadKind = { constant: 0, reflect: 1, edge: 2 } as const;

/** Slots of the u32 descriptor read by `atrous_pad` (VALUE as f32 bits). */
export const PadDesc = {
  RANK: 0,
  MODE: 1,
  VALUE: 2,
  DIMS: 3,
  BEGIN: 9,
  END: 15,
  LEN: 21,
} as const;

/** Slots of the u32 descriptor read by `atrous_conv_transpose_plan_create`. */
export const ConvTransposeDesc = {
  IN_CHANNELS: 0,
  OUT_CHANNELS: 1,
  KERNEL_H: 2,
  KERNEL_W: 3,
  STRIDE_H: 4,
  STRIDE_W: 5,
  DILATION_H: 6,
  DILATION_W: 7,
  PAD_TOP: 8,
  PAD_LEFT: 9,
  GROUPS: 10,
  ACTIVATION: 11,
  ACTIVATION_P0: 12,
  ACTIVATION_P1: 13,
  LEN: 14,
} as const;

export const IsaCode = { scalar: 0, simd128: 1, relaxed: 2 } as const;

/** `atrous_kernels::Status`: what every export returns. */
export const StatusCode = {
  Ok: 0,
  ZeroDimension: 1,
  GroupsDoNotDivideChannels: 2,
  NonPositiveStride: 3,
  NonPositiveDilation: 4,
  OutputBelowOne: 5,
  WeightLengthMismatch: 6,
  BiasLengthMismatch: 7,
  InputLengthMismatch: 8,
  OutputLengthMismatch: 9,
  ResidualLengthMismatch: 10,
  OutOfMemory: 11,
  SizeOverflow: 12,
  ChannelMismatch: 13,
  InvalidTable: 14,
  InvalidDescriptor: 15,
  ShapeMismatch: 16,
} as const;

/**
 * Every table the agreement test compares, under the Rust table's name. Keys are compared after
 * normalising case (`hardSigmoid` = `HARD_SIGMOID`, `same-upper` = `SAME_UPPER`); statuses by exact name.
 */
export const ABI_TABLES: Record<string, Record<string, number>> = {
  conv_desc: ConvDesc,
  pad_mode: PadMode,
  activation: ActivationCode,
  pool_desc: PoolDesc,
  strided_desc: StridedDesc,
  pad_kind: PadKind,
  pad_desc: PadDesc,
  conv_transpose_desc: ConvTransposeDesc,
  isa: IsaCode,
  status: StatusCode,
};
