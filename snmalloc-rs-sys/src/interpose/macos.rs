//! macOS: `DYLD_INSERT_LIBRARIES=libsnmalloc_rs.dylib` without
//! `DYLD_FORCE_FLAT_NAMESPACE`.
//!
//! Two mechanisms, as the system's own malloc tools use:
//! 1. An interpose table (`__DATA,__interpose`): dyld rebinds every image's
//!    calls to the listed libSystem functions to ours. Our replacements are
//!    the functions of `crate::c_api::forwards` and `crate::c_api::standard` (not
//!    exported under the C names on macOS, or the table would point at
//!    itself).
//! 2. A malloc zone registered as the default zone, so that code that calls
//!    `malloc_zone_*` on the default zone, or asks `malloc_zone_from_ptr`
//!    who owns a block, reaches snmalloc; blocks of other zones are freed
//!    and sized by their owner.
//!
//! Compiled and type-checked on Linux by scripts/check-targets.sh; it has
//! not been run on a Mac (see README).

use crate::c_api::{forwards, standard as libc_api};
use crate::ffi;
use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, c_uint, c_void};

// ---------------------------------------------------------------------------
// The system functions we replace. Declared here with their C signatures;
// only their addresses are used.

type Zone = MallocZone;

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn free(p: *mut c_void);
    fn calloc(n: usize, size: usize) -> *mut c_void;
    fn realloc(p: *mut c_void, size: usize) -> *mut c_void;
    fn reallocf(p: *mut c_void, size: usize) -> *mut c_void;
    fn valloc(size: usize) -> *mut c_void;
    fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int;
    fn aligned_alloc(align: usize, size: usize) -> *mut c_void;
    fn malloc_size(p: *const c_void) -> usize;
    fn malloc_good_size(size: usize) -> usize;
    fn malloc_zone_malloc(zone: *mut Zone, size: usize) -> *mut c_void;
    fn malloc_zone_calloc(zone: *mut Zone, n: usize, size: usize) -> *mut c_void;
    fn malloc_zone_valloc(zone: *mut Zone, size: usize) -> *mut c_void;
    fn malloc_zone_realloc(zone: *mut Zone, p: *mut c_void, size: usize) -> *mut c_void;
    fn malloc_zone_memalign(zone: *mut Zone, align: usize, size: usize) -> *mut c_void;
    fn malloc_zone_free(zone: *mut Zone, p: *mut c_void);
    fn malloc_zone_from_ptr(p: *const c_void) -> *mut Zone;
    fn malloc_default_zone() -> *mut Zone;
    fn malloc_zone_register(zone: *mut Zone);
    fn malloc_zone_unregister(zone: *mut Zone);
}

/// One `__DATA,__interpose` entry: calls to `original` go to `replacement`.
#[repr(C)]
struct Interpose {
    replacement: *const c_void,
    original: *const c_void,
}

/// The table, an array of entries dyld reads.
#[repr(transparent)]
struct InterposeTable<const N: usize>([Interpose; N]);

// SAFETY: read-only data for dyld; never written.
unsafe impl<const N: usize> Sync for InterposeTable<N> {}

macro_rules! interpose {
    ($($replacement:path => $original:ident),* $(,)?) => {
        InterposeTable([$(Interpose {
            replacement: $replacement as *const c_void,
            original: $original as *const c_void,
        }),*])
    };
}

#[used]
#[link_section = "__DATA,__interpose"]
static INTERPOSE: InterposeTable<17> = interpose! {
    forwards::malloc => malloc,
    forwards::free => free,
    forwards::calloc => calloc,
    forwards::realloc => realloc,
    libc_api::reallocf => reallocf,
    libc_api::valloc => valloc,
    libc_api::posix_memalign => posix_memalign,
    libc_api::aligned_alloc => aligned_alloc,
    size_of_block => malloc_size,
    libc_api::malloc_good_size => malloc_good_size,
    zone_malloc_any => malloc_zone_malloc,
    zone_calloc_any => malloc_zone_calloc,
    zone_valloc_any => malloc_zone_valloc,
    zone_realloc_any => malloc_zone_realloc,
    zone_memalign_any => malloc_zone_memalign,
    zone_free_any => malloc_zone_free,
    zone_from_ptr => malloc_zone_from_ptr,
};

