//! The wasm ABI: plain `extern "C"` functions over linear memory, bound by hand in TypeScript
//! (packages/atrous/src/wasm/abi.ts). Nothing but argument decoding lives here; all math is in
//! atrous-kernels. Every function reports failure as a status code or a null pointer, never a trap:
//! allocations use `try_reserve`, arguments are checked by the kernels before any memory is touched.
//!
//! Status codes: 0 ok, otherwise `atrous_kernels::ConvError as i32`.

use std::alloc::{alloc, dealloc, Layout};

use atrous_kernels::{Activation, ConvError, ConvPlan, ConvShape, Padding};

/// Alignment of every buffer handed to JavaScript: one v128.
const ALIGN: usize = 16;

/// Allocates `bytes` (16-byte aligned) in linear memory; 0 when memory cannot grow that far.
#[no_mangle]
pub extern "C" fn atrous_alloc(bytes: usize) -> *mut u8 {
    match Layout::from_size_align(bytes.max(1), ALIGN) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { alloc(layout) },
        Err(_) => std::ptr::null_mut(),
    }
}

/// Frees a buffer from `atrous_alloc` (`bytes` as given there).
#[no_mangle]
pub extern "C" fn atrous_free(ptr: *mut u8, bytes: usize) {
    if ptr.is_null() {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(bytes.max(1), ALIGN) {
        // SAFETY: the caller returns a pointer it got from `atrous_alloc` with the same size.
        unsafe { dealloc(ptr, layout) }
    }
}

/// The instruction set the kernels were compiled for: 0 scalar, 1 simd128, 2 relaxed.
#[no_mangle]
pub extern "C" fn atrous_isa() -> u32 {
    match atrous_kernels::isa::NAME {
        "relaxed" => 2,
        "simd128" => 1,
        _ => 0,
    }
}

/// Layout of the u32 descriptor `atrous_conv_plan_create` reads (f32 values as their bits).
mod desc {
    pub const IN_CHANNELS: usize = 0;
    pub const OUT_CHANNELS: usize = 1;
    pub const KERNEL_H: usize = 2;
    pub const KERNEL_W: usize = 3;
    pub const STRIDE_H: usize = 4;
    pub const STRIDE_W: usize = 5;
    pub const DILATION_H: usize = 6;
    pub const DILATION_W: usize = 7;
    /// 0 explicit, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID
    pub const PAD_MODE: usize = 8;
    pub const PADS: usize = 9; // 4 values: top, left, bottom, right
    pub const GROUPS: usize = 13;
    /// 0 none, 1 relu, 2 clip, 3 hard-sigmoid, 4 hard-swish, 5 sigmoid, 6 leaky-relu
    pub const ACTIVATION: usize = 14;
    pub const ACTIVATION_P0: usize = 15;
    pub const ACTIVATION_P1: usize = 16;
    pub const LEN: usize = 17;
}

fn decode_shape(d: &[u32]) -> Option<ConvShape> {
    let u = |i: usize| d[i] as usize;
    let padding = match d[desc::PAD_MODE] {
        0 => Padding::Explicit([u(desc::PADS), u(desc::PADS + 1), u(desc::PADS + 2), u(desc::PADS + 3)]),
        1 => Padding::SameUpper,
        2 => Padding::SameLower,
        3 => Padding::Valid,
        _ => return None,
    };
    Some(ConvShape {
        in_channels: u(desc::IN_CHANNELS),
        out_channels: u(desc::OUT_CHANNELS),
        kernel: [u(desc::KERNEL_H), u(desc::KERNEL_W)],
        strides: [u(desc::STRIDE_H), u(desc::STRIDE_W)],
        dilations: [u(desc::DILATION_H), u(desc::DILATION_W)],
        padding,
        groups: u(desc::GROUPS),
    })
}

fn decode_activation(d: &[u32]) -> Option<Activation> {
    let (p0, p1) = (f32::from_bits(d[desc::ACTIVATION_P0]), f32::from_bits(d[desc::ACTIVATION_P1]));
    Some(match d[desc::ACTIVATION] {
        0 => Activation::None,
        1 => Activation::Relu,
        2 => Activation::Clip { min: p0, max: p1 },
        3 => Activation::HardSigmoid { alpha: p0, beta: p1 },
        4 => Activation::HardSwish,
        5 => Activation::Sigmoid,
        6 => Activation::LeakyRelu { alpha: p0 },
        _ => return None,
    })
}

static mut LAST_ERROR: i32 = 0;

/// The status of the last `atrous_conv_plan_create` that returned null.
#[no_mangle]
pub extern "C" fn atrous_last_error() -> i32 {
    // SAFETY: wasm32 without threads: a single thread of execution.
    unsafe { LAST_ERROR }
}

fn fail<T>(error: ConvError) -> *mut T {
    // SAFETY: as above.
    unsafe { LAST_ERROR = error as i32 };
    std::ptr::null_mut()
}

/// Prepares a convolution. `desc` points at `desc::LEN` u32s; `weights` at `[M, C/groups, kH, kW]` floats;
/// `bias` at `[M]` floats or is null. Returns the plan, or null (see `atrous_last_error`).
///
/// # Safety
/// The pointers must be valid for the lengths the descriptor implies.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_plan_create(desc: *const u32, weights: *const f32, bias: *const f32) -> *mut ConvPlan {
    let d = std::slice::from_raw_parts(desc, desc::LEN);
    let (Some(shape), Some(activation)) = (decode_shape(d), decode_activation(d)) else {
        return fail(ConvError::ZeroDimension);
    };
    if let Err(e) = shape.validate() {
        return fail(e);
    }
    let weights = std::slice::from_raw_parts(weights, shape.weight_len());
    let bias = (!bias.is_null()).then(|| std::slice::from_raw_parts(bias, shape.out_channels));
    match ConvPlan::new(shape, weights, bias, activation) {
        Ok(plan) => {
            let mut boxed = Vec::new();
            if boxed.try_reserve_exact(1).is_err() {
                return fail(ConvError::OutOfMemory);
            }
            boxed.push(plan);
            // One-element Vec -> Box without a second allocation.
            Box::into_raw(boxed.into_boxed_slice()) as *mut ConvPlan
        }
        Err(e) => fail(e),
    }
}

