//! C++ `operator new` / `operator delete`, all 20 replaceable forms, served
//! by snmalloc (feature `override`). Itanium C++ ABI names for LP64.
//!
//! The fast path allocates here; only on failure does control go to C++
//! (`shim/new_failure.cc`), which calls the new-handler and throws
//! `std::bad_alloc`. Those functions are `C-unwind` so that the exception
//! passes through this frame to the caller.

use crate::ffi;
use core::ffi::c_void;

/// The body of every `operator new`: `align` is 0 for the unaligned forms.
#[inline(always)]
fn new_impl(size: usize, align: usize, nothrow: bool) -> *mut c_void {
    let p = if align == 0 {
        // SAFETY: any size is accepted.
        unsafe { ffi::snrs_malloc(size) }
    } else if align.is_power_of_two() {
        // SAFETY: align is a power of two.
        unsafe { ffi::snrs_aligned_alloc(align, size) }
    } else {
        // An invalid std::align_val_t is undefined behaviour in C++; treat it
        // as a failure rather than guess.
        return new_failed_invalid(nothrow);
    };
    if !p.is_null() {
        return p;
    }
    if nothrow {
        // SAFETY: the failure path accepts any size and alignment.
        unsafe { ffi::snrs_new_failed_nothrow(size, align) }
    } else {
        // SAFETY: as above; it returns memory or unwinds with bad_alloc.
        unsafe { ffi::snrs_new_failed(size, align) }
    }
}

#[cold]
fn new_failed_invalid(nothrow: bool) -> *mut c_void {
    if nothrow {
        core::ptr::null_mut()
    } else {
        // SAFETY: usize::MAX bytes can never be allocated, so this throws
        // std::bad_alloc after consulting the new-handler.
        unsafe { ffi::snrs_new_failed(usize::MAX, 0) }
    }
}

macro_rules! operator_new {
    ($($sym:literal $fn:ident($($arg:ident: $ty:ty),*) => align = $align:expr, nothrow = $nothrow:expr;)*) => {$(
        #[doc = concat!("C++ `", $sym, "`.")]
        #[export_name = $sym]
        pub extern "C-unwind" fn $fn(size: usize $(, $arg: $ty)*) -> *mut c_void {
            new_impl(size, $align, $nothrow)
        }
    )*};
}

operator_new! {
    "_Znwm" new_() => align = 0, nothrow = false;
    "_Znam" new_array() => align = 0, nothrow = false;
    "_ZnwmRKSt9nothrow_t" new_nothrow(_nt: *const c_void) => align = 0, nothrow = true;
    "_ZnamRKSt9nothrow_t" new_array_nothrow(_nt: *const c_void) => align = 0, nothrow = true;
    "_ZnwmSt11align_val_t" new_aligned(align: usize) => align = align, nothrow = false;
    "_ZnamSt11align_val_t" new_array_aligned(align: usize) => align = align, nothrow = false;
    "_ZnwmSt11align_val_tRKSt9nothrow_t" new_aligned_nothrow(align: usize, _nt: *const c_void) => align = align, nothrow = true;
    "_ZnamSt11align_val_tRKSt9nothrow_t" new_array_aligned_nothrow(align: usize, _nt: *const c_void) => align = align, nothrow = true;
}

macro_rules! operator_delete {
    ($($sym:literal $fn:ident($($arg:ident: $ty:ty),*) => $body:expr;)*) => {$(
        #[doc = concat!("C++ `", $sym, "`.")]
        ///
        /// # Safety
        /// `p` is null or a live block from the matching `operator new`.
        #[export_name = $sym]
        pub unsafe extern "C" fn $fn(p: *mut c_void $(, $arg: $ty)*) {
            // SAFETY: forwarded under the caller's contract.
            unsafe { $body(p $(, $arg)*) }
        }
    )*};
}

unsafe fn unsized_free(p: *mut c_void, _ignored: *const c_void) {
    // SAFETY: caller's contract.
    unsafe { ffi::snrs_free(p) }
}

unsafe fn aligned_free(p: *mut c_void, align: usize) {
    let _ = align;
    // SAFETY: caller's contract; snmalloc finds the block's size itself.
    unsafe { ffi::snrs_free(p) }
}

unsafe fn sized_aligned_free(p: *mut c_void, size: usize, align: usize) {
    if align.is_power_of_two() {
        // SAFETY: caller's contract.
        unsafe { ffi::snrs_aligned_free_sized(p, align, size) }
    } else {
        // SAFETY: caller's contract.
        unsafe { ffi::snrs_free(p) }
    }
}

operator_delete! {
    "_ZdlPv" delete_(x: *const c_void) => unsized_free;
    "_ZdaPv" delete_array(x: *const c_void) => unsized_free;
    "_ZdlPvRKSt9nothrow_t" delete_nothrow(x: *const c_void) => unsized_free;
    "_ZdaPvRKSt9nothrow_t" delete_array_nothrow(x: *const c_void) => unsized_free;
    "_ZdlPvm" delete_sized(size: usize) => ffi::snrs_free_sized;
    "_ZdaPvm" delete_array_sized(size: usize) => ffi::snrs_free_sized;
    "_ZdlPvSt11align_val_t" delete_aligned(align: usize) => aligned_free;
    "_ZdaPvSt11align_val_t" delete_array_aligned(align: usize) => aligned_free;
    "_ZdlPvmSt11align_val_t" delete_sized_aligned(size: usize, align: usize) => sized_aligned_free;
    "_ZdaPvmSt11align_val_t" delete_array_sized_aligned(size: usize, align: usize) => sized_aligned_free;
    "_ZdlPvSt11align_val_tRKSt9nothrow_t" delete_aligned_nothrow(align: usize, x: *const c_void) => aligned_free_nothrow;
    "_ZdaPvSt11align_val_tRKSt9nothrow_t" delete_array_aligned_nothrow(align: usize, x: *const c_void) => aligned_free_nothrow;
}

unsafe fn aligned_free_nothrow(p: *mut c_void, _align: usize, _ignored: *const c_void) {
    // SAFETY: caller's contract.
    unsafe { ffi::snrs_free(p) }
}
