//! Linear-memory allocation for buffers JavaScript fills and reads, and the build's identity.

use std::alloc::{alloc, dealloc, Layout};

/// Alignment of every buffer handed to JavaScript: one v128.
const ALIGN: usize = 16;

/// Allocates `bytes` (16-byte aligned) in linear memory; 0 when memory cannot grow that far.
#[no_mangle]
pub extern "C" fn atrous_alloc(bytes: usize) -> *mut u8 {
    match Layout::from_size_align(bytes.max(1), ALIGN) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { alloc(layout) },
        Err(_) => std::ptr::null_mut(),
    }
}

/// Frees a buffer from `atrous_alloc` (`bytes` as given there).
#[no_mangle]
pub extern "C" fn atrous_free(ptr: *mut u8, bytes: usize) {
    if ptr.is_null() {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(bytes.max(1), ALIGN) {
        // SAFETY: the caller returns a pointer it got from `atrous_alloc` with the same size.
        unsafe { dealloc(ptr, layout) }
    }
}

/// The instruction set the kernels were compiled for: an `isa` code of the ABI table.
#[no_mangle]
pub extern "C" fn atrous_isa() -> u32 {
    atrous_kernels::isa::ID as u32
}

/// A one-element boxed value without aborting when memory is exhausted (`Box::new` would).
pub fn try_box<T>(value: T) -> Option<*mut T> {
    let mut boxed = Vec::new();
    boxed.try_reserve_exact(1).ok()?;
    boxed.push(value);
    // One-element Vec -> Box without a second allocation.
    Some(Box::into_raw(boxed.into_boxed_slice()) as *mut T)
}