/// # Safety
/// `plan` must come from `atrous_conv_plan_create` and not be freed yet.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_plan_free(plan: *mut ConvPlan) {
    if !plan.is_null() {
        drop(Box::from_raw(plan));
    }
}

/// Bytes the plan holds (packed weights and bias).
///
/// # Safety
/// As `atrous_conv_plan_free`.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_plan_bytes(plan: *const ConvPlan) -> usize {
    (*plan).prepared_bytes()
}

/// Writes `[N, M, OH, OW]` for an input of `[batch, C, height, width]` to `dims` (4 u32s).
///
/// # Safety
/// As `atrous_conv_plan_free`; `dims` valid for 4 u32s.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_plan_output_dims(
    plan: *const ConvPlan,
    batch: usize,
    height: usize,
    width: usize,
    dims: *mut u32,
) -> i32 {
    match (*plan).shape().geometry(batch, height, width) {
        Ok(g) => {
            let out = std::slice::from_raw_parts_mut(dims, 4);
            out.copy_from_slice(&[g.batch as u32, g.out_channels as u32, g.out_height as u32, g.out_width as u32]);
            0
        }
        Err(e) => e as i32,
    }
}

/// Runs the plan: `input` `[batch, C, height, width]` -> `output` `[batch, M, OH, OW]`, plus `residual`
/// (output-shaped, or null) before the activation.
///
/// # Safety
/// As `atrous_conv_plan_free`; buffers valid for the sizes `atrous_conv_plan_output_dims` gives.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_plan_run(
    plan: *const ConvPlan,
    input: *const f32,
    batch: usize,
    height: usize,
    width: usize,
    output: *mut f32,
    residual: *const f32,
) -> i32 {
    let plan = &*plan;
    let geom = match plan.shape().geometry(batch, height, width) {
        Ok(g) => g,
        Err(e) => return e as i32,
    };
    let input = std::slice::from_raw_parts(input, geom.input_len());
    let output = std::slice::from_raw_parts_mut(output, geom.output_len());
    let residual = (!residual.is_null()).then(|| std::slice::from_raw_parts(residual, geom.output_len()));
    match plan.run(input, batch, height, width, output, residual) {
        Ok(_) => 0,
        Err(e) => e as i32,
    }
}

/// Bilinear resize of `planes` maps `[h, w]` -> `[oh, ow]` (ONNX Resize, mode linear). `tables` holds
/// `oh` row indices i0, `oh` row indices i1, `oh` row weights (f32 bits), then the same three for the
/// `ow` columns. Returns 0, 1 for a table out of range, or 11 when the scratch row buffer cannot be had.
///
/// # Safety
/// `src` valid for `planes * h * w` floats, `dst` for `planes * oh * ow`, `tables` for `3 * (oh + ow)` u32s.
#[no_mangle]
pub unsafe extern "C" fn atrous_resize_bilinear(
    src: *const f32,
    dst: *mut f32,
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    tables: *const u32,
) -> i32 {
    use atrous_kernels::resample::{resize_bilinear, AxisTable};
    let (Some(in_len), Some(out_len)) = (planes.checked_mul(h).and_then(|n| n.checked_mul(w)), planes.checked_mul(oh).and_then(|n| n.checked_mul(ow))) else {
        return 1;
    };
    let t = std::slice::from_raw_parts(tables, 3 * (oh + ow));
    let floats = |s: &[u32]| std::slice::from_raw_parts(s.as_ptr() as *const f32, s.len());
    let ty = AxisTable { i0: &t[..oh], i1: &t[oh..2 * oh], w1: floats(&t[2 * oh..3 * oh]) };
    let c = &t[3 * oh..];
    let tx = AxisTable { i0: &c[..ow], i1: &c[ow..2 * ow], w1: floats(&c[2 * ow..3 * ow]) };
    let src = std::slice::from_raw_parts(src, in_len);
    let dst = std::slice::from_raw_parts_mut(dst, out_len);
    match resize_bilinear(src, dst, planes, (h, w), (oh, ow), &ty, &tx) {
        Ok(()) => 0,
        Err(e) => e as i32,
    }
}

