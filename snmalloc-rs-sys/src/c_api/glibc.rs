//! glibc's allocator extras, exported by the preloaded library on Linux: the
//! `__libc_*` entry points, the hook variables, and the introspection and
//! tuning calls, answered by snmalloc so that glibc's own heap never wakes.

use core::ffi::{c_char, c_int, c_void};

// glibc's hook variables. Before glibc 2.34, glibc's own malloc called these
// when set, so a plugin opened with RTLD_DEEPBIND (bound to glibc's malloc)
// still reached us; later glibc ignores them, and its blocks reaching our
// free are forwarded to it instead (see shim/api/snmalloc_rs.cc).
type MallocHook = unsafe extern "C" fn(usize, *const c_void) -> *mut c_void;
type FreeHook = unsafe extern "C" fn(*mut c_void, *const c_void);
type ReallocHook = unsafe extern "C" fn(*mut c_void, usize, *const c_void) -> *mut c_void;
type MemalignHook = unsafe extern "C" fn(usize, usize, *const c_void) -> *mut c_void;

unsafe extern "C" fn malloc_hook(size: usize, _caller: *const c_void) -> *mut c_void {
    // SAFETY: as malloc.
    unsafe { crate::ffi::snrs_malloc(size) }
}
unsafe extern "C" fn free_hook(p: *mut c_void, _caller: *const c_void) {
    // SAFETY: as free.
    unsafe { crate::ffi::snrs_free(p) }
}
unsafe extern "C" fn realloc_hook(p: *mut c_void, size: usize, _c: *const c_void) -> *mut c_void {
    // SAFETY: as realloc.
    unsafe { crate::ffi::snrs_realloc(p, size) }
}
unsafe extern "C" fn memalign_hook(a: usize, size: usize, _c: *const c_void) -> *mut c_void {
    // SAFETY: as memalign.
    unsafe { crate::c_api::standard::memalign(a, size) }
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

/// `malloc_trim`: gives back to the OS every freed range snmalloc kept for
/// reuse; 1 if that released memory, 0 if there was none (glibc's answer).
/// `pad` is ignored: nothing in use is ever given back.
#[no_mangle]
pub extern "C" fn malloc_trim(_pad: usize) -> c_int {
    c_int::from(crate::trim() != 0)
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
    /// Bytes held: in use plus retained for reuse.
    pub arena: usize,
    /// Unused (0).
    pub ordblks: usize,
    /// Unused (0).
    pub smblks: usize,
    /// Unused (0).
    pub hblks: usize,
    /// Unused (0).
    pub hblkhd: usize,
    /// The most bytes ever in use at once.
    pub usmblks: usize,
    /// Unused (0).
    pub fsmblks: usize,
    /// Bytes in use by the program's threads (their blocks, and the free
    /// space of their slabs and caches: snmalloc counts chunks, not
    /// objects).
    pub uordblks: usize,
    /// Free bytes held for reuse.
    pub fordblks: usize,
    /// Bytes `malloc_trim` would give back (the same as `fordblks`).
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

/// `mallinfo2`: snmalloc's figures in glibc's structure.
#[no_mangle]
pub extern "C" fn mallinfo2() -> Mallinfo2 {
    let u = crate::memory();
    Mallinfo2 {
        arena: u.in_use + u.retained,
        usmblks: u.peak_in_use,
        uordblks: u.in_use,
        fordblks: u.retained,
        keepcost: u.retained,
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
        fordblks: c(m.fordblks),
        keepcost: c(m.keepcost),
        ..Default::default()
    }
}

/// `malloc_stats`: the same report as `SNMALLOC_STATS` prints at exit, to
/// stderr.
#[no_mangle]
pub extern "C" fn malloc_stats() {
    let _ = crate::process::stats::write_report(&mut crate::process::writer::Writer::stderr());
}

/// `malloc_info`: glibc's XML shape with snmalloc's figures; `options` must
/// be 0 (`EINVAL` otherwise, as glibc).
///
/// # Safety
/// `stream` is a valid `FILE*`.
#[no_mangle]
pub unsafe extern "C" fn malloc_info(options: c_int, stream: *mut libc::FILE) -> c_int {
    use core::fmt::Write;
    if options != 0 {
        crate::c_api::standard::fail(libc::EINVAL);
        return -1;
    }
    let u = crate::memory();
    let mut b = crate::process::writer::StackBuf::<256>::new();
    let _ = writeln!(
        b,
        "<malloc version=\"snmalloc-rs-{}\">\n<total type=\"rest\" count=\"0\" size=\"{}\"/>\n<system type=\"current\" size=\"{}\"/>\n<system type=\"max\" size=\"{}\"/>\n</malloc>",
        env!("CARGO_PKG_VERSION"),
        u.retained,
        u.in_use + u.retained,
        u.peak_in_use
    );
    // SAFETY: a NUL-terminated buffer and the caller's valid stream.
    let rc = unsafe { libc::fputs(b.as_c_str().as_ptr().cast::<c_char>(), stream) };
    if rc < 0 {
        -1
    } else {
        0
    }
}
