//! Bilinear resizing of feature maps over their last two axes (ONNX Resize / Upsample, mode linear).
//! The coordinate conventions (half_pixel, align_corners, ...) are the caller's: it passes, per output
//! row and per output column, the two source indices and the weight of the second. Separable: each source
//! row is interpolated to the output width once, then every output row blends two of those rows, which
//! vectorises (two loads and a multiply-add per output pixel).

use alloc::vec::Vec;

use crate::isa::active as v;
use crate::status::Status;

/// Per output position along one axis: source indices `i0`, `i1` and the weight `w1` of `i1`.
pub struct AxisTable<'a> {
    pub i0: &'a [u32],
    pub i1: &'a [u32],
    pub w1: &'a [f32],
}


impl AxisTable<'_> {
    fn valid(&self, out: usize, size: usize) -> bool {
        self.i0.len() == out
            && self.i1.len() == out
            && self.w1.len() == out
            && self.i0.iter().chain(self.i1.iter()).all(|&i| (i as usize) < size)
    }
}

/// `src` holds `planes` maps of `h x w`, `dst` `planes` maps of `oh x ow` (row-major, contiguous).
pub fn resize_bilinear(
    src: &[f32],
    dst: &mut [f32],
    planes: usize,
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
    ty: &AxisTable,
    tx: &AxisTable,
) -> Result<(), Status> {
    let (Some(in_len), Some(out_len)) = (h.checked_mul(w).and_then(|n| n.checked_mul(planes)), oh.checked_mul(ow).and_then(|n| n.checked_mul(planes))) else {
        return Err(Status::InvalidTable);
    };
    if !ty.valid(oh, h) || !tx.valid(ow, w) || src.len() < in_len || dst.len() < out_len {
        return Err(Status::InvalidTable);
    }
    let mut rows: Vec<f32> = Vec::new();
    if rows.try_reserve_exact(h * ow).is_err() {
        return Err(Status::OutOfMemory);
    }
    rows.resize(h * ow, 0.0);
    for p in 0..planes {
        let plane = &src[p * h * w..(p + 1) * h * w];
        for (r, row) in rows.chunks_exact_mut(ow).enumerate() {
            let line = &plane[r * w..(r + 1) * w];
            for (x, out) in row.iter_mut().enumerate() {
                let a = line[tx.i0[x] as usize];
                *out = a + (line[tx.i1[x] as usize] - a) * tx.w1[x];
            }
        }
        let out_plane = &mut dst[p * oh * ow..(p + 1) * oh * ow];
        for (y, out) in out_plane.chunks_exact_mut(ow).enumerate() {
            let r0 = &rows[ty.i0[y] as usize * ow..][..ow];
            let r1 = &rows[ty.i1[y] as usize * ow..][..ow];
            blend_rows(out, r0, r1, ty.w1[y]);
        }
    }
    Ok(())
}

/// `out = r0 * (1 - w) + r1 * w`.
#[inline(never)]
fn blend_rows(out: &mut [f32], r0: &[f32], r1: &[f32], wy: f32) {
    let n = out.len();
    let (w1, w0) = (v::splat(wy), v::splat(1.0 - wy));
    let mut x = 0;
    // SAFETY: x + v::LANES <= n and all three slices hold n floats.
    unsafe {
        while x + v::LANES <= n {
            let top = v::load(r0.as_ptr().add(x));
            let bottom = v::load(r1.as_ptr().add(x));
            v::store(out.as_mut_ptr().add(x), v::madd(bottom, w1, v::mul(top, w0)));
            x += v::LANES;
        }
    }
    while x < n {
        out[x] = r0[x] * (1.0 - wy) + r1[x] * wy;
        x += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn table(out: usize, size: usize, scale: f32) -> (Vec<u32>, Vec<u32>, Vec<f32>) {
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

    #[test]
    fn matches_a_direct_bilinear_on_odd_sizes() {
        let (planes, h, w, oh, ow) = (3, 5, 7, 13, 11);
        let src: Vec<f32> = (0..planes * h * w).map(|i| ((i * 37 % 101) as f32) / 50.0 - 1.0).collect();
        let ty = table(oh, h, oh as f32 / h as f32);
        let tx = table(ow, w, ow as f32 / w as f32);
        let mut dst = vec![0.0; planes * oh * ow];
        let (ay, ax) = (AxisTable { i0: &ty.0, i1: &ty.1, w1: &ty.2 }, AxisTable { i0: &tx.0, i1: &tx.1, w1: &tx.2 });
        resize_bilinear(&src, &mut dst, planes, (h, w), (oh, ow), &ay, &ax).unwrap();
        for p in 0..planes {
            for y in 0..oh {
                for x in 0..ow {
                    let at = |r: u32, c: u32| src[p * h * w + r as usize * w + c as usize];
                    let top = at(ty.0[y], tx.0[x]) * (1.0 - tx.2[x]) + at(ty.0[y], tx.1[x]) * tx.2[x];
                    let bottom = at(ty.1[y], tx.0[x]) * (1.0 - tx.2[x]) + at(ty.1[y], tx.1[x]) * tx.2[x];
                    let want = top * (1.0 - ty.2[y]) + bottom * ty.2[y];
                    assert!((dst[(p * oh + y) * ow + x] - want).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn rejects_out_of_range_tables() {
        let src = vec![0.0; 4];
        let mut dst = vec![0.0; 4];
        let bad = AxisTable { i0: &[0, 2], i1: &[1, 1], w1: &[0.0, 0.5] };
        let good = AxisTable { i0: &[0, 1], i1: &[1, 1], w1: &[0.0, 0.5] };
        assert_eq!(resize_bilinear(&src, &mut dst, 1, (2, 2), (2, 2), &bad, &good), Err(Status::InvalidTable));
        assert_eq!(resize_bilinear(&src, &mut dst, 1, (2, 2), (2, 2), &good, &good), Ok(()));
    }
}
