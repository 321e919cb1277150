// The exported functions that are nothing but a jump to another function
// with the same arguments, by platform group: the one table from which the
// crate defines them (`forwards.rs`) and from which build.rs
// (`link_args.rs`) makes each C++ target the exported symbol itself in the
// preloadable libraries (`--defsym`).
// Groups: `c` (every platform with the C API), `glibc` (Linux with glibc),
// `cxx` (Linux, 64-bit; Itanium C++ ABI names for LP64). A target named
// `snrs_*` is a C++ function of snmalloc-rs-sys; others are Rust functions.
forward_table! {
    c {
        /// C `malloc`: `size` bytes, 16-byte aligned; NULL with `ENOMEM` on failure.
        malloc => snrs_malloc(size: usize) -> *mut c_void;
        /// C `free`: releases a block of ours, hands a foreign one to its owner,
        /// ignores NULL.
        free => snrs_free(p: *mut c_void);
        /// C `calloc`: zeroed; NULL with `ENOMEM` if `n * size` overflows.
        calloc => snrs_calloc(n: usize, size: usize) -> *mut c_void;
        /// C `realloc`, glibc's way: `realloc(NULL, n)` is `malloc(n)`,
        /// `realloc(p, 0)` frees `p` and returns NULL; on failure `p` is intact.
        realloc => snrs_realloc(p: *mut c_void, size: usize) -> *mut c_void;
        /// `malloc_usable_size`: bytes usable in the block (0 for NULL); a
        /// foreign block is measured by its owner.
        malloc_usable_size => snrs_usable_size(p: *const c_void) -> usize;
        /// C23 `free_sized`.
        free_sized => snrs_free_sized(p: *mut c_void, size: usize);
        /// `cfree`: `free`.
        cfree => snrs_free(p: *mut c_void);
    }
    glibc {
        /// glibc's internal name for `malloc`.
        __libc_malloc => snrs_malloc(size: usize) -> *mut c_void;
        /// glibc's internal name for `free`.
        __libc_free => snrs_free(p: *mut c_void);
        /// glibc's internal name for `cfree`.
        __libc_cfree => snrs_free(p: *mut c_void);
        /// glibc's internal name for `calloc`.
        __libc_calloc => snrs_calloc(n: usize, size: usize) -> *mut c_void;
        /// glibc's internal name for `realloc`.
        __libc_realloc => snrs_realloc(p: *mut c_void, size: usize) -> *mut c_void;
        /// glibc's internal name for `memalign`.
        __libc_memalign => crate::c_api::standard::memalign(align: usize, size: usize) -> *mut c_void;
        /// glibc's internal name for `valloc`.
        __libc_valloc => crate::c_api::standard::valloc(size: usize) -> *mut c_void;
        /// glibc's internal name for `pvalloc`.
        __libc_pvalloc => crate::c_api::standard::pvalloc(size: usize) -> *mut c_void;
        /// glibc's internal name for `posix_memalign`.
        __posix_memalign => crate::c_api::standard::posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int;
    }
    cxx {
        /// `operator new(size_t)`.
        "_Znwm" new_ => snrs_new(size: usize) -> *mut c_void;
        /// `operator new[](size_t)`.
        "_Znam" new_array => snrs_new(size: usize) -> *mut c_void;
        /// `operator new(size_t, const std::nothrow_t&)`.
        "_ZnwmRKSt9nothrow_t" new_nothrow => snrs_new_nothrow(size: usize, tag: *const c_void) -> *mut c_void;
        /// `operator new[](size_t, const std::nothrow_t&)`.
        "_ZnamRKSt9nothrow_t" new_array_nothrow => snrs_new_nothrow(size: usize, tag: *const c_void) -> *mut c_void;
        /// `operator new(size_t, std::align_val_t)`.
        "_ZnwmSt11align_val_t" new_aligned => snrs_new_aligned(size: usize, align: usize) -> *mut c_void;
        /// `operator new[](size_t, std::align_val_t)`.
        "_ZnamSt11align_val_t" new_array_aligned => snrs_new_aligned(size: usize, align: usize) -> *mut c_void;
        /// `operator new(size_t, std::align_val_t, const std::nothrow_t&)`.
        "_ZnwmSt11align_val_tRKSt9nothrow_t" new_aligned_nothrow => snrs_new_aligned_nothrow(size: usize, align: usize, tag: *const c_void) -> *mut c_void;
        /// `operator new[](size_t, std::align_val_t, const std::nothrow_t&)`.
        "_ZnamSt11align_val_tRKSt9nothrow_t" new_array_aligned_nothrow => snrs_new_aligned_nothrow(size: usize, align: usize, tag: *const c_void) -> *mut c_void;
        /// `operator delete(void*)`.
        "_ZdlPv" delete_ => snrs_free(p: *mut c_void);
        /// `operator delete[](void*)`.
        "_ZdaPv" delete_array => snrs_free(p: *mut c_void);
        /// `operator delete(void*, const std::nothrow_t&)` (the tag is ignored).
        "_ZdlPvRKSt9nothrow_t" delete_nothrow => snrs_free(p: *mut c_void);
        /// `operator delete[](void*, const std::nothrow_t&)`.
        "_ZdaPvRKSt9nothrow_t" delete_array_nothrow => snrs_free(p: *mut c_void);
        /// `operator delete(void*, size_t)`.
        "_ZdlPvm" delete_sized => snrs_free_sized(p: *mut c_void, size: usize);
        /// `operator delete[](void*, size_t)`.
        "_ZdaPvm" delete_array_sized => snrs_free_sized(p: *mut c_void, size: usize);
        /// `operator delete(void*, std::align_val_t)` (snmalloc finds the size).
        "_ZdlPvSt11align_val_t" delete_aligned => snrs_free(p: *mut c_void);
        /// `operator delete[](void*, std::align_val_t)`.
        "_ZdaPvSt11align_val_t" delete_array_aligned => snrs_free(p: *mut c_void);
        /// `operator delete(void*, size_t, std::align_val_t)`.
        "_ZdlPvmSt11align_val_t" delete_sized_aligned => snrs_delete_sized_aligned(p: *mut c_void, size: usize, align: usize);
        /// `operator delete[](void*, size_t, std::align_val_t)`.
        "_ZdaPvmSt11align_val_t" delete_array_sized_aligned => snrs_delete_sized_aligned(p: *mut c_void, size: usize, align: usize);
        /// `operator delete(void*, std::align_val_t, const std::nothrow_t&)`.
        "_ZdlPvSt11align_val_tRKSt9nothrow_t" delete_aligned_nothrow => snrs_free(p: *mut c_void);
        /// `operator delete[](void*, std::align_val_t, const std::nothrow_t&)`.
        "_ZdaPvSt11align_val_tRKSt9nothrow_t" delete_array_aligned_nothrow => snrs_free(p: *mut c_void);
    }
}
