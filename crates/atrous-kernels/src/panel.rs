//! The virtual im2col: input panels packed on demand, a few at a time, never the whole im2col matrix.
//!
//! A panel is `NR` consecutive output pixels (in row-major order, so it may wrap to the next output row).
//! For each kernel tap the panel holds, for every input channel of the group, the `NR` input values those
//! pixels read at that tap (zero where they read padding). Dilation, stride and padding live entirely in
//! the per-tap offsets computed here. A tap whose `NR` pixels all read padding is left out, and its index
//! is not listed: the micro-kernel then never multiplies by it. At ASPP rates on small feature maps that is
//! a large share of the work (a 3x3 rate-12 conv on 33x33 reads only padding at 43 % of its taps).

use alloc::vec::Vec;

use crate::geometry::Geometry;
use crate::status::Status;
use crate::isa::active as v;
use crate::micro_kernel::NR;

/// Bytes of panels packed per block: small enough to stay in L2 while every channel tile reuses them.
const BLOCK_BYTES: usize = 192 * 1024;
const MAX_PANELS_PER_BLOCK: usize = 64;
/// Multiply-add steps (taps x channels) per chunk of the reduction. Convolutions with many input channels
/// are reduced a chunk of channels at a time, so a block holds many panels and the weights, streamed once
/// per block, are reused across all of them (one panel per block would stream every weight per 8 pixels).
const CHUNK_STEPS: usize = 512;

pub struct PanelBlock {
    data: Vec<f32>,
    /// Valid tap indices, `taps` slots per panel.
    tap_lists: Vec<u32>,
    tap_counts: Vec<usize>,
    panel_len: usize,
    taps: usize,
    capacity: usize,
    chunk_channels: usize,
}

impl PanelBlock {
    /// (floats per panel, panels per block, channels per chunk) for `geom`.
    fn layout(geom: &Geometry) -> (usize, usize, usize) {
        let taps = geom.taps();
        let channels = geom.channels_per_group();
        let chunks = (taps * channels).div_ceil(CHUNK_STEPS).min(channels);
        let chunk_channels = channels.div_ceil(chunks);
        let panel_len = taps * chunk_channels * NR;
        let pixels = geom.out_height * geom.out_width;
        let capacity = (BLOCK_BYTES / (panel_len * 4)).clamp(1, MAX_PANELS_PER_BLOCK).min(pixels.div_ceil(NR));
        (panel_len, capacity, chunk_channels)
    }

    /// Panels per block for `geom` on one thread.
    pub fn capacity_for(geom: &Geometry) -> usize {
        Self::layout(geom).1
    }

    /// A block of `capacity` panels (at most `capacity_for(geom)`; fewer when threads want more blocks).
    pub fn new(geom: &Geometry, capacity: usize) -> Result<Self, Status> {
        let taps = geom.taps();
        let (panel_len, most, chunk_channels) = Self::layout(geom);
        let capacity = capacity.clamp(1, most);
        let mut data = Vec::new();
        data.try_reserve_exact(capacity * panel_len).map_err(|_| Status::OutOfMemory)?;
        data.resize(capacity * panel_len, 0.0);
        let mut tap_lists = Vec::new();
        tap_lists.try_reserve_exact(capacity * taps).map_err(|_| Status::OutOfMemory)?;
        tap_lists.resize(capacity * taps, 0);
        let mut tap_counts = Vec::new();
        tap_counts.try_reserve_exact(capacity).map_err(|_| Status::OutOfMemory)?;
        tap_counts.resize(capacity, 0);
        Ok(PanelBlock { data, tap_lists, tap_counts, panel_len, taps, capacity, chunk_channels })
    }

    /// Input channels packed per chunk (the last chunk of a group may have fewer).
    pub fn chunk_channels(&self) -> usize {
        self.chunk_channels
    }

