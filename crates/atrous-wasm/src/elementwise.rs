//! Element-wise exports: binary ops with broadcasting (arithmetic and comparisons) and Where, over a
//! `broadcast_desc` descriptor. The unary ops are `atrous_activate` (feature_maps.rs): activations are the
//! one unary enum.

use atrous_kernels::elementwise::{binary, compare, logical, where_select, BinaryOp, Broadcast, CompareOp, LogicalOp};
use atrous_kernels::Status;

use crate::abi_table::{binary_op as op, broadcast_desc as desc};

enum Kind {
    Arithmetic(BinaryOp),
    Compare(CompareOp),
    Logical(LogicalOp),
}

fn decode_op(code: u32) -> Result<Kind, Status> {
    use Kind::*;
    Ok(match code as usize {
        op::ADD => Arithmetic(BinaryOp::Add),
        op::SUB => Arithmetic(BinaryOp::Sub),
        op::MUL => Arithmetic(BinaryOp::Mul),
        op::DIV => Arithmetic(BinaryOp::Div),
        op::POW => Arithmetic(BinaryOp::Pow),
        op::MAX => Arithmetic(BinaryOp::Max),
        op::MIN => Arithmetic(BinaryOp::Min),
        op::MOD => Arithmetic(BinaryOp::Mod),
        op::FMOD => Arithmetic(BinaryOp::Fmod),
        op::PRELU => Arithmetic(BinaryOp::PRelu),
        op::EQUAL => Compare(CompareOp::Equal),
        op::LESS => Compare(CompareOp::Less),
        op::LESS_OR_EQUAL => Compare(CompareOp::LessOrEqual),
        op::GREATER => Compare(CompareOp::Greater),
        op::GREATER_OR_EQUAL => Compare(CompareOp::GreaterOrEqual),
        op::AND => Logical(LogicalOp::And),
        op::OR => Logical(LogicalOp::Or),
        op::XOR => Logical(LogicalOp::Xor),
        _ => return Err(Status::InvalidDescriptor),
    })
}

/// The descriptor as a `Broadcast` of `K` operands.
///
/// # Safety
/// `d` valid for `broadcast_desc::LEN` u32s.
unsafe fn decode_broadcast<const K: usize>(d: *const u32) -> Result<Broadcast<K>, Status> {
    let d = std::slice::from_raw_parts(d, desc::LEN);
    let rank = d[desc::RANK] as usize;
    if rank > desc::MAX_RANK {
        return Err(Status::InvalidDescriptor);
    }
    let dims: [usize; desc::MAX_RANK] = std::array::from_fn(|i| d[desc::DIMS + i] as usize);
    let strides: [[usize; desc::MAX_RANK]; K] = std::array::from_fn(|k| std::array::from_fn(|i| d[desc::STRIDES + k * desc::MAX_RANK + i] as usize));
    Broadcast::new(&dims[..rank], std::array::from_fn(|k| &strides[k][..rank]))
}

/// `dst = a op b` with broadcasting: `op` a `binary_op` code, `desc` a `broadcast_desc` (operands a, b).
/// Arithmetic writes f32 to `dst`, comparisons u8 (0 or 1); the logical ops read bytes (`a`, `b` are then
/// u8 buffers) and write u8.
///
/// # Safety
/// `desc` valid for `broadcast_desc::LEN` u32s; `a`, `b` for the elements their strides span over the dims;
/// `dst` for the product of the dims; `dst` overlaps neither input unless it is one with the output's layout.
#[no_mangle]
pub unsafe extern "C" fn atrous_binary(code: u32, a: *const f32, b: *const f32, dst: *mut u8, d: *const u32) -> i32 {
    Status::code((|| {
        let kind = decode_op(code)?;
        let shape = decode_broadcast::<2>(d)?;
        match kind {
            Kind::Arithmetic(o) => binary(o, a, b, dst as *mut f32, &shape),
            Kind::Compare(o) => compare(o, a, b, dst, &shape),
            Kind::Logical(o) => logical(o, a as *const u8, b as *const u8, dst, &shape),
        }
        Ok(())
    })())
}

/// `dst = cond ? x : y` with broadcasting: `desc` a `broadcast_desc` (operands cond, x, y); `cond` bytes.
///
/// # Safety
/// As `atrous_binary`, `cond` valid for the bytes its strides span.
#[no_mangle]
pub unsafe extern "C" fn atrous_where(cond: *const u8, x: *const f32, y: *const f32, dst: *mut f32, d: *const u32) -> i32 {
    Status::code(decode_broadcast::<3>(d).map(|shape| where_select(cond, x, y, dst, &shape)))
}
