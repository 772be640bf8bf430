//! Convolution backward: the gradients of a conv with respect to its input, weights and bias, in one call.

use atrous_kernels::conv_backward::{conv_backward, ConvGradients};
use atrous_kernels::Status;

use crate::abi_table::{activation as act, conv_desc as desc};
use crate::conv::decode_shape;

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
