//! Winograd convolution for 3x3 kernels at stride 1, dilated or not, one group.
//!
//! A 3x3 convolution with dilation `(dy, dx)` is `dy * dx` undilated 3x3 convolutions, one on each
//! interleaved sub-lattice of the output (outputs `py + dy * i`, `px + dx * j`), each reading the same
//! sub-lattice of the input shifted by the pads. No sub-image is copied: a tile is named by the output
//! coordinate of its top-left pixel and reads its `A x A` input values at steps of the dilation.
//!
//! The work is done a block of panels at a time. A panel is `NR` tiles (the lanes of the micro-kernel's
//! columns); for each chunk of input channels the block's tiles are loaded and transformed (`Bt d B`) into
//! `A * A` frequency panels of `[channels, NR]`; each frequency is then one `[MR, C] x [C, NR]` product on
//! the same register tile as the direct method (`micro_kernel::steps`), against weights transformed once per
//! plan; the `A * A` products of a tile of channels go through the output transform (`At m A`) with bias,
//! residual and activation applied before the values are scattered to the output.
//!
//! Threads split the output like `gemm_conv`: units of one block of tiles times one run of channel tiles.
//! Blocks and chunks depend on the shape only, so every output's arithmetic is the same on any team.

use alloc::vec::Vec;
use core::ops::Range;

use crate::conv_run::{ConvTensors, Epilogue, SharedTensors};
use crate::geometry::Geometry;
use crate::isa::active as v;
use crate::micro_kernel::{steps, Tile, MR, NR, NV};
use crate::parallel::{channel_tile_groups, piece_range, pieces, try_run, Parallel};
use crate::selection::WinogradTile;
use crate::status::Status;
use crate::winograd_transforms::{input_tile, output_tile, Transform, F2, F3, F4};
use crate::winograd_weights::WinogradWeights;
use v::V;

/// Bytes of transformed input per block: small enough to stay in L2 while every channel tile streams it.
const BLOCK_BYTES: usize = 192 * 1024;
const MAX_PANELS_PER_BLOCK: usize = 16;
/// Input channels transformed per chunk of the reduction (more go in several chunks, with partial sums).
/// Measured (relaxed build, aspp16: 256 channels, 33x33, rate 12): chunks of 64 channels ran 1.6x slower
/// than one chunk of 256, since every channel tile of the unit then keeps its partial sums (600 KB) between
/// chunks, past L2.
const MAX_CHUNK_CHANNELS: usize = 256;

/// Top-left output pixel of one tile: `[image, row, column]`.
type Origin = [u32; 3];

/// The tiles covering every sub-lattice of every image. Tiles at the same place in neighbouring column
/// sub-lattices follow each other, so the lanes of a vector hold horizontally adjacent outputs where they can:
/// at dilation 1 four consecutive tiles of a row, at dilation 2 two tiles of two sub-lattices (see
/// `RowLayout`).
pub(crate) fn tile_origins(geom: &Geometry, m: usize) -> Result<Vec<Origin>, Status> {
    let [dy, dx] = geom.dilations;
    let (oh, ow) = (geom.out_height, geom.out_width);
    let count = geom.batch * tiles_along(oh, dy, m) * tiles_along(ow, dx, m);
    let mut tiles = Vec::new();
    tiles.try_reserve_exact(count).map_err(|_| Status::OutOfMemory)?;
    for n in 0..geom.batch {
        for py in 0..dy.min(oh) {
            let mut y = py;
            while y < oh {
                let mut x0 = 0;
                while x0 < ow {
                    for x in (x0..x0 + dx).take_while(|&x| x < ow) {
                        tiles.push([n as u32, y as u32, x as u32]);
                    }
                    x0 += m * dx;
                }
                y += m * dy;
            }
        }
    }
    Ok(tiles)
}

/// Tiles of `m` along an output axis of `size` pixels at dilation `d`, over all its sub-lattices.
pub(crate) fn tiles_along(size: usize, d: usize, m: usize) -> usize {
    (0..d.min(size)).map(|p| (size - p).div_ceil(d).div_ceil(m)).sum()
}

