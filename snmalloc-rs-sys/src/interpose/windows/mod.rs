//! Windows: the DLL redirects the C runtime's allocator of the process it
//! is loaded into (feature `override`), detours-style.
//!
//! When the DLL is attached (from its TLS callback, so that it also works
//! when the rlib is linked into an executable), every C runtime already
//! loaded (`ucrtbase.dll`, `msvcrt.dll`, `msvcr*.dll`) has its allocation
//! functions patched to jump to ours (`crt`, `hook`), and a loader
//! notification does the same for runtimes loaded later. The thread
//! teardown of snmalloc's per-thread state lives with it in the C++ side
//! (shim/process/windows_thread.h).

mod crt;
mod hook;
use crate::platform::windows_sys as sys;
#[allow(dead_code)] // Parts are only used by the unit tests.
pub mod x64;

use crate::process::writer::Writer;
use core::ffi::c_void;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The C runtimes whose allocators are redirected. Debug runtimes are left
/// alone: their heap keeps headers around every block.
const CRTS: &[&str] = &[
    "ucrtbase.dll",
    "msvcrt.dll",
    "msvcr120.dll",
    "msvcr110.dll",
    "msvcr100.dll",
    "msvcr90.dll",
    "msvcr80.dll",
    "msvcr71.dll",
    "msvcr70.dll",
];

static VERBOSE: AtomicBool = AtomicBool::new(false);
/// Module bases redirected so far, one per slot of `crt`.
static SLOTS: [AtomicUsize; crt::SLOTS] = [const { AtomicUsize::new(0) }; crt::SLOTS];
/// Held while a module is being redirected.
static BUSY: AtomicBool = AtomicBool::new(false);

fn env_flag(name: &[u8]) -> bool {
    let mut v = [0u8; 16];
    // SAFETY: a NUL-terminated name and a buffer of the size given.
    let n = unsafe { sys::GetEnvironmentVariableA(name.as_ptr(), v.as_mut_ptr(), v.len() as u32) };
    // n is 0 when unset (off), the size needed when longer than the buffer
    // (longer than any spelling: not a boolean, off).
    let n = n as usize;
    n < v.len() && crate::options::parse_bool(&v[..n]) == Some(true)
}

/// `name` as a NUL-terminated UTF-16 string (ASCII names only).
fn wide(name: &str) -> [u16; 32] {
    let mut w = [0u16; 32];
    for (d, s) in w.iter_mut().zip(name.bytes().take(31)) {
        *d = s as u16;
    }
    w
}

/// Which of our CRT names a loaded module's base name is.
fn crt_name(base_name: &[u16]) -> Option<&'static str> {
    CRTS.iter().copied().find(|n| {
        n.len() == base_name.len()
            && n.bytes()
                .zip(base_name)
                .all(|(a, &b)| b < 128 && (b as u8).eq_ignore_ascii_case(&a))
    })
}

fn init() {
    VERBOSE.store(
        env_flag(crate::options::VERBOSE.to_bytes_with_nul()),
        Ordering::Relaxed,
    );
    // An allocator must never be unloaded while its memory is live.
    let mut me = core::ptr::null_mut();
    // SAFETY: pins the module containing this function.
    unsafe {
        sys::GetModuleHandleExW(
            sys::GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | sys::GET_MODULE_HANDLE_EX_FLAG_PIN,
            init as *const u16,
            &mut me,
        )
    };
    if VERBOSE.load(Ordering::Relaxed) {
        let mut l = Writer::stderr();
        // SAFETY: no preconditions.
        let pid = unsafe { sys::GetCurrentProcessId() };
        let _ = write!(
            l,
            "snmalloc-rs {}: serving allocations of pid {pid}",
            env!("CARGO_PKG_VERSION")
        );
        l.end_line();
    }
    // snmalloc's first allocation initialises its Windows PAL, which
    // registers an atexit destructor: that must reach the CRT's own malloc,
    // not (re-entrantly) ours, so it happens before any hook.
    // SAFETY: a plain allocation and its free; then the PAL is initialised.
    unsafe {
        crate::ffi::snrs_free(crate::ffi::snrs_malloc(1));
        crate::ffi::snrs_keep_lazy_commit();
    }
    for name in CRTS {
        let w = wide(name);
        // SAFETY: a NUL-terminated wide name; no reference is taken.
        let module = unsafe { sys::GetModuleHandleW(w.as_ptr()) };
        if !module.is_null() {
            redirect_module(name, module);
        }
    }
    let mut cookie = core::ptr::null_mut();
    // SAFETY: the callback is a static function, never unregistered (the
    // module is pinned).
    let status = unsafe {
        sys::LdrRegisterDllNotification(0, on_dll_event, core::ptr::null_mut(), &mut cookie)
    };
    if status != 0 {
        let mut l = Writer::stderr();
        let _ = write!(l, "snmalloc-rs: C runtimes loaded later will not be redirected (LdrRegisterDllNotification: {status:#x})");
        l.end_line();
    }
}