/// `dst[p][i] = src[p][i] * scale[p]` over `planes` planes of `len` floats (a Mul by an `[N, C, 1, 1]` tensor).
///
/// # Safety
/// `src` and `dst` valid for `planes * len` floats, `scale` for `planes`.
#[no_mangle]
pub unsafe extern "C" fn atrous_scale_planes(src: *const f32, scale: *const f32, dst: *mut f32, planes: usize, len: usize) {
    if planes == 0 || len == 0 {
        return;
    }
    let n = planes * len;
    atrous_kernels::channel_ops::scale_planes(
        std::slice::from_raw_parts(src, n),
        std::slice::from_raw_parts(scale, planes),
        std::slice::from_raw_parts_mut(dst, n),
        len,
    );
}

/// `dst[p] = mean(src[p])` over `planes` planes of `len` floats (GlobalAveragePool).
///
/// # Safety
/// `src` valid for `planes * len` floats, `dst` for `planes`.
#[no_mangle]
pub unsafe extern "C" fn atrous_mean_planes(src: *const f32, dst: *mut f32, planes: usize, len: usize) {
    if planes == 0 || len == 0 {
        return;
    }
    atrous_kernels::channel_ops::mean_planes(std::slice::from_raw_parts(src, planes * len), std::slice::from_raw_parts_mut(dst, planes), len);
}

/// `dst = a + b`, or `a * b` when `multiply` is 1, over `n` floats.
///
/// # Safety
/// All three valid for `n` floats; `dst` overlaps neither input.
#[no_mangle]
pub unsafe extern "C" fn atrous_combine(a: *const f32, b: *const f32, dst: *mut f32, n: usize, multiply: u32) {
    if n == 0 {
        return;
    }
    atrous_kernels::channel_ops::combine(
        std::slice::from_raw_parts(a, n),
        std::slice::from_raw_parts(b, n),
        std::slice::from_raw_parts_mut(dst, n),
        multiply == 1,
    );
}

/// Max pooling: `desc` holds 13 u32s: planes, h, w, oh, ow, kernel h, w, stride h, w, dilation h, w,
/// pad top, left. Returns 0, or 1 when the description is not valid.
///
/// # Safety
/// `desc` valid for 13 u32s; `src` for `planes * h * w` floats, `dst` for `planes * oh * ow`.
#[no_mangle]
pub unsafe extern "C" fn atrous_max_pool2d(src: *const f32, dst: *mut f32, desc: *const u32) -> i32 {
    use atrous_kernels::pooling::{max_pool2d, PoolShape};
    let mut d = [0usize; 13];
    for (i, slot) in d.iter_mut().enumerate() {
        *slot = *desc.add(i) as usize;
    }
    let shape = PoolShape {
        planes: d[0],
        in_hw: [d[1], d[2]],
        out_hw: [d[3], d[4]],
        kernel: [d[5], d[6]],
        strides: [d[7], d[8]],
        dilations: [d[9], d[10]],
        pads: [d[11], d[12]],
    };
    let (Some(in_len), Some(out_len)) = (
        d[1].checked_mul(d[2]).and_then(|n| n.checked_mul(d[0])),
        d[3].checked_mul(d[4]).and_then(|n| n.checked_mul(d[0])),
    ) else {
        return 1;
    };
    let ok = max_pool2d(std::slice::from_raw_parts(src, in_len), std::slice::from_raw_parts_mut(dst, out_len), &shape);
    if ok {
        0
    } else {
        1
    }
}

/// `dst = activation(src)` over `n` floats; `code`, `p0`, `p1` as in the conv descriptor. Returns 0, or 1 for
/// an unknown code.
///
/// # Safety
/// `src` and `dst` valid for `n` floats, not overlapping.
#[no_mangle]
pub unsafe extern "C" fn atrous_activate(src: *const f32, dst: *mut f32, n: usize, code: u32, p0: f32, p1: f32) -> i32 {
    let mut d = [0u32; desc::LEN];
    d[desc::ACTIVATION] = code;
    d[desc::ACTIVATION_P0] = p0.to_bits();
    d[desc::ACTIVATION_P1] = p1.to_bits();
    let Some(activation) = decode_activation(&d) else {
        return 1;
    };
    if n > 0 {
        atrous_kernels::channel_ops::activate(std::slice::from_raw_parts(src, n), std::slice::from_raw_parts_mut(dst, n), activation);
    }
    0
}
