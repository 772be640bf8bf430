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
//! The loads and stores at the edges (gathers, transforms, row layouts) are in `winograd_tiles`.

use alloc::vec::Vec;
use core::ops::Range;

use crate::conv_run::{ConvTensors, Epilogue, SharedTensors};
use crate::geometry::Geometry;
use crate::isa::active as v;
use crate::micro_kernel::{load_tile, steps, store_tile, Tile, MR, NR, NV};
use crate::parallel::{channel_tile_groups, panels_per_block, piece_range, pieces, try_run, Parallel, SharedMut};
use crate::selection::WinogradTile;
use crate::status::Status;
use crate::winograd_tiles::{transform_inputs, transform_outputs};
use crate::winograd_transforms::{Transform, F2, F3, F4};
use crate::winograd_weights::WinogradWeights;

/// Bytes of transformed input per block when the transformed weights stay in cache: small enough to stay in
/// L2 while every channel tile streams it.
const BLOCK_BYTES: usize = 192 * 1024;
/// Past `CACHED_WEIGHT_BYTES` of transformed weights, every block streams them all from memory once, so
/// the block must hold enough tiles to pay for that: a block in L3 (with the partial sums, as large) is
/// cheaper than weights re-read every `NR` tiles. Measured (relaxed build, one thread, Zen 2, L2 512 KiB,
/// L3 16 MiB), forced Winograd at 192 KiB -> 2400 KiB: DeepLab-ResNet50's ASPP (2048 -> 256 channels on
/// 65x65) rate 12 1190 -> 610 ms, rate 24 1100 -> 600 ms (now ahead of the direct method's 1180 and 890);
/// 512 -> 512 d4 65x65 448 -> 235 ms; 1024 -> 256 d2 65x65 396 -> 271 ms; 256 -> 256 d1 65x65 68 -> 57 ms,
/// d12 33x33 21.1 -> 19.2 ms. 4800 KiB was slower again (rate 12: 830 ms). Weights that fit in cache
/// (128 channels: 2.4 MB) kept the small block: 64 -> 64 on 128x128 ran 17.5 ms with it, 19.2 with the large.
const STREAMED_BLOCK_BYTES: usize = 2400 * 1024;
const CACHED_WEIGHT_BYTES: usize = 4 * 1024 * 1024;
const MAX_PANELS_PER_BLOCK: usize = 16;
/// The most transformed input (one chunk, every panel) `run_transformed_once` keeps: every channel tile
/// reads all of it, so it must stay in L3 (aspp16 and DeepLab-MobileNet's rate-12 ASPP on 33x33: 5 MB).
const SHARED_TRANSFORM_BYTES: usize = 6 * 1024 * 1024;
/// Input channels transformed per chunk of the reduction (more go in several chunks, with partial sums).
/// Measured (relaxed build, aspp16: 256 channels, 33x33, rate 12): chunks of 64 channels ran 1.6x slower
/// than one chunk of 256, since every channel tile of the unit then keeps its partial sums (600 KB) between
/// chunks, past L2.
const MAX_CHUNK_CHANNELS: usize = 256;

/// Top-left output pixel of one tile: `[image, row, column]`.
pub(crate) type Origin = [u32; 3];

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
    let weight_bytes = (a * a * c).saturating_mul(geom.out_channels).saturating_mul(4);
    let budget = if weight_bytes > CACHED_WEIGHT_BYTES { STREAMED_BLOCK_BYTES } else { BLOCK_BYTES };
    ((budget / panel_bytes).clamp(1, MAX_PANELS_PER_BLOCK).min(panels), chunk)
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
    let (most_panels, chunk) = layout(geom, A, panels);
    let work = [tiles.len(), A * A, geom.out_channels, geom.in_channels].iter().fold(1usize, |a, &b| a.saturating_mul(b));
    // A block cut into runs of channel tiles has every run transform the block's inputs again: with 2.4 MB
    // blocks aspp16 (256 channels, 33x33) was 3 blocks, each transformed 6 times, and ran only 1.10x faster
    // on 2 threads than on 1 (Zen 2) until threads got a block each.
    let panels_per_block = panels_per_block(par, work, most_panels, panels, 1);
    let blocks = panels.div_ceil(panels_per_block);
    let channel_tiles = weights.channel_tiles();
    // As in gemm_conv: few blocks (small maps) also split the output channels.
    let tile_groups = channel_tile_groups(par, work, blocks, channel_tiles);
    let shared = tensors.share();
    if tile_groups > 1 && panels * A * A * chunk * NR * 4 <= SHARED_TRANSFORM_BYTES {
        return run_transformed_once::<A, M, T>(geom, weights, epilogue, shared, &tiles, chunk, par, work);
    }
    let units = blocks * tile_groups;
    let count = pieces(par, units, work);
    let split = Split { tiles: &tiles, panels_per_block, chunk, tile_groups, channel_tiles };
    try_run(par, count, &|piece| {
        let range = piece_range(units, count, piece);
        // SAFETY: the caller's contract; units write disjoint output tiles.
        unsafe { run_units::<A, M, T>(geom, weights, epilogue, shared, &split, range) }
    })
}

