//! General matrix multiply (ONNX MatMul and Gemm): `out = act(alpha * A B + beta * C + bias)`, batched
//! with numpy broadcasting, on the same register tile as the convolution (`micro_kernel::accumulate`).
//!
//! Operands are strided views (pointer, row stride, column stride, per-batch-dim strides, all in floats),
//! so a transpose or a broadcast is a choice of strides and the caller never copies. A is packed per block
//! into `MR`-row strips; B into `NR`-column panels, either once (`PackedB`, for a constant B) or block by
//! block as the product runs (a B that changes per call, as in attention).
//!
//! Blocking: K is reduced in chunks of at most `KC` steps, whose bounds depend on K alone. Between chunks
//! the partial sums live in the output as f32, exactly as the registers held them, so every output
//! element is the same sequence of multiply-adds in k order, whatever the blocking or a future split of
//! the output over threads: results are bit-identical for any split. Within a chunk one B panel
//! (`KC x NR`, 16 KiB) stays in L1 while an A block (`A_BLOCK_BYTES`) streams from L2 through it.
//!
//! The tiles (gemm_tiles.rs) run on the convolution's micro-kernel loop (`micro_kernel::steps`): through
//! `accumulate` where a tile continues partial sums or needs an epilogue, and through a variant that keeps
//! the tile in registers from zero to the store where neither is needed (plain MatMul, the first chunk),
//! which is what makes short reductions such as attention's K = 32 fast.

use alloc::vec::Vec;
use core::ops::Range;

use crate::activation::Activation;
use crate::gemm_tiles::{panel_tiles, Epilogue, Strip};
use crate::isa::{active as v, copy_floats};
use crate::micro_kernel::{MR, NR};
use crate::parallel::{piece_range, pieces, try_run, Parallel, SharedMut, PIECES_PER_THREAD};
use crate::status::Status;

/// Most outer batch dims a call may have.
pub const MAX_BATCH_DIMS: usize = 4;
/// Reduction steps per chunk of K. A panel's chunk (`KC x NR`, 16 KiB) and an A strip (8 KiB) share L1
/// (32 KiB). 512 measured a little faster than 256 where K is long (fewer round trips of partial sums
/// through the output), and is the convolution's chunk too.
const KC: usize = 512;
/// Packed A per block: stays in L2 (512 KiB per core here) next to the B panels.
const A_BLOCK_BYTES: usize = 128 * 1024;
/// Most rows per A block. Each panel writes an `MC_MAX x NR` column of output tiles; the next panel completes
/// the same cache lines, so that column (128 lines, 8 KiB) must still be in L1 when it does. Without the
/// cap a short K (attention's 32) made the block all of M and every output line was fetched twice.
const MC_MAX: usize = 128;
/// Packed B per block when B is packed as the product runs. What must stay in cache is one panel's chunk
/// (`KC x NR`, L1), not the block, which is read panel by panel as the packed-once B is; a large block
/// means A is packed fewer times (all of N at once up to 512 columns of a 512-step chunk).
const B_BLOCK_BYTES: usize = 1024 * 1024;

/// A strided matrix view. Element (i, j) of batch `b` (a multi-index over the batch dims) is at
/// `ptr + i * row_stride + j * col_stride + sum(b[d] * batch_strides[d])`. A stride of 0 broadcasts.
#[derive(Clone, Copy, Debug)]
pub struct Operand {
    pub ptr: *const f32,
    pub row_stride: usize,
    pub col_stride: usize,
    pub batch_strides: [usize; MAX_BATCH_DIMS],
}

impl Operand {
    /// A matrix shared by every batch.
    pub fn new(ptr: *const f32, row_stride: usize, col_stride: usize) -> Self {
        Operand { ptr, row_stride, col_stride, batch_strides: [0; MAX_BATCH_DIMS] }
    }

    pub fn with_batch_strides(mut self, strides: &[usize]) -> Self {
        for (d, s) in self.batch_strides.iter_mut().zip(strides) {
            *d = *s;
        }
        self
    }

    fn at_batch(&self, offset: usize) -> *const f32 {
        self.ptr.wrapping_add(offset)
    }
}

/// B packed once: `ceil(N / NR)` panels, each `K` rows of `NR` floats (columns past N are zero).
pub struct PackedB {
    data: Vec<f32>,
    k: usize,
    n: usize,
}

