//! Weights packed once per layer for the micro-kernel: for each group, for each tile of `MR` output
//! channels, for each kernel tap, for each input channel, `MR` consecutive floats. Tap-major order is
//! what lets a panel skip a tap that reads only padding: its weights are one contiguous run to jump over.

use alloc::vec::Vec;

use crate::geometry::ConvShape;
use crate::status::Status;
use crate::micro_kernel::MR;

pub struct PackedWeights {
    data: Vec<f32>,
    channel_tiles: usize,
    /// Floats per (group, channel tile) block.
    block_len: usize,
}

impl PackedWeights {
    /// Packs OIHW weights (`[M, C / groups, kH, kW]`).
    pub fn pack(shape: &ConvShape, weights: &[f32]) -> Result<Self, Status> {
        let cin = shape.channels_per_group();
        let mg = shape.outputs_per_group();
        let taps = shape.kernel[0] * shape.kernel[1];
        let channel_tiles = mg.div_ceil(MR);
        let block_len = taps * cin * MR;
        let total = shape
            .groups
            .checked_mul(channel_tiles)
            .and_then(|x| x.checked_mul(block_len))
            .ok_or(Status::SizeOverflow)?;
        let mut data = Vec::new();
        data.try_reserve_exact(total).map_err(|_| Status::OutOfMemory)?;
        data.resize(total, 0.0);
        Self::for_each_place(shape, |at, oihw| data[at] = weights[oihw]);
        Ok(PackedWeights { data, channel_tiles, block_len })
    }

    /// The OIHW weights back (`pack`'s inverse: a permutation, so the same bits), for a plan that later
    /// derives another method's weights from its packed ones instead of keeping a second copy all along.
    pub fn unpack(&self, shape: &ConvShape) -> Result<Vec<f32>, Status> {
        let mut weights = Vec::new();
        weights.try_reserve_exact(shape.weight_len()).map_err(|_| Status::OutOfMemory)?;
        weights.resize(shape.weight_len(), 0.0);
        Self::for_each_place(shape, |at, oihw| weights[oihw] = self.data[at]);
        Ok(weights)
    }

    /// Calls `f(packed index, OIHW index)` for every weight: the one mapping `pack` and `unpack` share.
    fn for_each_place(shape: &ConvShape, mut f: impl FnMut(usize, usize)) {
        let cin = shape.channels_per_group();
        let mg = shape.outputs_per_group();
        let taps = shape.kernel[0] * shape.kernel[1];
        let (channel_tiles, block_len) = (mg.div_ceil(MR), taps * cin * MR);
        for g in 0..shape.groups {
            for m in 0..mg {
                let (tile, lane) = (m / MR, m % MR);
                let block = (g * channel_tiles + tile) * block_len;
                let oihw = (g * mg + m) * cin * taps;
                for c in 0..cin {
                    for t in 0..taps {
                        f(block + (t * cin + c) * MR + lane, oihw + c * taps + t);
                    }
                }
            }
        }
    }

    pub fn channel_tiles(&self) -> usize {
        self.channel_tiles
    }

    /// Start of the block for one group and one tile of `MR` output channels.
    pub fn block(&self, group: usize, tile: usize) -> *const f32 {
        self.data[(group * self.channel_tiles + tile) * self.block_len..].as_ptr()
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }
}
