//! What the C runtime's allocation functions become: snmalloc for blocks it
//! owns (and for every new block), the CRT's own function, through its
//! trampoline, for blocks the CRT handed out before the hooks took effect.
//!
//! Each redirected CRT module gets a slot, and each of its entries of one
//! kind a variant (`free`, `_free_base`, `_o_free`, ... are variants 0, 1,
//! 2, ...). The replacements are instantiated per (slot, variant), `E`
//! below: a foreign block goes back through the very entry it was passed
//! to, to that entry's own original code. Entries that call or jump to
//! each other (the Universal CRT's `free` is a jump to `_free_base`) then
//! end in the real code, as they would without us; and `errno` is set in
//! the block's own CRT.

use core::ffi::c_void;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use crate::ffi;

/// How many CRT modules can be redirected at once.
pub const SLOTS: usize = 8;
/// Most entries of one kind in a module (see `NAMES`).
const VARIANTS: usize = 4;
/// Instantiations of the replacements: one per (slot, variant).
const IDS: usize = SLOTS * VARIANTS;

const ENOMEM: i32 = 12;
const EINVAL: i32 = 22;

/// The allocation functions of a CRT, by what they do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Malloc,
    Free,
    Calloc,
    Realloc,
    Msize,
    Expand,
    Recalloc,
    AlignedMalloc,
    AlignedFree,
    AlignedRealloc,
    AlignedRecalloc,
    AlignedMsize,
    AlignedOffsetMalloc,
    AlignedOffsetRealloc,
    AlignedOffsetRecalloc,
}

const KINDS: usize = Kind::AlignedOffsetRecalloc as usize + 1;

/// Every exported name that is an allocation entry point, and what it is.
/// The `_base` variants are what `malloc` & co. call inside the Universal
/// CRT; the `_o_` variants are the ones Windows' own components import.
pub const NAMES: &[(&str, Kind)] = &[
    ("malloc", Kind::Malloc),
    ("_malloc_base", Kind::Malloc),
    ("_o_malloc", Kind::Malloc),
    ("_o__malloc_base", Kind::Malloc),
    ("free", Kind::Free),
    ("_free_base", Kind::Free),
    ("_o_free", Kind::Free),
    ("_o__free_base", Kind::Free),
    ("calloc", Kind::Calloc),
    ("_calloc_base", Kind::Calloc),
    ("_o_calloc", Kind::Calloc),
    ("_o__calloc_base", Kind::Calloc),
    ("realloc", Kind::Realloc),
    ("_realloc_base", Kind::Realloc),
    ("_o_realloc", Kind::Realloc),
    ("_o__realloc_base", Kind::Realloc),
    ("_msize", Kind::Msize),
    ("_msize_base", Kind::Msize),
    ("_o__msize", Kind::Msize),
    ("_o__msize_base", Kind::Msize),
    ("_expand", Kind::Expand),
    ("_expand_base", Kind::Expand),
    ("_o__expand", Kind::Expand),
    ("_o__expand_base", Kind::Expand),
    ("_recalloc", Kind::Recalloc),
    ("_recalloc_base", Kind::Recalloc),
    ("_o__recalloc", Kind::Recalloc),
    ("_o__recalloc_base", Kind::Recalloc),
    ("_aligned_malloc", Kind::AlignedMalloc),
    ("_o__aligned_malloc", Kind::AlignedMalloc),
    ("_aligned_free", Kind::AlignedFree),
    ("_o__aligned_free", Kind::AlignedFree),
    ("_aligned_realloc", Kind::AlignedRealloc),
    ("_o__aligned_realloc", Kind::AlignedRealloc),
    ("_aligned_recalloc", Kind::AlignedRecalloc),
    ("_o__aligned_recalloc", Kind::AlignedRecalloc),
    ("_aligned_msize", Kind::AlignedMsize),
    ("_o__aligned_msize", Kind::AlignedMsize),
    ("_aligned_offset_malloc", Kind::AlignedOffsetMalloc),
    ("_o__aligned_offset_malloc", Kind::AlignedOffsetMalloc),
    ("_aligned_offset_realloc", Kind::AlignedOffsetRealloc),
    ("_o__aligned_offset_realloc", Kind::AlignedOffsetRealloc),
    ("_aligned_offset_recalloc", Kind::AlignedOffsetRecalloc),
    ("_o__aligned_offset_recalloc", Kind::AlignedOffsetRecalloc),
];