impl PackedB {
    /// Packs the `k x n` matrix `b` (its batch strides are ignored).
    ///
    /// # Safety
    /// `b` must be readable at every element (i, j), `i < k`, `j < n`.
    pub unsafe fn pack(b: &Operand, k: usize, n: usize) -> Result<Self, Status> {
        let len = n.div_ceil(NR).checked_mul(k).and_then(|x| x.checked_mul(NR)).ok_or(Status::SizeOverflow)?;
        len.checked_mul(4).ok_or(Status::SizeOverflow)?;
        let mut data = Vec::new();
        data.try_reserve_exact(len).map_err(|_| Status::OutOfMemory)?;
        data.resize(len, 0.0);
        pack_panels(data.as_mut_ptr(), k * NR, b, 0, n, 0, k);
        // Constant operands (a model's weights) are packed once: flush their subnormals (see `subnormal`).
        crate::subnormal::flush_subnormals_in_place(&mut data);
        Ok(PackedB { data, k, n })
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn bytes(&self) -> usize {
        self.data.len() * 4
    }
}

pub enum BOperand<'a> {
    Strided(Operand),
    Packed(&'a PackedB),
}

/// One call. `out` (passed to `run`) is `batch... x m x n`, row-major and contiguous.
pub struct Gemm<'a> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// Outer batch dims (at most `MAX_BATCH_DIMS`); the operands' batch strides index them.
    pub batch: &'a [usize],
    pub a: Operand,
    pub b: BOperand<'a>,
    /// Addend, scaled by `beta`; broadcast through zero strides (a C of `[n]` has row stride 0).
    pub c: Option<Operand>,
    pub alpha: f32,
    pub beta: f32,
    /// `n` floats added to every row.
    pub bias: Option<*const f32>,
    pub activation: Activation,
}

// SAFETY: a call only reads through its operand pointers while it runs, and its pieces write disjoint
// outputs; sharing the description between the threads that run the pieces is sound.
unsafe impl Sync for Gemm<'_> {}
unsafe impl Sync for Operand {}
unsafe impl Send for Operand {}
unsafe impl Sync for Epilogue {}

/// Per-call blocking and scratch.
struct Blocks {
    chunks: usize,
    kc: usize,
    mc: usize,
    nc: usize,
    a: Vec<f32>,
    b: Vec<f32>,
}

impl<'a> Gemm<'a> {
    /// Number of batch matrices, and floats of the output.
    pub fn output_len(&self) -> Result<usize, Status> {
        if self.batch.len() > MAX_BATCH_DIMS {
            return Err(Status::InvalidDescriptor);
        }
        let count = self.batch.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or(Status::SizeOverflow)?;
        let len = count.checked_mul(self.m).and_then(|x| x.checked_mul(self.n)).ok_or(Status::SizeOverflow)?;
        len.checked_mul(4).ok_or(Status::SizeOverflow)?;
        Ok(len)
    }

    /// Computes the product into `out`, its pieces run by `par` (the same bits for every runner).
    ///
    /// # Safety
    /// Every operand must be readable at every element the shape and strides address; `out` writable for
    /// `output_len()` floats and overlapping no operand.
    pub unsafe fn run(&self, out: *mut f32, par: &dyn Parallel) -> Result<(), Status> {
        let len = self.output_len()?;
        if let BOperand::Packed(p) = self.b {
            if p.k != self.k || p.n != self.n {
                return Err(Status::ShapeMismatch);
            }
        }
        if len == 0 {
            return Ok(());
        }
        let count = len / (self.m * self.n);
        // A B shared by several batch matrices is packed once for the call rather than once per matrix.
        let shared;
        let b = match self.b {
            BOperand::Strided(b) if count > 1 && b.batch_strides.iter().all(|&s| s == 0) => {
                shared = PackedB::pack(&b, self.k, self.n)?;
                BOperand::Packed(&shared)
            }
            BOperand::Strided(b) => BOperand::Strided(b),
            BOperand::Packed(p) => BOperand::Packed(p),
        };
        let packed = matches!(b, BOperand::Packed(_));
        let layout = self.blocks(packed, false)?;
        let plain = self.alpha == 1.0 && self.c.is_none() && self.bias.is_none() && self.activation == Activation::None;
        let epilogue = Epilogue { plain, alpha: self.alpha, beta: self.beta, bias: self.bias, activation: self.activation };
        // Units of output: one batch matrix, one block of columns, one group of rows. Rows are grouped
        // only when the units would otherwise be too few to share (a group repacks its B block).
        let col_blocks = self.n.div_ceil(layout.nc);
        let row_strips = self.m.div_ceil(MR);
        let work = len.saturating_mul(self.k);
        let base = count * col_blocks;
        let row_groups = if pieces(par, base * row_strips, work) <= base { 1 } else { (par.width() * PIECES_PER_THREAD).div_ceil(base).min(row_strips) };
        let units = base * row_groups;
        let pieces = pieces(par, units, work);
        let out = SharedMut(out);
        try_run(par, pieces, &|piece| {
            let mut blocks = self.blocks(packed, true)?;
            for unit in piece_range(units, pieces, piece) {
                let (index, col_block, group) = (unit / (col_blocks * row_groups), unit / row_groups % col_blocks, unit % row_groups);
                let strips = piece_range(row_strips, row_groups, group);
                let rows = strips.start * MR..(strips.end * MR).min(self.m);
                let cols = col_block * layout.nc..((col_block + 1) * layout.nc).min(self.n);
                // SAFETY: the caller's contract; units write disjoint output tiles.
                unsafe { self.unit(index, &b, &epilogue, &mut blocks, rows, cols, out.get()) };
            }
            Ok(())
        })
    }

