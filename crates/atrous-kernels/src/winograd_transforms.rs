//! The transforms of Winograd's minimal filtering F(m, 3) (Toom-Cook on the points 0, 1, -1, 2, -2 and
//! infinity), one 1-D transform per tile size. A 2-D tile applies them to the rows, then to the columns.
//!
//! For one output tile of `m x m`, input tile `d` (`A x A`, `A = m + 2`) and 3x3 filter `g`:
//! `Y = At [(G g Gt) * (Bt d B)] A`. The filter transform runs once per plan, in f64 (`Transform::G`); the
//! input and output transforms run per tile, on vectors whose lanes are different tiles, written out by
//! hand so that no multiply by 0 or 1 is left for the engine to do (IEEE arithmetic cannot drop them).
//! The matrices were derived with sympy (solving `At (G g . Bt d) = g correlated with d` for `Bt`) and are
//! checked against direct correlation in the tests below.

use crate::isa::active as v;
use v::V;

/// One tile size: `A = M + 2` frequencies per axis, `M` outputs per axis.
pub trait Transform<const A: usize, const M: usize> {
    /// The filter transform `G` (`A x 3`).
    const G: [[f64; 3]; A];
    /// `Bt d` for one column (or row) of an input tile.
    fn input(d: &[V; A]) -> [V; A];
    /// `At m` for one column (or row) of the products.
    fn output(m: &[V; A]) -> [V; M];
}

#[inline(always)]
fn twice(x: V) -> V {
    v::add(x, x)
}

/// F(2, 3): 4 frequencies for 2 outputs. Points 0, 1, -1, infinity.
pub struct F2;

