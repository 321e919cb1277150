//! snmalloc-rs's own C functions, declared in `preload/include/snmalloc_rs.h`
//! (feature `override`, every platform): whether a block is snmalloc's, and
//! where the memory is.

use core::ffi::{c_int, c_void};

/// Whether snmalloc owns the block at `p` (0 or 1). Not part of any libc:
/// it lets a program, or a test, check that this library really serves it.
#[no_mangle]
pub extern "C" fn snmalloc_rs_owns(p: *const c_void) -> c_int {
    c_int::from(crate::owns(p.cast()))
}

/// `struct snmalloc_rs_memory_usage`: where the memory is (`crate::Memory`), for C.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryUsageC {
    /// Bytes held by the program's threads now.
    pub current: usize,
    /// The most ever held at once.
    pub peak: usize,
    /// Freed, and kept committed for reuse.
    pub retained: usize,
    /// Given back to the operating system since the start, in all.
    pub returned: u64,
    /// Address space reserved from the operating system.
    pub reserved: usize,
}

/// Fills `*out` with where snmalloc's memory is now; does nothing for NULL.
///
/// # Safety
/// `out` is NULL or valid for writing one `snmalloc_rs_memory_usage`.
#[no_mangle]
pub unsafe extern "C" fn snmalloc_rs_memory_usage(out: *mut MemoryUsageC) {
    let u = crate::memory();
    // SAFETY: the caller passes NULL or a writable struct.
    if let Some(out) = unsafe { out.as_mut() } {
        *out = MemoryUsageC {
            current: u.in_use,
            peak: u.peak_in_use,
            retained: u.retained,
            returned: u.given_back,
            reserved: u.reserved,
        };
    }
}

/// Gives back to the OS every freed range kept for reuse; returns the bytes
/// (`malloc_trim` does the same and returns whether there were any).
#[no_mangle]
pub extern "C" fn snmalloc_rs_trim() -> usize {
    crate::trim()
}