/// Threads on a map too small for a block each (ASPP on 33x33): every chunk's inputs are transformed once,
/// all panels split over the threads, into one shared buffer; then the threads split the channel tiles, each
/// multiplying its tiles over every panel, so each streams only its share of the weights. Cut into blocks
/// instead, each block was transformed once per run of channel tiles. Same bits as `run_units`: each sum
/// runs over the same channels in the same order.
#[allow(clippy::too_many_arguments)]
unsafe fn run_transformed_once<const A: usize, const M: usize, T: Transform<A, M>>(
    geom: &Geometry,
    weights: &WinogradWeights,
    epilogue: &Epilogue,
    tensors: SharedTensors,
    tiles: &[Origin],
    chunk: usize,
    par: &dyn Parallel,
    work: usize,
) -> Result<(), Status> {
    let SharedTensors { input, out, residual } = tensors;
    let c_all = geom.in_channels;
    let chunks = c_all.div_ceil(chunk);
    let panels = tiles.len().div_ceil(NR);
    let panel_len = A * A * chunk * NR;
    let channel_tiles = weights.channel_tiles();
    let mut transformed = zeroed(panels * panel_len)?;
    let transformed_at = SharedMut(transformed.as_mut_ptr());
    // With several chunks, every channel tile keeps its sums over all panels until the last chunk.
    let sums_len = panels * A * A * MR * NR;
    let mut carried = if chunks > 1 { zeroed(channel_tiles * sums_len)? } else { Vec::new() };
    let carried_at = SharedMut(carried.as_mut_ptr());
    let panel_pieces = pieces(par, panels, work);
    let tile_pieces = pieces(par, channel_tiles, work);
    for c in 0..chunks {
        let c0 = c * chunk;
        let count = chunk.min(c_all - c0);
        try_run(par, panel_pieces, &|piece| {
            for i in piece_range(panels, panel_pieces, piece) {
                // SAFETY: pieces write disjoint panels of `transformed`, sized for all of them.
                unsafe { transform_inputs::<A, M, T>(geom, input, panel_tiles(tiles, i), c0, count, transformed_at.get().add(i * panel_len)) };
            }
            Ok(())
        })?;
        try_run(par, tile_pieces, &|piece| {
            let mut own = if chunks > 1 { Vec::new() } else { zeroed(sums_len)? };
            for tile in piece_range(channel_tiles, tile_pieces, piece) {
                // SAFETY: pieces own disjoint channel tiles: their sums and their output channels.
                unsafe {
                    let tile_sums = if chunks > 1 { carried_at.get().add(tile * sums_len) } else { own.as_mut_ptr() };
                    multiply(tile_sums, c > 0, weights, tile, c0, count, transformed_at.get(), panel_len, panels, A * A);
                    if c + 1 == chunks {
                        finish_tile::<A, M, T>(geom, tile_sums, tiles, 0, panels, tile, epilogue, out.get(), residual);
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// The tiles of panel `panel` (the last panel may hold fewer than `NR`).
fn panel_tiles(tiles: &[Origin], panel: usize) -> &[Origin] {
    &tiles[panel * NR..((panel + 1) * NR).min(tiles.len())]
}

/// Output transforms and epilogue of channel tile `tile` for `panels` panels from `first_panel`, from their
/// finished sums `[panel][frequency][MR][NR]`.
#[allow(clippy::too_many_arguments)]
unsafe fn finish_tile<const A: usize, const M: usize, T: Transform<A, M>>(
    geom: &Geometry,
    sums: *const f32,
    tiles: &[Origin],
    first_panel: usize,
    panels: usize,
    tile: usize,
    epilogue: &Epilogue,
    out: *mut f32,
    residual: Option<&[f32]>,
) {
    let m0 = tile * MR;
    let rows = MR.min(geom.out_channels - m0);
    for i in 0..panels {
        let s = sums.add(i * A * A * MR * NR);
        transform_outputs::<A, M, T>(geom, s, panel_tiles(tiles, first_panel + i), epilogue, m0, rows, out, residual);
    }
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
        for c in 0..chunks {
            let c0 = c * chunk;
            let count = chunk.min(c_all - c0);
            for i in 0..block_panels {
                transform_inputs::<A, M, T>(geom, input, panel_tiles(split.tiles, first_panel + i), c0, count, transformed.as_mut_ptr().add(i * panel_len));
            }
            for (k, tile) in tile_range.clone().enumerate() {
                let tile_sums = sums.as_mut_ptr().add(if chunks > 1 { k * sums_len } else { 0 });
                multiply(tile_sums, c > 0, weights, tile, c0, count, transformed.as_ptr(), panel_len, block_panels, A * A);
                if c + 1 == chunks {
                    finish_tile::<A, M, T>(geom, tile_sums, split.tiles, first_panel, block_panels, tile, epilogue, out, residual);
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
            let mut acc: Tile = if carry { load_tile(at) } else { [[v::zero(); NV]; MR] };
            steps(&mut acc, a, transformed.add(i * panel_len + f * count * NR), count);
            store_tile(at, &acc);
        }
    }
}
