//! Backward of the bilinear resize (`resample::resize_bilinear`), on the same per-axis tables: each output
//! pixel's gradient goes back to the four source pixels it blended, with the same weights. The transpose of
//! the forward's two separable passes, in reverse order: every output row's gradient is split between its
//! two source rows (a vector multiply-add along the output width), then every such row is scattered to its
//! source columns.

use alloc::vec::Vec;

use crate::isa::active as v;
use crate::resample::AxisTable;
use crate::status::Status;

fn table_ok(t: &AxisTable, out: usize, size: usize) -> bool {
    t.i0.len() == out && t.i1.len() == out && t.w1.len() == out && t.i0.iter().chain(t.i1.iter()).all(|&i| (i as usize) < size)
}

/// `grad_output` holds `planes` maps of `oh x ow`, `grad_input` `planes` maps of `h x w` (every element
/// written); `ty`, `tx` are the forward's tables.
pub fn resize_bilinear_backward(
    grad_output: &[f32],
    grad_input: &mut [f32],
    planes: usize,
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
    ty: &AxisTable,
    tx: &AxisTable,
) -> Result<(), Status> {
    let (Some(in_len), Some(out_len)) = (h.checked_mul(w).and_then(|n| n.checked_mul(planes)), oh.checked_mul(ow).and_then(|n| n.checked_mul(planes))) else {
        return Err(Status::InvalidTable);
    };
    if !table_ok(ty, oh, h) || !table_ok(tx, ow, w) || grad_output.len() < out_len || grad_input.len() < in_len {
        return Err(Status::InvalidTable);
    }
    let mut rows: Vec<f32> = Vec::new();
    rows.try_reserve_exact(h * ow).map_err(|_| Status::OutOfMemory)?;
    rows.resize(h * ow, 0.0);
    for p in 0..planes {
        rows.fill(0.0);
        let dy = &grad_output[p * oh * ow..][..oh * ow];
        for (y, line) in dy.chunks_exact(ow).enumerate() {
            let wy = ty.w1[y];
            add_scaled(&mut rows[ty.i0[y] as usize * ow..][..ow], line, 1.0 - wy);
            add_scaled(&mut rows[ty.i1[y] as usize * ow..][..ow], line, wy);
        }
        let dx = &mut grad_input[p * h * w..][..h * w];
        dx.fill(0.0);
        for (r, out) in dx.chunks_exact_mut(w).enumerate() {
            let row = &rows[r * ow..][..ow];
            for (x, &g) in row.iter().enumerate() {
                let wx = tx.w1[x];
                out[tx.i0[x] as usize] += g * (1.0 - wx);
                out[tx.i1[x] as usize] += g * wx;
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
    use crate::test_rng::Rng;
    use alloc::vec;

    /// A half-pixel table (ONNX's default coordinate mode), clamped at the borders.
    fn table(out: usize, size: usize) -> (Vec<u32>, Vec<u32>, Vec<f32>) {
        let scale = out as f32 / size as f32;
        let (mut i0, mut i1, mut w1) = (vec![], vec![], vec![]);
        for o in 0..out {
            let c = ((o as f32 + 0.5) / scale - 0.5).clamp(0.0, (size - 1) as f32);
            let lo = c.floor();
            i0.push(lo as u32);
            i1.push((lo as usize + 1).min(size - 1) as u32);
            w1.push(c - lo);
        }
        (i0, i1, w1)
    }

    /// `<dy, resize(x)> = <resize_backward(dy), x>` for random x and dy: the backward is the forward's
    /// transpose (which is what its gradient is, the resize being linear), checked through the forward itself.
    #[test]
    fn is_the_transpose_of_the_forward() {
        let mut rng = Rng(0xbad_5eed);
        for _ in 0..40 {
            let (planes, h, w) = (rng.range(1, 3), rng.range(1, 9), rng.range(1, 9));
            let (oh, ow) = (rng.range(1, 20), rng.range(1, 20));
            let (ty, tx) = (table(oh, h), table(ow, w));
            let (ay, ax) = (AxisTable { i0: &ty.0, i1: &ty.1, w1: &ty.2 }, AxisTable { i0: &tx.0, i1: &tx.1, w1: &tx.2 });
            let x = rng.vec(planes * h * w);
            let dy = rng.vec(planes * oh * ow);
            let mut y = vec![0.0; dy.len()];
            crate::resample::resize_bilinear(&x, &mut y, planes, (h, w), (oh, ow), &ay, &ax).unwrap();
            let mut dx = vec![f32::NAN; x.len()];
            resize_bilinear_backward(&dy, &mut dx, planes, (h, w), (oh, ow), &ay, &ax).unwrap();
            let lhs: f64 = dy.iter().zip(&y).map(|(a, b)| *a as f64 * *b as f64).sum();
            let rhs: f64 = dx.iter().zip(&x).map(|(a, b)| *a as f64 * *b as f64).sum();
            let scale: f64 = dy.iter().map(|a| a.abs() as f64).sum::<f64>().max(1.0);
            assert!((lhs - rhs).abs() <= 1e-5 * scale, "{planes}x{h}x{w} -> {oh}x{ow}: <dy, Rx> = {lhs}, <R'dy, x> = {rhs}");
            // And per element, against the four-weight scatter.
            let mut want = vec![0.0f64; x.len()];
            for p in 0..planes {
                for yy in 0..oh {
                    for xx in 0..ow {
                        let g = dy[(p * oh + yy) * ow + xx] as f64;
                        let (wy, wx) = (ay.w1[yy] as f64, ax.w1[xx] as f64);
                        for (r, fy) in [(ay.i0[yy], 1.0 - wy), (ay.i1[yy], wy)] {
                            for (cc, fx) in [(ax.i0[xx], 1.0 - wx), (ax.i1[xx], wx)] {
                                want[(p * h + r as usize) * w + cc as usize] += g * fy * fx;
                            }
                        }
                    }
                }
            }
            for (i, (g, e)) in dx.iter().zip(&want).enumerate() {
                assert!((*g as f64 - e).abs() <= 1e-5 * e.abs().max(1.0), "dx[{i}] = {g}, want {e}");
            }
        }
    }

    #[test]
    fn rejects_out_of_range_tables() {
        let dy = vec![0.0; 4];
        let mut dx = vec![0.0; 4];
        let bad = AxisTable { i0: &[0, 2], i1: &[1, 1], w1: &[0.0, 0.5] };
        let good = AxisTable { i0: &[0, 1], i1: &[1, 1], w1: &[0.0, 0.5] };
        assert_eq!(resize_bilinear_backward(&dy, &mut dx, 1, (2, 2), (2, 2), &good, &bad), Err(Status::InvalidTable));
        assert_eq!(resize_bilinear_backward(&dy, &mut dx[..3], 1, (2, 2), (2, 2), &good, &good), Err(Status::InvalidTable));
        assert_eq!(resize_bilinear_backward(&dy, &mut dx, 1, (2, 2), (2, 2), &good, &good), Ok(()));
    }
}