/// (panels per block, input channels per chunk) for `a x a` frequencies.
fn layout(geom: &Geometry, a: usize, panels: usize) -> (usize, usize) {
    let c = geom.in_channels;
    let chunk = c.div_ceil(c.div_ceil(MAX_CHUNK_CHANNELS));
    let panel_bytes = a * a * chunk * NR * 4;
    ((BLOCK_BYTES / panel_bytes).clamp(1, MAX_PANELS_PER_BLOCK).min(panels), chunk)
}

/// # Safety
/// Slice lengths must match `geom` (checked by `ConvPlan::run`); `geom` is a 3x3, stride-1, one-group
/// convolution with the channels `weights` was packed for.
pub unsafe fn run(
    geom: &Geometry,
    weights: &WinogradWeights,
    epilogue: &Epilogue,
    tensors: ConvTensors,
    par: &dyn Parallel,
) -> Result<(), Status> {
    if !fits_offsets(geom) {
        return Err(Status::SizeOverflow);
    }
    match weights.tile() {
        WinogradTile::F2 => run_tiles::<4, 2, F2>(geom, weights, epilogue, tensors, par),
        WinogradTile::F3 => run_tiles::<5, 3, F3>(geom, weights, epilogue, tensors, par),
        WinogradTile::F4 => run_tiles::<6, 4, F4>(geom, weights, epilogue, tensors, par),
    }
}

/// Whether every input and output offset fits the `u32`s the gathers keep (always on wasm32).
pub fn fits_offsets(geom: &Geometry) -> bool {
    geom.input_len() <= u32::MAX as usize && geom.output_len() < u32::MAX as usize
}

/// How `run` cut the output, and what every unit shares.
struct Split<'a> {
    tiles: &'a [Origin],
    panels_per_block: usize,
    chunk: usize,
    tile_groups: usize,
    channel_tiles: usize,
}

unsafe fn run_tiles<const A: usize, const M: usize, T: Transform<A, M>>(
    geom: &Geometry,
    weights: &WinogradWeights,
    epilogue: &Epilogue,
    tensors: ConvTensors,
    par: &dyn Parallel,
) -> Result<(), Status> {
    let tiles = tile_origins(geom, M)?;
    let panels = tiles.len().div_ceil(NR);
    let (panels_per_block, chunk) = layout(geom, A, panels);
    let blocks = panels.div_ceil(panels_per_block);
    let channel_tiles = weights.channel_tiles();
    let work = [tiles.len(), A * A, geom.out_channels, geom.in_channels].iter().fold(1usize, |a, &b| a.saturating_mul(b));
    // As in gemm_conv: few blocks (small maps) also split the output channels.
    let tile_groups = channel_tile_groups(par, work, blocks, channel_tiles);
    let units = blocks * tile_groups;
    let count = pieces(par, units, work);
    let shared = tensors.share();
    let split = Split { tiles: &tiles, panels_per_block, chunk, tile_groups, channel_tiles };
    try_run(par, count, &|piece| {
        let range = piece_range(units, count, piece);
        // SAFETY: the caller's contract; units write disjoint output tiles.
        unsafe { run_units::<A, M, T>(geom, weights, epilogue, shared, &split, range) }
    })
}

fn zeroed(len: usize) -> Result<Vec<f32>, Status> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Status::OutOfMemory)?;
    v.resize(len, 0.0);
    Ok(v)
}

