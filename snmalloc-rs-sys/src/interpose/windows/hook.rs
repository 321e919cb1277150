//! Detours-style redirection of a loaded module's exported functions.
//!
//! For each function: its first instructions are moved (relocated) into a
//! trampoline that then jumps back to the rest of the original, and the
//! function's first five bytes become `jmp rel32` to a relay that jumps to
//! the replacement. Relays and trampolines live in one block of memory
//! allocated within ±1 GiB of the module, so that 32-bit displacements
//! reach both ways.
//!
//! A module is redirected all or nothing: every function is decoded first,
//! and if any of them cannot be moved safely (an instruction the decoder
//! does not know, a function shorter than the patch), none is patched. Half
//! a CRT redirected would hand its blocks to the wrong heap.

extern crate alloc;

use alloc::vec::Vec;
use core::ffi::c_void;
use core::ptr::null_mut;

use super::x64;
use crate::platform::windows_sys as sys;

/// Bytes written over each function's entry.
const PATCH: usize = 5;
/// Space per function in the block: relay, then trampoline.
const STUB: usize = 96;
const RELAY: usize = 16;
/// One allocation granule of Windows; holds 682 stubs.
const BLOCK: usize = 64 * 1024;
/// How far from the module the block may be (displacements are ±2 GiB).
const REACH: usize = 1 << 30;
/// Most functions redirected in one module.
pub const MAX: usize = 48;

/// One function to redirect.
#[derive(Clone, Copy)]
pub struct Target {
    /// Its address (the code, after export forwarding).
    pub at: *mut u8,
    /// Where calls must go instead.
    pub replacement: usize,
}

/// Why a function cannot be redirected.
#[derive(Clone, Copy)]
pub struct Refusal {
    /// Index into the targets.
    pub index: usize,
    /// The decoder's reason.
    pub error: x64::Error,
    /// The function's first 16 bytes, for the message.
    pub bytes: [u8; 16],
}

/// Allocates `BLOCK` bytes within `REACH` of `near`, below it first.
fn alloc_near(near: usize) -> *mut u8 {
    let start = near & !(BLOCK - 1);
    for step in 1..(REACH / BLOCK) {
        let d = step * BLOCK;
        for addr in [start.checked_sub(d), start.checked_add(d)]
            .into_iter()
            .flatten()
        {
            // SAFETY: reserving at a chosen address fails harmlessly when
            // anything is there.
            let p = unsafe {
                sys::VirtualAlloc(
                    addr as *mut c_void,
                    BLOCK,
                    sys::MEM_RESERVE | sys::MEM_COMMIT,
                    sys::PAGE_READWRITE,
                )
            };
            if !p.is_null() {
                return p.cast();
            }
        }
    }
    null_mut()
}

/// The process's other threads, suspended while entries are patched, so
/// that none runs half-written bytes; one stopped on a moved instruction is
/// moved to its copy in the trampoline (as Detours does).
struct Frozen {
    threads: Vec<sys::HANDLE>,
}

impl Frozen {
    fn others() -> Frozen {
        // Everything that allocates happens before the first suspension: a
        // suspended thread may hold the heap's lock.
        let mut ids = Vec::with_capacity(64);
        // SAFETY: Toolhelp over our own process; `entry` is sized.
        unsafe {
            let (me, pid) = (sys::GetCurrentThreadId(), sys::GetCurrentProcessId());
            let snap = sys::CreateToolhelp32Snapshot(sys::TH32CS_SNAPTHREAD, 0);
            if snap as isize != -1 {
                let mut e: sys::ThreadEntry32 = core::mem::zeroed();
                e.size = core::mem::size_of::<sys::ThreadEntry32>() as u32;
                let mut more = sys::Thread32First(snap, &mut e);
                while more != 0 {
                    if e.owner_process_id == pid && e.thread_id != me {
                        ids.push(e.thread_id);
                    }
                    more = sys::Thread32Next(snap, &mut e);
                }
                sys::CloseHandle(snap);
            }
        }
        let mut threads = Vec::with_capacity(ids.len());
        for id in ids {
            let access =
                sys::THREAD_SUSPEND_RESUME | sys::THREAD_GET_CONTEXT | sys::THREAD_SET_CONTEXT;
            // SAFETY: a thread of our own process; it is resumed on drop.
            unsafe {
                let h = sys::OpenThread(access, 0, id);
                if h.is_null() {
                    continue;
                }
                if sys::SuspendThread(h) == u32::MAX {
                    sys::CloseHandle(h);
                    continue;
                }
                threads.push(h);
            }
        }
        Frozen { threads }
    }