    /// How many panels one block holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn panel(&self, index: usize) -> *const f32 {
        self.data[index * self.panel_len..].as_ptr()
    }

    pub fn taps(&self, index: usize) -> &[u32] {
        &self.tap_lists[index * self.taps..index * self.taps + self.tap_counts[index]]
    }

    /// Packs panel `index` of this block for the output pixels starting at `first_pixel`, input channels
    /// `first_channel..first_channel + channels` of the group.
    ///
    /// # Safety
    /// `input` must point at the first channel of the group in one image, with `channels_per_group`
    /// planes of `height * width` floats after it; `channels <= chunk_channels()`.
    pub unsafe fn pack(
        &mut self,
        geom: &Geometry,
        input: *const f32,
        index: usize,
        first_pixel: usize,
        first_channel: usize,
        channels: usize,
    ) {
        let pixels = geom.out_height * geom.out_width;
        let (h, w) = (geom.height as isize, geom.width as isize);
        let plane = geom.height * geom.width;
        let input = input.add(first_channel * plane);
        let panel_start = index * self.panel_len;

        // A panel inside one output row (most panels) reads, at each tap, one input row at evenly spaced
        // columns: where that run lies inside the plane, it is copied without working out each pixel's
        // offset (that per-pixel work cost as much as the multiply-adds for convs with few channels, such
        // as the 3-channel stems of mobile networks). The panel's contents are the same either way.
        let (oy, ox) = (first_pixel / geom.out_width, first_pixel % geom.out_width);
        let one_row = ox + NR <= geom.out_width;
        let (row0, col0) = ((oy * geom.strides[0]) as isize - geom.pads[0] as isize, (ox * geom.strides[1]) as isize - geom.pads[1] as isize);
        let step = geom.strides[1] as isize;

        // Top-left input coordinate of each pixel's window; None past the last pixel.
        let mut origin = [None::<(isize, isize)>; NR];
        if !one_row {
            for (j, o) in origin.iter_mut().enumerate() {
                let p = first_pixel + j;
                if p < pixels {
                    let (oy, ox) = (p / geom.out_width, p % geom.out_width);
                    *o = Some((
                        (oy * geom.strides[0]) as isize - geom.pads[0] as isize,
                        (ox * geom.strides[1]) as isize - geom.pads[1] as isize,
                    ));
                }
            }
        }

        let mut count = 0;
        for ky in 0..geom.kernel[0] {
            for kx in 0..geom.kernel[1] {
                let (dy, dx) = ((ky * geom.dilations[0]) as isize, (kx * geom.dilations[1]) as isize);
                let mut offsets = [-1isize; NR];
                let mut run = None;
                if one_row {
                    let (iy, ix0) = (row0 + dy, col0 + dx);
                    let ix_last = ix0 + (NR as isize - 1) * step;
                    if iy < 0 || iy >= h || ix_last < 0 || ix0 >= w {
                        continue; // the whole panel reads padding at this tap
                    }
                    if ix0 >= 0 && ix_last < w {
                        run = Some((iy * w + ix0) as usize);
                    } else {
                        for (j, o) in offsets.iter_mut().enumerate() {
                            let ix = ix0 + j as isize * step;
                            if ix >= 0 && ix < w {
                                *o = iy * w + ix;
                            }
                        }
                        if offsets.iter().all(|&o| o < 0) {
                            continue;
                        }
                    }
                } else {
                    let mut any = false;
                    for j in 0..NR {
                        if let Some((y0, x0)) = origin[j] {
                            let (iy, ix) = (y0 + dy, x0 + dx);
                            if iy >= 0 && iy < h && ix >= 0 && ix < w {
                                offsets[j] = iy * w + ix;
                                any = true;
                            }
                        }
                    }
                    if !any {
                        continue;
                    }
                    if (0..NR).all(|j| offsets[j] >= 0 && offsets[j] == offsets[0] + j as isize) {
                        run = Some(offsets[0] as usize);
                    }
                }
                // A run of NR pixels: contiguous at stride 1; at stride 2 (the stem convs of mobile
                // networks) every other input value, as the even lanes of vector pairs, when all 2 * NR
                // values read lie in the plane. Otherwise each pixel's own offset (zero for padding).
                let contiguous = run.filter(|_| !one_row || step == 1);
                let every_other = run.filter(|&r| one_row && step == 2 && r + 2 * NR <= plane);
                if let (Some(r), None, None) = (run, contiguous, every_other) {
                    for (j, o) in offsets.iter_mut().enumerate() {
                        *o = r as isize + j as isize * step;
                    }
                }
                let dst = self.data.as_mut_ptr().add(panel_start + count * channels * NR);
                for c in 0..channels {
                    let src = input.add(c * plane);
                    let d = dst.add(c * NR);
                    if let Some(r) = contiguous {
                        let s = src.add(r);
                        let mut j = 0;
                        while j < NR {
                            v::store(d.add(j), v::load(s.add(j)));
                            j += v::LANES;
                        }
                    } else if let Some(r) = every_other {
                        let s = src.add(r);
                        let mut j = 0;
                        while j < NR {
                            v::store(d.add(j), v::even_lanes(v::load(s.add(2 * j)), v::load(s.add(2 * j + v::LANES))));
                            j += v::LANES;
                        }
                    } else {
                        for j in 0..NR {
                            *d.add(j) = if offsets[j] >= 0 { *src.add(offsets[j] as usize) } else { 0.0 };
                        }
                    }
                }
                self.tap_lists[index * self.taps + count] = (ky * geom.kernel[1] + kx) as u32;
                count += 1;
            }
        }
        self.tap_counts[index] = count;
    }
}
