//! The weight gradient of the convolution (see `conv_backward` for the whole backward):
//! `dL/dW[m, c, ky, kx] = sum over n, o of gradOutput[n, m, o] * x[n, c, o * s + k * d - pad]`, per group a
//! GEMM of `gradOutput` with the input patches, whose im2col matrix is packed a panel at a time and never
//! formed; with one input channel per group, row dot products instead. The module doc of `conv_backward`
//! says how the panels are packed and why the sums are the same bits for any chunking.

use alloc::vec::Vec;

use crate::geometry::Geometry;
use crate::isa::active as v;
use crate::micro_kernel::{load_tile, steps, store_tile, MR, NR};
use crate::status::Status;

/// Output pixels reduced per packed panel, at most: `KC x NR` floats (8 KiB) stay in L1 while every tile of
/// output channels is multiplied through them.
const KC: usize = 256;
/// Floats of `gradOutput` strips (all row tiles of one chunk, `row_tiles * chunk * MR`) that should stay in
/// L2 while the chunk's panels stream past them: 128 KiB. With many output channels the chunk shrinks to fit
/// (256 -> 128 pixels at 256 channels), else every panel would re-read the strips from L3. The chunk size
/// does not change the arithmetic: each weight's sum still runs over the pixels in order.
const STRIP_FLOATS: usize = 32 * 1024;

/// Pixels per chunk for `row_tiles` tiles of output channels.
fn chunk_pixels(row_tiles: usize) -> usize {
    (STRIP_FLOATS / (row_tiles * MR)).clamp(NR, KC)
}

/// Adds `count` steps of `a` (MR-wide) times `b` (NR-wide) to the tile stored at `at`.
///
/// # Safety
/// `at` valid for `MR * NR` floats, `a` for `count * MR`, `b` for `count * NR`.
// Out of line, as `micro_kernel::accumulate`: V8 allocates registers per function and the tile needs them all.
#[inline(never)]
unsafe fn accumulate_tile(at: *mut f32, a: *const f32, b: *const f32, count: usize) {
    let mut acc = load_tile(at);
    steps(&mut acc, a, b, count);
    store_tile(at, &acc);
}

fn zeroed(len: usize) -> Result<Vec<f32>, Status> {
    let mut buf = Vec::new();
    buf.try_reserve_exact(len).map_err(|_| Status::OutOfMemory)?;
    buf.resize(len, 0.0);
    Ok(buf)
}

/// One column of the patch matrix: input channel (within the group), tap offset from the window origin, and
/// the output columns `ox_begin..ox_end` whose window reads inside the input at this tap (the others read
/// horizontal padding).
#[derive(Clone, Copy, Default)]
struct PatchColumn {
    channel: usize,
    dy: isize,
    dx: isize,
    ox_begin: usize,
    ox_end: usize,
}

/// A run of a chunk's pixels on one output row: chunk steps `t..t + (ox_end - ox_begin)` are the output
/// columns `ox_begin..ox_end` of row `oy`.
#[derive(Clone, Copy, Default)]
struct RowRun {
    t: usize,
    oy: usize,
    ox_begin: usize,
    ox_end: usize,
}

/// Output columns `o` in `0..out` with `0 <= o * stride + offset < size` (a tap's reads inside the input).
fn inside_range(out: usize, stride: usize, offset: isize, size: usize) -> (usize, usize) {
    let begin = if offset >= 0 { 0 } else { ((-offset) as usize).div_ceil(stride) };
    let last = size as isize - 1 - offset;
    let end = if last < 0 { 0 } else { (last as usize / stride + 1).min(out) };
    (begin.min(end), end)
}

