//! jemalloc's non-standard API, which FreeBSD's libc exports (its allocator
//! is jemalloc) and FreeBSD programs call: answered by snmalloc so that a
//! preloaded process never mixes the two allocators.
//!
//! Flags: `MALLOCX_LG_ALIGN(la)` in the low 6 bits, `MALLOCX_ZERO` (0x40);
//! the tcache and arena bits have no meaning for snmalloc and are ignored.

use crate::ffi;
use core::ffi::{c_char, c_int, c_void};

const LG_ALIGN_MASK: c_int = 0x3f;
const ZERO: c_int = 0x40;
/// FreeBSD's and Linux's ENOENT.
const ENOENT: c_int = 2;

fn align_of_flags(flags: c_int) -> usize {
    match flags & LG_ALIGN_MASK {
        0 => 1,
        lg => 1usize << lg,
    }
}

/// `mallocx`: NULL on failure (no errno, as jemalloc).
#[no_mangle]
pub extern "C" fn mallocx(size: usize, flags: c_int) -> *mut c_void {
    let align = align_of_flags(flags);
    // SAFETY: align is a power of two.
    unsafe {
        if flags & ZERO != 0 {
            ffi::snrs_aligned_alloc_zeroed(align, size)
        } else {
            ffi::snrs_aligned_alloc(align, size)
        }
    }
}

/// `rallocx`: resize, honouring the alignment and zeroing the bytes past
/// the old usable size with `MALLOCX_ZERO`. NULL (block intact) on failure.
///
/// # Safety
/// `p` is a live block of ours.
#[no_mangle]
pub unsafe extern "C" fn rallocx(p: *mut c_void, size: usize, flags: c_int) -> *mut c_void {
    // SAFETY: the caller's live block.
    let old = unsafe { ffi::snrs_usable_size(p) };
    let q = mallocx(size, flags & LG_ALIGN_MASK);
    if q.is_null() {
        return q;
    }
    let keep = old.min(size);
    // SAFETY: both blocks hold at least `keep` bytes and are distinct.
    unsafe { core::ptr::copy_nonoverlapping(p.cast::<u8>(), q.cast::<u8>(), keep) };
    if flags & ZERO != 0 && size > keep {
        // SAFETY: q holds `size` bytes.
        unsafe { core::ptr::write_bytes(q.cast::<u8>().add(keep), 0, size - keep) };
    }
    // SAFETY: the old block is no longer used.
    unsafe { ffi::snrs_free(p) };
    q
}

/// `xallocx`: resizing in place beyond the usable size is never possible in
/// snmalloc; returns the block's (unchanged) usable size.
///
/// # Safety
/// `p` is a live block of ours.
#[no_mangle]
pub unsafe extern "C" fn xallocx(
    p: *mut c_void,
    _size: usize,
    _extra: usize,
    _flags: c_int,
) -> usize {
    // SAFETY: the caller's live block.
    unsafe { ffi::snrs_usable_size(p) }
}

/// `sallocx`: the usable size.
///
/// # Safety
/// `p` is a live block of ours.
#[no_mangle]
pub unsafe extern "C" fn sallocx(p: *const c_void, _flags: c_int) -> usize {
    // SAFETY: the caller's live block.
    unsafe { ffi::snrs_usable_size(p) }
}

/// `dallocx`: free.
///
/// # Safety
/// `p` is a live block.
#[no_mangle]
pub unsafe extern "C" fn dallocx(p: *mut c_void, _flags: c_int) {
    // SAFETY: the caller's live block.
    unsafe { ffi::snrs_free(p) }
}

/// `sdallocx`: free (the size is a hint).
///
/// # Safety
/// `p` is a live block.
#[no_mangle]
pub unsafe extern "C" fn sdallocx(p: *mut c_void, _size: usize, _flags: c_int) {
    // SAFETY: the caller's live block.
    unsafe { ffi::snrs_free(p) }
}

/// `nallocx`: the usable size `mallocx(size, flags)` would give; 0 if too
/// large.
#[no_mangle]
pub extern "C" fn nallocx(size: usize, flags: c_int) -> usize {
    let align = align_of_flags(flags);
    let Some(padded) = size.max(1).checked_next_multiple_of(align) else {
        return 0;
    };
    // SAFETY: pure.
    unsafe { ffi::snrs_round_size(padded.max(align)) }
}

