//! The C allocation API of the preloadable library (feature `override`):
//! exported under the C names on Linux and FreeBSD (with glibc's semantics
//! where platforms differ; glibc's extras are in `glibc_api`), and used as
//! the interpose table's replacements on macOS.
//!
//! `malloc`, `free`, `calloc`, `realloc` and the other pure forwards are in
//! [`crate::c_api::forwards`]; the functions here validate their arguments first.

use crate::ffi;
use core::ffi::{c_int, c_void};

const ENOMEM: c_int = libc::ENOMEM;
const EINVAL: c_int = libc::EINVAL;

#[cold]
pub(crate) fn fail(err: c_int) -> *mut c_void {
    crate::platform::set_errno(err);
    core::ptr::null_mut()
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions and does not allocate.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// `reallocarray`: `realloc(p, n * size)` unless that overflows (`ENOMEM`).
///
/// # Safety
/// As `realloc`.
#[cfg_attr(not(target_os = "macos"), no_mangle)]
pub unsafe extern "C" fn reallocarray(p: *mut c_void, n: usize, size: usize) -> *mut c_void {
    match n.checked_mul(size) {
        // SAFETY: forwarded under the caller's contract.
        Some(total) => unsafe { ffi::snrs_realloc(p, total) },
        None => fail(ENOMEM),
    }
}

/// POSIX `posix_memalign`: `EINVAL` (and `*out` untouched) unless `align` is
/// a power of two multiple of `sizeof(void*)`; `ENOMEM` on failure.
///
/// # Safety
/// `out` is valid for a pointer write.
#[cfg_attr(not(target_os = "macos"), no_mangle)]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || align < core::mem::size_of::<*mut c_void>() {
        return EINVAL;
    }
    // SAFETY: align is a power of two.
    let p = unsafe { ffi::snrs_aligned_alloc(align, size) };
    if p.is_null() {
        return ENOMEM;
    }
    // SAFETY: the caller guarantees `out` is writable.
    unsafe { *out = p };
    0
}

/// C11 `aligned_alloc`: `align` must be a power of two (`EINVAL` otherwise,
/// as in glibc 2.38 and later).
///
/// # Safety
/// None beyond the C contract.
#[cfg_attr(not(target_os = "macos"), no_mangle)]
pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    if !align.is_power_of_two() {
        return fail(EINVAL);
    }
    // SAFETY: align is a power of two.
    unsafe { ffi::snrs_aligned_alloc(align, size) }
}

/// glibc `memalign`: an alignment that is not a power of two is rounded up
/// to one; `EINVAL` if that is impossible.
///
/// # Safety
/// None beyond the C contract.
#[cfg_attr(not(target_os = "macos"), no_mangle)]
pub unsafe extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    match align.max(1).checked_next_power_of_two() {
        // SAFETY: a is a power of two.
        Some(a) => unsafe { ffi::snrs_aligned_alloc(a, size) },
        None => fail(EINVAL),
    }
}

/// `valloc`: page-aligned.
///
/// # Safety
/// None beyond the C contract.
#[cfg_attr(not(target_os = "macos"), no_mangle)]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    // SAFETY: the page size is a power of two.
    unsafe { ffi::snrs_aligned_alloc(page_size(), size) }
}

/// `pvalloc`: page-aligned, size rounded up to whole pages (at least one).
///
/// # Safety
/// None beyond the C contract.
#[cfg_attr(not(target_os = "macos"), no_mangle)]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    let page = page_size();
    match size.max(1).checked_next_multiple_of(page) {
        // SAFETY: the page size is a power of two.
        Some(rounded) => unsafe { ffi::snrs_aligned_alloc(page, rounded) },
        None => fail(ENOMEM),
    }
}

/// BSD `reallocf`: `realloc` that frees the block when it fails.
///
/// # Safety
/// As `realloc`.
#[cfg(any(target_os = "freebsd", target_os = "macos"))]
#[cfg_attr(not(target_os = "macos"), no_mangle)]
pub unsafe extern "C" fn reallocf(p: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: forwarded under the caller's contract.
    let q = unsafe { ffi::snrs_realloc(p, size) };
    if q.is_null() && size != 0 {
        // SAFETY: realloc failed, so `p` is still live and now released.
        unsafe { ffi::snrs_free(p) };
    }
    q
}

/// `malloc_good_size` (macOS, also exported by mimalloc and jemalloc): the
/// usable size a request of `size` bytes would get.
#[cfg_attr(not(target_os = "macos"), no_mangle)]
pub extern "C" fn malloc_good_size(size: usize) -> usize {
    // SAFETY: a pure function of `size`.
    unsafe { ffi::snrs_round_size(size) }
}

/// C23 `free_aligned_sized`.
///
/// # Safety
/// `p` is NULL or a live block from `aligned_alloc(align, size)`.
#[cfg_attr(not(target_os = "macos"), no_mangle)]
pub unsafe extern "C" fn free_aligned_sized(p: *mut c_void, align: usize, size: usize) {
    if align.is_power_of_two() {
        // SAFETY: forwarded under the caller's contract.
        unsafe { ffi::snrs_aligned_free_sized(p, align, size) }
    } else {
        // SAFETY: no such block exists; release it without a size check.
        unsafe { ffi::snrs_free(p) }
    }
}
