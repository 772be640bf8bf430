//! Scalar stand-in for a 4-lane vector: the same API as `simd128`, lane by lane.
#![allow(dead_code)]

pub const NAME: &str = "scalar";
/// f32 lanes in one vector `V`: drivers step by this, never by a literal.
pub const LANES: usize = 4;

#[derive(Clone, Copy, Debug)]
pub struct V(pub [f32; 4]);

#[inline(always)]
fn map(a: V, f: impl Fn(f32) -> f32) -> V {
    V([f(a.0[0]), f(a.0[1]), f(a.0[2]), f(a.0[3])])
}
#[inline(always)]
fn zip(a: V, b: V, f: impl Fn(f32, f32) -> f32) -> V {
    V([f(a.0[0], b.0[0]), f(a.0[1], b.0[1]), f(a.0[2], b.0[2]), f(a.0[3], b.0[3])])
}

#[inline(always)]
pub fn splat(x: f32) -> V {
    V([x; 4])
}
#[inline(always)]
pub fn zero() -> V {
    splat(0.0)
}
/// # Safety
/// `p` must be valid for reading 4 floats.
#[inline(always)]
pub unsafe fn load(p: *const f32) -> V {
    V([*p, *p.add(1), *p.add(2), *p.add(3)])
}
/// # Safety
/// `p` must be valid for reading 1 float.
#[inline(always)]
pub unsafe fn load_splat(p: *const f32) -> V {
    splat(*p)
}
/// # Safety
/// `p` must be valid for writing 4 floats.
#[inline(always)]
pub unsafe fn store(p: *mut f32, v: V) {
    *p = v.0[0];
    *p.add(1) = v.0[1];
    *p.add(2) = v.0[2];
    *p.add(3) = v.0[3];
}
#[inline(always)]
pub fn add(a: V, b: V) -> V {
    zip(a, b, |x, y| x + y)
}
#[inline(always)]
pub fn mul(a: V, b: V) -> V {
    zip(a, b, |x, y| x * y)
}
/// `a * b + c`
#[inline(always)]
pub fn madd(a: V, b: V, c: V) -> V {
    zip(zip(a, b, |x, y| x * y), c, |x, y| x + y)
}
#[inline(always)]
pub fn max(a: V, b: V) -> V {
    zip(a, b, |x, y| if x > y { x } else { y })
}
#[inline(always)]
pub fn min(a: V, b: V) -> V {
    zip(a, b, |x, y| if x < y { x } else { y })
}
/// Lanes of `a` where `a > 0`, else lanes of `b`.
#[inline(always)]
pub fn select_positive(a: V, b: V) -> V {
    zip(a, b, |x, y| if x > 0.0 { x } else { y })
}
#[inline(always)]
pub fn lanes(a: V) -> [f32; 4] {
    a.0
}
#[inline(always)]
pub fn from_lanes(l: [f32; 4]) -> V {
    V(l)
}
#[inline(always)]
pub fn apply_lanes(a: V, f: impl Fn(f32) -> f32) -> V {
    map(a, f)
}

/// `[a0, a2, b0, b2]`: every other lane of the 8 floats `a ++ b` (stride-2 gathers).
#[inline(always)]
pub fn even_lanes(a: V, b: V) -> V {
    V([a.0[0], a.0[2], b.0[0], b.0[2]])
}

/// Transposes a `LANES x LANES` tile held as rows: lane `j` of output `i` is lane `i` of input `j` (blocked
/// Transpose copies, packing GEMM strips).
#[inline(always)]
pub fn transpose(r: [V; LANES]) -> [V; LANES] {
    let mut out = [zero(); LANES];
    for (i, o) in out.iter_mut().enumerate() {
        for (j, row) in r.iter().enumerate() {
            o.0[j] = row.0[i];
        }
    }
    out
}
