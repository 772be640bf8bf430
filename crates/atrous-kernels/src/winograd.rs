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

use crate::gemm_conv::Epilogue;
use crate::geometry::Geometry;
use crate::isa::active as v;
use crate::micro_kernel::{steps, Tile, MR, NR, NV};
use crate::parallel::{piece_range, pieces, try_run, Parallel, SharedMut, PIECES_PER_THREAD};
use crate::selection::WinogradTile;
use crate::status::Status;
use crate::winograd_transforms::{input_tile, output_tile, Transform, F2, F3, F4};
use crate::winograd_weights::WinogradWeights;

/// Bytes of transformed input per block: small enough to stay in L2 while every channel tile streams it.
const BLOCK_BYTES: usize = 192 * 1024;
const MAX_PANELS_PER_BLOCK: usize = 16;
/// Input channels transformed per chunk of the reduction (more go in several chunks, with partial sums).
const MAX_CHUNK_CHANNELS: usize = 64;

/// Top-left output pixel of one tile: `[image, row, column]`.
type Origin = [u32; 3];

/// The tiles covering every sub-lattice of every image, sub-lattice by sub-lattice, row by row.
pub(crate) fn tile_origins(geom: &Geometry, m: usize) -> Result<Vec<Origin>, Status> {
    let [dy, dx] = geom.dilations;
    let (oh, ow) = (geom.out_height, geom.out_width);
    let count = geom.batch * tiles_along(oh, dy, m) * tiles_along(ow, dx, m);
    let mut tiles = Vec::new();
    tiles.try_reserve_exact(count).map_err(|_| Status::OutOfMemory)?;
    for n in 0..geom.batch {
        for py in 0..dy.min(oh) {
            for px in 0..dx.min(ow) {
                let mut y = py;
                while y < oh {
                    let mut x = px;
                    while x < ow {
                        tiles.push([n as u32, y as u32, x as u32]);
                        x += m * dx;
                    }
                    y += m * dy;
                }
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
    input: &[f32],
    output: &mut [f32],
    residual: Option<&[f32]>,
    par: &dyn Parallel,
) -> Result<(), Status> {
    match weights.tile() {
        WinogradTile::F2 => run_tiles::<4, 2, F2>(geom, weights, epilogue, input, output, residual, par),
        WinogradTile::F3 => run_tiles::<5, 3, F3>(geom, weights, epilogue, input, output, residual, par),
        WinogradTile::F4 => run_tiles::<6, 4, F4>(geom, weights, epilogue, input, output, residual, par),
    }
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
    input: &[f32],
    output: &mut [f32],
    residual: Option<&[f32]>,
    par: &dyn Parallel,
) -> Result<(), Status> {
    let tiles = tile_origins(geom, M)?;
    let panels = tiles.len().div_ceil(NR);
    let (panels_per_block, chunk) = layout(geom, A, panels);
    let blocks = panels.div_ceil(panels_per_block);
    let channel_tiles = weights.channel_tiles();
    let work = [tiles.len(), A * A, geom.out_channels, geom.in_channels].iter().fold(1usize, |a, &b| a.saturating_mul(b));
    // As in gemm_conv: few blocks (small maps) also split the output channels.
    let wanted = par.width() * PIECES_PER_THREAD;
    let tile_groups = if par.width() > 1 && work >= par.min_work() && blocks < wanted {
        wanted.div_ceil(blocks).min(channel_tiles.div_ceil(2)).max(1)
    } else {
        1
    };
    let units = blocks * tile_groups;
    let count = pieces(par, units, work);
    let out = SharedMut(output.as_mut_ptr());
    let split = Split { tiles: &tiles, panels_per_block, chunk, tile_groups, channel_tiles };
    try_run(par, count, &|piece| {
        let range = piece_range(units, count, piece);
        // SAFETY: the caller's contract; units write disjoint output tiles.
        unsafe { run_units::<A, M, T>(geom, weights, epilogue, input, out, residual, &split, range) }
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
    input: &[f32],
    out: SharedMut<f32>,
    residual: Option<&[f32]>,
    split: &Split,
    range: Range<usize>,
) -> Result<(), Status> {
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

/// Row offsets (`y * width`) and columns of the `A x A` input values one tile reads, `None` where they
/// fall in the padding (or past the last tile of the panel).
struct Window<const A: usize> {
    rows: [Option<usize>; A],
    cols: [Option<usize>; A],
    inside: bool,
}

impl<const A: usize> Window<A> {
    fn of(geom: &Geometry, origin: Option<&Origin>) -> Self {
        let mut w = Window { rows: [None; A], cols: [None; A], inside: false };
        let Some(&[_, y, x]) = origin else { return w };
        let [dy, dx] = geom.dilations;
        for i in 0..A {
            let iy = (y as usize + i * dy) as isize - geom.pads[0] as isize;
            let ix = (x as usize + i * dx) as isize - geom.pads[1] as isize;
            if iy >= 0 && (iy as usize) < geom.height {
                w.rows[i] = Some(iy as usize * geom.width);
            }
            if ix >= 0 && (ix as usize) < geom.width {
                w.cols[i] = Some(ix as usize);
            }
        }
        w.inside = w.rows.iter().all(Option::is_some) && w.cols.iter().all(Option::is_some);
        w
    }
}

/// Loads and transforms the input tiles of one panel (`tiles`, at most `NR`) for channels
/// `c0..c0 + count`, writing `dst[f][c][NR]` (frequency-major, each frequency `count * NR` floats).
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
        let windows: [Window<A>; v::LANES] = core::array::from_fn(|l| Window::of(geom, tiles.get(j * v::LANES + l)));
        let images: [usize; v::LANES] =
            core::array::from_fn(|l| tiles.get(j * v::LANES + l).map_or(0, |t| t[0] as usize * geom.in_channels * plane));
        let all_inside = windows.iter().all(|w| w.inside);
        for c in 0..count {
            let channel = (c0 + c) * plane;
            let mut d = [[v::zero(); A]; A];
            for (r, row) in d.iter_mut().enumerate() {
                for (s, x) in row.iter_mut().enumerate() {
                    let lanes: [f32; v::LANES] = core::array::from_fn(|l| {
                        let w = &windows[l];
                        if all_inside {
                            // SAFETY: `inside` windows lie in the plane.
                            *input.get_unchecked(images[l] + channel + w.rows[r].unwrap_unchecked() + w.cols[s].unwrap_unchecked())
                        } else {
                            match (w.rows[r], w.cols[s]) {
                                (Some(y), Some(x)) => *input.get_unchecked(images[l] + channel + y + x),
                                _ => 0.0,
                            }
                        }
                    });
                    *x = v::from_lanes(lanes);
                }
            }
            input_tile::<A, M, T>(&mut d);
            for (f, x) in d.iter().flatten().enumerate() {
                v::store(dst.add((f * count + c) * NR + j * v::LANES), *x);
            }
        }
    }
}

/// The output transform of one channel tile (`rows` channels from `m0`) for one panel's `tiles`, from
/// `sums[f][MR][NR]`, with bias, residual and activation, scattered to the output.
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
        // Output offset of each lane's pixels (None past the output's edge or past the panel's tiles).
        let mut at = [[[None::<usize>; M]; M]; v::LANES];
        for (l, lane_at) in at.iter_mut().enumerate().take(lanes) {
            let [n, y, x] = tiles[j * v::LANES + l];
            for (i, row) in lane_at.iter_mut().enumerate() {
                let oy = y as usize + i * dy;
                for (k, slot) in row.iter_mut().enumerate() {
                    let ox = x as usize + k * dx;
                    if oy < oh && ox < ow {
                        *slot = Some(n as usize * geom.out_channels * pixels + oy * ow + ox);
                    }
                }
            }
        }
        for r in 0..rows {
            let mut prod = [[v::zero(); A]; A];
            for (f, x) in prod.iter_mut().flatten().enumerate() {
                *x = v::load(sums.add((f * MR + r) * NR + j * v::LANES));
            }
            let y = output_tile::<A, M, T>(&prod);
            let channel = (m0 + r) * pixels;
            let bias = v::splat(epilogue.bias[m0 + r]);
            for i in 0..M {
                for k in 0..M {
                    let mut x = v::add(y[i][k], bias);
                    if let Some(res) = residual {
                        let add: [f32; v::LANES] = core::array::from_fn(|l| at[l][i][k].map_or(0.0, |p| *res.get_unchecked(p + channel)));
                        x = v::add(x, v::from_lanes(add));
                    }
                    let values = v::lanes(epilogue.activation.apply(x));
                    for (l, value) in values.iter().enumerate().take(lanes) {
                        if let Some(p) = at[l][i][k] {
                            *out.add(p + channel) = *value;
                        }
                    }
                }
            }
        }
    }
}
