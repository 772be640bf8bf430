//! Backward kernels: the gradients of a conv (input, weights, bias, in one call), of a fused activation
//! and of the resize.

use atrous_kernels::activation_backward::{activation_backward_buffer, Saved};
use atrous_kernels::conv_backward::{conv_backward, ConvGradients};
use atrous_kernels::resample_backward::resize_backward;
use atrous_kernels::Status;

use crate::abi_table::{activation as act, activation_saved, conv_desc as desc};
use crate::conv::{decode_activation, decode_shape};
use crate::feature_maps::{len3, ResizeCall};

/// Gradients of the convolution `desc` (a `conv_desc`; its activation must be NONE: the backward of a fused
/// activation is not part of this call) at `input` `[batch, C, height, width]` and `weights`
/// `[M, C/groups, kH, kW]`, given `grad_output` `[batch, M, OH, OW]`. Writes `grad_input` (input-shaped),
/// `grad_weights` (weights-shaped) and `grad_bias` (`[M]`); a null one is skipped. Returns a status;
/// nothing is written unless every size checks.
///
/// # Safety
/// The pointers must be valid for the lengths the descriptor and sizes imply.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_backward(
    desc: *const u32,
    batch: usize,
    height: usize,
    width: usize,
    input: *const f32,
    weights: *const f32,
    grad_output: *const f32,
    grad_input: *mut f32,
    grad_weights: *mut f32,
    grad_bias: *mut f32,
) -> i32 {
    let d = std::slice::from_raw_parts(desc, desc::LEN);
    Status::code((|| {
        let shape = decode_shape(d)?;
        if d[desc::ACTIVATION] as usize != act::NONE {
            return Err(Status::InvalidDescriptor);
        }
        let geom = shape.geometry(batch, height, width)?;
        let (x_len, w_len, y_len) = (geom.input_len(), shape.weight_len(), geom.output_len());
        let out = |p: *mut f32, len: usize| (!p.is_null()).then(|| std::slice::from_raw_parts_mut(p, len));
        let grads = ConvGradients { input: out(grad_input, x_len), weights: out(grad_weights, w_len), bias: out(grad_bias, shape.out_channels) };
        conv_backward(
            &shape,
            batch,
            height,
            width,
            std::slice::from_raw_parts(input, x_len),
            std::slice::from_raw_parts(weights, w_len),
            std::slice::from_raw_parts(grad_output, y_len),
            grads,
        )
    })())
}

/// `grad_input = grad_output * f'` over `n` floats for the activation `code` (parameters `p0`, `p1`, as
/// `atrous_activate`), from `saved` values of the kind `saved_kind` (an `activation_saved` code). An
/// activation whose derivative cannot be had from what was saved is `InvalidDescriptor`. `grad_input` may be
/// the same buffer as `grad_output` or `saved`.
///
/// # Safety
/// `saved` and `grad_output` valid for reading `n` floats, `grad_input` for writing `n`.
#[no_mangle]
pub unsafe extern "C" fn atrous_activation_backward(saved: *const f32, grad_output: *const f32, grad_input: *mut f32, n: usize, code: u32, p0: f32, p1: f32, saved_kind: u32) -> i32 {
    Status::code((|| {
        let a = decode_activation(code, p0, p1)?;
        let kind = match saved_kind as usize {
            activation_saved::PRE_ACTIVATION => Saved::PreActivation,
            activation_saved::OUTPUT => Saved::Output,
            _ => return Err(Status::InvalidDescriptor),
        };
        n.checked_mul(4).ok_or(Status::SizeOverflow)?;
        activation_backward_buffer(a, kind, saved, grad_output, grad_input, n)
    })())
}

/// Gradient of `atrous_resize` under the same `resize_desc` descriptor and coordinates: `grad_output`
/// `planes x [OUT_H, OUT_W]` -> `grad_input` `planes x [IN_H, IN_W]` (every element written; outputs that
/// took the extrapolation value pass nothing back).
///
/// # Safety
/// As `atrous_resize`, with `grad_output` in the place of `dst` and `grad_input` in that of `src`.
#[no_mangle]
pub unsafe extern "C" fn atrous_resize_backward(grad_output: *const f32, grad_input: *mut f32, desc: *const u32, coords: *const f64) -> i32 {
    Status::code((|| {
        let r = ResizeCall::decode(desc, coords)?;
        let (in_len, out_len) = (len3(r.planes, r.h, r.w)?, len3(r.planes, r.oh, r.ow)?);
        resize_backward(std::slice::from_raw_parts(grad_output, out_len), std::slice::from_raw_parts_mut(grad_input, in_len), r.planes, (r.h, r.w), (r.oh, r.ow), &r.ty, &r.tx)
    })())
}
