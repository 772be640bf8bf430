//! Softmax, the norms and the reductions over `[outer, len, inner]` views of a buffer.

use atrous_kernels::normalization::{group_norm, layer_norm, softmax, GroupNormShape};
use atrous_kernels::reduce::{arg_reduce, reduce, ReduceOp};
use atrous_kernels::Status;

use crate::abi_table::reduce_op as op;

fn len3(a: usize, b: usize, c: usize) -> Result<usize, Status> {
    a.checked_mul(b).and_then(|n| n.checked_mul(c)).and_then(|n| n.checked_mul(4).map(|_| n)).ok_or(Status::SizeOverflow)
}

/// Softmax (LogSoftmax when `log` is 1) along the middle axis of `[outer, len, inner]`.
///
/// # Safety
/// `src`, `dst` valid for `outer * len * inner` floats; the same buffer or not overlapping.
#[no_mangle]
pub unsafe extern "C" fn atrous_softmax(src: *const f32, dst: *mut f32, outer: usize, len: usize, inner: usize, log: u32) -> i32 {
    Status::code(len3(outer, len, inner).map(|_| softmax(src, dst, outer, len, inner, log == 1)))
}

/// LayerNormalization of `rows` rows of `len`: `scale` `[len]`, `bias` `[len]` or null.
///
/// # Safety
/// `src`, `dst` valid for `rows * len` floats (the same buffer or not overlapping), `scale` (and `bias`) for `len`.
#[no_mangle]
pub unsafe extern "C" fn atrous_layer_norm(src: *const f32, dst: *mut f32, rows: usize, len: usize, scale: *const f32, bias: *const f32, epsilon: f32) -> i32 {
    Status::code(len3(rows, len, 1).map(|_| layer_norm(src, dst, rows, len, scale, bias, epsilon)))
}

/// GroupNormalization of `[batch, channels, spatial]` in `groups` (InstanceNormalization: groups = channels);
/// `scale`, `bias` per channel (`bias` may be null).
///
/// # Safety
/// `src`, `dst` valid for `batch * channels * spatial` floats (the same buffer or not overlapping),
/// `scale` (and `bias`) for `channels`.
#[no_mangle]
pub unsafe extern "C" fn atrous_group_norm(
    src: *const f32,
    dst: *mut f32,
    batch: usize,
    groups: usize,
    channels: usize,
    spatial: usize,
    scale: *const f32,
    bias: *const f32,
    epsilon: f32,
) -> i32 {
    let shape = GroupNormShape { batch, groups, channels, spatial };
    Status::code(shape.elements().map(|_| group_norm(src, dst, &shape, scale, bias, epsilon)))
}

/// Reduces the middle axis of `[outer, len, inner]` into `dst` `[outer, inner]` under a `reduce_op` code:
/// f32 out, except ARG_MAX / ARG_MIN which write i32 indices (the last of equal ones when `select_last` is
/// 1) and need `len > 0` when there is anything to write.
///
/// # Safety
/// `src` valid for `outer * len * inner` floats, `dst` for `outer * inner` values; not overlapping.
#[no_mangle]
pub unsafe extern "C" fn atrous_reduce(code: u32, src: *const f32, dst: *mut u8, outer: usize, len: usize, inner: usize, select_last: u32) -> i32 {
    Status::code((|| {
        len3(outer, len, inner)?;
        let kind = match code as usize {
            op::SUM => ReduceOp::Sum,
            op::MEAN => ReduceOp::Mean,
            op::MAX => ReduceOp::Max,
            op::MIN => ReduceOp::Min,
            op::PROD => ReduceOp::Prod,
            op::L1 => ReduceOp::L1,
            op::L2 => ReduceOp::L2,
            op::LOG_SUM => ReduceOp::LogSum,
            op::LOG_SUM_EXP => ReduceOp::LogSumExp,
            op::SUM_SQUARE => ReduceOp::SumSquare,
            op::ARG_MAX | op::ARG_MIN => {
                if outer * inner > 0 {
                    if len == 0 {
                        return Err(Status::ZeroDimension);
                    }
                    arg_reduce(code as usize == op::ARG_MAX, select_last == 1, src, dst as *mut i32, outer, len, inner);
                }
                return Ok(());
            }
            _ => return Err(Status::InvalidDescriptor),
        };
        reduce(kind, src, dst as *mut f32, outer, len, inner);
        Ok(())
    })())
}
