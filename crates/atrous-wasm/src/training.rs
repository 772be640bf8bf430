//! Training kernels: the softmax cross-entropy loss with its gradient, and the backward of pooling and of
//! an inference BatchNormalization.

use atrous_kernels::loss::{softmax_cross_entropy, LossShape};
use atrous_kernels::normalization_backward::{batch_norm_backward, BatchNormFold, BatchNormGradients};
use atrous_kernels::pooling_backward::{avg_pool2d_backward, max_pool2d_backward, mean_planes_backward};
use atrous_kernels::Status;

use crate::feature_maps::{decode_pool, len3};

/// A slice, or None for a null pointer.
unsafe fn opt<'a, T>(p: *const T, n: usize) -> Option<&'a [T]> {
    (!p.is_null()).then(|| std::slice::from_raw_parts(p, n))
}

unsafe fn opt_mut<'a, T>(p: *mut T, n: usize) -> Option<&'a mut [T]> {
    (!p.is_null()).then(|| std::slice::from_raw_parts_mut(p, n))
}

/// Mean softmax cross-entropy of `logits` `[batch, classes, spatial]` against i32 `labels` `[batch,
/// spatial]` (`ignore_index` skipped; optional per-class `weights`, null for none). Writes `grad`
/// (logits-sized, null to skip) and `sums` = [loss, weight sum, correct pixels, counted pixels] (f64).
/// A label outside `[0, classes)` that is not `ignore_index` is `InvalidTable`, and nothing is written.
///
/// # Safety
/// Pointers valid for the lengths the dims imply; `sums` for 4 f64s.
#[no_mangle]
pub unsafe extern "C" fn atrous_softmax_cross_entropy(
    logits: *const f32,
    labels: *const i32,
    weights: *const f32,
    grad: *mut f32,
    batch: usize,
    classes: usize,
    spatial: usize,
    ignore_index: i32,
    sums: *mut f64,
) -> i32 {
    Status::code((|| {
        let len = len3(batch, classes, spatial)?;
        let pixels = batch.checked_mul(spatial).ok_or(Status::SizeOverflow)?;
        let shape = LossShape { batch, classes, spatial };
        let labels = std::slice::from_raw_parts(labels, pixels);
        let weights = opt(weights, classes);
        let logits = std::slice::from_raw_parts(logits, len);
        // The labels are checked before the gradient is written.
        softmax_cross_entropy(shape, logits, labels, weights, ignore_index, None)?;
        let r = softmax_cross_entropy(shape, logits, labels, weights, ignore_index, opt_mut(grad, len))?;
        std::slice::from_raw_parts_mut(sums, 4).copy_from_slice(&[r.loss, r.weight_sum, r.correct as f64, r.counted as f64]);
        Ok(())
    })())
}

/// Gradient of `atrous_max_pool2d` (same `pool_desc`) at its input `src`, given `grad_output`; the argmax
/// of each window is recomputed from `src`.
///
/// # Safety
/// As `atrous_max_pool2d`, with `grad_input` sized as `src` and `grad_output` as `dst`.
#[no_mangle]
pub unsafe extern "C" fn atrous_max_pool2d_backward(src: *const f32, grad_output: *const f32, grad_input: *mut f32, d: *const u32) -> i32 {
    let s = decode_pool(d);
    Status::code((|| {
        let (i, o) = (len3(s.planes, s.in_hw[0], s.in_hw[1])?, len3(s.planes, s.out_hw[0], s.out_hw[1])?);
        max_pool2d_backward(std::slice::from_raw_parts(src, i), std::slice::from_raw_parts(grad_output, o), std::slice::from_raw_parts_mut(grad_input, i), &s)
    })())
}

/// Gradient of `atrous_avg_pool2d` under the same arguments.
///
/// # Safety
/// As `atrous_avg_pool2d`, `grad_output` in the place of `dst` and `grad_input` of `src`.
#[no_mangle]
pub unsafe extern "C" fn atrous_avg_pool2d_backward(grad_output: *const f32, grad_input: *mut f32, d: *const u32, pad_bottom: usize, pad_right: usize, count_include_pad: u32) -> i32 {
    let s = decode_pool(d);
    Status::code((|| {
        let (i, o) = (len3(s.planes, s.in_hw[0], s.in_hw[1])?, len3(s.planes, s.out_hw[0], s.out_hw[1])?);
        avg_pool2d_backward(std::slice::from_raw_parts(grad_output, o), std::slice::from_raw_parts_mut(grad_input, i), &s, [pad_bottom, pad_right], count_include_pad == 1)
    })())
}

/// Gradient of `atrous_mean_planes`: `grad_input` (`planes x len`) from `grad_output` (`planes`).
///
/// # Safety
/// `grad_output` valid for `planes` floats, `grad_input` for `planes * len`.
#[no_mangle]
pub unsafe extern "C" fn atrous_mean_planes_backward(grad_output: *const f32, grad_input: *mut f32, planes: usize, len: usize) -> i32 {
    Status::code((|| {
        let n = len3(planes, len, 1)?;
        mean_planes_backward(std::slice::from_raw_parts(grad_output, planes), std::slice::from_raw_parts_mut(grad_input, n), len)
    })())
}

/// Gradients of an inference BatchNormalization over `[batch, channels, spatial]` from its folded
/// per-channel `scale` (gamma * inv_std), `inv_std` and `mean`: `grad_input` (null to skip),
/// `grad_gamma` and `grad_beta` (`[channels]`, null to skip; `x` is read for gamma only).
///
/// # Safety
/// Pointers valid for the lengths the dims imply; `grad_input` overlapping no input.
#[no_mangle]
pub unsafe extern "C" fn atrous_batch_norm_backward(
    x: *const f32,
    grad_output: *const f32,
    grad_input: *mut f32,
    grad_gamma: *mut f32,
    grad_beta: *mut f32,
    batch: usize,
    channels: usize,
    spatial: usize,
    scale: *const f32,
    inv_std: *const f32,
    mean: *const f32,
) -> i32 {
    Status::code((|| {
        let len = len3(batch, channels, spatial)?;
        let per = |p: *const f32| std::slice::from_raw_parts(p, channels);
        let fold = BatchNormFold { scale: per(scale), inv_std: per(inv_std), mean: per(mean) };
        let x = if grad_gamma.is_null() { &[][..] } else { std::slice::from_raw_parts(x, len) };
        let grads = BatchNormGradients { input: opt_mut(grad_input, len), gamma: opt_mut(grad_gamma, channels), beta: opt_mut(grad_beta, channels) };
        let dy = std::slice::from_raw_parts(grad_output, len);
        batch_norm_backward(batch, channels, spatial, &fold, x, dy, grads)
    })())
}
