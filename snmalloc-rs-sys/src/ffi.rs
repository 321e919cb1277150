//! The C++ side's functions (`shim/api/snmalloc_rs_api.h`), declared once.

use core::ffi::c_void;

// Without the C API (feature `override` on a platform that has it), only
// SnMalloc's subset is used.
#[cfg_attr(
    not(all(
        feature = "override",
        any(target_os = "linux", target_os = "freebsd", target_os = "macos")
    )),
    allow(dead_code)
)]
extern "C" {
    pub fn snrs_malloc(size: usize) -> *mut c_void;
    pub fn snrs_calloc(nmemb: usize, size: usize) -> *mut c_void;
    pub fn snrs_free(p: *mut c_void);
    pub fn snrs_free_sized(p: *mut c_void, size: usize);
    pub fn snrs_realloc(p: *mut c_void, size: usize) -> *mut c_void;
    /// `align` must be a power of two.
    pub fn snrs_aligned_alloc(align: usize, size: usize) -> *mut c_void;
    /// `align` must be a power of two.
    pub fn snrs_aligned_alloc_zeroed(align: usize, size: usize) -> *mut c_void;
    /// `align` must be a power of two; `p` is kept when the class is unchanged.
    pub fn snrs_aligned_realloc(
        p: *mut c_void,
        align: usize,
        old_size: usize,
        new_size: usize,
    ) -> *mut c_void;
    pub fn snrs_aligned_free_sized(p: *mut c_void, align: usize, size: usize);
    pub fn snrs_usable_size(p: *const c_void) -> usize;
    pub fn snrs_is_owned(p: *const c_void) -> i32;
    /// Where the memory is (`SnrsMemory`).
    pub fn snrs_memory(out: *mut Memory);
    /// Gives back every freed range kept for reuse; returns the bytes.
    pub fn snrs_trim() -> usize;
    /// The policy for freed memory (see `config::Decay`).
    pub fn snrs_set_decay(mode: core::ffi::c_int, ms: u64);
    /// The usable size snmalloc gives a request of `size` bytes.
    pub fn snrs_round_size(size: usize) -> usize;
    /// Resolves where foreign blocks go (otherwise done at the first one).
    pub fn snrs_resolve_foreign();
}

#[cfg(all(
    feature = "override",
    any(target_os = "linux", target_os = "freebsd", target_os = "macos")
))]
extern "C" {
    /// 1 if this process began as a fork child copied while another thread
    /// was changing the allocator's shared state, which it then started
    /// again empty (shim/process/fork.h).
    pub fn snrs_fork_restarted() -> core::ffi::c_int;
}

/// Where the memory is, in bytes (`SnrsMemory`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Memory {
    pub reserved: usize,
    pub in_use: usize,
    pub peak_in_use: usize,
    pub retained: usize,
    pub given_back: u64,
}

// Windows: the CRT's aligned and offset-aligned blocks may be named by an
// interior pointer.
#[cfg(all(feature = "override", windows))]
extern "C" {
    /// The start of the block of ours that `p` points into.
    pub fn snrs_block_start(p: *const c_void) -> *mut c_void;
    /// The bytes from `p` (inside a block of ours) to its block's end.
    pub fn snrs_block_remaining(p: *const c_void) -> usize;
    /// Keeps the pagemap's commit-on-read handler registered until the
    /// process ends (our hooks run after upstream removes it at exit).
    pub fn snrs_keep_lazy_commit();
}

// C++ `operator new`/`delete` (Linux): exceptions from the failure path
// unwind through these to the C++ caller.
#[cfg(all(feature = "override", target_os = "linux"))]
extern "C-unwind" {
    pub fn snrs_new(size: usize) -> *mut c_void;
    pub fn snrs_new_nothrow(size: usize, nothrow: *const c_void) -> *mut c_void;
    pub fn snrs_new_aligned(size: usize, align: usize) -> *mut c_void;
    pub fn snrs_new_aligned_nothrow(
        size: usize,
        align: usize,
        nothrow: *const c_void,
    ) -> *mut c_void;
    pub fn snrs_delete_sized_aligned(p: *mut c_void, size: usize, align: usize);
}

/// The profiling build's counters (feature `profile`, with the C API).
#[cfg(all(
    feature = "profile",
    feature = "override",
    any(target_os = "linux", target_os = "freebsd", target_os = "macos")
))]
pub mod profile {
    /// One size class (`SnrsClassStat`).
    #[repr(C)]
    #[derive(Debug, Default, Clone, Copy)]
    pub struct ClassStat {
        pub size: usize,
        pub allocs: u64,
        pub bytes: u64,
        pub frees: u64,
        pub remote_frees: u64,
    }

    /// The totals (`SnrsProfileTotals`).
    #[repr(C)]
    #[derive(Debug, Default, Clone, Copy)]
    pub struct ProfileTotals {
        pub live: u64,
        pub peak_live: u64,
        pub largest: u64,
    }

    extern "C" {
        /// Fills `out` with up to `max` non-empty classes; returns how many.
        pub fn snrs_profile_classes(out: *mut ClassStat, max: usize) -> usize;
        pub fn snrs_profile_totals(out: *mut ProfileTotals);
    }
}
