//! The general convolution driver: output `[M, OH*OW]` as packed weights times packed input panels,
//! one `MR x NR` register tile at a time, with bias, residual and activation applied to the tile before
//! it is stored. Used for every group layout except one input channel per group (see `depthwise`).

use alloc::vec::Vec;
use core::ops::Range;

use crate::activation::Activation;
use crate::conv_run::{ConvTensors, Epilogue, SharedTensors};
use crate::geometry::Geometry;
use crate::status::Status;
use crate::isa::active as v;
use crate::micro_kernel::{self, accumulate, steps, Tile, MR, NR, NV};
use crate::panel::PanelBlock;
use crate::parallel::{channel_tile_groups, panels_per_block, piece_range, pieces, try_run, Parallel};
use crate::weights::PackedWeights;

/// # Safety
/// Slice lengths must match `geom` (checked by `ConvPlan::run`).
///
/// The output splits into units of one image, one group and one block of output pixels; `par` runs
/// contiguous runs of units, each with its own panels and partial sums, so a unit's arithmetic is the same
/// whichever thread computes it.
pub unsafe fn run(
    geom: &Geometry,
    weights: &PackedWeights,
    epilogue: &Epilogue,
    tensors: ConvTensors,
    par: &dyn Parallel,
) -> Result<(), Status> {
    let pixels = geom.out_height * geom.out_width;
    let work = [geom.batch, geom.out_channels, pixels, geom.channels_per_group(), geom.taps()].iter().fold(1usize, |a, &b| a.saturating_mul(b));
    // A block cut into runs of channel tiles has every run pack the block again.
    let capacity = panels_per_block(par, work, PanelBlock::capacity_for(geom), pixels.div_ceil(NR), geom.batch * geom.groups);
    let blocks = pixels.div_ceil(capacity * NR);
    // Few pixel blocks (small feature maps, as in ASPP) also split the output channels: a unit then packs
    // its panels for its share of the channel tiles only, a small cost beside the tiles' multiply-adds.
    let spatial = geom.batch * geom.groups * blocks;
    let tiles = weights.channel_tiles();
    let tile_groups = channel_tile_groups(par, work, spatial, tiles);
    let units = spatial * tile_groups;
    let count = pieces(par, units, work);
    let shared = tensors.share();
    let split = Split { blocks, capacity, tile_groups, tiles };
    try_run(par, count, &|piece| {
        let range = piece_range(units, count, piece);
        // SAFETY: the caller's contract; units write disjoint output tiles.
        unsafe { run_units(geom, weights, epilogue, shared, &split, range) }
    })
}

/// How `run` cut the output: `blocks` pixel blocks per image and group, each in `tile_groups` runs of the
/// `tiles` channel tiles.
struct Split {
    blocks: usize,
    /// Panels per block.
    capacity: usize,
    tile_groups: usize,
    tiles: usize,
}

/// Units `range` (image-major, then group, then pixel block, then run of channel tiles) of `run`.
unsafe fn run_units(
    geom: &Geometry,
    weights: &PackedWeights,
    epilogue: &Epilogue,
    tensors: SharedTensors,
    split: &Split,
    range: Range<usize>,
) -> Result<(), Status> {
    let SharedTensors { input, out, residual } = tensors;
    let mut block = PanelBlock::new(geom, split.capacity)?;
    let pixels = geom.out_height * geom.out_width;
    let plane = geom.height * geom.width;
    let (cin, mg) = (geom.channels_per_group(), geom.outputs_per_group());
    let block_pixels = block.capacity() * NR;
    let chunk = block.chunk_channels();
    let chunks = cin.div_ceil(chunk);
    // Sums over the chunks before the last live here, not in the output: the output may be the same
    // memory as the residual, which must stay intact until the epilogue reads it.
    let mut partial = Vec::new();
    if chunks > 1 {
        let len = weights.channel_tiles() * block.capacity() * MR * NR;
        partial.try_reserve_exact(len).map_err(|_| Status::OutOfMemory)?;
        partial.resize(len, 0.0f32);
    }
    let out = out.get();
    let (blocks, tile_groups) = (split.blocks, split.tile_groups);
    for unit in range {
        let (spatial, tile_group) = (unit / tile_groups, unit % tile_groups);
        let (n, g, b) = (spatial / (geom.groups * blocks), spatial / blocks % geom.groups, spatial % blocks);
        let tile_range = piece_range(split.tiles, tile_groups, tile_group);
        let group_input = input.as_ptr().add((n * geom.in_channels + g * cin) * plane);
        let first_channel = g * mg;
        let image_out = n * geom.out_channels * pixels;
        let start = b * block_pixels;
        let panels = (pixels - start).div_ceil(NR).min(block.capacity());
        for c in 0..chunks {
            let c0 = c * chunk;
            let count = chunk.min(cin - c0);
            for i in 0..panels {
                block.pack(geom, group_input, i, start + i * NR, c0, count);
            }
            for tile in tile_range.clone() {
                let a = weights.block(g, tile);
                let m0 = first_channel + tile * MR;
                let rows = MR.min(mg - tile * MR);
                // Whole tiles of a one-chunk reduction go through in one pass; the rest (a last panel past
                // the image's pixels, a tile short of MR channels, reductions in chunks) below.
                let mut first_panel = 0;
                if chunks == 1 && rows == MR {
                    first_panel = if pixels - start >= panels * NR { panels } else { panels - 1 };
                    let at = image_out + m0 * pixels + start;
                    let tiles = FinishedTiles { a, block: &block, panels: first_panel, cin, bias: &epilogue.bias[m0..m0 + MR], out: out.add(at), pixels, residual: residual.map(|r| r.as_ptr().add(at)) };
                    tiles.run(epilogue.activation);
                }
                for i in first_panel..panels {
                    let saved = partial.as_mut_ptr().add((tile * block.capacity() + i) * MR * NR);
                    let mut acc: Tile = if c == 0 { [[v::zero(); NV]; MR] } else { micro_kernel::load_tile(saved) };
                    accumulate(&mut acc, a, block.taps(i), cin, c0, count, block.panel(i));
                    if c + 1 < chunks {
                        micro_kernel::store_tile(saved, &acc);
                        continue;
                    }
                    let p0 = start + i * NR;
                    let at = image_out + m0 * pixels + p0;
                    let res = residual.map(|r| r.as_ptr().add(at));
                    store_tile(&acc, epilogue, m0, rows, NR.min(pixels - p0), out.add(at), pixels, res);
                }
            }
        }
    }
    Ok(())
}

