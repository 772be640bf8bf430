//! Backward of the resize (`resample::resize`, linear or cubic, with or without extrapolation), on the same
//! per-axis taps: each output pixel's gradient goes back to the source pixels it weighed, with the same
//! weights; a pixel that took the extrapolation value (a constant) passes nothing back. The transpose of the
//! forward's two separable passes, in reverse order: every output row's gradient is split among its source
//! rows (a vector multiply-add along the output width), then every such row is scattered to its source columns.

use alloc::vec::Vec;

use crate::isa::active as v;
use crate::resample::AxisTaps;
use crate::status::Status;

/// `grad_output` holds `planes` maps of `oh x ow`, `grad_input` `planes` maps of `h x w` (every element
/// written); `ty`, `tx` are the forward's taps. Fails as `resize` does.
pub fn resize_backward(
    grad_output: &[f32],
    grad_input: &mut [f32],
    planes: usize,
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
    ty: &AxisTaps,
    tx: &AxisTaps,
) -> Result<(), Status> {
    let (Some(in_len), Some(out_len)) = (h.checked_mul(w).and_then(|n| n.checked_mul(planes)), oh.checked_mul(ow).and_then(|n| n.checked_mul(planes))) else {
        return Err(Status::SizeOverflow);
    };
    let fits = |t: &AxisTaps, out: usize, size: usize| t.len() == out && (0..out).all(|o| t.at(o).0.iter().all(|&i| (i as usize) < size));
    if !fits(ty, oh, h) || !fits(tx, ow, w) {
        return Err(Status::InvalidTable);
    }
    if grad_output.len() < out_len {
        return Err(Status::OutputLengthMismatch);
    }
    if grad_input.len() < in_len {
        return Err(Status::InputLengthMismatch);
    }
    let mut rows: Vec<f32> = Vec::new();
    rows.try_reserve_exact(h * ow).map_err(|_| Status::OutOfMemory)?;
    rows.resize(h * ow, 0.0);
    for p in 0..planes {
        rows.fill(0.0);
        let dy = &grad_output[p * oh * ow..][..oh * ow];
        for (y, line) in dy.chunks_exact(ow).enumerate() {
            if !ty.inside(y) {
                continue;
            }
            let (index, weight) = ty.at(y);
            for (&i, &wk) in index.iter().zip(weight) {
                add_scaled(&mut rows[i as usize * ow..][..ow], line, wk);
            }
        }
        let dx = &mut grad_input[p * h * w..][..h * w];
        dx.fill(0.0);
        for (r, out) in dx.chunks_exact_mut(w).enumerate() {
            let row = &rows[r * ow..][..ow];
            for (x, &g) in row.iter().enumerate() {
                if !tx.inside(x) {
                    continue;
                }
                let (index, weight) = tx.at(x);
                for (&i, &wk) in index.iter().zip(weight) {
                    out[i as usize] += g * wk;
                }
            }
        }
    }
    Ok(())
}