/// `mallctl`: jemalloc's tuning and statistics tree does not exist here.
#[no_mangle]
pub extern "C" fn mallctl(
    _name: *const c_char,
    _old: *mut c_void,
    _oldlen: *mut usize,
    _new: *mut c_void,
    _newlen: usize,
) -> c_int {
    ENOENT
}

/// `mallctlnametomib`: see `mallctl`.
#[no_mangle]
pub extern "C" fn mallctlnametomib(
    _name: *const c_char,
    _mib: *mut usize,
    _miblen: *mut usize,
) -> c_int {
    ENOENT
}

/// `mallctlbymib`: see `mallctl`.
#[no_mangle]
pub extern "C" fn mallctlbymib(
    _mib: *const usize,
    _miblen: usize,
    _old: *mut c_void,
    _oldlen: *mut usize,
    _new: *mut c_void,
    _newlen: usize,
) -> c_int {
    ENOENT
}

// The flag logic runs in this crate's unit tests on Linux, since no FreeBSD
// machine runs the library (scripts/build-freebsd.sh only builds it).
#[cfg(test)]
mod tests {
    use super::*;

    const fn lg_align(lg: c_int) -> c_int {
        lg
    }

    #[test]
    fn alignment_flags_are_honoured() {
        for lg in [0, 3, 4, 6, 12, 16, 21] {
            let p = mallocx(100, lg_align(lg));
            assert!(!p.is_null());
            assert_eq!(p as usize % (1usize << lg), 0, "MALLOCX_LG_ALIGN({lg})");
            // SAFETY: a live block from mallocx.
            unsafe {
                assert!(sallocx(p, 0) >= 100);
                assert_eq!(sallocx(p, 0), ffi::snrs_usable_size(p));
                dallocx(p, 0);
            }
        }
        // The tcache and arena bits are ignored.
        let p = mallocx(64, lg_align(6) | (1 << 8) | (5 << 20));
        assert_eq!(p as usize % 64, 0);
        // SAFETY: a live block.
        unsafe { sdallocx(p, 64, 0) };
    }

    #[test]
    fn zero_flag_zeroes_new_and_grown_bytes() {
        let p = mallocx(4096, ZERO).cast::<u8>();
        // SAFETY: 4096 bytes from mallocx.
        unsafe {
            assert!(core::slice::from_raw_parts(p, 4096).iter().all(|&b| b == 0));
            core::ptr::write_bytes(p, 0xab, 4096);
            let q = rallocx(p.cast(), 100_000, ZERO | lg_align(12)).cast::<u8>();
            assert!(!q.is_null());
            assert_eq!(q as usize % 4096, 0);
            let s = core::slice::from_raw_parts(q, 100_000);
            assert!(s[..4096].iter().all(|&b| b == 0xab), "contents kept");
            assert!(s[4096..].iter().all(|&b| b == 0), "growth zeroed");
            dallocx(q.cast(), 0);
        }
    }

    #[test]
    fn nallocx_and_xallocx_report_usable_sizes() {
        for size in [1, 17, 1000, 70_000, 3 << 20] {
            let p = mallocx(size, 0);
            // SAFETY: a live block.
            unsafe {
                assert_eq!(nallocx(size, 0), sallocx(p, 0), "size {size}");
                // Never grows in place beyond the usable size.
                assert_eq!(xallocx(p, size * 4, 0, 0), sallocx(p, 0));
                dallocx(p, 0);
            }
        }
    }

    #[test]
    fn mallctl_has_no_tree() {
        let name = c"stats.allocated";
        let mut mib = [0usize; 4];
        let mut len = mib.len();
        assert_eq!(
            mallctl(
                name.as_ptr(),
                core::ptr::null_mut(),
                core::ptr::null_mut(),
                core::ptr::null_mut(),
                0
            ),
            ENOENT
        );
        assert_eq!(
            mallctlnametomib(name.as_ptr(), mib.as_mut_ptr(), &mut len),
            ENOENT
        );
    }
}