/// Units `range` (block-major, then run of channel tiles) of `run_tiles`.
unsafe fn run_units<const A: usize, const M: usize, T: Transform<A, M>>(
    geom: &Geometry,
    weights: &WinogradWeights,
    epilogue: &Epilogue,
    tensors: SharedTensors,
    split: &Split,
    range: Range<usize>,
) -> Result<(), Status> {
    let SharedTensors { input, out, residual } = tensors;
    let c_all = geom.in_channels;
    let chunk = split.chunk;
    let chunks = c_all.div_ceil(chunk);
    let ppb = split.panels_per_block;
    let panel_len = A * A * chunk * NR;
    let mut transformed = zeroed(ppb * panel_len)?;
    // The products of one channel tile for every panel of the block: `[panel][frequency][MR][NR]`. With
    // several chunks, every channel tile of the unit keeps its own until the last chunk.
    let sums_len = ppb * A * A * MR * NR;
    let live_tiles = if chunks > 1 { split.channel_tiles.div_ceil(split.tile_groups) } else { 1 };
    let mut sums = zeroed(live_tiles * sums_len)?;
    let out = out.get();
    let panels = split.tiles.len().div_ceil(NR);
    for unit in range {
        let (block, tile_group) = (unit / split.tile_groups, unit % split.tile_groups);
        let tile_range = piece_range(split.channel_tiles, split.tile_groups, tile_group);
        let first_panel = block * ppb;
        let block_panels = ppb.min(panels - first_panel);
        let panel_tiles = |i: usize| {
            let start = (first_panel + i) * NR;
            &split.tiles[start..(start + NR).min(split.tiles.len())]
        };
        for c in 0..chunks {
            let c0 = c * chunk;
            let count = chunk.min(c_all - c0);
            for i in 0..block_panels {
                transform_inputs::<A, M, T>(geom, input, panel_tiles(i), c0, count, transformed.as_mut_ptr().add(i * panel_len));
            }
            for (k, tile) in tile_range.clone().enumerate() {
                let tile_sums = sums.as_mut_ptr().add(if chunks > 1 { k * sums_len } else { 0 });
                multiply(tile_sums, c > 0, weights, tile, c0, count, transformed.as_ptr(), panel_len, block_panels, A * A);
                if c + 1 < chunks {
                    continue;
                }
                let m0 = tile * MR;
                let rows = MR.min(geom.out_channels - m0);
                for i in 0..block_panels {
                    let s = tile_sums.add(i * A * A * MR * NR);
                    transform_outputs::<A, M, T>(geom, s, panel_tiles(i), epilogue, m0, rows, out, residual);
                }
            }
        }
    }
    Ok(())
}

/// For every frequency and every panel of the block: `sums[panel][f] (+)= weights[tile][f][c0..] x
/// panel[f]`, the reduction over the chunk's `count` channels on the register tile. Panel `i` starts
/// `panel_len` floats after panel 0 (the full chunk's size, also on a shorter last chunk). Adds to the sums
/// already there when `carry` (a later chunk), else starts from zero.
// Kept out of line, as `micro_kernel::accumulate`: the register tile needs V8's registers to itself.
#[inline(never)]
unsafe fn multiply(
    sums: *mut f32,
    carry: bool,
    weights: &WinogradWeights,
    tile: usize,
    c0: usize,
    count: usize,
    transformed: *const f32,
    panel_len: usize,
    panels: usize,
    frequencies: usize,
) {
    for f in 0..frequencies {
        let a = weights.block(tile, f).add(c0 * MR);
        for i in 0..panels {
            let at = sums.add((i * frequencies + f) * MR * NR);
            let mut acc: Tile = [[v::zero(); NV]; MR];
            if carry {
                for (r, row) in acc.iter_mut().enumerate() {
                    for (j, x) in row.iter_mut().enumerate() {
                        *x = v::load(at.add(r * NR + v::LANES * j));
                    }
                }
            }
            steps(&mut acc, a, transformed.add(i * panel_len + f * count * NR), count);
            for (r, row) in acc.iter().enumerate() {
                for (j, x) in row.iter().enumerate() {
                    v::store(at.add(r * NR + v::LANES * j), *x);
                }
            }
        }
    }
}

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
unsafe fn transform_inputs<const A: usize, const M: usize, T: Transform<A, M>>(
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
unsafe fn transform_outputs<const A: usize, const M: usize, T: Transform<A, M>>(
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
