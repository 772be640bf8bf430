//! Four-lane f32 vectors, one module per instruction set. The drivers and micro-kernels are written once
//! against this small API; the build's target features pick the module:
//! - `relaxed`: wasm simd128 + relaxed-simd, so multiply-add is one fused instruction where the engine has it;
//! - `simd128`: wasm simd128, multiply-add as a multiply then an add;
//! - `scalar`: plain f32 arithmetic for engines without SIMD (and for host tests).

#[cfg(all(target_arch = "wasm32", target_feature = "simd128", target_feature = "relaxed-simd"))]
pub mod relaxed;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd128;
pub mod scalar;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128", target_feature = "relaxed-simd"))]
pub use relaxed as active;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128", not(target_feature = "relaxed-simd")))]
pub use simd128 as active;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub use scalar as active;

/// Name of the instruction set this build was compiled for.
pub const NAME: &str = active::NAME;
/// Lanes of the active vector type.
pub const LANES: usize = active::LANES;

/// The ISA ids of the ABI (`atrous_isa`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum IsaId {
    Scalar = 0,
    Simd128 = 1,
    Relaxed = 2,
}

pub const ID: IsaId = match active::NAME.as_bytes() {
    b"relaxed" => IsaId::Relaxed,
    b"simd128" => IsaId::Simd128,
    _ => IsaId::Scalar,
};

/// Floats from which `copy_floats` calls `memory.copy` (its call costs about as much as copying this many
/// floats with vector moves).
const LONG_COPY: usize = 1024;

/// Copies `n` floats. Short rows (the depthwise scratch fill, GEMM packing) stay a loop of vector moves:
/// V8 implements `memory.copy` as a call into the runtime (measured about 40 ns a call, a quarter of a
/// 960-channel 33x33 depthwise layer's time when every 33-float row went through it). The loads are
/// volatile because LLVM otherwise recognises the loop as a memcpy and emits `memory.copy` anyway.
/// Long runs do go to `memory.copy`, whose native memmove outruns 16-byte moves once the call is paid.
///
/// # Safety
/// `src` and `dst` valid for `n` floats, not overlapping.
#[inline(always)]
pub unsafe fn copy_floats(dst: *mut f32, src: *const f32, n: usize) {
    /// A vector at any alignment: a volatile read of it is an unaligned vector load.
    #[repr(C, packed)]
    #[derive(Clone, Copy)]
    struct Unaligned(active::V);
    if n >= LONG_COPY {
        core::ptr::copy_nonoverlapping(src, dst, n);
        return;
    }
    let mut i = 0;
    while i + LANES <= n {
        let x = core::ptr::read_volatile(src.add(i) as *const Unaligned);
        active::store(dst.add(i), x.0);
        i += LANES;
    }
    while i < n {
        *dst.add(i) = core::ptr::read_volatile(src.add(i));
        i += 1;
    }
}

/// The first `n` (< `LANES`) floats at `p` in a vector, the other lanes zero: tails of vector loops go
/// through the same vector code as the body.
///
/// # Safety
/// `p` valid for reading `n` floats.
#[inline(always)]
pub unsafe fn load_partial(p: *const f32, n: usize) -> active::V {
    let mut l = [0.0f32; LANES];
    for (i, x) in l.iter_mut().enumerate().take(n) {
        *x = *p.add(i);
    }
    active::from_lanes(l)
}

/// The first `n` (<= `LANES`) floats at `p`: a full vector load when `n` is `LANES`.
///
/// # Safety
/// `p` valid for reading `n` floats.
#[inline(always)]
pub unsafe fn load_upto(p: *const f32, n: usize) -> active::V {
    if n == LANES {
        active::load(p)
    } else {
        load_partial(p, n)
    }
}

/// Stores the first `n` (<= `LANES`) lanes of `x` at `p`: a full vector store when `n` is `LANES`.
///
/// # Safety
/// `p` valid for writing `n` floats.
#[inline(always)]
pub unsafe fn store_upto(p: *mut f32, x: active::V, n: usize) {
    if n == LANES {
        active::store(p, x)
    } else {
        store_partial(p, x, n)
    }
}

/// Stores the first `n` (< `LANES`) lanes of `x` at `p`.
///
/// # Safety
/// `p` valid for writing `n` floats.
#[inline(always)]
pub unsafe fn store_partial(p: *mut f32, x: active::V, n: usize) {
    let l = active::lanes(x);
    for (i, &x) in l.iter().enumerate().take(n) {
        *p.add(i) = x;
    }
}
