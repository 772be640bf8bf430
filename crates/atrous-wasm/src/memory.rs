//! Linear-memory allocation for buffers JavaScript fills and reads, the boxed handles the exports make
//! and free, and the build's identity.

use std::alloc::{alloc, dealloc, Layout};

use atrous_kernels::Status;

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

/// The end of every `*_create` export: the made handle written to `*out` and 0, or the failure's status
/// code with `*out` untouched.
///
/// # Safety
/// `out` valid for one pointer.
pub unsafe fn hand_out<T>(made: Result<*mut T, Status>, out: *mut *mut T) -> i32 {
    match made {
        Ok(handle) => {
            *out = handle;
            0
        }
        Err(e) => e as i32,
    }
}

/// The body of every `*_free` export: drops a handle made by `try_box` (null is a no-op).
///
/// # Safety
/// `handle` null or from `try_box`, not freed yet.
pub unsafe fn free_handle<T>(handle: *mut T) {
    if !handle.is_null() {
        drop(Box::from_raw(handle));
    }
}