    /// Moves a thread stopped in the first bytes of `at` to the same
    /// instruction in its trampoline.
    fn relocate_ips(&self, at: usize, moved: &x64::Moved, trampoline: usize) {
        for &h in &self.threads {
            let mut ctx = sys::Context([0; sys::CONTEXT_SIZE]);
            ctx.0[sys::CONTEXT_FLAGS_AT..sys::CONTEXT_FLAGS_AT + 4]
                .copy_from_slice(&sys::CONTEXT_CONTROL.to_le_bytes());
            // SAFETY: a suspended thread of ours and an aligned CONTEXT.
            if unsafe { sys::GetThreadContext(h, &mut ctx) } == 0 {
                continue;
            }
            let rip_at = sys::CONTEXT_RIP_AT..sys::CONTEXT_RIP_AT + 8;
            let rip =
                u64::from_le_bytes(ctx.0[rip_at.clone()].try_into().unwrap_or_default()) as usize;
            if rip < at || rip >= at + moved.consumed {
                continue;
            }
            let Some(&(_, dst)) = moved.starts[..moved.count]
                .iter()
                .find(|&&(src, _)| at + src as usize == rip)
            else {
                continue;
            };
            ctx.0[rip_at].copy_from_slice(&((trampoline + dst as usize) as u64).to_le_bytes());
            // SAFETY: as above; the new IP runs the same instruction.
            unsafe { sys::SetThreadContext(h, &ctx) };
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for &h in &self.threads {
            // SAFETY: threads we suspended, and their handles.
            unsafe {
                sys::ResumeThread(h);
                sys::CloseHandle(h);
            }
        }
    }
}

/// `jmp [rip+0]; dq target`: an absolute jump in 14 bytes.
fn write_abs_jump(out: &mut [u8], target: usize) {
    out[..6].copy_from_slice(&[0xFF, 0x25, 0, 0, 0, 0]);
    out[6..14].copy_from_slice(&target.to_le_bytes());
}

/// Redirects every target or none, filling `trampolines[i]` with the
/// address of target i's trampoline (which behaves as the original).
/// `ready` runs between the two phases, with the trampolines: the
/// replacements need them from the moment the first entry is patched.
///
/// # Safety
/// Every `at` must be the entry of a function in executable memory of a
/// loaded module, with at least 16 readable bytes, and nothing else may
/// patch that code meanwhile. (Other threads are suspended while entries
/// are written; see the README for the one case that does not cover.)
pub unsafe fn redirect(
    targets: &[Target],
    trampolines: &mut [usize],
    ready: impl FnOnce(&[usize]),
) -> Result<(), Refusal> {
    if targets.is_empty() {
        return Ok(());
    }
    let block = alloc_near(targets[0].at as usize);
    if block.is_null() {
        return Err(Refusal {
            index: 0,
            error: x64::Error::OutOfRange { offset: 0 },
            bytes: [0; 16],
        });
    }
    // SAFETY: `block` is BLOCK bytes of fresh, writable memory.
    let stubs = unsafe { core::slice::from_raw_parts_mut(block, BLOCK) };
    let mut moved: [Option<x64::Moved>; MAX] = [None; MAX];
    // Phase 1: build every relay and trampoline; nothing is patched yet.
    for (i, t) in targets.iter().enumerate() {
        let mut bytes = [0u8; 16];
        // SAFETY: the caller guarantees 16 readable bytes at `at`.
        unsafe { core::ptr::copy_nonoverlapping(t.at, bytes.as_mut_ptr(), 16) };
        let refuse = |error| Refusal {
            index: i,
            error,
            bytes,
        };
        let stub = &mut stubs[i * STUB..(i + 1) * STUB];
        let stub_at = block as usize + i * STUB;
        // A function reached twice (aliases) must have been deduplicated.
        let jmp = x64::relocate(
            &bytes,
            t.at as u64,
            PATCH,
            &mut stub[RELAY..STUB - 14],
            (stub_at + RELAY) as u64,
        )
        .map_err(refuse)?;
        write_abs_jump(&mut stub[..RELAY], t.replacement);
        if !jmp.ends_flow {
            let back = RELAY + jmp.written;
            write_abs_jump(&mut stub[back..back + 14], t.at as usize + jmp.consumed);
        }
        moved[i] = Some(jmp);
        trampolines[i] = stub_at + RELAY;
        let rel = stub_at as i64 - (t.at as i64 + PATCH as i64);
        if i32::try_from(rel).is_err() {
            return Err(refuse(x64::Error::OutOfRange { offset: 0 }));
        }
    }
    let mut old = 0u32;
    // SAFETY: our own block: relays and trampolines become executable.
    unsafe {
        sys::VirtualProtect(block.cast(), BLOCK, sys::PAGE_EXECUTE_READ, &mut old);
        sys::FlushInstructionCache(sys::GetCurrentProcess(), block.cast(), BLOCK);
    }
    ready(&trampolines[..targets.len()]);
    // Phase 2: patch the entries, the other threads stopped.
    let frozen = Frozen::others();
    for (i, t) in targets.iter().enumerate() {
        let Some(m) = moved[i] else { continue };
        frozen.relocate_ips(t.at as usize, &m, trampolines[i]);
        let relay = block as usize + i * STUB;
        let rel = (relay as i64 - (t.at as i64 + PATCH as i64)) as i32;
        let mut patch = [0xE9u8, 0, 0, 0, 0];
        patch[1..].copy_from_slice(&rel.to_le_bytes());
        // SAFETY: the caller's contract; the page's protection is restored.
        unsafe {
            sys::VirtualProtect(
                t.at.cast(),
                m.consumed,
                sys::PAGE_EXECUTE_READWRITE,
                &mut old,
            );
            core::ptr::copy_nonoverlapping(patch.as_ptr(), t.at, PATCH);
            // Bytes past the jump up to the moved length are never run again
            // by the patched entry; int3 makes a stray jump into them loud.
            for k in PATCH..m.consumed {
                *t.at.add(k) = 0xCC;
            }
            let mut ignored = 0u32;
            sys::VirtualProtect(t.at.cast(), m.consumed, old, &mut ignored);
            sys::FlushInstructionCache(sys::GetCurrentProcess(), t.at.cast(), m.consumed);
        }
    }
    drop(frozen);
    Ok(())
}
