//! `SnMalloc`, Rust's global allocator backed by snmalloc.

use crate::ffi;
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

/// snmalloc as a Rust global allocator.
///
/// ```
/// #[global_allocator]
/// static ALLOC: snmalloc_rs::SnMalloc = snmalloc_rs::SnMalloc;
///
/// let v: Vec<u64> = (0..1000).collect();
/// assert_eq!(v.iter().sum::<u64>(), 499_500);
/// ```
///
/// Only Rust's allocations go to snmalloc: the process's C `malloc` stays the
/// system's unless the crate's `override` feature is enabled. Zero-sized
/// layouts, which `GlobalAlloc` callers must not pass, still get a unique
/// block.
#[derive(Debug, Default, Clone, Copy)]
pub struct SnMalloc;

/// Memory snmalloc has reserved from the operating system, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Reserved now.
    pub current: usize,
    /// The most ever reserved at once.
    pub peak: usize,
}

impl SnMalloc {
    /// Creates the allocator handle (it holds no state).
    pub const fn new() -> Self {
        SnMalloc
    }

    /// The number of bytes usable in the block at `ptr`, which is at least
    /// what was asked for; `None` for a null pointer.
    ///
    /// ```
    /// use core::alloc::{GlobalAlloc, Layout};
    /// let a = snmalloc_rs::SnMalloc;
    /// let layout = Layout::from_size_align(100, 8).unwrap();
    /// unsafe {
    ///     let p = a.alloc(layout);
    ///     assert!(a.usable_size(p).unwrap() >= 100);
    ///     a.dealloc(p, layout);
    /// }
    /// ```
    #[inline]
    pub fn usable_size(&self, ptr: *const u8) -> Option<usize> {
        if ptr.is_null() {
            return None;
        }
        // SAFETY: snmalloc answers for any address: its own blocks from its
        // pagemap, others by asking the allocator that owns them.
        Some(unsafe { ffi::snrs_usable_size(ptr.cast()) })
    }

    /// Whether `ptr` points into memory snmalloc manages.
    #[inline]
    pub fn owns(&self, ptr: *const u8) -> bool {
        // SAFETY: a pagemap lookup; it never dereferences `ptr`.
        unsafe { ffi::snrs_is_owned(ptr.cast()) != 0 }
    }

    /// Current and peak memory reserved from the OS by snmalloc.
    ///
    /// ```
    /// let u = snmalloc_rs::SnMalloc::memory_usage();
    /// assert!(u.peak >= u.current);
    /// ```
    pub fn memory_usage() -> MemoryUsage {
        let (mut current, mut peak) = (0, 0);
        // SAFETY: both pointers are valid for writes.
        unsafe { ffi::snrs_statistics(&mut current, &mut peak) };
        MemoryUsage { current, peak }
    }
}

// SAFETY: every method forwards to snmalloc, which returns blocks of at
// least `layout.size()` bytes aligned to `layout.align()` (a power of two, as
// Layout guarantees), or null on failure.
unsafe impl GlobalAlloc for SnMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: Layout's alignment is a power of two.
        unsafe { ffi::snrs_aligned_alloc(layout.align(), layout.size()) }.cast()
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: Layout's alignment is a power of two.
        unsafe { ffi::snrs_aligned_alloc_zeroed(layout.align(), layout.size()) }.cast()
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a block of ours with its layout.
        unsafe { ffi::snrs_aligned_free_sized(ptr.cast::<c_void>(), layout.align(), layout.size()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller passes a block of ours with its layout; the
        // block stays in place when the size class does not change.
        unsafe { ffi::snrs_aligned_realloc(ptr.cast(), layout.align(), layout.size(), new_size) }
            .cast()
    }
}
