//! The C allocation API exported by the preloadable library (feature
//! `override`), with glibc's semantics.
//!
//! `malloc`, `free`, `calloc` and `realloc` compile to a single jump into
//! snmalloc; everything else validates its arguments first.

use crate::ffi;
use core::ffi::{c_char, c_int, c_void};

const ENOMEM: c_int = libc::ENOMEM;
const EINVAL: c_int = libc::EINVAL;

#[cold]
fn fail(err: c_int) -> *mut c_void {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = err };
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
#[no_mangle]
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
#[no_mangle]
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
#[no_mangle]
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
#[no_mangle]
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
#[no_mangle]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    // SAFETY: the page size is a power of two.
    unsafe { ffi::snrs_aligned_alloc(page_size(), size) }
}

/// `pvalloc`: page-aligned, size rounded up to whole pages (at least one).
///
/// # Safety
/// None beyond the C contract.
#[no_mangle]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    let page = page_size();
    match size.max(1).checked_next_multiple_of(page) {
        // SAFETY: the page size is a power of two.
        Some(rounded) => unsafe { ffi::snrs_aligned_alloc(page, rounded) },
        None => fail(ENOMEM),
    }
}

/// C23 `free_aligned_sized`.
///
/// # Safety
/// `p` is NULL or a live block from `aligned_alloc(align, size)`.
#[no_mangle]
pub unsafe extern "C" fn free_aligned_sized(p: *mut c_void, align: usize, size: usize) {
    if align.is_power_of_two() {
        // SAFETY: forwarded under the caller's contract.
        unsafe { ffi::snrs_aligned_free_sized(p, align, size) }
    } else {
        // SAFETY: no such block exists; release it without a size check.
        unsafe { ffi::snrs_free(p) }
    }
}

