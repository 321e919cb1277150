//! C++ `operator new` / `operator delete`, all 20 replaceable forms, served
//! by snmalloc (feature `override`, Linux). Itanium C++ ABI names for LP64.
//!
//! Each is a forward to the C++ side (`shim/snmalloc_rs.cc`), which inlines
//! snmalloc's fast path and, on failure, calls the new-handler and throws
//! `std::bad_alloc` (`shim/new_failure.cc`). In the preloaded library the
//! exported operator *is* the C++ function (see `build.rs`, `--defsym`).

use crate::ffi;
use crate::libc_api::forward;
use core::ffi::c_void;

forward! {
    /// `operator new(size_t)`.
    "_Znwm" new_ => ffi::snrs_new(size: usize) -> *mut c_void;
    /// `operator new[](size_t)`.
    "_Znam" new_array => ffi::snrs_new(size: usize) -> *mut c_void;
    /// `operator new(size_t, const std::nothrow_t&)`.
    "_ZnwmRKSt9nothrow_t" new_nothrow => ffi::snrs_new_nothrow(size: usize, tag: *const c_void) -> *mut c_void;
    /// `operator new[](size_t, const std::nothrow_t&)`.
    "_ZnamRKSt9nothrow_t" new_array_nothrow => ffi::snrs_new_nothrow(size: usize, tag: *const c_void) -> *mut c_void;
    /// `operator new(size_t, std::align_val_t)`.
    "_ZnwmSt11align_val_t" new_aligned => ffi::snrs_new_aligned(size: usize, align: usize) -> *mut c_void;
    /// `operator new[](size_t, std::align_val_t)`.
    "_ZnamSt11align_val_t" new_array_aligned => ffi::snrs_new_aligned(size: usize, align: usize) -> *mut c_void;
    /// `operator new(size_t, std::align_val_t, const std::nothrow_t&)`.
    "_ZnwmSt11align_val_tRKSt9nothrow_t" new_aligned_nothrow => ffi::snrs_new_aligned_nothrow(size: usize, align: usize, tag: *const c_void) -> *mut c_void;
    /// `operator new[](size_t, std::align_val_t, const std::nothrow_t&)`.
    "_ZnamSt11align_val_tRKSt9nothrow_t" new_array_aligned_nothrow => ffi::snrs_new_aligned_nothrow(size: usize, align: usize, tag: *const c_void) -> *mut c_void;
    /// `operator delete(void*)`.
    "_ZdlPv" delete_ => ffi::snrs_free(p: *mut c_void);
    /// `operator delete[](void*)`.
    "_ZdaPv" delete_array => ffi::snrs_free(p: *mut c_void);
    /// `operator delete(void*, const std::nothrow_t&)` (the tag is ignored).
    "_ZdlPvRKSt9nothrow_t" delete_nothrow => ffi::snrs_free(p: *mut c_void);
    /// `operator delete[](void*, const std::nothrow_t&)`.
    "_ZdaPvRKSt9nothrow_t" delete_array_nothrow => ffi::snrs_free(p: *mut c_void);
    /// `operator delete(void*, size_t)`.
    "_ZdlPvm" delete_sized => ffi::snrs_free_sized(p: *mut c_void, size: usize);
    /// `operator delete[](void*, size_t)`.
    "_ZdaPvm" delete_array_sized => ffi::snrs_free_sized(p: *mut c_void, size: usize);
    /// `operator delete(void*, std::align_val_t)` (snmalloc finds the size).
    "_ZdlPvSt11align_val_t" delete_aligned => ffi::snrs_free(p: *mut c_void);
    /// `operator delete[](void*, std::align_val_t)`.
    "_ZdaPvSt11align_val_t" delete_array_aligned => ffi::snrs_free(p: *mut c_void);
    /// `operator delete(void*, size_t, std::align_val_t)`.
    "_ZdlPvmSt11align_val_t" delete_sized_aligned => ffi::snrs_delete_sized_aligned(p: *mut c_void, size: usize, align: usize);
    /// `operator delete[](void*, size_t, std::align_val_t)`.
    "_ZdaPvmSt11align_val_t" delete_array_sized_aligned => ffi::snrs_delete_sized_aligned(p: *mut c_void, size: usize, align: usize);
    /// `operator delete(void*, std::align_val_t, const std::nothrow_t&)`.
    "_ZdlPvSt11align_val_tRKSt9nothrow_t" delete_aligned_nothrow => ffi::snrs_free(p: *mut c_void);
    /// `operator delete[](void*, std::align_val_t, const std::nothrow_t&)`.
    "_ZdaPvSt11align_val_tRKSt9nothrow_t" delete_array_aligned_nothrow => ffi::snrs_free(p: *mut c_void);
}