// ---------------------------------------------------------------------------
// Replacements that are macOS-only.

unsafe extern "C" fn size_of_block(p: *const c_void) -> usize {
    // SAFETY: ours from the pagemap; foreign blocks are sized by their owner
    // (shim: ForeignMemory asks libSystem's malloc_size).
    unsafe { ffi::snrs_usable_size(p) }
}

// The malloc_zone_* entry points: allocation in any zone is served by
// snmalloc (as mimalloc does); a private zone's bulk destruction then does
// not release those blocks, which leaks but never corrupts.
unsafe extern "C" fn zone_malloc_any(_z: *mut Zone, size: usize) -> *mut c_void {
    // SAFETY: as malloc.
    unsafe { ffi::snrs_malloc(size) }
}
unsafe extern "C" fn zone_calloc_any(_z: *mut Zone, n: usize, size: usize) -> *mut c_void {
    // SAFETY: as calloc.
    unsafe { ffi::snrs_calloc(n, size) }
}
unsafe extern "C" fn zone_valloc_any(_z: *mut Zone, size: usize) -> *mut c_void {
    // SAFETY: as valloc.
    unsafe { libc_api::valloc(size) }
}
unsafe extern "C" fn zone_realloc_any(_z: *mut Zone, p: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: as realloc; a foreign block is moved into snmalloc.
    unsafe { ffi::snrs_realloc(p, size) }
}
unsafe extern "C" fn zone_memalign_any(_z: *mut Zone, align: usize, size: usize) -> *mut c_void {
    // SAFETY: as memalign.
    unsafe { libc_api::memalign(align, size) }
}
unsafe extern "C" fn zone_free_any(zone: *mut Zone, p: *mut c_void) {
    if p.is_null() {
        return;
    }
    if crate::owns(p.cast()) {
        // SAFETY: our block.
        unsafe { ffi::snrs_free(p) }
    } else {
        // SAFETY: the caller's block of `zone`: its owner frees it (calls
        // inside our own image are not interposed, so this is libSystem's).
        unsafe { malloc_zone_free(zone, p) }
    }
}
unsafe extern "C" fn zone_from_ptr(p: *const c_void) -> *mut Zone {
    if crate::owns(p.cast()) {
        return ZONE.0.get();
    }
    // SAFETY: libSystem's own lookup for everything else.
    unsafe { malloc_zone_from_ptr(p) }
}

// ---------------------------------------------------------------------------
// Our malloc zone (<malloc/malloc.h>, zone version 10).

#[repr(C)]
pub struct MallocZone {
    reserved1: *mut c_void,
    reserved2: *mut c_void,
    size: unsafe extern "C" fn(*mut Zone, *const c_void) -> usize,
    malloc: unsafe extern "C" fn(*mut Zone, usize) -> *mut c_void,
    calloc: unsafe extern "C" fn(*mut Zone, usize, usize) -> *mut c_void,
    valloc: unsafe extern "C" fn(*mut Zone, usize) -> *mut c_void,
    free: unsafe extern "C" fn(*mut Zone, *mut c_void),
    realloc: unsafe extern "C" fn(*mut Zone, *mut c_void, usize) -> *mut c_void,
    destroy: unsafe extern "C" fn(*mut Zone),
    zone_name: *const c_char,
    batch_malloc: unsafe extern "C" fn(*mut Zone, usize, *mut *mut c_void, c_uint) -> c_uint,
    batch_free: unsafe extern "C" fn(*mut Zone, *mut *mut c_void, c_uint),
    introspect: *const Introspection,
    version: c_uint,
    memalign: unsafe extern "C" fn(*mut Zone, usize, usize) -> *mut c_void,
    free_definite_size: unsafe extern "C" fn(*mut Zone, *mut c_void, usize),
    pressure_relief: unsafe extern "C" fn(*mut Zone, usize) -> usize,
    claimed_address: unsafe extern "C" fn(*mut Zone, *mut c_void) -> u32,
}