// Every entry's variant must have its own row.
const _: () = {
    let mut i = 0;
    while i < NAMES.len() {
        let (mut j, mut before) = (0, 0);
        while j < i {
            if NAMES[j].1 as usize == NAMES[i].1 as usize {
                before += 1;
            }
            j += 1;
        }
        assert!(before < VARIANTS, "more entries of one kind than VARIANTS");
        i += 1;
    }
};

#[allow(clippy::declare_interior_mutable_const)]
const UNSET: AtomicUsize = AtomicUsize::new(0);
#[allow(clippy::declare_interior_mutable_const)]
const UNSET_ROW: [AtomicUsize; KINDS] = [UNSET; KINDS];

/// Trampolines to the original functions, per (slot, variant) and kind.
static ORIGINAL: [[AtomicUsize; KINDS]; IDS] = [UNSET_ROW; IDS];
/// Each slot's `_errno` function.
static ERRNO: [AtomicUsize; SLOTS] = [UNSET; SLOTS];

/// Which variant of its kind `NAMES[index]` is.
pub fn variant(index: usize) -> usize {
    let kind = NAMES[index].1;
    NAMES[..index].iter().filter(|n| n.1 == kind).count()
}

/// Records the trampoline to the original of entry `NAMES[index]` of a
/// module.
pub fn set_original(slot: usize, index: usize, trampoline: usize) {
    ORIGINAL[slot * VARIANTS + variant(index)][NAMES[index].1 as usize].store(trampoline, Relaxed);
}

/// Records a module's `_errno` (may be 0: errno is then left alone).
pub fn set_errno_fn(slot: usize, f: usize) {
    ERRNO[slot].store(f, Relaxed);
}

/// The replacement for entry `NAMES[index]` in slot `slot`.
pub fn replacement(slot: usize, index: usize) -> usize {
    let id = slot * VARIANTS + variant(index);
    let k = NAMES[index].1;
    macro_rules! per_id {
        ($($e:literal)*) => {{
            // Every (slot, variant) has its instantiation.
            const _: () = assert!([$($e),*].len() == IDS, "per_id! must list 0..IDS");
            match id {
                $($e => table::<$e>(k),)*
                _ => unreachable!("slot or variant out of range"),
            }
        }};
    }
    per_id!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31)
}

fn table<const E: usize>(k: Kind) -> usize {
    match k {
        Kind::Malloc => malloc::<E> as *const () as usize,
        Kind::Free => free::<E> as *const () as usize,
        Kind::Calloc => calloc::<E> as *const () as usize,
        Kind::Realloc => realloc::<E> as *const () as usize,
        Kind::Msize => msize::<E> as *const () as usize,
        Kind::Expand => expand::<E> as *const () as usize,
        Kind::Recalloc => recalloc::<E> as *const () as usize,
        Kind::AlignedMalloc => aligned_malloc::<E> as *const () as usize,
        Kind::AlignedFree => aligned_free::<E> as *const () as usize,
        Kind::AlignedRealloc => aligned_realloc::<E> as *const () as usize,
        Kind::AlignedRecalloc => aligned_recalloc::<E> as *const () as usize,
        Kind::AlignedMsize => aligned_msize::<E> as *const () as usize,
        Kind::AlignedOffsetMalloc => aligned_offset_malloc::<E> as *const () as usize,
        Kind::AlignedOffsetRealloc => aligned_offset_realloc::<E> as *const () as usize,
        Kind::AlignedOffsetRecalloc => aligned_offset_recalloc::<E> as *const () as usize,
    }
}