impl Transform<4, 2> for F2 {
    const G: [[f64; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
    #[inline(always)]
    fn input(d: &[V; 4]) -> [V; 4] {
        [v::sub(d[0], d[2]), v::add(d[1], d[2]), v::sub(d[2], d[1]), v::sub(d[3], d[1])]
    }
    #[inline(always)]
    fn output(m: &[V; 4]) -> [V; 2] {
        [v::add(v::add(m[0], m[1]), m[2]), v::add(v::sub(m[1], m[2]), m[3])]
    }
}

/// F(3, 3): 5 frequencies for 3 outputs. Points 0, 1, -1, 2, infinity.
pub struct F3;

impl Transform<5, 3> for F3 {
    const G: [[f64; 3]; 5] = [
        [0.5, 0.0, 0.0],
        [-0.5, -0.5, -0.5],
        [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
        [1.0 / 6.0, 1.0 / 3.0, 2.0 / 3.0],
        [0.0, 0.0, 1.0],
    ];
    #[inline(always)]
    fn input(d: &[V; 5]) -> [V; 5] {
        // Bt rows: [2 -1 -2 1 0], [0 -2 -1 1 0], [0 2 -3 1 0], [0 -1 0 1 0], [0 2 -1 -2 1].
        let d31 = v::sub(d[3], d[1]);
        let t0 = v::add(v::sub(twice(v::sub(d[0], d[2])), d[1]), d[3]);
        let t1 = v::sub(v::sub(d[3], twice(d[1])), d[2]);
        let t2 = v::add(v::sub(twice(v::sub(d[1], d[2])), d[2]), d[3]);
        let t4 = v::add(v::sub(twice(v::sub(d[1], d[3])), d[2]), d[4]);
        [t0, t1, t2, d31, t4]
    }
    #[inline(always)]
    fn output(m: &[V; 5]) -> [V; 3] {
        // At rows: [1 1 1 1 0], [0 1 -1 2 0], [0 1 1 4 1].
        let s = v::add(m[1], m[2]);
        let d = v::sub(m[1], m[2]);
        let m3x2 = twice(m[3]);
        [v::add(v::add(m[0], s), m[3]), v::add(d, m3x2), v::add(v::add(s, twice(m3x2)), m[4])]
    }
}

/// F(4, 3): 6 frequencies for 4 outputs. Points 0, 1, -1, 2, -2, infinity (Lavin and Gray's matrices).
pub struct F4;

impl Transform<6, 4> for F4 {
    const G: [[f64; 3]; 6] = [
        [0.25, 0.0, 0.0],
        [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
        [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
        [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
        [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
        [0.0, 0.0, 1.0],
    ];
    #[inline(always)]
    fn input(d: &[V; 6]) -> [V; 6] {
        // Bt rows: [4 0 -5 0 1 0], [0 -4 -4 1 1 0], [0 4 -4 -1 1 0], [0 -2 -1 2 1 0], [0 2 -1 -2 1 0],
        // [0 4 0 -5 0 1].
        let four = v::splat(4.0);
        let five = v::splat(5.0);
        let a = v::sub(d[4], v::mul(four, d[2])); // d4 - 4 d2
        let b = v::sub(d[3], v::mul(four, d[1])); // d3 - 4 d1
        let c = v::sub(d[4], d[2]);
        let e = twice(v::sub(d[3], d[1]));
        [
            v::add(v::sub(v::mul(four, d[0]), v::mul(five, d[2])), d[4]),
            v::add(a, b),
            v::sub(a, b),
            v::add(c, e),
            v::sub(c, e),
            v::add(v::sub(v::mul(four, d[1]), v::mul(five, d[3])), d[5]),
        ]
    }
    #[inline(always)]
    fn output(m: &[V; 6]) -> [V; 4] {
        // At rows: [1 1 1 1 1 0], [0 1 -1 2 -2 0], [0 1 1 4 4 0], [0 1 -1 8 -8 1].
        let s12 = v::add(m[1], m[2]);
        let d12 = v::sub(m[1], m[2]);
        let s34 = v::add(m[3], m[4]);
        let d34 = v::sub(m[3], m[4]);
        [
            v::add(v::add(m[0], s12), s34),
            v::add(d12, twice(d34)),
            v::add(s12, v::mul(v::splat(4.0), s34)),
            v::add(v::add(d12, v::mul(v::splat(8.0), d34)), m[5]),
        ]
    }
}

/// `G g Gt` for one 3x3 filter `g` (row-major), in f64, as `A x A` floats (row-major frequencies).
pub fn filter<const A: usize, const M: usize, T: Transform<A, M>>(g: &[f32]) -> [[f32; A]; A] {
    let mut gg = [[0.0f64; 3]; A];
    for (i, row) in gg.iter_mut().enumerate() {
        for (k, x) in row.iter_mut().enumerate() {
            *x = (0..3).map(|j| T::G[i][j] * g[j * 3 + k] as f64).sum();
        }
    }
    let mut out = [[0.0f32; A]; A];
    for (i, row) in out.iter_mut().enumerate() {
        for (l, x) in row.iter_mut().enumerate() {
            *x = (0..3).map(|k| gg[i][k] * T::G[l][k]).sum::<f64>() as f32;
        }
    }
    out
}

/// `Bt d B` in place for an `A x A` tile of vectors (row-major).
#[inline(always)]
pub fn input_tile<const A: usize, const M: usize, T: Transform<A, M>>(d: &mut [[V; A]; A]) {
    for row in d.iter_mut() {
        *row = T::input(row);
    }
    for j in 0..A {
        let col: [V; A] = core::array::from_fn(|i| d[i][j]);
        let t = T::input(&col);
        for i in 0..A {
            d[i][j] = t[i];
        }
    }
}

/// `At m A` for an `A x A` tile of vectors (row-major), giving `M x M` outputs.
#[inline(always)]
pub fn output_tile<const A: usize, const M: usize, T: Transform<A, M>>(m: &[[V; A]; A]) -> [[V; M]; M] {
    let rows: [[V; M]; A] = core::array::from_fn(|i| T::output(&m[i]));
    let mut out = [[v::zero(); M]; M];
    for j in 0..M {
        let col: [V; A] = core::array::from_fn(|i| rows[i][j]);
        let t = T::output(&col);
        for i in 0..M {
            out[i][j] = t[i];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    /// The whole 2-D pipeline on one tile (every lane the same tile) against direct 3x3 correlation in f64.
    fn check<const A: usize, const M: usize, T: Transform<A, M>>(rng: &mut Rng, scale: f32) {
        for _ in 0..50 {
            let d: [[f32; A]; A] = core::array::from_fn(|_| core::array::from_fn(|_| rng.unit() * scale));
            let g: [f32; 9] = core::array::from_fn(|_| rng.unit());
            let u = filter::<A, M, T>(&g);
            let mut dv: [[V; A]; A] = core::array::from_fn(|i| core::array::from_fn(|j| v::splat(d[i][j])));
            input_tile::<A, M, T>(&mut dv);
            let prod: [[V; A]; A] = core::array::from_fn(|i| core::array::from_fn(|j| v::mul(dv[i][j], v::splat(u[i][j]))));
            let y = output_tile::<A, M, T>(&prod);
            let mut max = 0.0f64;
            let mut want = [[0.0f64; M]; M];
            for (i, row) in want.iter_mut().enumerate() {
                for (j, w) in row.iter_mut().enumerate() {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            *w += d[i + ky][j + kx] as f64 * g[ky * 3 + kx] as f64;
                        }
                    }
                    max = max.max(w.abs());
                }
            }
            for i in 0..M {
                for j in 0..M {
                    for lane in v::lanes(y[i][j]) {
                        let err = (lane as f64 - want[i][j]).abs() / max.max(1e-30);
                        assert!(err < 1e-5, "F({M},3) out[{i}][{j}] = {lane}, want {} (scale {scale})", want[i][j]);
                    }
                }
            }
        }
    }

    #[test]
    fn every_tile_size_is_a_3x3_correlation() {
        let mut rng = Rng(0x7a11_0003);
        for scale in [1.0, 1e3, 1e-3] {
            check::<4, 2, F2>(&mut rng, scale);
            check::<5, 3, F3>(&mut rng, scale);
            check::<6, 4, F4>(&mut rng, scale);
        }
    }
}