/// Packs the patch matrix's panel: `NR` columns (`cols`, fewer in the last panel, the rest zero) by the
/// chunk's pixels (`runs`), `panel[t * NR + j]` = the input value column `j` reads at chunk pixel `t`, zero
/// where it reads padding. Run by run, so the bounds are decided once per output row rather than per value.
/// `spans` gets the chunk steps `t0..t1` where the panel may be nonzero, in order: for a panel of one tap
/// only the pixels whose window reads the input there (a dilated tap near the border reads padding for
/// many pixels, and their products are zero), else the whole chunk.
fn pack_patch_panel(geom: &Geometry, x: &[f32], cols: &[PatchColumn], runs: &[RowRun], panel: &mut [f32], spans: &mut Vec<(usize, usize)>) {
    let (h, w, sw) = (geom.height as isize, geom.width, geom.strides[1]);
    let plane = geom.height * geom.width;
    let (pt, pl) = (geom.pads[0] as isize, geom.pads[1] as isize);
    // NR channels in a row at one tap, horizontal stride 1 (columns are tap-major, so every panel of a
    // group with a multiple of NR channels is one): each pixel's NR values come from NR input rows read
    // as vectors and transposed, LANES pixels at a time.
    let c0 = cols[0];
    let one_tap = sw == 1
        && cols.len() == NR
        && cols.iter().enumerate().all(|(j, c)| c.channel == c0.channel + j && c.dy == c0.dy && c.dx == c0.dx);
    spans.clear();
    if !one_tap {
        spans.push((0, runs.last().map_or(0, |r| r.t + r.ox_end - r.ox_begin)));
    }
    for run in runs {
        let (a, b) = (run.ox_begin, run.ox_end);
        let slot = |ox: usize, j: usize| (run.t + ox - a) * NR + j;
        if one_tap {
            let iy = (run.oy * geom.strides[0]) as isize + c0.dy - pt;
            let (lo, hi) = if iy < 0 || iy >= h { (b, b) } else { (c0.ox_begin.clamp(a, b), c0.ox_end.clamp(a, b)) };
            for ox in (a..lo).chain(hi..b) {
                panel[slot(ox, 0)..][..NR].fill(0.0);
            }
            if lo == hi {
                continue;
            }
            let (t0, t1) = (slot(lo, 0) / NR, slot(hi, 0) / NR);
            match spans.last_mut() {
                Some(last) if last.1 == t0 => last.1 = t1,
                _ => spans.push((t0, t1)),
            }
            // Input column of output column `lo` at this tap, and the NR rows' starts.
            let first = (lo as isize + c0.dx - pl) as usize;
            let rows: [&[f32]; NR] = core::array::from_fn(|j| &x[(c0.channel + j) * plane + iy as usize * w + first..][..hi - lo]);
            let mut i = 0;
            while i + v::LANES <= hi - lo {
                let dst = &mut panel[slot(lo + i, 0)..][..v::LANES * NR];
                for half in 0..NR / v::LANES {
                    // SAFETY: each row holds hi - lo >= i + LANES floats; dst holds LANES * NR.
                    unsafe {
                        let r: [v::V; v::LANES] = core::array::from_fn(|q| v::load(rows[half * v::LANES + q].as_ptr().add(i)));
                        for (q, pixel) in v::transpose(r).into_iter().enumerate() {
                            v::store(dst.as_mut_ptr().add(q * NR + half * v::LANES), pixel);
                        }
                    }
                }
                i += v::LANES;
            }
            for i in i..hi - lo {
                for (j, row) in rows.iter().enumerate() {
                    panel[slot(lo + i, j)] = row[i];
                }
            }
            continue;
        }
        for j in 0..NR {
            let Some(col) = cols.get(j) else {
                for ox in a..b {
                    panel[slot(ox, j)] = 0.0;
                }
                continue;
            };
            let iy = (run.oy * geom.strides[0]) as isize + col.dy - pt;
            // Inside part of this run: ox in lo..hi (empty when the row itself is padding).
            let (lo, hi) = if iy < 0 || iy >= h { (b, b) } else { (col.ox_begin.clamp(a, b), col.ox_end.clamp(a, b)) };
            for ox in (a..lo).chain(hi..b) {
                panel[slot(ox, j)] = 0.0;
            }
            if lo < hi {
                let row = &x[col.channel * plane + iy as usize * w..][..w];
                let first = (lo * sw) as isize + col.dx - pl;
                for (i, ox) in (lo..hi).enumerate() {
                    panel[slot(ox, j)] = row[first as usize + i * sw];
                }
            }
        }
    }
}

