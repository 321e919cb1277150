//! `SnMalloc`, Rust's global allocator backed by snmalloc.

use crate::ffi;
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use core::ptr::NonNull;

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

/// Where snmalloc's memory is, in bytes (docs/memory.md).
///
/// `current` and `peak` are memory held by the program's threads: their
/// blocks, the free space in their slabs and their per-thread caches.
/// Memory freed to the shared pool is either `retained` (committed, kept for
/// reuse for a while) or given back to the OS (`returned` counts all that
/// was ever given back). `reserved` is address space, most of it never
/// touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Held by the program's threads now.
    pub current: usize,
    /// The most ever held at once.
    pub peak: usize,
    /// Freed, and kept committed for reuse (at most a bound; see the
    /// `SNMALLOC_DECAY` option).
    pub retained: usize,
    /// Given back to the operating system since the start, in all.
    pub returned: u64,
    /// Address space reserved from the operating system.
    pub reserved: usize,
}

/// Current and peak memory, the 0.7 crate's statistics
/// ([`SnMalloc::memory_stats`]).
///
/// The 0.7 crate reported snmalloc's own range counters; these are the
/// matching figures of [`MemoryUsage`]: memory held by the program's
/// threads now (`current`) and at most (`peak`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocStats {
    /// Bytes held by the program's threads now ([`MemoryUsage::current`]).
    pub current_memory_usage: usize,
    /// The most ever held at once ([`MemoryUsage::peak`]).
    pub peak_memory_usage: usize,
}

impl SnMalloc {
    /// Creates the allocator handle (it holds no state).
    pub const fn new() -> Self {
        SnMalloc
    }

    /// Allocates a block for `layout`, as [`GlobalAlloc::alloc`] does;
    /// `None` when memory is exhausted (the 0.7 crate's API).
    ///
    /// A zero-sized layout gets a real, unique block too, so that every
    /// pointer this returns can be given back with [`GlobalAlloc::dealloc`]
    /// and the same layout.
    ///
    /// ```
    /// use core::alloc::{GlobalAlloc, Layout};
    /// let a = snmalloc_rs::SnMalloc;
    /// let layout = Layout::from_size_align(4096, 4096).unwrap();
    /// let p = a.alloc_aligned(layout).expect("memory");
    /// assert_eq!(p.as_ptr() as usize % 4096, 0);
    /// unsafe { a.dealloc(p.as_ptr(), layout) };
    /// ```
    #[inline]
    pub fn alloc_aligned(&self, layout: Layout) -> Option<NonNull<u8>> {
        // SAFETY: any Layout is valid for snmalloc, zero sizes included.
        NonNull::new(unsafe { self.alloc(layout) })
    }

    /// Current and peak memory held by the program (the 0.7 crate's API;
    /// [`SnMalloc::memory_usage`] says more).
    ///
    /// ```
    /// let s = snmalloc_rs::SnMalloc::memory_stats();
    /// assert!(s.peak_memory_usage >= s.current_memory_usage);
    /// ```
    pub fn memory_stats() -> AllocStats {
        let u = Self::memory_usage();
        AllocStats {
            current_memory_usage: u.current,
            peak_memory_usage: u.peak,
        }
    }

    /// The number of bytes usable in the block at `ptr`, which is at least
    /// what was asked for; `None` for a null pointer and for any address
    /// snmalloc does not manage (a stack, static data, another allocator's
    /// block), which is never read: the answer comes from snmalloc's own
    /// tables (a safe method never crashes).
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
    /// let on_stack = 0u64;
    /// assert_eq!(a.usable_size((&on_stack as *const u64).cast()), None);
    /// ```
    #[inline]
    pub fn usable_size(&self, ptr: *const u8) -> Option<usize> {
        if !self.owns(ptr) {
            return None;
        }
        // SAFETY: `ptr` is in snmalloc's memory: the size comes from its
        // pagemap or its table of large blocks, without reading `ptr`.
        Some(unsafe { ffi::snrs_usable_size(ptr.cast()) })
    }

    /// Whether `ptr` points into memory snmalloc manages (any address is
    /// a valid question: it is looked up, never read).
    ///
    /// ```
    /// let v = vec![1u8; 10];
    /// assert!(snmalloc_rs::SnMalloc.owns(v.as_ptr()) || cfg!(miri));
    /// assert!(!snmalloc_rs::SnMalloc.owns(core::ptr::null()));
    /// ```
    #[inline]
    pub fn owns(&self, ptr: *const u8) -> bool {
        // SAFETY: a pagemap lookup; it never dereferences `ptr`.
        unsafe { ffi::snrs_is_owned(ptr.cast()) != 0 }
    }

    /// Where snmalloc's memory is now.
    ///
    /// ```
    /// let u = snmalloc_rs::SnMalloc::memory_usage();
    /// assert!(u.peak >= u.current);
    /// assert!(u.reserved >= u.current + u.retained);
    /// ```
    pub fn memory_usage() -> MemoryUsage {
        let mut m = ffi::Memory::default();
        // SAFETY: a valid out-pointer.
        unsafe { ffi::snrs_memory(&mut m) };
        MemoryUsage {
            current: m.in_use,
            peak: m.peak_in_use,
            retained: m.retained,
            returned: m.given_back,
            reserved: m.reserved,
        }
    }

    /// Gives back to the operating system every freed range kept for reuse
    /// (what `malloc_trim` does); returns how many bytes.
    ///
    /// ```
    /// let freed = snmalloc_rs::SnMalloc::trim();
    /// assert_eq!(snmalloc_rs::SnMalloc::memory_usage().retained, 0);
    /// # let _ = freed;
    /// ```
    pub fn trim() -> usize {
        // SAFETY: no preconditions; takes the shared pool's lock.
        unsafe { ffi::snrs_trim() }
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
