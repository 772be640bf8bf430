//! The edges of a Winograd run (see `winograd`): loading one panel's tiles from the input and transforming
//! them into frequencies (`transform_inputs`), and transforming a channel tile's products back and storing
//! them with the epilogue (`transform_outputs`). Both read and write vectors of whole rows where the tiles'
//! positions allow (`RowLayout`), and gather lane by lane, padding masked, where they do not.

use crate::conv_run::Epilogue;
use crate::geometry::Geometry;
use crate::isa::active as v;
use crate::micro_kernel::{MR, NR, NV};
use crate::winograd::Origin;
use crate::winograd_transforms::{input_tile, output_tile, Transform};
use v::V;

/// Where the `LANES` tiles of one vector of a panel read their `A x A` input values: for each value, each
/// lane's offset from the start of a channel plane of image 0, and a mask of the lanes that read inside the
/// input (the others read the first value of their plane, then are cleared: bits, not a multiply, so an
/// infinite or NaN input elsewhere cannot leak into a padded value).
struct Gather<const A: usize> {
    offsets: [[[u32; v::LANES]; A]; A],
    masks: [[V; A]; A],
    /// Some lane reads padding (else the masks are all ones and skipped).
    padded: bool,
}

impl<const A: usize> Gather<A> {
    fn of(geom: &Geometry, tiles: &[Origin]) -> Self {
        let [dy, dx] = geom.dilations;
        let image_len = geom.in_channels * geom.height * geom.width;
        let mut g = Gather { offsets: [[[0; v::LANES]; A]; A], masks: [[v::zero(); A]; A], padded: false };
        let mut inside = [[[0.0f32; v::LANES]; A]; A];
        for l in 0..v::LANES {
            let Some(&[n, y, x]) = tiles.get(l) else {
                g.padded = true;
                continue;
            };
            let image = n as usize * image_len;
            for r in 0..A {
                let iy = (y as usize + r * dy).wrapping_sub(geom.pads[0]);
                for c in 0..A {
                    let ix = (x as usize + c * dx).wrapping_sub(geom.pads[1]);
                    if iy < geom.height && ix < geom.width {
                        g.offsets[r][c][l] = (image + iy * geom.width + ix) as u32;
                        inside[r][c][l] = 1.0;
                    } else {
                        g.offsets[r][c][l] = image as u32;
                        g.padded = true;
                    }
                }
            }
        }
        for r in 0..A {
            for c in 0..A {
                g.masks[r][c] = v::gt(v::from_lanes(inside[r][c]), v::zero());
            }
        }
        g
    }
}

/// Loads and transforms the input tiles of one panel (`tiles`, at most `NR`) for channels
/// `c0..c0 + count`, writing `dst[f][c][NR]` (frequency-major, each frequency `count * NR` floats).
// Out of line, as the output transform and `multiply`: V8 allocates registers per function, and one
// function holding all three was measured 2x slower.
#[inline(never)]
pub(crate) unsafe fn transform_inputs<const A: usize, const M: usize, T: Transform<A, M>>(
    geom: &Geometry,
    input: &[f32],
    tiles: &[Origin],
    c0: usize,
    count: usize,
    dst: *mut f32,
) {
    let plane = geom.height * geom.width;
    for j in 0..NV {
        let lane_tiles = &tiles[(j * v::LANES).min(tiles.len())..];
        let lane_tiles = &lane_tiles[..lane_tiles.len().min(v::LANES)];
        if let Some((layout, rows)) = input_rows::<A, M>(geom, lane_tiles) {
            for c in 0..count {
                let base = input.as_ptr().add((c0 + c) * plane);
                let mut d = [[v::zero(); A]; A];
                for (r, row) in d.iter_mut().enumerate() {
                    let src = base.add(rows[r]);
                    let l: [V; v::LANES + 1] = core::array::from_fn(|q| v::load(src.add(q * v::LANES)));
                    // Value `s` of lane `t` is `src[M t + s]` (Transposed) or `src[2M t + p + 2 s]` for
                    // lanes (p, t) (Paired); `row_layout` says which.
                    let values: [V; v::LANES + 2] = if layout == RowLayout::Transposed {
                        let lo = v::transpose([l[0], l[1], l[2], l[3]]);
                        let hi = v::transpose([l[1], l[2], l[3], l[4]]);
                        [lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]]
                    } else {
                        [
                            v::low_halves(l[0], l[2]),
                            v::high_halves(l[0], l[2]),
                            v::low_halves(l[1], l[3]),
                            v::high_halves(l[1], l[3]),
                            v::low_halves(l[2], l[4]),
                            v::high_halves(l[2], l[4]),
                        ]
                    };
                    for (s, x) in row.iter_mut().enumerate() {
                        *x = values[s.min(v::LANES + 1)];
                    }
                }
                input_tile::<A, M, T>(&mut d);
                for r in 0..A {
                    for s in 0..A {
                        v::store(dst.add(((r * A + s) * count + c) * NR + j * v::LANES), d[r][s]);
                    }
                }
            }
            continue;
        }
        let g = Gather::<A>::of(geom, lane_tiles);
        for c in 0..count {
            let base = input.as_ptr().add((c0 + c) * plane);
            let mut d = [[v::zero(); A]; A];
            for r in 0..A {
                for s in 0..A {
                    let o = &g.offsets[r][s];
                    let x = v::from_lanes(core::array::from_fn(|l| *base.add(o[l] as usize)));
                    d[r][s] = if g.padded { v::and(x, g.masks[r][s]) } else { x };
                }
            }
            input_tile::<A, M, T>(&mut d);
            for r in 0..A {
                for s in 0..A {
                    v::store(dst.add(((r * A + s) * count + c) * NR + j * v::LANES), d[r][s]);
                }
            }
        }
    }
}