/// The original of the entry of kind `k` that `E` stands for, as a
/// function of type `F`.
///
/// # Safety
/// `F` must be the function type of kind `k`.
#[inline(always)]
unsafe fn original<const E: usize, F: Copy>(k: Kind) -> F {
    let f = ORIGINAL[E][k as usize].load(Relaxed);
    debug_assert!(f != 0);
    // SAFETY: the slot holds the trampoline of a function of type F (the
    // caller's contract); a replacement is reachable only once its
    // original is recorded.
    unsafe { core::mem::transmute_copy::<usize, F>(&f) }
}

#[cold]
fn set_errno<const E: usize>(e: i32) {
    let f = ERRNO[E / VARIANTS].load(Relaxed);
    if f != 0 {
        // SAFETY: `_errno` of that CRT: returns the thread's errno slot.
        unsafe {
            let errno: extern "C" fn() -> *mut i32 = core::mem::transmute(f);
            *errno() = e;
        }
    }
}

fn owned(p: *const c_void) -> bool {
    // SAFETY: a pagemap lookup; any address may be asked about.
    unsafe { ffi::snrs_is_owned(p) != 0 }
}

/// The one dispatch of every entry that takes a block: a block that is
/// neither null nor ours (the CRT's, from before the hooks) returns
/// through the CRT's own code of the entry it was passed to, of kind
/// `$kind` and type `$ty`, with the same arguments; null and our blocks
/// carry on.
macro_rules! foreign_goes_back {
    ($e:ident, $p:expr, $kind:ident as $ty:ty, ($($arg:expr),*)) => {
        if !$p.is_null() && !owned($p) {
            // SAFETY: a block of the CRT's heap goes back to the CRT
            // entry it was passed to; `$ty` is that entry's type.
            return unsafe { original::<$e, $ty>(Kind::$kind)($($arg),*) };
        }
    };
}

fn fail<const E: usize>(e: i32) -> *mut c_void {
    set_errno::<E>(e);
    null_mut()
}

fn checked<const E: usize>(p: *mut c_void) -> *mut c_void {
    if p.is_null() {
        set_errno::<E>(ENOMEM);
    }
    p
}

fn is_pow2(a: usize) -> bool {
    a.is_power_of_two()
}

/// Zeroes `[from, to)` of the block at `p`.
///
/// # Safety
/// `p` must be valid for writes of `to` bytes.
unsafe fn zero_tail(p: *mut c_void, from: usize, to: usize) {
    if to > from {
        // SAFETY: the caller's contract.
        unsafe { core::ptr::write_bytes(p.cast::<u8>().add(from), 0, to - from) };
    }
}

type FreeFn = extern "C" fn(*mut c_void);
type ReallocFn = extern "C" fn(*mut c_void, usize) -> *mut c_void;
type MsizeFn = extern "C" fn(*mut c_void) -> usize;
type RecallocFn = extern "C" fn(*mut c_void, usize, usize) -> *mut c_void;
type AlignedReallocFn = extern "C" fn(*mut c_void, usize, usize) -> *mut c_void;
type AlignedRecallocFn = extern "C" fn(*mut c_void, usize, usize, usize) -> *mut c_void;
type AlignedMsizeFn = extern "C" fn(*mut c_void, usize, usize) -> usize;
type AlignedOffsetReallocFn = extern "C" fn(*mut c_void, usize, usize, usize) -> *mut c_void;
type AlignedOffsetRecallocFn =
    extern "C" fn(*mut c_void, usize, usize, usize, usize) -> *mut c_void;

extern "C" fn malloc<const E: usize>(size: usize) -> *mut c_void {
    // SAFETY: any size may be asked for.
    checked::<E>(unsafe { ffi::snrs_malloc(size) })
}

extern "C" fn calloc<const E: usize>(n: usize, size: usize) -> *mut c_void {
    // SAFETY: snrs_calloc checks n * size for overflow.
    checked::<E>(unsafe { ffi::snrs_calloc(n, size) })
}

extern "C" fn free<const E: usize>(p: *mut c_void) {
    foreign_goes_back!(E, p, Free as FreeFn, (p));
    if !p.is_null() {
        // SAFETY: a block of ours, being freed by its owner.
        unsafe { ffi::snrs_free(p) }
    }
}

