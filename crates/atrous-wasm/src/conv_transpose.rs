//! Transposed-convolution plans: create (weights split into phases and packed once), query, run, free.

use atrous_kernels::conv_transpose::{ConvTransposePlan, ConvTransposeShape};
use atrous_kernels::Status;

use crate::abi_table::conv_transpose_desc as desc;
use crate::conv::decode_activation;
use crate::memory::{free_handle, hand_out, try_box};
use crate::team::{runner, Team};

/// Prepares a transposed convolution. `desc` points at `conv_transpose_desc::LEN` u32s; `weights` at
/// `[C, M/groups, kH, kW]` floats (ONNX layout); `bias` at `[M]` floats or is null. Writes the plan to
/// `*plan_out` and returns a status.
///
/// # Safety
/// The pointers must be valid for the lengths the descriptor implies; `plan_out` for one pointer.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_transpose_plan_create(desc: *const u32, weights: *const f32, bias: *const f32, plan_out: *mut *mut ConvTransposePlan) -> i32 {
    let d = std::slice::from_raw_parts(desc, desc::LEN);
    let u = |i: usize| d[i] as usize;
    let made = (|| {
        let shape = ConvTransposeShape {
            in_channels: u(desc::IN_CHANNELS),
            out_channels: u(desc::OUT_CHANNELS),
            kernel: [u(desc::KERNEL_H), u(desc::KERNEL_W)],
            strides: [u(desc::STRIDE_H), u(desc::STRIDE_W)],
            dilations: [u(desc::DILATION_H), u(desc::DILATION_W)],
            pads_begin: [u(desc::PAD_TOP), u(desc::PAD_LEFT)],
            groups: u(desc::GROUPS),
        };
        shape.validate()?;
        let activation = decode_activation(d[desc::ACTIVATION], f32::from_bits(d[desc::ACTIVATION_P0]), f32::from_bits(d[desc::ACTIVATION_P1]))?;
        let weights = std::slice::from_raw_parts(weights, shape.weight_len()?);
        let bias = (!bias.is_null()).then(|| std::slice::from_raw_parts(bias, shape.out_channels));
        let plan = ConvTransposePlan::new(shape, weights, bias, activation)?;
        try_box(plan).ok_or(Status::OutOfMemory)
    })();
    hand_out(made, plan_out)
}

/// # Safety
/// `plan` must come from `atrous_conv_transpose_plan_create` and not be freed yet.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_transpose_plan_free(plan: *mut ConvTransposePlan) {
    free_handle(plan);
}

/// Bytes the plan holds (packed phase weights and bias).
///
/// # Safety
/// As `atrous_conv_transpose_plan_free`.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_transpose_plan_bytes(plan: *const ConvTransposePlan) -> usize {
    (*plan).prepared_bytes()
}

/// Runs the plan: `input` `[batch, C, height, width]` -> `output` `[batch, M, out_height, out_width]`
/// (every pixel written; the caller resolved the output size), split over `team` (null: this thread).
///
/// # Safety
/// As `atrous_conv_transpose_plan_free`; buffers valid for those sizes.
#[no_mangle]
pub unsafe extern "C" fn atrous_conv_transpose_plan_run(
    plan: *const ConvTransposePlan,
    input: *const f32,
    batch: usize,
    height: usize,
    width: usize,
    output: *mut f32,
    out_height: usize,
    out_width: usize,
    team: *const Team,
) -> i32 {
    let plan = &*plan;
    Status::code((|| {
        if batch == 0 || height == 0 || width == 0 || out_height == 0 || out_width == 0 {
            return Err(Status::ZeroDimension);
        }
        let s = plan.shape();
        let len = |c: usize, h: usize, w: usize| {
            batch.checked_mul(c).and_then(|n| n.checked_mul(h)).and_then(|n| n.checked_mul(w)).ok_or(Status::SizeOverflow)
        };
        let input = std::slice::from_raw_parts(input, len(s.in_channels, height, width)?);
        let output = std::slice::from_raw_parts_mut(output, len(s.out_channels, out_height, out_width)?);
        plan.run(input, batch, height, width, output, out_height, out_width, runner(team))
    })())
}
