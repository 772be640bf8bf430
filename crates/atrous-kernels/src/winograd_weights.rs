//! Filters transformed for Winograd once per plan (`G g Gt`, in f64) and packed for the micro-kernel:
//! for each tile of `MR` output channels, for each of the `A x A` frequencies, for each input channel,
//! `MR` consecutive floats. One frequency of one channel tile is then the `[C, MR]` operand of
//! `micro_kernel::steps`, exactly as one tap is in `weights`.

use alloc::vec::Vec;

use crate::geometry::ConvShape;
use crate::micro_kernel::MR;
use crate::selection::WinogradTile;
use crate::status::Status;
use crate::winograd_transforms::{filter, Transform, F2, F3, F4};

pub struct WinogradWeights {
    data: Vec<f32>,
    tile: WinogradTile,
    channels: usize,
    channel_tiles: usize,
}

impl WinogradWeights {
    /// Transforms and packs OIHW 3x3 weights (`[M, C, 3, 3]`, one group).
    pub fn pack(shape: &ConvShape, weights: &[f32], tile: WinogradTile) -> Result<Self, Status> {
        match tile {
            WinogradTile::F2 => Self::pack_with::<4, 2, F2>(shape, weights, tile),
            WinogradTile::F3 => Self::pack_with::<5, 3, F3>(shape, weights, tile),
            WinogradTile::F4 => Self::pack_with::<6, 4, F4>(shape, weights, tile),
        }
    }

    fn pack_with<const A: usize, const M: usize, T: Transform<A, M>>(
        shape: &ConvShape,
        weights: &[f32],
        tile: WinogradTile,
    ) -> Result<Self, Status> {
        let (channels, outputs) = (shape.in_channels, shape.out_channels);
        let channel_tiles = outputs.div_ceil(MR);
        let total = channel_tiles
            .checked_mul(A * A * MR)
            .and_then(|x| x.checked_mul(channels))
            .ok_or(Status::SizeOverflow)?;
        let mut data = Vec::new();
        data.try_reserve_exact(total).map_err(|_| Status::OutOfMemory)?;
        data.resize(total, 0.0);
        for m in 0..outputs {
            let (t, lane) = (m / MR, m % MR);
            for c in 0..channels {
                let u = filter::<A, M, T>(&weights[(m * channels + c) * 9..][..9]);
                for (f, x) in u.iter().flatten().enumerate() {
                    data[((t * A * A + f) * channels + c) * MR + lane] = *x;
                }
            }
        }
        Ok(WinogradWeights { data, tile, channels, channel_tiles })
    }

    pub fn tile(&self) -> WinogradTile {
        self.tile
    }

    pub fn channel_tiles(&self) -> usize {
        self.channel_tiles
    }

    /// The `[C, MR]` block of frequency `frequency` for channel tile `tile`.
    pub fn block(&self, tile: usize, frequency: usize) -> *const f32 {
        let a = self.tile.alpha();
        self.data[(tile * a * a + frequency) * self.channels * MR..].as_ptr()
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }
}