/// `malloc_statistics_t`.
#[repr(C)]
pub struct MallocStatistics {
    blocks_in_use: c_uint,
    size_in_use: usize,
    max_size_in_use: usize,
    size_allocated: usize,
}

/// `malloc_introspection_t`, up to `reinit_lock` (version 9) plus the two
/// task hooks of later versions, left null.
#[repr(C)]
pub struct Introspection {
    enumerator: unsafe extern "C" fn(
        u32,
        *mut c_void,
        c_uint,
        usize,
        *const c_void,
        *const c_void,
    ) -> c_int,
    good_size: unsafe extern "C" fn(*mut Zone, usize) -> usize,
    check: unsafe extern "C" fn(*mut Zone) -> u32,
    print: unsafe extern "C" fn(*mut Zone, u32),
    log: unsafe extern "C" fn(*mut Zone, *mut c_void),
    force_lock: unsafe extern "C" fn(*mut Zone),
    force_unlock: unsafe extern "C" fn(*mut Zone),
    statistics: unsafe extern "C" fn(*mut Zone, *mut MallocStatistics),
    zone_locked: unsafe extern "C" fn(*mut Zone) -> u32,
    enable_discharge_checking: Option<unsafe extern "C" fn(*mut Zone) -> u32>,
    disable_discharge_checking: Option<unsafe extern "C" fn(*mut Zone)>,
    discharge: Option<unsafe extern "C" fn(*mut Zone, *mut c_void)>,
    enumerate_discharged_pointers: *const c_void,
    reinit_lock: unsafe extern "C" fn(*mut Zone),
    print_task: *const c_void,
    task_statistics: *const c_void,
}

unsafe extern "C" fn z_size(_z: *mut Zone, p: *const c_void) -> usize {
    // The zone protocol: 0 for blocks that are not this zone's.
    if crate::owns(p.cast()) {
        // SAFETY: our block.
        unsafe { ffi::snrs_usable_size(p) }
    } else {
        0
    }
}
unsafe extern "C" fn z_free(_z: *mut Zone, p: *mut c_void) {
    // SAFETY: as free (foreign blocks go to their owner).
    unsafe { ffi::snrs_free(p) }
}
unsafe extern "C" fn z_destroy(_z: *mut Zone) {}
unsafe extern "C" fn z_batch_malloc(
    _z: *mut Zone,
    size: usize,
    out: *mut *mut c_void,
    n: c_uint,
) -> c_uint {
    for i in 0..n as usize {
        // SAFETY: `out` holds `n` slots (the caller's contract).
        let p = unsafe { ffi::snrs_malloc(size) };
        if p.is_null() {
            return i as c_uint;
        }
        // SAFETY: as above.
        unsafe { *out.add(i) = p };
    }
    n
}
unsafe extern "C" fn z_batch_free(_z: *mut Zone, ps: *mut *mut c_void, n: c_uint) {
    for i in 0..n as usize {
        // SAFETY: `ps` holds `n` blocks (the caller's contract).
        unsafe { ffi::snrs_free(*ps.add(i)) };
    }
}
unsafe extern "C" fn z_free_definite_size(_z: *mut Zone, p: *mut c_void, _size: usize) {
    // SAFETY: as free.
    unsafe { ffi::snrs_free(p) }
}
unsafe extern "C" fn z_pressure_relief(_z: *mut Zone, _goal: usize) -> usize {
    0
}
unsafe extern "C" fn z_claimed_address(_z: *mut Zone, p: *mut c_void) -> u32 {
    u32::from(crate::owns(p.cast()))
}
unsafe extern "C" fn z_enumerator(
    _task: u32,
    _ctx: *mut c_void,
    _mask: c_uint,
    _zone: usize,
    _reader: *const c_void,
    _recorder: *const c_void,
) -> c_int {
    // snmalloc cannot walk its blocks for another task; report none.
    0
}
unsafe extern "C" fn z_good_size(_z: *mut Zone, size: usize) -> usize {
    libc_api::malloc_good_size(size)
}
unsafe extern "C" fn z_check(_z: *mut Zone) -> u32 {
    1
}
unsafe extern "C" fn z_print(_z: *mut Zone, _verbose: u32) {}
unsafe extern "C" fn z_log(_z: *mut Zone, _p: *mut c_void) {}
// Fork: libSystem calls force_lock before fork and force_unlock (parent) /
// reinit_lock (child) after. The library's own pthread_atfork child handler
// (snmalloc-rs-sys/shim/process/fork.h) already gives the child a consistent
// allocator without the parent waiting, so these take no lock; they must
// exist, as libSystem calls them unconditionally.
unsafe extern "C" fn z_force_lock(_z: *mut Zone) {}
unsafe extern "C" fn z_force_unlock(_z: *mut Zone) {}
unsafe extern "C" fn z_reinit_lock(_z: *mut Zone) {}
unsafe extern "C" fn z_statistics(_z: *mut Zone, s: *mut MallocStatistics) {
    let u = crate::memory();
    // SAFETY: the caller passes a valid statistics record.
    unsafe {
        *s = MallocStatistics {
            blocks_in_use: 0,
            size_in_use: u.in_use,
            max_size_in_use: u.peak_in_use,
            size_allocated: u.in_use + u.retained,
        }
    };
}
unsafe extern "C" fn z_locked(_z: *mut Zone) -> u32 {
    0
}