extern "C" fn realloc<const E: usize>(p: *mut c_void, size: usize) -> *mut c_void {
    foreign_goes_back!(E, p, Realloc as ReallocFn, (p, size));
    if p.is_null() {
        return malloc::<E>(size);
    }
    if size == 0 {
        // The Microsoft CRT frees the block and returns NULL.
        // SAFETY: a block of ours.
        unsafe { ffi::snrs_free(p) };
        return null_mut();
    }
    // SAFETY: a block of ours; snrs_realloc keeps it on failure.
    checked::<E>(unsafe { ffi::snrs_realloc(p, size) })
}

extern "C" fn msize<const E: usize>(p: *mut c_void) -> usize {
    if p.is_null() {
        set_errno::<E>(EINVAL);
        return usize::MAX;
    }
    foreign_goes_back!(E, p, Msize as MsizeFn, (p));
    // SAFETY: a block of ours.
    unsafe { ffi::snrs_usable_size(p) }
}

extern "C" fn expand<const E: usize>(p: *mut c_void, size: usize) -> *mut c_void {
    if p.is_null() {
        return fail::<E>(EINVAL);
    }
    foreign_goes_back!(E, p, Expand as ReallocFn, (p, size));
    // In place only: snmalloc blocks cannot grow past their size class.
    // SAFETY: a block of ours.
    if size <= unsafe { ffi::snrs_usable_size(p) } {
        p
    } else {
        fail::<E>(ENOMEM)
    }
}

extern "C" fn recalloc<const E: usize>(p: *mut c_void, n: usize, size: usize) -> *mut c_void {
    foreign_goes_back!(E, p, Recalloc as RecallocFn, (p, n, size));
    let Some(total) = n.checked_mul(size) else {
        return fail::<E>(ENOMEM);
    };
    if p.is_null() {
        return calloc::<E>(n, size);
    }
    // SAFETY: a block of ours (its usable size is what _msize reports).
    let old = unsafe { ffi::snrs_usable_size(p) };
    let q = realloc::<E>(p, total);
    if !q.is_null() {
        // Zeroed to the block's end, not just `total`: a later _recalloc
        // that stays in place must find zeros in what it exposes.
        // SAFETY: q is a block of ours of that usable size.
        unsafe { zero_tail(q, old, ffi::snrs_usable_size(q)) };
    }
    q
}

/// `_aligned_offset_malloc`: a block whose address plus `offset` is a
/// multiple of `align`. The returned pointer may lie inside the block;
/// snmalloc finds the block from any interior pointer when it is freed.
fn offset_alloc<const E: usize>(size: usize, align: usize, offset: usize) -> *mut c_void {
    if !is_pow2(align) || (size > 0 && offset >= size) {
        return fail::<E>(EINVAL);
    }
    let pad = (align - offset % align) % align;
    let Some(total) = size.checked_add(pad) else {
        return fail::<E>(ENOMEM);
    };
    // SAFETY: align is a power of two.
    let base = unsafe { ffi::snrs_aligned_alloc(align, total) };
    if base.is_null() {
        return fail::<E>(ENOMEM);
    }
    // SAFETY: pad < total bytes of the block.
    unsafe { base.cast::<u8>().add(pad).cast() }
}

/// Frees the block that `p` (a pointer of ours, maybe interior) lies in.
fn free_block(p: *mut c_void) {
    // SAFETY: p is ours; the block's start is what snmalloc frees.
    unsafe { ffi::snrs_free(ffi::snrs_block_start(p)) }
}

/// `_aligned_offset_realloc` for a block of ours.
fn offset_realloc<const E: usize>(
    p: *mut c_void,
    size: usize,
    align: usize,
    offset: usize,
) -> *mut c_void {
    if size == 0 {
        free_block(p);
        return null_mut();
    }
    // SAFETY: p is ours.
    let room = unsafe { ffi::snrs_block_remaining(p) };
    // Kept in place when it fits, is still aligned and wastes under half.
    if (p as usize).wrapping_add(offset).is_multiple_of(align) && size <= room && size >= room / 2 {
        return p;
    }
    let q = offset_alloc::<E>(size, align, offset);
    if !q.is_null() {
        // SAFETY: both blocks hold at least min(room, size) bytes from p/q.
        unsafe { core::ptr::copy_nonoverlapping(p.cast::<u8>(), q.cast::<u8>(), room.min(size)) };
        free_block(p);
    }
    q
}

