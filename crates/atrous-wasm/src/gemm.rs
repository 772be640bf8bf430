//! Matrix multiply (MatMul, Gemm): B packed once into a handle, and a run under a `gemm_desc` descriptor.
//!
//! Descriptor (`gemm_desc`, u32s; f32 as bits): M, N, K; each operand as a byte address and strides in
//! floats (row, column, then one per batch dim; 0 broadcasts); `B_PACKED` a handle from
//! `atrous_gemm_pack_b` (then B's address and strides are ignored) or 0; `C_PTR` 0 for no addend, `BIAS`
//! 0 for no bias (else N floats); `OUT` the row-major `batch... x M x N` output, which overlaps no operand;
//! `BATCH_RANK` outer dims in `BATCH_DIMS` (unused slots ignored); `ACTIVATION` an `activation` code;
//! `TEAM` a team to split the output over, or 0.
//!
//! Every extent an operand's shape and strides reach is checked against the memory before any access,
//! so a bad descriptor returns a status instead of trapping.

use atrous_kernels::gemm::{BOperand, Gemm, Operand, PackedB, MAX_BATCH_DIMS};
use atrous_kernels::Status;

use crate::abi_table::abi_table;
use crate::conv::decode_activation;
use crate::memory::{free_handle, hand_out, try_box};
use crate::team::{runner, Team};

abi_table! {
    /// The u32 descriptor `atrous_gemm_run` reads.
    gemm_desc {
        M = 0,
        N = 1,
        K = 2,
        A_PTR = 3,
        A_ROW_STRIDE = 4,
        A_COL_STRIDE = 5,
        B_PTR = 6,
        B_ROW_STRIDE = 7,
        B_COL_STRIDE = 8,
        /// A handle from `atrous_gemm_pack_b`, or 0.
        B_PACKED = 9,
        /// 0 for no addend.
        C_PTR = 10,
        C_ROW_STRIDE = 11,
        C_COL_STRIDE = 12,
        /// f32 bits.
        ALPHA = 13,
        /// f32 bits.
        BETA = 14,
        /// N floats, or 0.
        BIAS = 15,
        OUT = 16,
        /// An `activation` code, then its two parameters (f32 bits).
        ACTIVATION = 17,
        ACTIVATION_P0 = 18,
        ACTIVATION_P1 = 19,
        BATCH_RANK = 20,
        /// 4 dims.
        BATCH_DIMS = 21,
        /// 4 strides each, in floats.
        A_BATCH_STRIDES = 25,
        B_BATCH_STRIDES = 29,
        C_BATCH_STRIDES = 33,
        /// A team handle to split the product over, or 0.
        TEAM = 37,
        LEN = 38,
    }
}

/// Bytes of linear memory.
fn memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        u64::MAX
    }
}

/// Whether every float at `ptr + sum(i_d * stride_d)`, `i_d < dim_d`, lies in memory. Empty shapes read
/// nothing and always fit.
fn fits(ptr: u32, dims: &[(usize, usize)]) -> bool {
    if dims.iter().any(|&(d, _)| d == 0) {
        return true;
    }
    let last: u128 = dims.iter().map(|&(d, s)| (d as u128 - 1) * s as u128).sum();
    ptr != 0 && ptr as u128 + 4 * (last + 1) <= memory_bytes() as u128
}

fn operand(d: &[u32], ptr: usize, row: usize, col: usize, batch: usize) -> Operand {
    let strides: Vec<usize> = (0..MAX_BATCH_DIMS).map(|i| d[batch + i] as usize).collect();
    Operand::new(d[ptr] as usize as *const f32, d[row] as usize, d[col] as usize).with_batch_strides(&strides)
}

/// Whether `op` (rows x cols per batch) stays in memory.
fn operand_fits(op: &Operand, batch: &[usize], rows: usize, cols: usize) -> bool {
    let mut dims = vec![(rows, op.row_stride), (cols, op.col_stride)];
    dims.extend(batch.iter().zip(op.batch_strides).map(|(&n, s)| (n, s)));
    fits(op.ptr as usize as u32, &dims)
}