    /// Rows `rows` and columns `cols` of batch matrix `index`.
    unsafe fn unit(&self, index: usize, b: &BOperand, e: &Epilogue, bl: &mut Blocks, rows: Range<usize>, cols: Range<usize>, out: *mut f32) {
        // Offsets of this batch matrix in each operand, from its multi-index (last dim fastest).
        let (mut rest, mut oa, mut ob, mut oc) = (index, 0, 0, 0);
        for d in (0..self.batch.len()).rev() {
            let i = rest % self.batch[d];
            rest /= self.batch[d];
            oa += i * self.a.batch_strides[d];
            if let BOperand::Strided(b) = b {
                ob += i * b.batch_strides[d];
            }
            if let Some(c) = &self.c {
                oc += i * c.batch_strides[d];
            }
        }
        let a = Operand { ptr: self.a.at_batch(oa), ..self.a };
        let bm = match b {
            BOperand::Strided(b) => BOperand::Strided(Operand { ptr: b.at_batch(ob), ..*b }),
            BOperand::Packed(p) => BOperand::Packed(p),
        };
        let c = self.c.map(|c| Operand { ptr: c.at_batch(oc), ..c });
        self.matrix(&a, &bm, c.as_ref(), e, bl, rows, cols, out.add(index * self.m * self.n));
    }

    /// The call's blocking, with scratch when `scratch` (each thread's piece gets its own).
    fn blocks(&self, packed: bool, scratch: bool) -> Result<Blocks, Status> {
        let chunks = self.k.div_ceil(KC).max(1);
        let kc = self.k.div_ceil(chunks);
        let step_bytes = kc.max(1) * 4;
        let mc = (A_BLOCK_BYTES / step_bytes / MR * MR).clamp(MR, MC_MAX).min(self.m.next_multiple_of(MR));
        let all_n = self.n.next_multiple_of(NR);
        // A packed B needs no copy, so its block is all of N and A is packed once per chunk.
        let nc = if packed { all_n } else { (B_BLOCK_BYTES / step_bytes / NR * NR).clamp(NR, all_n) };
        let alloc = |len: usize| -> Result<Vec<f32>, Status> {
            let mut v = Vec::new();
            v.try_reserve_exact(len).map_err(|_| Status::OutOfMemory)?;
            v.resize(len, 0.0);
            Ok(v)
        };
        let a = if scratch { alloc(mc * kc)? } else { Vec::new() };
        let b = if packed || !scratch { Vec::new() } else { alloc(nc * kc)? };
        Ok(Blocks { chunks, kc, mc, nc, a, b })
    }