/// Defines exported functions that are nothing but a jump to another
/// function with the same arguments. On x86_64 and AArch64 they are naked:
/// one direct `jmp`/`b`, where a Rust call through an `extern` declaration
/// would load the target from the GOT first.
macro_rules! forward {
    ($($(#[doc = $doc:literal])* $name:ident => $($target:ident)::+ ($($arg:ident : $ty:ty),*) $(-> $ret:ty)?;)*) => {$(
        $(#[doc = $doc])*
        ///
        /// # Safety
        /// The C contract of the function of the same name.
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        #[unsafe(naked)]
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            core::arch::naked_asm!("jmp {0}", sym $($target)::+);
            #[cfg(target_arch = "aarch64")]
            core::arch::naked_asm!("b {0}", sym $($target)::+);
        }

        $(#[doc = $doc])*
        ///
        /// # Safety
        /// The C contract of the function of the same name.
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: same contract as the target.
            unsafe { $($target)::+($($arg),*) }
        }
    )*};
}

forward! {
    /// C `malloc`: `size` bytes, 16-byte aligned; NULL with `ENOMEM` on failure.
    malloc => ffi::snrs_malloc(size: usize) -> *mut c_void;
    /// C `free`: releases a block of ours, hands a foreign one to its owner,
    /// ignores NULL.
    free => ffi::snrs_free(p: *mut c_void);
    /// C `calloc`: zeroed; NULL with `ENOMEM` if `n * size` overflows.
    calloc => ffi::snrs_calloc(n: usize, size: usize) -> *mut c_void;
    /// C `realloc`, glibc's way: `realloc(NULL, n)` is `malloc(n)`,
    /// `realloc(p, 0)` frees `p` and returns NULL; on failure `p` is intact.
    realloc => ffi::snrs_realloc(p: *mut c_void, size: usize) -> *mut c_void;
    /// `malloc_usable_size`: bytes usable in the block (0 for NULL); a
    /// foreign block is measured by its owner.
    malloc_usable_size => ffi::snrs_usable_size(p: *const c_void) -> usize;
    /// C23 `free_sized`.
    free_sized => ffi::snrs_free_sized(p: *mut c_void, size: usize);
    /// `cfree`: `free`.
    cfree => ffi::snrs_free(p: *mut c_void);
    /// glibc's internal name for `malloc`.
    __libc_malloc => ffi::snrs_malloc(size: usize) -> *mut c_void;
    /// glibc's internal name for `free`.
    __libc_free => ffi::snrs_free(p: *mut c_void);
    /// glibc's internal name for `cfree`.
    __libc_cfree => ffi::snrs_free(p: *mut c_void);
    /// glibc's internal name for `calloc`.
    __libc_calloc => ffi::snrs_calloc(n: usize, size: usize) -> *mut c_void;
    /// glibc's internal name for `realloc`.
    __libc_realloc => ffi::snrs_realloc(p: *mut c_void, size: usize) -> *mut c_void;
    /// glibc's internal name for `memalign`.
    __libc_memalign => memalign(align: usize, size: usize) -> *mut c_void;
    /// glibc's internal name for `valloc`.
    __libc_valloc => valloc(size: usize) -> *mut c_void;
    /// glibc's internal name for `pvalloc`.
    __libc_pvalloc => pvalloc(size: usize) -> *mut c_void;
    /// glibc's internal name for `posix_memalign`.
    __posix_memalign => posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int;
}

// glibc's hook variables. Before glibc 2.34, glibc's own malloc called these
// when set, so a plugin opened with RTLD_DEEPBIND (bound to glibc's malloc)
// still reached us; later glibc ignores them, and its blocks reaching our
// free are forwarded to it instead (see shim/snmalloc_rs.cc).
type MallocHook = unsafe extern "C" fn(usize, *const c_void) -> *mut c_void;
type FreeHook = unsafe extern "C" fn(*mut c_void, *const c_void);
type ReallocHook = unsafe extern "C" fn(*mut c_void, usize, *const c_void) -> *mut c_void;
type MemalignHook = unsafe extern "C" fn(usize, usize, *const c_void) -> *mut c_void;

unsafe extern "C" fn malloc_hook(size: usize, _caller: *const c_void) -> *mut c_void {
    // SAFETY: as malloc.
    unsafe { malloc(size) }
}
unsafe extern "C" fn free_hook(p: *mut c_void, _caller: *const c_void) {
    // SAFETY: as free.
    unsafe { free(p) }
}
unsafe extern "C" fn realloc_hook(p: *mut c_void, size: usize, _c: *const c_void) -> *mut c_void {
    // SAFETY: as realloc.
    unsafe { realloc(p, size) }
}
unsafe extern "C" fn memalign_hook(a: usize, size: usize, _c: *const c_void) -> *mut c_void {
    // SAFETY: as memalign.
    unsafe { memalign(a, size) }
}

/// glibc's `__malloc_hook`, pointing at our `malloc`.
#[no_mangle]
pub static mut __malloc_hook: Option<MallocHook> = Some(malloc_hook);
/// glibc's `__free_hook`, pointing at our `free`.
#[no_mangle]
pub static mut __free_hook: Option<FreeHook> = Some(free_hook);
/// glibc's `__realloc_hook`, pointing at our `realloc`.
#[no_mangle]
pub static mut __realloc_hook: Option<ReallocHook> = Some(realloc_hook);
/// glibc's `__memalign_hook`, pointing at our `memalign`.
#[no_mangle]
pub static mut __memalign_hook: Option<MemalignHook> = Some(memalign_hook);

/// `malloc_trim`: snmalloc returns memory to the OS as it goes; reports that
/// nothing more was released.
#[no_mangle]
pub extern "C" fn malloc_trim(_pad: usize) -> c_int {
    0
}

/// `mallopt`: glibc's tuning knobs do not apply to snmalloc; accepted and
/// ignored (returns 1, success, so that programs do not abort).
#[no_mangle]
pub extern "C" fn mallopt(_param: c_int, _value: c_int) -> c_int {
    1
}

/// glibc's `struct mallinfo2`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Mallinfo2 {
    /// Bytes snmalloc holds from the OS.
    pub arena: usize,
    /// Unused (0).
    pub ordblks: usize,
    /// Unused (0).
    pub smblks: usize,
    /// Unused (0).
    pub hblks: usize,
    /// Unused (0).
    pub hblkhd: usize,
    /// Peak bytes held from the OS.
    pub usmblks: usize,
    /// Unused (0).
    pub fsmblks: usize,
    /// Bytes held from the OS (snmalloc does not count live bytes).
    pub uordblks: usize,
    /// Unused (0).
    pub fordblks: usize,
    /// Unused (0).
    pub keepcost: usize,
}