/// How the `LANES x M` outputs of one tile row of a vector's tiles lie in the output row, when they fill a
/// contiguous run of `LANES * M` pixels (all lanes whole tiles of one output row): then they are stored as
/// vectors after a shuffle instead of one value at a time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RowLayout {
    /// Dilation 1, F(4x4): lanes are four consecutive tiles; a transpose gives each tile's row.
    Transposed,
    /// Dilation 2, F(4x4): lanes are (sub-lattice 0, tile t), (1, t), (0, t + 1), (1, t + 1); pairs of lanes
    /// interleave.
    Paired,
    /// Anything else: each value stored alone.
    Scattered,
}

/// The layout of a vector's tiles by their positions alone (all `LANES` tiles in one row of one image).
fn lane_pattern<const M: usize>(geom: &Geometry, tiles: &[Origin]) -> RowLayout {
    if M != v::LANES || tiles.len() < v::LANES {
        return RowLayout::Scattered;
    }
    let [n, y, x] = tiles[0];
    if !tiles[..v::LANES].iter().all(|t| t[0] == n && t[1] == y) {
        return RowLayout::Scattered;
    }
    let at = |l: usize| tiles[l][2] as usize - x as usize;
    match geom.dilations[1] {
        1 if (0..v::LANES).all(|l| at(l) == l * M) => RowLayout::Transposed,
        2 if at(1) == 1 && at(2) == 2 * M && at(3) == 2 * M + 1 => RowLayout::Paired,
        _ => RowLayout::Scattered,
    }
}

/// `lane_pattern`, where every output of the tiles lies inside the output.
fn row_layout<const M: usize>(geom: &Geometry, tiles: &[Origin]) -> RowLayout {
    let layout = lane_pattern::<M>(geom, tiles);
    if layout == RowLayout::Scattered {
        return layout;
    }
    let [_, y, x] = tiles[0];
    // Both layouts cover `LANES * M` consecutive outputs from the first tile's.
    let inside = y as usize + (M - 1) * geom.dilations[0] < geom.out_height && x as usize + v::LANES * M <= geom.out_width;
    if inside { layout } else { RowLayout::Scattered }
}

/// Where the input rows of a vector's tiles start (offsets of column `x - pad` in each of the `A` rows
/// they read, from the image's first plane) when they read `LANES * M + 4` consecutive values of `A` rows
/// inside the input: then the `A x A` values are `LANES + 1` vector loads per row and a shuffle.
fn input_rows<const A: usize, const M: usize>(geom: &Geometry, tiles: &[Origin]) -> Option<(RowLayout, [usize; A])> {
    let layout = lane_pattern::<M>(geom, tiles);
    let [n, y, x] = tiles.first().copied()?;
    let x0 = (x as usize).checked_sub(geom.pads[1])?;
    if layout == RowLayout::Scattered || x0 + (v::LANES + 1) * v::LANES > geom.width {
        return None;
    }
    let image = n as usize * geom.in_channels * geom.height * geom.width;
    let mut rows = [0; A];
    for (r, row) in rows.iter_mut().enumerate() {
        let iy = (y as usize + r * geom.dilations[0]).checked_sub(geom.pads[0]).filter(|&iy| iy < geom.height)?;
        *row = image + iy * geom.width + x0;
    }
    Some((layout, rows))
}