/// Panels `0..panels` of `block` against one full channel tile (weights `a`, all `cin` channels in one
/// chunk), each tile from zero to its store with the epilogue (`out` and `residual` at the tile's first
/// output, row stride `pixels`; `bias` the tile's `MR` channels).
struct FinishedTiles<'a> {
    a: *const f32,
    block: &'a PanelBlock,
    panels: usize,
    cin: usize,
    bias: &'a [f32],
    out: *mut f32,
    pixels: usize,
    residual: Option<*const f32>,
}

impl FinishedTiles<'_> {
    /// Runs the tiles with the activation compiled into the loop for the activations mobile networks fuse
    /// into their convs (none, relu, clip, hard-swish, hard-sigmoid, sigmoid), and through
    /// `Activation::apply` for the rest.
    /// Matching on the activation per tile row cost an indirect jump per row, and the tile went to the
    /// stack around it; with few input channels (16 multiply-add steps a tile) that was a large share.
    unsafe fn run(&self, activation: Activation) {
        match activation {
            Activation::None => self.run_with(|x| x),
            Activation::Relu => self.run_with(|x| v::max(x, v::zero())),
            Activation::Clip { min, max } => {
                let (lo, hi) = (v::splat(min), v::splat(max));
                self.run_with(move |x| v::min(v::max(x, lo), hi))
            }
            Activation::HardSwish => self.run_with(|x| Activation::HardSwish.apply(x)),
            Activation::HardSigmoid { .. } => self.run_with(move |x| activation.apply(x)),
            // Out of line in `apply`: compiled in here for the sigmoid heads of person segmenters.
            Activation::Sigmoid => self.run_with(crate::vmath::sigmoid),
            other => self.run_with(move |x| other.apply(x)),
        }
    }

    /// Out of line with its loop, so the tile stays in registers from the first multiply-add to the store:
    /// going through `accumulate` and then `store_tile` wrote the tile to memory and read it back per tile,
    /// which cost as much as the multiply-adds at 16 input channels. The arithmetic is the other path's
    /// (`store_tile` with the same activation), in the same order, so the bits are too.
    #[inline(never)]
    unsafe fn run_with(&self, activate: impl Fn(v::V) -> v::V) {
        let bias: [v::V; MR] = core::array::from_fn(|i| v::splat(self.bias[i]));
        for i in 0..self.panels {
            let mut acc: Tile = [[v::zero(); NV]; MR];
            let mut b = self.block.panel(i);
            for &tap in self.block.taps(i) {
                steps(&mut acc, self.a.add(tap as usize * self.cin * MR), b, self.cin);
                b = b.add(self.cin * NR);
            }
            let out = self.out.add(i * NR);
            let residual = self.residual.map(|r| r.add(i * NR));
            for (r, row) in acc.iter().enumerate() {
                for (j, value) in row.iter().enumerate() {
                    let at = r * self.pixels + v::LANES * j;
                    let mut x = v::add(*value, bias[r]);
                    if let Some(res) = residual {
                        x = v::add(x, v::load(res.add(at)));
                    }
                    v::store(out.add(at), activate(x));
                }
            }
        }
    }
}

/// Writes `rows x cols` of a tile to `out` (row stride `stride`), adding bias and residual, then activating.
#[inline(always)]
unsafe fn store_tile(
    acc: &Tile,
    epilogue: &Epilogue,
    first_channel: usize,
    rows: usize,
    cols: usize,
    out: *mut f32,
    stride: usize,
    residual: Option<*const f32>,
) {
    for (i, row) in acc.iter().enumerate().take(rows) {
        let bias = v::splat(epilogue.bias[first_channel + i]);
        let dst = out.add(i * stride);
        let res = residual.map(|r| r.add(i * stride));
        if cols == NR {
            for j in 0..NV {
                let mut x = v::add(row[j], bias);
                if let Some(r) = res {
                    x = v::add(x, v::load(r.add(v::LANES * j)));
                }
                v::store(dst.add(v::LANES * j), epilogue.activation.apply(x));
            }
        } else {
            for j in 0..NV {
                let lanes = v::lanes(v::add(row[j], bias));
                for (l, value) in lanes.iter().enumerate() {
                    let col = v::LANES * j + l;
                    if col < cols {
                        let mut x = *value;
                        if let Some(r) = res {
                            x += *r.add(col);
                        }
                        *dst.add(col) = epilogue.activation.apply_scalar(x);
                    }
                }
            }
        }
    }
}
