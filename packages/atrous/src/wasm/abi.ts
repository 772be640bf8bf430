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
  atrous_conv_plan_method(plan: number, batch: number, height: number, width: number, method: number): number;
  atrous_conv_plan_run(plan: number, input: number, batch: number, height: number, width: number, output: number, residual: number, team: number): number;
  atrous_conv_backward(desc: number, batch: number, height: number, width: number, input: number, weights: number, gradOutput: number, gradInput: number, gradWeights: number, gradBias: number): number;
  atrous_resize(src: number, dst: number, desc: number, coords: number): number;
  atrous_activation_backward(saved: number, gradOutput: number, gradInput: number, n: number, code: number, p0: number, p1: number, savedKind: number): number;
  atrous_resize_backward(gradOutput: number, gradInput: number, desc: number, coords: number): number;
  atrous_softmax_cross_entropy(logits: number, labels: number, weights: number, grad: number, batch: number, classes: number, spatial: number, ignoreIndex: number, sums: number): number;
  atrous_max_pool2d_backward(src: number, gradOutput: number, gradInput: number, desc: number): number;
  atrous_avg_pool2d_backward(gradOutput: number, gradInput: number, desc: number, padBottom: number, padRight: number, countIncludePad: number): number;
  atrous_mean_planes_backward(gradOutput: number, gradInput: number, planes: number, len: number): number;
  atrous_batch_norm_backward(x: number, gradOutput: number, gradInput: number, gradGamma: number, gradBeta: number, batch: number, channels: number, spatial: number, scale: number, invStd: number, mean: number): number;
  atrous_scale_planes(src: number, scale: number, dst: number, planes: number, len: number): number;
  atrous_mean_planes(src: number, dst: number, planes: number, len: number): number;
  atrous_combine(a: number, b: number, dst: number, n: number, multiply: number): number;
  atrous_max_pool2d(src: number, dst: number, desc: number): number;
  atrous_max_pool2d_with_indices(src: number, dst: number, indices: number, desc: number, columnMajor: number): number;
  atrous_avg_pool2d(src: number, dst: number, desc: number, padBottom: number, padRight: number, countIncludePad: number): number;
  atrous_activate(src: number, dst: number, n: number, code: number, p0: number, p1: number): number;
  atrous_copy_strided(src: number, dst: number, desc: number): number;
  atrous_pad(src: number, dst: number, desc: number): number;
  atrous_gather(src: number, indices: number, dst: number, outer: number, axisLen: number, inner: number, count: number, elemBytes: number): number;
  atrous_convert(src: number, dst: number, n: number, kind: number): number;
  atrous_fill(dst: number, n: number, value: number): number;
  atrous_top_k(src: number, outer: number, len: number, inner: number, k: number, largest: number, values: number, indices: number): number;
  atrous_conv_transpose_plan_create(desc: number, weights: number, bias: number, planOut: number): number;
  atrous_conv_transpose_plan_free(plan: number): void;
  atrous_conv_transpose_plan_bytes(plan: number): number;
  atrous_conv_transpose_plan_run(plan: number, input: number, batch: number, height: number, width: number, output: number, outHeight: number, outWidth: number, team: number): number;
  atrous_gemm_pack_b(b: number, k: number, n: number, rowStride: number, colStride: number, out: number): number;
  atrous_gemm_packed_free(packed: number): void;
  atrous_gemm_packed_bytes(packed: number): number;
  atrous_gemm_run(desc: number): number;
  atrous_binary(code: number, a: number, b: number, dst: number, desc: number): number;
  atrous_where(cond: number, x: number, y: number, dst: number, desc: number): number;
  atrous_softmax(src: number, dst: number, outer: number, len: number, inner: number, log: number): number;
  atrous_layer_norm(src: number, dst: number, rows: number, len: number, scale: number, bias: number, epsilon: number): number;
  atrous_group_norm(src: number, dst: number, batch: number, groups: number, channels: number, spatial: number, scale: number, bias: number, epsilon: number): number;
  atrous_reduce(code: number, src: number, dst: number, outer: number, len: number, inner: number, selectLast: number): number;
  // Teams (shared-memory builds only; crates/atrous-wasm/src/team.rs).
  atrous_team_create(helpers: number, out: number): number;
  atrous_team_free(team: number): void;
  atrous_team_set_width(team: number, width: number): number;
  atrous_team_serve(team: number, index: number): number;
  atrous_team_shutdown(team: number): void;
  atrous_team_crashed_word(team: number): number;
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
  METHOD: 17,
  LEN: 18,
} as const;

/** The kernel family `atrous_conv_plan_method` reports. */
export const ConvMethodCode = { gemm: 0, depthwise: 1, winograd: 2 } as const;

/** What `ConvDesc.METHOD` may ask for (the `conv_method` table's request codes). */
export const ConvMethodRequest = { auto: 3, direct: 4, winograd: 2 } as const;

export const PadMode = { explicit: 0, 'same-upper': 1, 'same-lower': 2, valid: 3 } as const;