/// The output transform of one channel tile (`rows` channels from `m0`) for one panel's `tiles`, from
/// `sums[f][MR][NR]`, with bias, residual and activation, then stored to the output.
#[inline(never)]
pub(crate) unsafe fn transform_outputs<const A: usize, const M: usize, T: Transform<A, M>>(
    geom: &Geometry,
    sums: *const f32,
    tiles: &[Origin],
    epilogue: &Epilogue,
    m0: usize,
    rows: usize,
    out: *mut f32,
    residual: Option<&[f32]>,
) {
    let (oh, ow) = (geom.out_height, geom.out_width);
    let [dy, dx] = geom.dilations;
    let pixels = oh * ow;
    for j in 0..NV {
        let lanes = tiles.len().saturating_sub(j * v::LANES).min(v::LANES);
        if lanes == 0 {
            break;
        }
        let group = &tiles[j * v::LANES..j * v::LANES + lanes];
        let layout = row_layout::<M>(geom, group);
        // Output offset of each lane's pixels in channel 0 of its image; `u32::MAX` past the output's edge.
        let mut at = [[[u32::MAX; v::LANES]; M]; M];
        let mut whole = lanes == v::LANES;
        for (l, &[n, y, x]) in group.iter().enumerate() {
            for i in 0..M {
                let oy = y as usize + i * dy;
                for k in 0..M {
                    let ox = x as usize + k * dx;
                    if oy < oh && ox < ow {
                        at[i][k][l] = (n as usize * geom.out_channels * pixels + oy * ow + ox) as u32;
                    } else {
                        whole = false;
                    }
                }
            }
        }
        for r in 0..rows {
            let mut prod = [[v::zero(); A]; A];
            for f in 0..A * A {
                prod[f / A][f % A] = v::load(sums.add((f * MR + r) * NR + j * v::LANES));
            }
            let y = output_tile::<A, M, T>(&prod);
            let channel = (m0 + r) * pixels;
            let dst = out.add(channel);
            let res = residual.map(|res| res.as_ptr().add(channel));
            let bias = v::splat(epilogue.bias[m0 + r]);
            // Bias, residual, activation, store: the same operations on each value whatever the layout.
            let finish = |x: V, p: usize| {
                let mut x = v::add(x, bias);
                if let Some(res) = res {
                    x = v::add(x, v::load(res.add(p)));
                }
                v::store(dst.add(p), epilogue.activation.apply(x));
            };
            if layout != RowLayout::Scattered {
                for (i, row) in y.iter().enumerate() {
                    // The row's first pixel: lane 0's output (i, 0).
                    let p = at[i][0][0] as usize;
                    let v4: [V; v::LANES] = core::array::from_fn(|k| row[k.min(M - 1)]);
                    if layout == RowLayout::Transposed {
                        for (t, x) in v::transpose(v4).into_iter().enumerate() {
                            finish(x, p + t * v::LANES);
                        }
                    } else {
                        for q in 0..v::LANES {
                            let k0 = 2 * (q % 2);
                            let x = if q < 2 { v::low_halves(v4[k0], v4[k0 + 1]) } else { v::high_halves(v4[k0], v4[k0 + 1]) };
                            finish(x, p + q * v::LANES);
                        }
                    }
                }
                continue;
            }
            for i in 0..M {
                for k in 0..M {
                    let p = &at[i][k];
                    let mut x = v::add(y[i][k], bias);
                    if let Some(src) = res {
                        let add: [f32; v::LANES] = core::array::from_fn(|l| if p[l] != u32::MAX { *src.add(p[l] as usize) } else { 0.0 });
                        x = v::add(x, v::from_lanes(add));
                    }
                    let values = v::lanes(epilogue.activation.apply(x));
                    if whole {
                        for l in 0..v::LANES {
                            *dst.add(p[l] as usize) = values[l];
                        }
                    } else {
                        for l in 0..lanes {
                            if p[l] != u32::MAX {
                                *dst.add(p[l] as usize) = values[l];
                            }
                        }
                    }
                }
            }
        }
    }
}
