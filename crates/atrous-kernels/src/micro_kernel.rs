//! The register tile at the heart of the general convolution: `MR` output channels by `NR` output pixels,
//! accumulated over the valid kernel taps of a packed input panel (see `panel`) against packed weights
//! (see `weights`). Written once against `isa::active`, so it becomes scalar, simd128 or relaxed-simd code.
//!
//! Why 4 x 8: 8 accumulator vectors + 2 input vectors + 1 broadcast weight fit the 15 vector registers
//! V8 gives wasm code on x86-64 without spills (XNNPACK makes the same choice for its wasm "loadsplat"
//! kernels on x86 hosts). Each step reads 2 input vectors and 4 broadcast weights for 8 multiply-adds.

use crate::isa::active as v;

/// Output channels per tile.
pub const MR: usize = 4;
/// Output pixels per tile.
pub const NR: usize = 8;
/// Vectors per tile row.
pub const NV: usize = NR / v::LANES;

pub type Tile = [[v::V; NV]; MR];

/// A register tile kept in a buffer of `MR` rows of `NR` floats (partial sums between chunks of a
/// reduction), loaded and stored whole, a vector at a time.
///
/// # Safety
/// `p` valid for `MR * NR` floats.
#[inline(always)]
pub unsafe fn load_tile(p: *const f32) -> Tile {
    let mut t: Tile = [[v::zero(); NV]; MR];
    for (i, row) in t.iter_mut().enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            *x = v::load(p.add(i * NR + v::LANES * j));
        }
    }
    t
}

/// Stores `t` as `load_tile` reads it.
///
/// # Safety
/// `p` valid for `MR * NR` floats.
#[inline(always)]
pub unsafe fn store_tile(p: *mut f32, t: &Tile) {
    for (i, row) in t.iter().enumerate() {
        for (j, x) in row.iter().enumerate() {
            v::store(p.add(i * NR + v::LANES * j), *x);
        }
    }
}

/// Adds to `acc`, for each tap index `t` in `taps` (in order), `count` rows of weights (`MR` wide,
/// starting at row `t * channels + first` of the block at `weights`) times `count` consecutive rows of
/// `panel` (`NR` wide). `channels` is the block's channels per tap; `first..first + count` the chunk.
///
/// # Safety
/// `weights` must hold `(max(taps) + 1) * channels * MR` floats and `panel` `taps.len() * count * NR`.
// Kept out of line: V8 allocates registers per function, and this loop needs all of them to itself.
#[inline(never)]
pub unsafe fn accumulate(
    acc: &mut Tile,
    weights: *const f32,
    taps: &[u32],
    channels: usize,
    first: usize,
    count: usize,
    panel: *const f32,
) {
    let mut sum = *acc;
    let mut b = panel;
    for &tap in taps {
        steps(&mut sum, weights.add((tap as usize * channels + first) * MR), b, count);
        b = b.add(count * NR);
    }
    *acc = sum;
}

/// The register tile's loop itself: adds `count` steps of `MR` broadcast values (at `a`, `MR` apart)
/// times `NR` values (at `b`, `NR` apart) to `sum`. Inlined into each out-of-line kernel that drives it
/// (`accumulate` here, the GEMM's fresh tiles), so there is one loop body and `sum` stays in registers.
///
/// # Safety
/// `a` valid for `count * MR` floats, `b` for `count * NR`.
#[inline(always)]
pub unsafe fn steps(sum: &mut Tile, mut a: *const f32, mut b: *const f32, count: usize) {
    let end = b.add(count * NR);
    while b < end {
        let mut bv = [v::zero(); NV];
        for (j, slot) in bv.iter_mut().enumerate() {
            *slot = v::load(b.add(v::LANES * j));
        }
        for (i, row) in sum.iter_mut().enumerate() {
            let ai = v::load_splat(a.add(i));
            for j in 0..NV {
                row[j] = v::madd(ai, bv[j], row[j]);
            }
        }
        a = a.add(MR);
        b = b.add(NR);
    }
}
