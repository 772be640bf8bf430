//! Backward of the convolution (ONNX `Conv`, every option the forward takes): given `gradOutput`
//! (`dL/dy`, `[N, M, OH, OW]`), the gradients with respect to the input, the weights and the bias.
//!
//! Forward, per axis: output `o` reads input `i = o * s + k * d - pad_begin` at tap `k`. So
//! - `dL/dx` scatters each output gradient back through the taps to the inputs it read: exactly the
//!   transposed convolution of `gradOutput` with the same weights, strides, dilations, begin pads and
//!   groups, cut to the input's size. ONNX ConvTranspose weights are `[C_in_t, M_t / groups, kH, kW]`,
//!   and with `C_in_t = M` (the conv's output channels) and `M_t = C` that is the conv's own OIHW array,
//!   so it runs unchanged on `ConvTransposePlan` (phase decomposition, no zeros spread, packed GEMM tiles).
//! - `dL/dW[m, c, ky, kx] = sum over n, o of gradOutput[n, m, o] * x[n, c, o * s + k * d - pad]`: per group a
//!   GEMM of `gradOutput` (`mg x pixels`) with the input patches (`pixels x (cg * taps)`). The patches are the
//!   im2col matrix; it is never formed. It is packed one `KC x NR` panel at a time (8 KiB), every tile of
//!   output channels is multiplied through that panel on the convolution's register tile, and the sums
//!   stay in a buffer the size of the weights. Its columns are tap-major (`tap * cg + c`), so a panel is
//!   usually `NR` channels at one tap: at horizontal stride 1 it is packed from `NR` input rows with
//!   vector loads and 4 x 4 transposes (packing element by element cost as much as the multiply-adds at
//!   64 channels). A one-tap panel is multiplied only over the pixels whose window reads the input at
//!   that tap (a corner tap of a dilation-12 3x3 at 33 x 33 reads padding for 60 % of them; their products
//!   are zero). Neither the column order, the chunk size nor the skipped zeros change a sum's value: each
//!   weight's sum runs over the same pixels in the same order (only the sign of an all-zero sum may
//!   differ). With one input channel per group (depthwise) there is no reduction over channels to tile,
//!   and each weight is a sum of row dot products instead.
//! - `dL/db[m]` is the sum of `gradOutput` over the batch and the pixels.
//!
//! 1-D convolutions (and causal ones, which are left pads only) are `H = 1`, as in the forward.


use crate::conv_transpose::{ConvTransposePlan, ConvTransposeShape};
use crate::activation::Activation;
use crate::geometry::{ConvShape, Geometry};
use crate::isa::active as v;
use crate::status::Status;

pub use crate::conv_backward_weights::grad_weights;

/// Where the gradients go; `None` skips one (its work too).
pub struct ConvGradients<'a> {
    /// `[N, C, H, W]`
    pub input: Option<&'a mut [f32]>,
    /// `[M, C / groups, kH, kW]`
    pub weights: Option<&'a mut [f32]>,
    /// `[M]`
    pub bias: Option<&'a mut [f32]>,
}

/// All requested gradients of the convolution `shape` on an input of `[batch, C, height, width]`.
/// `input` is the forward's input and `weights` its OIHW weights; `grad_output` is `[N, M, OH, OW]`.
/// Every length is checked before anything is written. Returns the resolved geometry.
pub fn conv_backward(
    shape: &ConvShape,
    batch: usize,
    height: usize,
    width: usize,
    input: &[f32],
    weights: &[f32],
    grad_output: &[f32],
    grads: ConvGradients,
) -> Result<Geometry, Status> {
    let geom = shape.geometry(batch, height, width)?;
    if input.len() != geom.input_len() {
        return Err(Status::InputLengthMismatch);
    }
    if weights.len() != shape.weight_len() {
        return Err(Status::WeightLengthMismatch);
    }
    if grad_output.len() != geom.output_len() {
        return Err(Status::OutputLengthMismatch);
    }
    if grads.input.as_ref().is_some_and(|g| g.len() != geom.input_len()) {
        return Err(Status::InputLengthMismatch);
    }
    if grads.weights.as_ref().is_some_and(|g| g.len() != shape.weight_len()) {
        return Err(Status::WeightLengthMismatch);
    }
    if grads.bias.as_ref().is_some_and(|g| g.len() != shape.out_channels) {
        return Err(Status::BiasLengthMismatch);
    }
    if let Some(out) = grads.input {
        grad_input(&geom, weights, grad_output, out)?;
    }
    if let Some(out) = grads.weights {
        grad_weights(&geom, input, grad_output, out)?;
    }
    if let Some(out) = grads.bias {
        grad_bias(&geom, grad_output, out);
    }
    Ok(geom)
}

/// `dL/dx` (`[N, C, H, W]`, every element written) as the transposed convolution of `grad_output`.
pub fn grad_input(geom: &Geometry, weights: &[f32], grad_output: &[f32], out: &mut [f32]) -> Result<(), Status> {
    let transposed = ConvTransposeShape {
        in_channels: geom.out_channels,
        out_channels: geom.in_channels,
        kernel: geom.kernel,
        strides: geom.strides,
        dilations: geom.dilations,
        pads_begin: [geom.pads[0], geom.pads[1]],
        groups: geom.groups,
    };
    let plan = ConvTransposePlan::new(transposed, weights, None, Activation::None)?;
    plan.run(grad_output, geom.batch, geom.out_height, geom.out_width, out, geom.height, geom.width, &crate::parallel::SERIAL)
}

/// `dL/db` (`[M]`): `grad_output` summed over the batch and the pixels.
pub fn grad_bias(geom: &Geometry, grad_output: &[f32], out: &mut [f32]) {
    let pixels = geom.out_height * geom.out_width;
    for (m, slot) in out.iter_mut().enumerate().take(geom.out_channels) {
        let mut lanes = v::zero();
        let mut tail = 0.0f32;
        for n in 0..geom.batch {
            let row = &grad_output[(n * geom.out_channels + m) * pixels..][..pixels];
            let mut i = 0;
            while i + v::LANES <= pixels {
                // SAFETY: `i + LANES <= pixels`, the row's length.
                lanes = v::add(lanes, unsafe { v::load(row.as_ptr().add(i)) });
                i += v::LANES;
            }
            tail += row[i..].iter().sum::<f32>();
        }
        *slot = v::lanes(lanes).iter().sum::<f32>() + tail;
    }
}

#[cfg(test)]
#[path = "conv_backward_tests.rs"]
mod tests;
