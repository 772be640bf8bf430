//! Convolution plans: create (weights packed once), query, run, free.

use atrous_kernels::{Activation, ConvPlan, ConvShape, Padding, Status};

use atrous_kernels::plan::Method;

use crate::abi_table::{activation as act, conv_desc as desc, conv_method, pad_mode};
use crate::memory::{free_handle, hand_out, try_box};
use crate::team::{runner, Team};

pub(crate) fn decode_shape(d: &[u32]) -> Result<ConvShape, Status> {
    let u = |i: usize| d[i] as usize;
    let padding = match u(desc::PAD_MODE) {
        pad_mode::EXPLICIT => Padding::Explicit([u(desc::PADS), u(desc::PADS + 1), u(desc::PADS + 2), u(desc::PADS + 3)]),
        pad_mode::SAME_UPPER => Padding::SameUpper,
        pad_mode::SAME_LOWER => Padding::SameLower,
        pad_mode::VALID => Padding::Valid,
        _ => return Err(Status::InvalidDescriptor),
    };
    let shape = ConvShape {
        in_channels: u(desc::IN_CHANNELS),
        out_channels: u(desc::OUT_CHANNELS),
        kernel: [u(desc::KERNEL_H), u(desc::KERNEL_W)],
        strides: [u(desc::STRIDE_H), u(desc::STRIDE_W)],
        dilations: [u(desc::DILATION_H), u(desc::DILATION_W)],
        padding,
        groups: u(desc::GROUPS),
    };
    shape.validate()?;
    Ok(shape)
}

/// An `activation` code and its parameters as the kernels' `Activation`.
pub fn decode_activation(code: u32, p0: f32, p1: f32) -> Result<Activation, Status> {
    Ok(match code as usize {
        act::NONE => Activation::None,
        act::RELU => Activation::Relu,
        act::CLIP => Activation::Clip { min: p0, max: p1 },
        act::HARD_SIGMOID => Activation::HardSigmoid { alpha: p0, beta: p1 },
        act::HARD_SWISH => Activation::HardSwish,
        act::SIGMOID => Activation::Sigmoid,
        act::LEAKY_RELU => Activation::LeakyRelu { alpha: p0 },
        act::EXP => Activation::Exp,
        act::LOG => Activation::Log,
        act::SQRT => Activation::Sqrt,
        act::TANH => Activation::Tanh,
        act::ERF => Activation::Erf,
        act::GELU => Activation::Gelu,
        act::GELU_TANH => Activation::GeluTanh,
        act::ABS => Activation::Abs,
        act::NEG => Activation::Neg,
        act::RECIPROCAL => Activation::Reciprocal,
        act::FLOOR => Activation::Floor,
        act::CEIL => Activation::Ceil,
        act::ROUND => Activation::Round,
        act::SIN => Activation::Sin,
        act::COS => Activation::Cos,
        act::SOFTPLUS => Activation::Softplus,
        act::SOFTSIGN => Activation::Softsign,
        act::ELU => Activation::Elu { alpha: p0 },
        act::SELU => Activation::Selu { alpha: p0, gamma: p1 },
        act::CELU => Activation::Celu { alpha: p0 },
        act::THRESHOLDED_RELU => Activation::ThresholdedRelu { alpha: p0 },
        act::SIGN => Activation::Sign,
        act::POW => Activation::Pow { exponent: p0 },
        act::MISH => Activation::Mish,
        _ => return Err(Status::InvalidDescriptor),
    })
}

/// Prepares a convolution. `desc` points at `conv_desc::LEN` u32s; `weights` at `[M, C/groups, kH, kW]`
/// floats; `bias` at `[M]` floats or is null. Writes the plan to `*plan_out` and returns a status.
///
/// # Safety
/// The pointers must be valid for the lengths the descriptor implies; `plan_out` for one pointer.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_plan_create(desc: *const u32, weights: *const f32, bias: *const f32, plan_out: *mut *mut ConvPlan) -> i32 {
    let d = std::slice::from_raw_parts(desc, desc::LEN);
    let made = (|| {
        let shape = decode_shape(d)?;
        let activation = decode_activation(d[desc::ACTIVATION], f32::from_bits(d[desc::ACTIVATION_P0]), f32::from_bits(d[desc::ACTIVATION_P1]))?;
        let weights = std::slice::from_raw_parts(weights, shape.weight_len());
        let bias = (!bias.is_null()).then(|| std::slice::from_raw_parts(bias, shape.out_channels));
        let plan = match d[desc::METHOD] as usize {
            conv_method::AUTO => ConvPlan::new(shape, weights, bias, activation)?,
            conv_method::DIRECT => ConvPlan::with_method(shape, weights, bias, activation, atrous_kernels::selection::conv_method(&shape))?,
            conv_method::WINOGRAD => ConvPlan::with_method(shape, weights, bias, activation, Method::Winograd)?,
            _ => return Err(Status::InvalidDescriptor),
        };
        try_box(plan).ok_or(Status::OutOfMemory)
    })();
    hand_out(made, plan_out)
}

/// # Safety
/// `plan` must come from `atrous_conv_plan_create` and not be freed yet.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_plan_free(plan: *mut ConvPlan) {
    free_handle(plan);
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
pub unsafe extern "C" fn atrous_conv_plan_output_dims(plan: *const ConvPlan, batch: usize, height: usize, width: usize, dims: *mut u32) -> i32 {
    Status::code((*plan).shape().geometry(batch, height, width).map(|g| {
        let out = std::slice::from_raw_parts_mut(dims, 4);
        out.copy_from_slice(&[g.batch as u32, g.out_channels as u32, g.out_height as u32, g.out_width as u32]);
    }))
}

/// Writes to `*method` the `conv_method` code a run on `[batch, C, height, width]` would use (Winograd or
/// the direct GEMM is chosen per input size); returns a status.
///
/// # Safety
/// As `atrous_conv_plan_free`; `method` valid for one u32.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_plan_method(plan: *const ConvPlan, batch: usize, height: usize, width: usize, method: *mut u32) -> i32 {
    Status::code((&*plan).method(batch, height, width).map(|m| {
        *method = match m {
            Method::Gemm => conv_method::GEMM,
            Method::Depthwise => conv_method::DEPTHWISE,
            Method::Winograd => conv_method::WINOGRAD,
        } as u32;
    }))
}

/// Runs the plan: `input` `[batch, C, height, width]` -> `output` `[batch, M, OH, OW]`, plus `residual`
/// (output-shaped, or null) before the activation; the output split over `team` (0 for this thread alone).
/// The first run at a size where an adaptive plan's Winograd pays derives those weights (`ConvPlan::fit`).
///
/// # Safety
/// As `atrous_conv_plan_free`; buffers valid for the sizes `atrous_conv_plan_output_dims` gives; `team`
/// null or a live team.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_plan_run(
    plan: *mut ConvPlan,
    input: *const f32,
    batch: usize,
    height: usize,
    width: usize,
    output: *mut f32,
    residual: *const f32,
    team: *const Team,
) -> i32 {
    // Only the thread that owns the engine calls exports (helpers run pieces of a call), so the plan is
    // not shared while `fit` adds weights for this size.
    let plan = &mut *plan;
    Status::code((|| {
        let geom = plan.shape().geometry(batch, height, width)?;
        plan.fit(&geom)?;
        let input = std::slice::from_raw_parts(input, geom.input_len());
        let output = std::slice::from_raw_parts_mut(output, geom.output_len());
        let residual = (!residual.is_null()).then(|| std::slice::from_raw_parts(residual, geom.output_len()));
        plan.run(input, batch, height, width, output, residual, runner(team))
    })())
}
