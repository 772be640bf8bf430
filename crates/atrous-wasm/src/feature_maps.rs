//! Whole-feature-map kernels that are not convolutions: resize, pooling, per-plane and element-wise ops.
//! Every export returns a status.

use atrous_kernels::Status;

use crate::abi_table::{abi_table, pool_desc as desc};
use crate::conv::decode_activation;

pub(crate) fn len3(a: usize, b: usize, c: usize) -> Result<usize, Status> {
    a.checked_mul(b).and_then(|n| n.checked_mul(c)).ok_or(Status::SizeOverflow)
}

abi_table! {
    /// The u32 descriptor `atrous_resize` reads (f32 values as their bits).
    resize_desc {
        PLANES = 0,
        IN_H = 1,
        IN_W = 2,
        OUT_H = 3,
        OUT_W = 4,
        /// A `resize_mode` code.
        MODE = 5,
        /// cubic_coeff_a (f32)
        CUBIC_A = 6,
        /// 1: cubic taps outside the input get weight 0 (exclude_outside)
        EXCLUDE_OUTSIDE = 7,
        /// 1: outputs sampling outside the input take EXTRAPOLATION_VALUE (tf_crop_and_resize)
        EXTRAPOLATE = 8,
        /// f32
        EXTRAPOLATION_VALUE = 9,
        /// A team handle to split the planes over, or 0.
        TEAM = 10,
        LEN = 11,
    }
}

abi_table! {
    /// How `atrous_resize` interpolates.
    resize_mode {
        LINEAR = 0,
        CUBIC = 1,
    }
}

/// Resize of `planes` maps `[h, w]` -> `[oh, ow]` by interpolation (ONNX Resize, modes linear and cubic)
/// under a `resize_desc` descriptor. `coords` holds the source coordinate (f64) of each of the `oh` output
/// rows, then of each of the `ow` output columns.
///
/// # Safety
/// `desc` valid for `resize_desc::LEN` u32s, `coords` for `oh + ow` f64s; `src` for `planes * h * w` floats,
/// `dst` for `planes * oh * ow`.
#[no_mangle]
pub unsafe extern "C" fn atrous_resize(src: *const f32, dst: *mut f32, desc: *const u32, coords: *const f64) -> i32 {
    Status::code((|| {
        let r = ResizeCall::decode(desc, coords)?;
        let (in_len, out_len) = (len3(r.planes, r.h, r.w)?, len3(r.planes, r.oh, r.ow)?);
        atrous_kernels::resample::resize_on(
            crate::team::runner(r.team),
            std::slice::from_raw_parts(src, in_len),
            std::slice::from_raw_parts_mut(dst, out_len),
            r.planes,
            (r.h, r.w),
            (r.oh, r.ow),
            &r.ty,
            &r.tx,
            r.extrapolation,
        )
    })())
}

/// A `resize_desc` descriptor and its coordinates decoded into sizes and taps: what `atrous_resize` and its
/// backward (`atrous_resize_backward`) both read.
pub(crate) struct ResizeCall {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub ty: atrous_kernels::resample::AxisTaps,
    pub tx: atrous_kernels::resample::AxisTaps,
    pub extrapolation: f32,
    pub team: *const crate::team::Team,
}

impl ResizeCall {
    /// # Safety
    /// `desc` valid for `resize_desc::LEN` u32s, `coords` for `OUT_H + OUT_W` f64s.
    pub(crate) unsafe fn decode(desc: *const u32, coords: *const f64) -> Result<Self, Status> {
        use atrous_kernels::resample::{AxisTaps, Interpolation};
        let d = std::slice::from_raw_parts(desc, resize_desc::LEN);
        let u = |i: usize| d[i] as usize;
        let (planes, h, w, oh, ow) = (u(resize_desc::PLANES), u(resize_desc::IN_H), u(resize_desc::IN_W), u(resize_desc::OUT_H), u(resize_desc::OUT_W));
        let interpolation = match u(resize_desc::MODE) {
            resize_mode::LINEAR => Interpolation::Linear,
            resize_mode::CUBIC => Interpolation::Cubic { a: f32::from_bits(d[resize_desc::CUBIC_A]), exclude_outside: d[resize_desc::EXCLUDE_OUTSIDE] == 1 },
            _ => return Err(Status::InvalidDescriptor),
        };
        let extrapolate = d[resize_desc::EXTRAPOLATE] == 1;
        let c = std::slice::from_raw_parts(coords, oh.checked_add(ow).ok_or(Status::SizeOverflow)?);
        let ty = AxisTaps::new(&c[..oh], h, interpolation, extrapolate)?;
        let tx = AxisTaps::new(&c[oh..], w, interpolation, extrapolate)?;
        Ok(ResizeCall { planes, h, w, oh, ow, ty, tx, extrapolation: f32::from_bits(d[resize_desc::EXTRAPOLATION_VALUE]), team: d[resize_desc::TEAM] as usize as *const crate::team::Team })
    }
}

/// `dst[p][i] = src[p][i] * scale[p]` over `planes` planes of `len` floats (a Mul by an `[N, C, 1, 1]` tensor).
///
/// # Safety
/// `src` and `dst` valid for `planes * len` floats, `scale` for `planes`.
#[no_mangle]
pub unsafe extern "C" fn atrous_scale_planes(src: *const f32, scale: *const f32, dst: *mut f32, planes: usize, len: usize) -> i32 {
    Status::code((|| {
        let n = len3(planes, len, 1)?;
        if n > 0 {
            atrous_kernels::channel_ops::scale_planes(
                std::slice::from_raw_parts(src, n),
                std::slice::from_raw_parts(scale, planes),
                std::slice::from_raw_parts_mut(dst, n),
                len,
            );
        }
        Ok(())
    })())
}