static INTROSPECTION: SyncCell<Introspection> = SyncCell(UnsafeCell::new(Introspection {
    enumerator: z_enumerator,
    good_size: z_good_size,
    check: z_check,
    print: z_print,
    log: z_log,
    force_lock: z_force_lock,
    force_unlock: z_force_unlock,
    statistics: z_statistics,
    zone_locked: z_locked,
    enable_discharge_checking: None,
    disable_discharge_checking: None,
    discharge: None,
    enumerate_discharged_pointers: core::ptr::null(),
    reinit_lock: z_reinit_lock,
    print_task: core::ptr::null(),
    task_statistics: core::ptr::null(),
}));

static ZONE: SyncCell<MallocZone> = SyncCell(UnsafeCell::new(MallocZone {
    reserved1: core::ptr::null_mut(),
    reserved2: core::ptr::null_mut(),
    size: z_size,
    malloc: zone_malloc_any,
    calloc: zone_calloc_any,
    valloc: zone_valloc_any,
    free: z_free,
    realloc: zone_realloc_any,
    destroy: z_destroy,
    zone_name: c"snmalloc-rs".as_ptr(),
    batch_malloc: z_batch_malloc,
    batch_free: z_batch_free,
    introspect: INTROSPECTION.0.get(),
    version: 10,
    memalign: zone_memalign_any,
    free_definite_size: z_free_definite_size,
    pressure_relief: z_pressure_relief,
    claimed_address: z_claimed_address,
}));

/// Shared with libSystem, which reads (and may write) these records.
struct SyncCell<T>(UnsafeCell<T>);
// SAFETY: libSystem synchronises its zone list; we never write after load.
unsafe impl<T> Sync for SyncCell<T> {}

/// Registers our zone and makes it the default: libSystem treats the first
/// registered zone as the default, and re-registering a zone moves it to
/// the end of the list.
pub(crate) fn register_zone() {
    let ours = ZONE.0.get();
    // SAFETY: a valid, 'static zone record; the default zone pointers come
    // from libSystem.
    unsafe {
        malloc_zone_register(ours);
        for _ in 0..64 {
            let default = malloc_default_zone();
            if default == ours || default.is_null() {
                break;
            }
            malloc_zone_unregister(default);
            malloc_zone_register(default);
        }
    }
}