    /// Rows `rows` and columns `cols` (starting at a multiple of `NR`) of one `m x n` matrix of the batch.
    #[inline(never)]
    unsafe fn matrix(&self, a: &Operand, b: &BOperand, c: Option<&Operand>, e: &Epilogue, bl: &mut Blocks, rows: Range<usize>, cols: Range<usize>, out: *mut f32) {
        let (m, n, k) = (self.m, self.n, self.k);
        let mut n0 = cols.start;
        while n0 < cols.end {
            let ncols = bl.nc.min(cols.end - n0);
            let panels = ncols.div_ceil(NR);
            for chunk in 0..bl.chunks {
                let k0 = chunk * bl.kc;
                let steps = bl.kc.min(k - k0);
                let (b_base, b_stride) = match b {
                    BOperand::Packed(p) => (p.data.as_ptr().add((n0 / NR * k + k0) * NR), k * NR),
                    BOperand::Strided(b) => {
                        pack_panels(bl.b.as_mut_ptr(), steps * NR, b, n0, ncols, k0, steps);
                        (bl.b.as_ptr(), steps * NR)
                    }
                };
                let (first, last) = (chunk == 0, chunk + 1 == bl.chunks);
                let mut m0 = rows.start;
                while m0 < rows.end {
                    let count = bl.mc.min(rows.end - m0);
                    pack_strips(bl.a.as_mut_ptr(), a, m0, count, k0, steps);
                    for p in 0..panels {
                        let col = n0 + p * NR;
                        let strip = Strip { a: bl.a.as_ptr(), steps, first: m0, rows: count, col, cols: NR.min(n - col) };
                        panel_tiles(&strip, b_base.add(p * b_stride), m, n, first, last, e, c, out);
                    }
                    m0 += count;
                }
            }
            n0 += ncols;
        }
    }
}

/// Packs rows `m0..m0 + rows` of `a`, steps `k0..k0 + steps`, into `MR`-row strips (`steps x MR` floats
/// each, k-major); rows past the matrix are zero.
unsafe fn pack_strips(dst: *mut f32, a: &Operand, m0: usize, rows: usize, k0: usize, steps: usize) {
    let (rs, cs) = (a.row_stride, a.col_stride);
    let mut s = 0;
    while s * MR < rows {
        let d = dst.add(s * steps * MR);
        let first = m0 + s * MR;
        let valid = MR.min(rows - s * MR);
        if valid == MR && rs == 1 {
            // A transposed: the strip's rows are contiguous at each step.
            for t in 0..steps {
                copy_floats(d.add(t * MR), a.ptr.add(first + (k0 + t) * cs), MR);
            }
        } else if valid == MR && cs == 1 && MR == v::LANES {
            // Row-major A: four rows read a vector at a time and transposed into four steps.
            let row = |i: usize| a.ptr.add((first + i) * rs + k0);
            let mut t = 0;
            while t + v::LANES <= steps {
                let cols = v::transpose([v::load(row(0).add(t)), v::load(row(1).add(t)), v::load(row(2).add(t)), v::load(row(3).add(t))]);
                for (q, c) in cols.iter().enumerate() {
                    v::store(d.add((t + q) * MR), *c);
                }
                t += v::LANES;
            }
            for t in t..steps {
                for i in 0..MR {
                    *d.add(t * MR + i) = *row(i).add(t);
                }
            }
        } else {
            for i in 0..MR {
                if i < valid {
                    let src = a.ptr.add((first + i) * rs + k0 * cs);
                    for t in 0..steps {
                        *d.add(t * MR + i) = *src.add(t * cs);
                    }
                } else {
                    for t in 0..steps {
                        *d.add(t * MR + i) = 0.0;
                    }
                }
            }
        }
        s += 1;
    }
}

/// Packs columns `n0..n0 + cols` of `b`, steps `k0..k0 + steps`, into `NR`-wide panels `stride` floats
/// apart; columns past the matrix are zero.
unsafe fn pack_panels(dst: *mut f32, stride: usize, b: &Operand, n0: usize, cols: usize, k0: usize, steps: usize) {
    let (rs, cs) = (b.row_stride, b.col_stride);
    for p in 0..cols.div_ceil(NR) {
        let d = dst.add(p * stride);
        let col = n0 + p * NR;
        let valid = NR.min(n0 + cols - col);
        let src = b.ptr.add(k0 * rs + col * cs);
        if cs == 1 && valid == NR {
            for t in 0..steps {
                copy_floats(d.add(t * NR), src.add(t * rs), NR);
            }
        } else {
            // Column by column: a transposed B (attention's K^T) is read along its contiguous rows.
            for j in 0..NR {
                if j < valid {
                    let s = src.add(j * cs);
                    for t in 0..steps {
                        *d.add(t * NR + j) = *s.add(t * rs);
                    }
                } else {
                    for t in 0..steps {
                        *d.add(t * NR + j) = 0.0;
                    }
                }
            }
        }
    }
}