extern "C" fn aligned_malloc<const E: usize>(size: usize, align: usize) -> *mut c_void {
    offset_alloc::<E>(size, align, 0)
}

extern "C" fn aligned_offset_malloc<const E: usize>(
    size: usize,
    align: usize,
    offset: usize,
) -> *mut c_void {
    offset_alloc::<E>(size, align, offset)
}

extern "C" fn aligned_free<const E: usize>(p: *mut c_void) {
    foreign_goes_back!(E, p, AlignedFree as FreeFn, (p));
    if !p.is_null() {
        free_block(p);
    }
}

extern "C" fn aligned_realloc<const E: usize>(
    p: *mut c_void,
    size: usize,
    align: usize,
) -> *mut c_void {
    foreign_goes_back!(E, p, AlignedRealloc as AlignedReallocFn, (p, size, align));
    if !is_pow2(align) {
        return fail::<E>(EINVAL);
    }
    if p.is_null() {
        return offset_alloc::<E>(size, align, 0);
    }
    offset_realloc::<E>(p, size, align, 0)
}

extern "C" fn aligned_offset_realloc<const E: usize>(
    p: *mut c_void,
    size: usize,
    align: usize,
    offset: usize,
) -> *mut c_void {
    foreign_goes_back!(
        E,
        p,
        AlignedOffsetRealloc as AlignedOffsetReallocFn,
        (p, size, align, offset)
    );
    if !is_pow2(align) || (size > 0 && offset >= size) {
        return fail::<E>(EINVAL);
    }
    if p.is_null() {
        return offset_alloc::<E>(size, align, offset);
    }
    offset_realloc::<E>(p, size, align, offset)
}

/// `_aligned_offset_recalloc` for any pointer: the growth is zeroed.
fn offset_recalloc<const E: usize>(
    p: *mut c_void,
    n: usize,
    size: usize,
    align: usize,
    offset: usize,
) -> *mut c_void {
    let Some(total) = n.checked_mul(size) else {
        return fail::<E>(ENOMEM);
    };
    if !is_pow2(align) || (total > 0 && offset >= total) {
        return fail::<E>(EINVAL);
    }
    let (q, old) = if p.is_null() {
        (offset_alloc::<E>(total, align, offset), 0)
    } else {
        // SAFETY: p is ours.
        let old = unsafe { ffi::snrs_block_remaining(p) };
        (offset_realloc::<E>(p, total, align, offset), old)
    };
    if !q.is_null() {
        // To the block's end, as in `recalloc`.
        // SAFETY: q lies in a block of ours with that many bytes after it.
        unsafe { zero_tail(q, old, ffi::snrs_block_remaining(q)) };
    }
    q
}

extern "C" fn aligned_recalloc<const E: usize>(
    p: *mut c_void,
    n: usize,
    size: usize,
    align: usize,
) -> *mut c_void {
    foreign_goes_back!(
        E,
        p,
        AlignedRecalloc as AlignedRecallocFn,
        (p, n, size, align)
    );
    offset_recalloc::<E>(p, n, size, align, 0)
}

extern "C" fn aligned_offset_recalloc<const E: usize>(
    p: *mut c_void,
    n: usize,
    size: usize,
    align: usize,
    offset: usize,
) -> *mut c_void {
    foreign_goes_back!(
        E,
        p,
        AlignedOffsetRecalloc as AlignedOffsetRecallocFn,
        (p, n, size, align, offset)
    );
    offset_recalloc::<E>(p, n, size, align, offset)
}

extern "C" fn aligned_msize<const E: usize>(p: *mut c_void, align: usize, offset: usize) -> usize {
    if p.is_null() {
        set_errno::<E>(EINVAL);
        return usize::MAX;
    }
    foreign_goes_back!(E, p, AlignedMsize as AlignedMsizeFn, (p, align, offset));
    // SAFETY: p is ours: the bytes from it to its block's end.
    unsafe { ffi::snrs_block_remaining(p) }
}