/// `dL/dW` (`[M, C / groups, kH, kW]`, every element written).
pub fn grad_weights(geom: &Geometry, input: &[f32], grad_output: &[f32], out: &mut [f32]) -> Result<(), Status> {
    let (cg, mg, taps) = (geom.channels_per_group(), geom.outputs_per_group(), geom.taps());
    let cols = cg * taps;
    if input.len() != geom.input_len() || grad_output.len() != geom.output_len() || out.len() != geom.out_channels * cols {
        return Err(Status::ShapeMismatch);
    }
    if cg == 1 {
        grad_weights_depthwise(geom, input, grad_output, out);
        return Ok(());
    }
    let pixels = geom.out_height * geom.out_width;
    let plane = geom.height * geom.width;
    let (row_tiles, col_panels) = (mg.div_ceil(MR), cols.div_ceil(NR));
    // The group's sums, tile by tile: as large as the group's weights (rounded up to whole tiles).
    let mut sums = zeroed(row_tiles * col_panels * MR * NR)?;
    let kc = chunk_pixels(row_tiles);
    let mut strips = zeroed(row_tiles * kc * MR)?;
    let mut panel = zeroed(kc * NR)?;
    let mut columns = Vec::new();
    columns.try_reserve_exact(cols).map_err(|_| Status::OutOfMemory)?;
    // Tap-major: column `tap * cg + c`, so NR consecutive columns are usually NR channels at one tap.
    for ky in 0..geom.kernel[0] {
        for kx in 0..geom.kernel[1] {
            let dx = (kx * geom.dilations[1]) as isize;
            let (ox_begin, ox_end) = inside_range(geom.out_width, geom.strides[1], dx - geom.pads[1] as isize, geom.width);
            for c in 0..cg {
                columns.push(PatchColumn { channel: c, dy: (ky * geom.dilations[0]) as isize, dx, ox_begin, ox_end });
            }
        }
    }
    // The output rows a chunk of pixels spans (at most one run per pixel).
    let mut runs = Vec::new();
    runs.try_reserve_exact(kc).map_err(|_| Status::OutOfMemory)?;
    let mut spans = Vec::new();
    spans.try_reserve_exact(kc).map_err(|_| Status::OutOfMemory)?;
    for g in 0..geom.groups {
        sums.fill(0.0);
        for n in 0..geom.batch {
            let x = &input[(n * geom.in_channels + g * cg) * plane..][..cg * plane];
            let dy = &grad_output[(n * geom.out_channels + g * mg) * pixels..][..mg * pixels];
            let mut p0 = 0;
            while p0 < pixels {
                let count = kc.min(pixels - p0);
                // gradOutput rows as MR-row strips, pixel-major: step t holds MR channels' values at pixel p0 + t.
                for tile in 0..row_tiles {
                    let strip = &mut strips[tile * count * MR..][..count * MR];
                    for i in 0..MR {
                        let m = tile * MR + i;
                        if m < mg {
                            let row = &dy[m * pixels + p0..][..count];
                            for (t, value) in row.iter().enumerate() {
                                strip[t * MR + i] = *value;
                            }
                        } else {
                            for t in 0..count {
                                strip[t * MR + i] = 0.0;
                            }
                        }
                    }
                }
                runs.clear();
                let mut t = 0;
                while t < count {
                    let p = p0 + t;
                    let (oy, ox) = (p / geom.out_width, p % geom.out_width);
                    let len = (geom.out_width - ox).min(count - t);
                    runs.push(RowRun { t, oy, ox_begin: ox, ox_end: ox + len });
                    t += len;
                }
                for pc in 0..col_panels {
                    let first = pc * NR;
                    pack_patch_panel(geom, x, &columns[first..(first + NR).min(cols)], &runs, &mut panel[..count * NR], &mut spans);
                    for tile in 0..row_tiles {
                        for &(t0, t1) in &spans {
                            // SAFETY: `sums` holds row_tiles * col_panels tiles of MR x NR, `strips` this tile's
                            // count x MR floats and `panel` count x NR; t0 <= t1 <= count.
                            unsafe {
                                let at = sums.as_mut_ptr().add((tile * col_panels + pc) * MR * NR);
                                accumulate_tile(at, strips.as_ptr().add((tile * count + t0) * MR), panel.as_ptr().add(t0 * NR), t1 - t0);
                            }
                        }
                    }
                }
                p0 += count;
            }
        }
        for m in 0..mg {
            let (tile, i) = (m / MR, m % MR);
            let row = &mut out[(g * mg + m) * cols..][..cols];
            // Weight (c, tap) is patch column tap * cg + c.
            for (k, slot) in row.iter_mut().enumerate() {
                let col = (k % taps) * cg + k / taps;
                *slot = sums[((tile * col_panels + col / NR) * MR + i) * NR + col % NR];
            }
        }
    }
    Ok(())
}