/// `dst[p] = mean(src[p])` over `planes` planes of `len` floats (GlobalAveragePool).
///
/// # Safety
/// `src` valid for `planes * len` floats, `dst` for `planes`.
#[no_mangle]
pub unsafe extern "C" fn atrous_mean_planes(src: *const f32, dst: *mut f32, planes: usize, len: usize) -> i32 {
    Status::code((|| {
        let n = len3(planes, len, 1)?;
        if n > 0 {
            atrous_kernels::channel_ops::mean_planes(std::slice::from_raw_parts(src, n), std::slice::from_raw_parts_mut(dst, planes), len);
        }
        Ok(())
    })())
}

/// `dst = a + b`, or `a * b` when `multiply` is 1, over `n` floats.
///
/// # Safety
/// All three valid for `n` floats; `dst` overlaps neither input.
#[no_mangle]
pub unsafe extern "C" fn atrous_combine(a: *const f32, b: *const f32, dst: *mut f32, n: usize, multiply: u32) -> i32 {
    if n > 0 {
        atrous_kernels::channel_ops::combine(
            std::slice::from_raw_parts(a, n),
            std::slice::from_raw_parts(b, n),
            std::slice::from_raw_parts_mut(dst, n),
            multiply == 1,
        );
    }
    0
}

/// Max pooling over a `pool_desc` descriptor.
///
/// # Safety
/// `desc` valid for `pool_desc::LEN` u32s; `src` for `planes * h * w` floats, `dst` for `planes * oh * ow`.
#[no_mangle]
pub unsafe extern "C" fn atrous_max_pool2d(src: *const f32, dst: *mut f32, d: *const u32) -> i32 {
    use atrous_kernels::pooling::max_pool2d;
    let shape = decode_pool(d);
    Status::code((|| {
        let (in_len, out_len) = (len3(shape.planes, shape.in_hw[0], shape.in_hw[1])?, len3(shape.planes, shape.out_hw[0], shape.out_hw[1])?);
        max_pool2d(std::slice::from_raw_parts(src, in_len), std::slice::from_raw_parts_mut(dst, out_len), &shape)
    })())
}

/// Max pooling over a `pool_desc` descriptor that also writes, per output, the flat i32 index of the input
/// element it took (ONNX MaxPool's Indices): row-major, or column-major when `column_major` is 1.
///
/// # Safety
/// As `atrous_max_pool2d`; `indices` valid for `planes * oh * ow` i32s.
#[no_mangle]
pub unsafe extern "C" fn atrous_max_pool2d_with_indices(src: *const f32, dst: *mut f32, indices: *mut i32, d: *const u32, column_major: u32) -> i32 {
    use atrous_kernels::pooling::max_pool2d_with_indices;
    let shape = decode_pool(d);
    Status::code((|| {
        let (in_len, out_len) = (len3(shape.planes, shape.in_hw[0], shape.in_hw[1])?, len3(shape.planes, shape.out_hw[0], shape.out_hw[1])?);
        max_pool2d_with_indices(
            std::slice::from_raw_parts(src, in_len),
            std::slice::from_raw_parts_mut(dst, out_len),
            std::slice::from_raw_parts_mut(indices, out_len),
            &shape,
            column_major == 1,
        )
    })())
}

/// A `pool_desc` descriptor as a `PoolShape`.
///
/// # Safety
/// `d` valid for `pool_desc::LEN` u32s.
pub(crate) unsafe fn decode_pool(d: *const u32) -> atrous_kernels::pooling::PoolShape {
    let d = std::slice::from_raw_parts(d, desc::LEN);
    let u = |i: usize| d[i] as usize;
    atrous_kernels::pooling::PoolShape {
        planes: u(desc::PLANES),
        in_hw: [u(desc::IN_H), u(desc::IN_W)],
        out_hw: [u(desc::OUT_H), u(desc::OUT_W)],
        kernel: [u(desc::KERNEL_H), u(desc::KERNEL_W)],
        strides: [u(desc::STRIDE_H), u(desc::STRIDE_W)],
        dilations: [u(desc::DILATION_H), u(desc::DILATION_W)],
        pads: [u(desc::PAD_TOP), u(desc::PAD_LEFT)],
    }
}

/// Average pooling over a `pool_desc` descriptor; `pad_bottom`, `pad_right` the trailing pads, which the
/// divisor counts when `count_include_pad` is 1.
///
/// # Safety
/// As `atrous_max_pool2d`.
#[no_mangle]
pub unsafe extern "C" fn atrous_avg_pool2d(src: *const f32, dst: *mut f32, d: *const u32, pad_bottom: usize, pad_right: usize, count_include_pad: u32) -> i32 {
    use atrous_kernels::pooling::avg_pool2d;
    let shape = decode_pool(d);
    Status::code((|| {
        let (in_len, out_len) = (len3(shape.planes, shape.in_hw[0], shape.in_hw[1])?, len3(shape.planes, shape.out_hw[0], shape.out_hw[1])?);
        avg_pool2d(std::slice::from_raw_parts(src, in_len), std::slice::from_raw_parts_mut(dst, out_len), &shape, [pad_bottom, pad_right], count_include_pad == 1)
    })())
}

/// `dst = activation(src)` over `n` floats; `code`, `p0`, `p1` an `activation` code and its parameters.
///
/// # Safety
/// `src` and `dst` valid for `n` floats (the same buffer, or not overlapping).
#[no_mangle]
pub unsafe extern "C" fn atrous_activate(src: *const f32, dst: *mut f32, n: usize, code: u32, p0: f32, p1: f32) -> i32 {
    Status::code(decode_activation(code, p0, p1).map(|activation| {
        // Raw pointers, not slices: src may be dst (in place).
        activation.apply_buffer(src, dst, n);
    }))
}
