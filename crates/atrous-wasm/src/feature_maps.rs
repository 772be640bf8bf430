//! Whole-feature-map kernels that are not convolutions: resize, pooling, per-plane and element-wise ops.
//! Every export returns a status.

use atrous_kernels::Status;

use crate::abi_table::pool_desc as desc;
use crate::conv::decode_activation;

fn len3(a: usize, b: usize, c: usize) -> Result<usize, Status> {
    a.checked_mul(b).and_then(|n| n.checked_mul(c)).ok_or(Status::SizeOverflow)
}

/// Bilinear resize of `planes` maps `[h, w]` -> `[oh, ow]` (ONNX Resize, mode linear). `tables` holds
/// `oh` row indices i0, `oh` row indices i1, `oh` row weights (f32 bits), then the same three for the
/// `ow` columns.
///
/// # Safety
/// `src` valid for `planes * h * w` floats, `dst` for `planes * oh * ow`, `tables` for `3 * (oh + ow)` u32s.
#[no_mangle]
pub unsafe extern "C" fn atrous_resize_bilinear(src: *const f32, dst: *mut f32, planes: usize, h: usize, w: usize, oh: usize, ow: usize, tables: *const u32) -> i32 {
    use atrous_kernels::resample::{resize_bilinear, AxisTable};
    Status::code((|| {
        let (in_len, out_len) = (len3(planes, h, w)?, len3(planes, oh, ow)?);
        let t = std::slice::from_raw_parts(tables, 3 * (oh + ow));
        let floats = |s: &[u32]| std::slice::from_raw_parts(s.as_ptr() as *const f32, s.len());
        let ty = AxisTable { i0: &t[..oh], i1: &t[oh..2 * oh], w1: floats(&t[2 * oh..3 * oh]) };
        let c = &t[3 * oh..];
        let tx = AxisTable { i0: &c[..ow], i1: &c[ow..2 * ow], w1: floats(&c[2 * ow..3 * ow]) };
        resize_bilinear(std::slice::from_raw_parts(src, in_len), std::slice::from_raw_parts_mut(dst, out_len), planes, (h, w), (oh, ow), &ty, &tx)
    })())
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

/// A `pool_desc` descriptor as a `PoolShape`.
///
/// # Safety
/// `d` valid for `pool_desc::LEN` u32s.
unsafe fn decode_pool(d: *const u32) -> atrous_kernels::pooling::PoolShape {
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