/// Runs on every DLL load, under the loader lock, before the DLL's own
/// initialisation: a C runtime is redirected before any of its code runs.
unsafe extern "system" fn on_dll_event(
    reason: u32,
    data: *const sys::DllNotificationData,
    _: *mut c_void,
) {
    if reason != sys::LDR_DLL_NOTIFICATION_REASON_LOADED || data.is_null() {
        return;
    }
    // SAFETY: the loader passes valid notification data for this call.
    let (name, base) = unsafe {
        let d = &*data;
        let s = &*d.base_dll_name;
        (
            core::slice::from_raw_parts(s.buffer, s.length as usize / 2),
            d.dll_base,
        )
    };
    if let Some(crt) = crt_name(name) {
        redirect_module(crt, base);
    }
}

fn redirect_module(name: &str, module: *mut c_void) {
    while BUSY.swap(true, Ordering::Acquire) {
        core::hint::spin_loop();
    }
    redirect_locked(name, module);
    BUSY.store(false, Ordering::Release);
}

fn redirect_locked(name: &str, module: *mut c_void) {
    let base = module as usize;
    if SLOTS.iter().any(|s| s.load(Ordering::Relaxed) == base) {
        return;
    }
    let Some(slot) = SLOTS.iter().position(|s| s.load(Ordering::Relaxed) == 0) else {
        let mut l = Writer::stderr();
        let _ = write!(
            l,
            "snmalloc-rs: left {name} alone: more C runtimes than {} in one process",
            crt::SLOTS
        );
        l.end_line();
        return;
    };
    // Every entry fits in the patch tables, and every name in `cname`.
    const _: () = assert!(crt::NAMES.len() <= hook::MAX, "hook::MAX < crt::NAMES");
    const _: () = {
        let mut i = 0;
        while i < crt::NAMES.len() {
            assert!(crt::NAMES[i].0.len() < 40, "a CRT name longer than cname");
            i += 1;
        }
    };
    let mut targets = [hook::Target {
        at: core::ptr::null_mut(),
        replacement: 0,
    }; hook::MAX];
    let mut which = [0usize; hook::MAX];
    let mut n = 0;
    for (i, &(export, _)) in crt::NAMES.iter().enumerate() {
        let mut cname = [0u8; 40];
        cname[..export.len()].copy_from_slice(export.as_bytes());
        // SAFETY: a loaded module and a NUL-terminated name.
        let at = unsafe { sys::GetProcAddress(module, cname.as_ptr()) }.cast::<u8>();
        // Aliases (`_o_malloc` is `malloc` in some builds) are patched once.
        if at.is_null() || targets[..n].iter().any(|t| t.at == at) || n == hook::MAX {
            continue;
        }
        targets[n] = hook::Target {
            at,
            replacement: crt::replacement(slot, i),
        };
        which[n] = i;
        n += 1;
    }
    if n == 0 {
        return;
    }
    // SAFETY: as above.
    let errno = unsafe { sys::GetProcAddress(module, c"_errno".as_ptr().cast()) };
    crt::set_errno_fn(slot, errno as usize);
    let mut trampolines = [0usize; hook::MAX];
    // SAFETY: the targets are exported functions of a loaded module; this
    // runs while the DLL is being loaded (see the README for the limits).
    let done = unsafe {
        hook::redirect(&targets[..n], &mut trampolines, |tramps| {
            for (k, &t) in tramps.iter().enumerate() {
                crt::set_original(slot, which[k], t);
            }
        })
    };
    match done {
        Ok(()) => {
            SLOTS[slot].store(base, Ordering::Relaxed);
            // Our blocks may still be freed through it, and its trampolines
            // used: a redirected CRT stays loaded.
            let mut pinned = core::ptr::null_mut();
            // SAFETY: pins a module that is loaded (we just patched it).
            unsafe {
                sys::GetModuleHandleExW(
                    sys::GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS
                        | sys::GET_MODULE_HANDLE_EX_FLAG_PIN,
                    module as *const u16,
                    &mut pinned,
                )
            };
            if VERBOSE.load(Ordering::Relaxed) {
                let mut l = Writer::stderr();
                let _ = write!(l, "snmalloc-rs: redirected {n} functions of {name}:");
                for &i in &which[..n] {
                    let _ = write!(l, " {}", crt::NAMES[i].0);
                }
                l.end_line();
            }
        }
        Err(refusal) => {
            let mut l = Writer::stderr();
            let _ = write!(
                l,
                "snmalloc-rs: left {name} alone: cannot move the first instructions of {} ({}; bytes",
                crt::NAMES[which[refusal.index]].0,
                refusal.error
            );
            for b in refusal.bytes {
                let _ = write!(l, " {b:02x}");
            }
            let _ = write!(l, ")");
            l.end_line();
        }
    }
}

/// The TLS callback: runs when the module is attached, in an executable
/// or a DLL, before `DllMain` and before the program's `main`.
unsafe extern "system" fn on_tls(_module: *mut c_void, reason: u32, _reserved: *mut c_void) {
    if reason == sys::DLL_PROCESS_ATTACH {
        init();
    }
}

#[used]
#[link_section = ".CRT$XLY"]
static ON_TLS: unsafe extern "system" fn(*mut c_void, u32, *mut c_void) = on_tls;
