//! Weights with subnormal floats (magnitudes below 2^-126) are flushed to zero once, when a plan packs them.
//! x86 cores handle a subnormal operand of a vector multiply in a microcode assist of about a hundred cycles,
//! and wasm cannot ask for flush-to-zero or denormals-are-zero: the built-in model's rate-9 ASPP branch (64
//! channels, 15 % of its weights subnormal after weight decay) took 187-243 ms per run on an Intel Xeon
//! against 11.5 ms for the same conv with random weights. A subnormal weight changes any output by less than
//! 2^-126 times an input, far below the rounding of a sum of normal products, so flushing it moves no result
//! a model can tell apart (native runtimes flush too where the CPU lets them).

use alloc::borrow::Cow;
use alloc::vec::Vec;

use crate::status::Status;

/// Whether `x` is subnormal (not zero, below the smallest normal magnitude).
#[inline(always)]
fn is_subnormal(x: f32) -> bool {
    x != 0.0 && x.abs() < f32::MIN_POSITIVE
}

/// `weights` with every subnormal replaced by a zero of the same sign: borrowed as they are when they have
/// none (the usual case), so that packing a plan makes no transient copy of its weights.
pub fn without_subnormals(weights: &[f32]) -> Result<Cow<'_, [f32]>, Status> {
    if weights.iter().any(|&w| is_subnormal(w)) {
        Ok(Cow::Owned(flush_subnormals(weights)?))
    } else {
        Ok(Cow::Borrowed(weights))
    }
}

/// `weights` with every subnormal replaced by a zero of the same sign.
pub fn flush_subnormals(weights: &[f32]) -> Result<Vec<f32>, Status> {
    let mut out = Vec::new();
    out.try_reserve_exact(weights.len()).map_err(|_| Status::OutOfMemory)?;
    out.extend(weights.iter().map(|&w| if is_subnormal(w) { 0.0f32.copysign(w) } else { w }));
    Ok(out)
}

/// Flushes the subnormals of `data` in place.
pub fn flush_subnormals_in_place(data: &mut [f32]) {
    for w in data.iter_mut().filter(|w| is_subnormal(**w)) {
        *w = 0.0f32.copysign(*w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_only_subnormals_keeping_the_sign() {
        let tiny = f32::MIN_POSITIVE;
        let w = [1.0, -2.5, tiny, -tiny, tiny / 2.0, -tiny / 3.0, f32::from_bits(1), 0.0, -0.0, 1e-30];
        let out = flush_subnormals(&w).unwrap();
        let expect = [1.0, -2.5, tiny, -tiny, 0.0, -0.0, 0.0, 0.0, -0.0, 1e-30];
        for (o, e) in out.iter().zip(expect) {
            assert_eq!(o.to_bits(), e.to_bits(), "{o:e} vs {e:e}");
        }
        let mut in_place = w;
        flush_subnormals_in_place(&mut in_place);
        assert_eq!(in_place.map(f32::to_bits), out.iter().map(|x| x.to_bits()).collect::<Vec<_>>()[..]);
    }
}