/// `acc += src * s`.
#[inline(never)]
fn add_scaled(acc: &mut [f32], src: &[f32], s: f32) {
    let n = acc.len().min(src.len());
    let sv = v::splat(s);
    let mut i = 0;
    // SAFETY: i + LANES <= n, the length of both slices' used parts.
    unsafe {
        while i + v::LANES <= n {
            let a = acc.as_mut_ptr().add(i);
            v::store(a, v::madd(v::load(src.as_ptr().add(i)), sv, v::load(a)));
            i += v::LANES;
        }
    }
    while i < n {
        acc[i] += src[i] * s;
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resample::{resize, Interpolation};
    use crate::test_rng::Rng;
    use alloc::vec;

    /// Half-pixel source coordinates (ONNX's default), and now and then a few past either edge.
    fn coords(rng: &mut Rng, out: usize, size: usize) -> Vec<f64> {
        let scale = out as f64 / size as f64;
        let stray = rng.below(3) == 0;
        (0..out).map(|o| (o as f64 + 0.5) / scale - 0.5 + if stray { rng.unit() as f64 * 2.0 } else { 0.0 }).collect()
    }

    /// `<dy, resize(x)> = <resize_backward(dy), x>` for random x and dy, with the extrapolation value 0 (the
    /// resize is then linear in x): the backward is the forward's transpose, which is what the gradient of a
    /// linear map is, checked through the forward itself; and per element against a scatter over the taps.
    #[test]
    fn is_the_transpose_of_the_forward() {
        let mut rng = Rng(0xbad_5eed);
        let modes = [Interpolation::Linear, Interpolation::Cubic { a: -0.75, exclude_outside: false }, Interpolation::Cubic { a: -0.5, exclude_outside: true }];
        for trial in 0..60 {
            let interpolation = modes[trial % modes.len()];
            let extrapolate = trial % 4 == 3;
            let (planes, h, w) = (rng.range(1, 3), rng.range(1, 9), rng.range(1, 9));
            let (oh, ow) = (rng.range(1, 20), rng.range(1, 20));
            let ty = AxisTaps::new(&coords(&mut rng, oh, h), h, interpolation, extrapolate).unwrap();
            let tx = AxisTaps::new(&coords(&mut rng, ow, w), w, interpolation, extrapolate).unwrap();
            let x = rng.vec(planes * h * w);
            let dy = rng.vec(planes * oh * ow);
            let mut y = vec![0.0; dy.len()];
            resize(&x, &mut y, planes, (h, w), (oh, ow), &ty, &tx, 0.0).unwrap();
            let mut dx = vec![f32::NAN; x.len()];
            resize_backward(&dy, &mut dx, planes, (h, w), (oh, ow), &ty, &tx).unwrap();
            let lhs: f64 = dy.iter().zip(&y).map(|(a, b)| *a as f64 * *b as f64).sum();
            let rhs: f64 = dx.iter().zip(&x).map(|(a, b)| *a as f64 * *b as f64).sum();
            let scale: f64 = dy.iter().map(|a| a.abs() as f64).sum::<f64>().max(1.0);
            let what = alloc::format!("{interpolation:?} extrapolate {extrapolate}: {planes}x{h}x{w} -> {oh}x{ow}");
            assert!((lhs - rhs).abs() <= 1e-5 * scale, "{what}: <dy, Rx> = {lhs}, <R'dy, x> = {rhs}");
            let mut want = vec![0.0f64; x.len()];
            for p in 0..planes {
                for yy in (0..oh).filter(|&o| ty.inside(o)) {
                    for xx in (0..ow).filter(|&o| tx.inside(o)) {
                        let g = dy[(p * oh + yy) * ow + xx] as f64;
                        let ((ri, rw), (ci, cw)) = (ty.at(yy), tx.at(xx));
                        for (&r, &fy) in ri.iter().zip(rw) {
                            for (&c, &fx) in ci.iter().zip(cw) {
                                want[(p * h + r as usize) * w + c as usize] += g * fy as f64 * fx as f64;
                            }
                        }
                    }
                }
            }
            for (i, (g, e)) in dx.iter().zip(&want).enumerate() {
                assert!((*g as f64 - e).abs() <= 1e-5 * e.abs().max(1.0), "{what}: dx[{i}] = {g}, want {e}");
            }
        }
    }

    #[test]
    fn wrong_sizes_are_errors() {
        let t2 = AxisTaps::new(&[0.0, 0.5], 2, Interpolation::Linear, false).unwrap();
        let t3 = AxisTaps::new(&[0.0, 0.5, 1.0], 3, Interpolation::Linear, false).unwrap();
        let dy = vec![0.0; 4];
        let mut dx = vec![0.0; 4];
        assert_eq!(resize_backward(&dy, &mut dx, 1, (2, 2), (2, 2), &t2, &t3), Err(Status::InvalidTable));
        assert_eq!(resize_backward(&dy, &mut dx[..3], 1, (2, 2), (2, 2), &t2, &t2), Err(Status::InputLengthMismatch));
        assert_eq!(resize_backward(&dy[..3], &mut dx, 1, (2, 2), (2, 2), &t2, &t2), Err(Status::OutputLengthMismatch));
        assert_eq!(resize_backward(&dy, &mut dx, 1, (2, 2), (2, 2), &t2, &t2), Ok(()));
    }
}
