//! The general convolution driver: output `[M, OH*OW]` as packed weights times packed input panels,
//! one `MR x NR` register tile at a time, with bias, residual and activation applied to the tile before
//! it is stored. Used for every group layout except one input channel per group (see `depthwise`).

use crate::activation::Activation;
use crate::geometry::{ConvError, Geometry};
use crate::isa::active as v;
use crate::micro_kernel::{accumulate, Tile, MR, NR, NV};
use crate::panel::PanelBlock;
use crate::weights::PackedWeights;

/// Where a tile's results go and what is added to them.
pub struct Epilogue<'a> {
    pub bias: &'a [f32],
    pub activation: Activation,
}

/// # Safety
/// Slice lengths must match `geom` (checked by `ConvPlan::run`).
pub unsafe fn run(
    geom: &Geometry,
    weights: &PackedWeights,
    epilogue: &Epilogue,
    input: &[f32],
    output: &mut [f32],
    residual: Option<&[f32]>,
) -> Result<(), ConvError> {
    let mut block = PanelBlock::new(geom)?;
    let pixels = geom.out_height * geom.out_width;
    let plane = geom.height * geom.width;
    let (cin, mg) = (geom.channels_per_group(), geom.outputs_per_group());
    let block_pixels = block.capacity() * NR;
    let out = output.as_mut_ptr();
    for n in 0..geom.batch {
        for g in 0..geom.groups {
            let group_input = input.as_ptr().add((n * geom.in_channels + g * cin) * plane);
            let first_channel = g * mg;
            let image_out = n * geom.out_channels * pixels;
            let mut start = 0;
            while start < pixels {
                let panels = (pixels - start).div_ceil(NR).min(block.capacity());
                for i in 0..panels {
                    block.pack(geom, group_input, i, start + i * NR);
                }
                for tile in 0..weights.channel_tiles() {
                    let a = weights.block(g, tile);
                    let m0 = first_channel + tile * MR;
                    let rows = MR.min(mg - tile * MR);
                    for i in 0..panels {
                        let acc = accumulate(a, block.taps(i), cin, block.panel(i));
                        let p0 = start + i * NR;
                        let at = image_out + m0 * pixels + p0;
                        let res = residual.map(|r| r.as_ptr().add(at));
                        store_tile(&acc, epilogue, m0, rows, NR.min(pixels - p0), out.add(at), pixels, res);
                    }
                }
                start += block_pixels;
            }
        }
    }
    Ok(())
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
                    x = v::add(x, v::load(r.add(4 * j)));
                }
                v::store(dst.add(4 * j), epilogue.activation.apply(x));
            }
        } else {
            for j in 0..NV {
                let lanes = v::lanes(v::add(row[j], bias));
                for (l, value) in lanes.iter().enumerate() {
                    let col = 4 * j + l;
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