/// glibc's `struct mallinfo` (fields saturate at `INT_MAX`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Mallinfo {
    /// See [`Mallinfo2`].
    pub arena: c_int,
    /// See [`Mallinfo2`].
    pub ordblks: c_int,
    /// See [`Mallinfo2`].
    pub smblks: c_int,
    /// See [`Mallinfo2`].
    pub hblks: c_int,
    /// See [`Mallinfo2`].
    pub hblkhd: c_int,
    /// See [`Mallinfo2`].
    pub usmblks: c_int,
    /// See [`Mallinfo2`].
    pub fsmblks: c_int,
    /// See [`Mallinfo2`].
    pub uordblks: c_int,
    /// See [`Mallinfo2`].
    pub fordblks: c_int,
    /// See [`Mallinfo2`].
    pub keepcost: c_int,
}

/// `mallinfo2`: snmalloc's OS-level figures in glibc's structure.
#[no_mangle]
pub extern "C" fn mallinfo2() -> Mallinfo2 {
    let u = crate::SnMalloc::memory_usage();
    Mallinfo2 {
        arena: u.current,
        usmblks: u.peak,
        uordblks: u.current,
        ..Default::default()
    }
}

/// `mallinfo`: as [`mallinfo2`], saturated to `int`.
#[no_mangle]
pub extern "C" fn mallinfo() -> Mallinfo {
    let m = mallinfo2();
    let c = |v: usize| c_int::try_from(v).unwrap_or(c_int::MAX);
    Mallinfo {
        arena: c(m.arena),
        usmblks: c(m.usmblks),
        uordblks: c(m.uordblks),
        ..Default::default()
    }
}

/// A fixed buffer for formatting without allocating (we are the allocator).
struct StackBuf {
    buf: [u8; 256],
    len: usize,
}

impl core::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        // Keep one byte for the terminating NUL.
        if end >= self.buf.len() {
            return Err(core::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn report(xml: bool) -> StackBuf {
    use core::fmt::Write;
    let u = crate::SnMalloc::memory_usage();
    let mut b = StackBuf {
        buf: [0; 256],
        len: 0,
    };
    let _ = if xml {
        writeln!(
            b,
            "<malloc version=\"snmalloc-rs-{}\">\n<system type=\"current\" size=\"{}\"/>\n<system type=\"max\" size=\"{}\"/>\n</malloc>",
            env!("CARGO_PKG_VERSION"),
            u.current,
            u.peak
        )
    } else {
        writeln!(
            b,
            "snmalloc-rs: memory reserved from the OS: {} bytes now, {} bytes at peak",
            u.current, u.peak
        )
    };
    b
}

/// `malloc_stats`: one line on stderr with current and peak OS memory.
#[no_mangle]
pub extern "C" fn malloc_stats() {
    let b = report(false);
    // SAFETY: writes b.len initialised bytes from a live buffer.
    unsafe { libc::write(2, b.buf.as_ptr().cast(), b.len) };
}

/// `malloc_info`: glibc's XML shape with snmalloc's figures; `options` must
/// be 0 (`EINVAL` otherwise, as glibc).
///
/// # Safety
/// `stream` is a valid `FILE*`.
#[no_mangle]
pub unsafe extern "C" fn malloc_info(options: c_int, stream: *mut libc::FILE) -> c_int {
    if options != 0 {
        fail(EINVAL);
        return -1;
    }
    let b = report(true);
    // SAFETY: the buffer is NUL-terminated (zero-initialised, never full)
    // and the caller passes a valid stream.
    let rc = unsafe { libc::fputs(b.buf.as_ptr().cast::<c_char>(), stream) };
    if rc < 0 {
        -1
    } else {
        0
    }
}

/// Whether snmalloc owns the block at `p` (0 or 1). Not part of any libc:
/// it lets a program, or a test, check that this library really serves it.
#[no_mangle]
pub extern "C" fn snmalloc_rs_owns(p: *const c_void) -> c_int {
    c_int::from(crate::SnMalloc.owns(p.cast()))
}