/// Packs the `k x n` matrix at `b` (element (i, j) at `b + i * row_stride + j * col_stride` floats) and
/// writes its handle to `*out`.
///
/// # Safety
/// `out` valid for one pointer.
#[no_mangle]
pub unsafe extern "C" fn atrous_gemm_pack_b(b: *const f32, k: usize, n: usize, row_stride: usize, col_stride: usize, out: *mut *mut PackedB) -> i32 {
    let made = (|| {
        if !fits(b as usize as u32, &[(k, row_stride), (n, col_stride)]) {
            return Err(Status::WeightLengthMismatch);
        }
        let packed = PackedB::pack(&Operand::new(b, row_stride, col_stride), k, n)?;
        try_box(packed).ok_or(Status::OutOfMemory)
    })();
    hand_out(made, out)
}

/// # Safety
/// `packed` from `atrous_gemm_pack_b`, not freed yet (or null).
#[no_mangle]
pub unsafe extern "C" fn atrous_gemm_packed_free(packed: *mut PackedB) {
    free_handle(packed);
}

/// Bytes the packed B holds.
///
/// # Safety
/// As `atrous_gemm_packed_free`, not null.
#[no_mangle]
pub unsafe extern "C" fn atrous_gemm_packed_bytes(packed: *const PackedB) -> usize {
    (*packed).bytes()
}

/// Runs the product the descriptor describes.
///
/// # Safety
/// `desc` valid for `gemm_desc::LEN` u32s; `B_PACKED` 0 or a live handle.
#[no_mangle]
pub unsafe extern "C" fn atrous_gemm_run(desc: *const u32) -> i32 {
    use gemm_desc as g;
    let d = std::slice::from_raw_parts(desc, g::LEN);
    Status::code((|| {
        let rank = d[g::BATCH_RANK] as usize;
        if rank > MAX_BATCH_DIMS {
            return Err(Status::InvalidDescriptor);
        }
        let batch: Vec<usize> = d[g::BATCH_DIMS..g::BATCH_DIMS + rank].iter().map(|&x| x as usize).collect();
        let (m, n, k) = (d[g::M] as usize, d[g::N] as usize, d[g::K] as usize);
        let a = operand(d, g::A_PTR, g::A_ROW_STRIDE, g::A_COL_STRIDE, g::A_BATCH_STRIDES);
        let packed = d[g::B_PACKED] as usize as *const PackedB;
        let b = if packed.is_null() {
            BOperand::Strided(operand(d, g::B_PTR, g::B_ROW_STRIDE, g::B_COL_STRIDE, g::B_BATCH_STRIDES))
        } else {
            BOperand::Packed(&*packed)
        };
        let c = (d[g::C_PTR] != 0).then(|| operand(d, g::C_PTR, g::C_ROW_STRIDE, g::C_COL_STRIDE, g::C_BATCH_STRIDES));
        let bias = (d[g::BIAS] != 0).then_some(d[g::BIAS] as usize as *const f32);
        let f = |i: usize| f32::from_bits(d[i]);
        let activation = decode_activation(d[g::ACTIVATION], f(g::ACTIVATION_P0), f(g::ACTIVATION_P1))?;
        let call = Gemm { m, n, k, batch: &batch, a, b, c, alpha: f(g::ALPHA), beta: f(g::BETA), bias, activation };
        let len = call.output_len()?;
        if !operand_fits(&a, &batch, m, k) {
            return Err(Status::InputLengthMismatch);
        }
        if let BOperand::Strided(b) = &call.b {
            if !operand_fits(b, &batch, k, n) {
                return Err(Status::WeightLengthMismatch);
            }
        }
        if let Some(c) = &call.c {
            if !operand_fits(c, &batch, m, n) {
                return Err(Status::ResidualLengthMismatch);
            }
        }
        if bias.is_some() && !fits(d[g::BIAS], &[(n, 1)]) {
            return Err(Status::BiasLengthMismatch);
        }
        if !fits(d[g::OUT], &[(len, 1)]) {
            return Err(Status::OutputLengthMismatch);
        }
        call.run(d[g::OUT] as usize as *mut f32, runner(d[g::TEAM] as usize as *const Team))
    })())
}
