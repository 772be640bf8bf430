//! The GEMM's tile level: one packed A block times one B panel, a column of `MR x NR` register tiles,
//! and what happens to each finished tile (partial sums kept in the output, or the epilogue).

use crate::activation::Activation;
use crate::gemm::Operand;
use crate::isa::active as v;
use crate::micro_kernel::{accumulate, steps, Tile, MR, NR, NV};

/// What a tile's epilogue adds and applies.
pub(crate) struct Epilogue {
    /// Nothing to add or apply: tiles are stored as they are.
    pub plain: bool,
    pub alpha: f32,
    pub beta: f32,
    pub bias: Option<*const f32>,
    pub activation: Activation,
}

/// An A block against one B panel: which rows and columns of the output it makes.
pub(crate) struct Strip {
    /// The packed A block (`MR`-row strips of `steps` steps).
    pub a: *const f32,
    pub steps: usize,
    pub first: usize,
    pub rows: usize,
    pub col: usize,
    pub cols: usize,
}

/// Every tile of one packed A block times one B panel: a column of `MR x NR` tiles, first chunk starting
/// from zero, later ones from the partial sums in `out`, the last one finished by the epilogue.
// Out of line, like `accumulate`: V8 allocates registers per function, and the driver's loop state has
// no business in this loop's.
#[inline(never)]
pub(crate) unsafe fn panel_tiles(s: &Strip, panel: *const f32, m: usize, n: usize, first: bool, last: bool, e: &Epilogue, c: Option<&Operand>, out: *mut f32) {
    let only_tap: [u32; 1] = [0];
    let mut i = 0;
    // Full tiles that start from zero and are stored as they are (a chunk before the last, or a product
    // with nothing to add) need neither a tile in memory nor an epilogue call.
    if first && (!last || e.plain) && s.cols == NR {
        let full = s.rows / MR;
        fresh_tiles(s.a, s.steps, panel, out.add(s.first * n + s.col), n, full);
        i = full;
    }
    while i * MR < s.rows {
        let row = s.first + i * MR;
        let rows = MR.min(m - row);
        let dst = out.add(row * n + s.col);
        let mut acc: Tile = if first { [[v::zero(); NV]; MR] } else { load_partial(dst, n, rows, s.cols) };
        accumulate(&mut acc, s.a.add(i * s.steps * MR), &only_tap, 0, 0, s.steps, panel);
        if last && e.plain && rows == MR && s.cols == NR {
            store_partial(dst, n, MR, NR, &acc);
        } else if last {
            store_tile(&acc, e, dst, n, row, s.col, rows, s.cols, c);
        } else {
            store_partial(dst, n, rows, s.cols, &acc);
        }
        i += 1;
    }
}

/// `count` full tiles down one panel, from zero, stored raw (`out` row stride `n`). Measured against
/// `accumulate` + store on this host (relaxed, best of 40 interleaved runs): K = 32 attention shapes
/// 31 -> 41 and 26 -> 34 GFLOP/s, K = 64 34 -> 40; K = 512 unchanged (42).
#[inline(never)]
unsafe fn fresh_tiles(a: *const f32, count: usize, panel: *const f32, out: *mut f32, n: usize, strips: usize) {
    for s in 0..strips {
        let mut sum: Tile = [[v::zero(); NV]; MR];
        steps(&mut sum, a.add(s * count * MR), panel, count);
        store_partial(out.add(s * MR * n), n, MR, NR, &sum);
    }
}

#[inline(always)]
unsafe fn load_partial(p: *const f32, stride: usize, rows: usize, cols: usize) -> Tile {
    let mut t: Tile = [[v::zero(); NV]; MR];
    for (i, row) in t.iter_mut().enumerate().take(rows) {
        let src = p.add(i * stride);
        for (j, x) in row.iter_mut().enumerate() {
            if cols == NR {
                *x = v::load(src.add(v::LANES * j));
            } else {
                let mut l = [0.0f32; v::LANES];
                for (q, slot) in l.iter_mut().enumerate() {
                    if v::LANES * j + q < cols {
                        *slot = *src.add(v::LANES * j + q);
                    }
                }
                *x = v::from_lanes(l);
            }
        }
    }
    t
}

#[inline(always)]
unsafe fn store_lanes(dst: *mut f32, x: v::V, cols: usize) {
    if cols >= v::LANES {
        v::store(dst, x);
    } else {
        for (q, value) in v::lanes(x).iter().enumerate().take(cols) {
            *dst.add(q) = *value;
        }
    }
}

#[inline(always)]
unsafe fn store_partial(p: *mut f32, stride: usize, rows: usize, cols: usize, t: &Tile) {
    for (i, row) in t.iter().enumerate().take(rows) {
        for (j, x) in row.iter().enumerate() {
            if v::LANES * j < cols {
                store_lanes(p.add(i * stride + v::LANES * j), *x, cols - v::LANES * j);
            }
        }
    }
}

/// Four lanes of `p[0], p[step], ...`, only the first `count` read (the rest zero).
#[inline(always)]
unsafe fn gather(p: *const f32, step: usize, count: usize) -> v::V {
    if step == 1 && count >= v::LANES {
        return v::load(p);
    }
    if step == 0 {
        return v::splat(*p);
    }
    let mut l = [0.0f32; v::LANES];
    for (q, slot) in l.iter_mut().enumerate().take(count) {
        *slot = *p.add(q * step);
    }
    v::from_lanes(l)
}

/// Writes `rows x cols` of a finished tile at (`row`, `col`): `act(alpha * acc + beta * c + bias)`. Edge
/// tiles compute the same vector operations as full ones and store fewer lanes, so an element's value
/// does not depend on where a tile boundary falls.
// Out of line: the tile loop above keeps its registers for `accumulate`'s caller, and this is per tile.
#[inline(never)]
unsafe fn store_tile(acc: &Tile, e: &Epilogue, out: *mut f32, stride: usize, row: usize, col: usize, rows: usize, cols: usize, c: Option<&Operand>) {
    let alpha = v::splat(e.alpha);
    let beta = v::splat(e.beta);
    for (i, r) in acc.iter().enumerate().take(rows) {
        let dst = out.add(i * stride);
        for (j, x) in r.iter().enumerate() {
            let c0 = v::LANES * j;
            if c0 >= cols {
                break;
            }
            let lanes = cols - c0;
            let mut y = if e.alpha == 1.0 { *x } else { v::mul(*x, alpha) };
            if let Some(c) = c {
                let cp = c.ptr.add((row + i) * c.row_stride + (col + c0) * c.col_stride);
                let cv = gather(cp, c.col_stride, lanes);
                y = if e.beta == 1.0 { v::add(y, cv) } else { v::madd(cv, beta, y) };
            }
            if let Some(b) = e.bias {
                y = v::add(y, gather(b.add(col + c0), 1, lanes));
            }
            store_lanes(dst.add(c0), e.activation.apply(y), lanes);
        }
    }
}