/// `dL/dW` with one input channel per group (depthwise, any multiplier): each weight is a sum over the batch and
/// the output rows of one dot product between a row of `grad_output` and the input row its tap reads. The
/// GEMM above would fill one of its `MR` tile rows per group and pack every patch value for it; here the
/// valid span of each row is found once per tap and, at horizontal stride 1, read as contiguous vectors.
fn grad_weights_depthwise(geom: &Geometry, input: &[f32], grad_output: &[f32], out: &mut [f32]) {
    let (mg, [kh, kw]) = (geom.outputs_per_group(), geom.kernel);
    let (h, w, oh, ow) = (geom.height, geom.width, geom.out_height, geom.out_width);
    let ([sh, sw], [dh, dw]) = (geom.strides, geom.dilations);
    let (pt, pl) = (geom.pads[0] as isize, geom.pads[1] as isize);
    for m in 0..geom.out_channels {
        let g = m / mg;
        for ky in 0..kh {
            for kx in 0..kw {
                // Output columns whose tap reads inside the input: 0 <= ox * sw + kx * dw - pl < w.
                let shift = kx as isize * dw as isize - pl;
                let first = if shift >= 0 { 0 } else { ((-shift) as usize).div_ceil(sw) };
                let end = if (w as isize) - 1 - shift < 0 { 0 } else { ((((w as isize) - 1 - shift) as usize) / sw + 1).min(ow) };
                let mut lanes = v::zero();
                let mut tail = 0.0f32;
                if first < end {
                    for n in 0..geom.batch {
                        let dy = &grad_output[(n * geom.out_channels + m) * oh * ow..][..oh * ow];
                        let x = &input[(n * geom.in_channels + g) * h * w..][..h * w];
                        for oy in 0..oh {
                            let iy = (oy * sh + ky * dh) as isize - pt;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            let d = &dy[oy * ow + first..oy * ow + end];
                            let start = iy as usize * w + (first as isize * sw as isize + shift) as usize;
                            if sw == 1 {
                                let xr = &x[start..start + d.len()];
                                let mut i = 0;
                                // SAFETY: i + LANES <= d.len() == xr.len().
                                unsafe {
                                    while i + v::LANES <= d.len() {
                                        lanes = v::madd(v::load(d.as_ptr().add(i)), v::load(xr.as_ptr().add(i)), lanes);
                                        i += v::LANES;
                                    }
                                }
                                tail += d[i..].iter().zip(&xr[i..]).map(|(a, b)| a * b).sum::<f32>();
                            } else {
                                tail += d.iter().enumerate().map(|(j, a)| a * x[start + j * sw]).sum::<f32>();
                            }
                        }
                    }
                }
                out[m * kh * kw + ky * kw + kx] = v::lanes(lanes).iter().sum::<f32>() + tail;
            }
        }
    }
}