export const ActivationCode = {
  none: 0,
  relu: 1,
  clip: 2,
  hardSigmoid: 3,
  hardSwish: 4,
  sigmoid: 5,
  leakyRelu: 6,
  exp: 7,
  log: 8,
  sqrt: 9,
  tanh: 10,
  erf: 11,
  /** exact: x/2 (1 + erf(x / sqrt 2)) */
  gelu: 12,
  geluTanh: 13,
  abs: 14,
  neg: 15,
  reciprocal: 16,
  floor: 17,
  ceil: 18,
  /** half to even (ONNX Round) */
  round: 19,
  sin: 20,
  cos: 21,
  softplus: 22,
  softsign: 23,
  /** p0 alpha */
  elu: 24,
  /** p0 alpha, p1 gamma */
  selu: 25,
  /** p0 alpha */
  celu: 26,
  /** p0 alpha */
  thresholdedRelu: 27,
  sign: 28,
  /** p0 exponent */
  pow: 29,
  mish: 30,
} as const;

/** `atrous_binary` op codes; keys are the facade's `BinaryKind`s. Comparisons write u8; and/or/xor read and write bytes. */
export const BinaryOpCode = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  pow: 4,
  max: 5,
  min: 6,
  mod: 7,
  fmod: 8,
  prelu: 9,
  equal: 10,
  less: 11,
  lessOrEqual: 12,
  greater: 13,
  greaterOrEqual: 14,
  /** bool bytes in and out (nonzero true) */
  and: 15,
  or: 16,
  xor: 17,
} as const;

/** Slots of the u32 descriptor read by `atrous_binary` / `atrous_where`: operand k's strides at STRIDES + k * MAX_RANK. */
export const BroadcastDesc = {
  MAX_RANK: 6,
  RANK: 0,
  DIMS: 1,
  STRIDES: 7,
  LEN: 25,
} as const;

/** `atrous_reduce` codes; keys are the facade's `ReduceKind`s. argMax/argMin write i32. */
export const ReduceOpCode = {
  sum: 0,
  mean: 1,
  max: 2,
  min: 3,
  prod: 4,
  l1: 5,
  l2: 6,
  logSum: 7,
  logSumExp: 8,
  sumSquare: 9,
  argMax: 10,
  argMin: 11,
} as const;

/** Slots of the u32 descriptor read by `atrous_max_pool2d` and `atrous_avg_pool2d`. */
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
  ELEM_BYTES: 19,
  LEN: 20,
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
  ELEM_BYTES: 21,
  LEN: 22,
} as const;

/** What `atrous_convert` converts (Cast between the types in wasm memory). */
export const ConvertKind = { f32ToU8: 0, f32ToBool: 1, u8ToF32: 2, u8ToBool: 3, f32ToHalf: 4, f32ToBfloat16: 5 } as const;

/** Slots of the u32 descriptor read by `atrous_resize` (CUBIC_A and EXTRAPOLATION_VALUE as f32 bits). */
export const ResizeDesc = {
  PLANES: 0,
  IN_H: 1,
  IN_W: 2,
  OUT_H: 3,
  OUT_W: 4,
  MODE: 5,
  CUBIC_A: 6,
  EXCLUDE_OUTSIDE: 7,
  EXTRAPOLATE: 8,
  EXTRAPOLATION_VALUE: 9,
  TEAM: 10,
  LEN: 11,
} as const;

/** How `atrous_resize` interpolates. */
export const ResizeMode = { linear: 0, cubic: 1 } as const;

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

/** Slots of the u32 descriptor read by `atrous_gemm_run` (crates/atrous-wasm/src/gemm.rs documents them). */
export const GemmDesc = {
  M: 0,
  N: 1,
  K: 2,
  A_PTR: 3,
  A_ROW_STRIDE: 4,
  A_COL_STRIDE: 5,
  B_PTR: 6,
  B_ROW_STRIDE: 7,
  B_COL_STRIDE: 8,
  B_PACKED: 9,
  C_PTR: 10,
  C_ROW_STRIDE: 11,
  C_COL_STRIDE: 12,
  ALPHA: 13,
  BETA: 14,
  BIAS: 15,
  OUT: 16,
  ACTIVATION: 17,
  ACTIVATION_P0: 18,
  ACTIVATION_P1: 19,
  BATCH_RANK: 20,
  BATCH_DIMS: 21,
  A_BATCH_STRIDES: 25,
  B_BATCH_STRIDES: 29,
  C_BATCH_STRIDES: 33,
  TEAM: 37,
  LEN: 38,
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
  WorkerCrashed: 17,
  Unsupported: 18,
} as const;

/** What `atrous_activation_backward` is given besides the gradient: the activation's input or its output. */
export const ActivationSaved = { preActivation: 0, output: 1 } as const;

/**
 * Every table the agreement test compares, under the Rust table's name. Keys are compared after
 * normalising case (`hardSigmoid` = `HARD_SIGMOID`, `same-upper` = `SAME_UPPER`); statuses by exact name.
 */
export const ABI_TABLES: Record<string, Record<string, number>> = {
  conv_desc: ConvDesc,
  conv_method: { ...ConvMethodCode, ...ConvMethodRequest },
  pad_mode: PadMode,
  activation: ActivationCode,
  pool_desc: PoolDesc,
  strided_desc: StridedDesc,
  pad_kind: PadKind,
  pad_desc: PadDesc,
  convert_kind: ConvertKind,
  conv_transpose_desc: ConvTransposeDesc,
  binary_op: BinaryOpCode,
  broadcast_desc: BroadcastDesc,
  reduce_op: ReduceOpCode,
  isa: IsaCode,
  gemm_desc: GemmDesc,
  resize_desc: ResizeDesc,
  resize_mode: ResizeMode,
  activation_saved: ActivationSaved,
  status: StatusCode,
};
