//! Options read from the environment once, when the preloaded library is
//! initialised (see the README's table).
//!
//! Read with `getenv`, which does not allocate, and kept in fixed storage:
//! nothing here can call into an allocator that is not ready.
//!
//! In secure-execution mode (a set-user-ID, set-group-ID or
//! file-capability program, run by a user who chose its environment) none
//! is read: the process runs with the defaults, and the options are removed
//! from the environment it passes on, as the loader does with `LD_PRELOAD`,
//! so that a child that keeps the privilege without being in that mode
//! (a program that sets all its ids to root, then `exec`s) cannot be
//! steered either.

use core::cell::UnsafeCell;
use core::ffi::{c_char, CStr};

pub use crate::options::{DECAY, REPORT_PID, STATS, STATS_FILE, VERBOSE};

/// What `SNMALLOC_DECAY` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decay {
    /// Keep freed memory for reuse up to this many milliseconds.
    Keep(u64),
    /// Give it back at once (`0`).
    AtOnce,
    /// Mark it MADV_FREE and let the kernel take it (`kernel`).
    Kernel,
}

impl Decay {
    /// Parses the option's value; `None` if it is not one.
    pub fn parse(v: &[u8]) -> Option<Decay> {
        if v.eq_ignore_ascii_case(b"kernel") {
            return Some(Decay::Kernel);
        }
        let ms: u64 = core::str::from_utf8(v).ok()?.trim().parse().ok()?;
        Some(if ms == 0 {
            Decay::AtOnce
        } else {
            Decay::Keep(ms)
        })
    }

    /// Hands the choice to the allocator (`snrs_set_decay`).
    fn apply(self) {
        let (mode, ms) = match self {
            Decay::Keep(ms) => (0, ms),
            Decay::AtOnce => (1, 0),
            Decay::Kernel => (2, 0),
        };
        // SAFETY: sets two atomics; no preconditions.
        unsafe { crate::ffi::snrs_set_decay(mode, ms) };
    }
}

const PATH_MAX: usize = 1024;

/// The options in force.
#[derive(Clone, Copy)]
pub struct Options {
    /// Print a report at exit.
    pub stats: bool,
    /// Say so on stderr when the library is loaded.
    pub verbose: bool,
    /// Only this process reports (0: every process).
    report_pid: i32,
    stats_file: [u8; PATH_MAX],
    stats_file_len: usize,
    /// The library's duplicate of stderr, taken at load when a report is
    /// asked for (`crate::log_file::Kept`).
    pub stderr: Option<crate::log_file::Kept>,
}

impl Options {
    const fn new() -> Self {
        Options {
            stats: false,
            verbose: false,
            report_pid: 0,
            stats_file: [0; PATH_MAX],
            stats_file_len: 0,
            stderr: None,
        }
    }

    /// Whether the calling process is one that reports (`SNMALLOC_REPORT_PID`):
    /// asked at load and again at exit, since a forked child keeps the
    /// options its parent read.
    pub fn reports_here(&self) -> bool {
        // SAFETY: getpid has no preconditions.
        self.report_pid == 0 || self.report_pid == unsafe { libc::getpid() }
    }

    /// The report's file, NUL-terminated, or `None` for stderr.
    pub fn stats_file(&self) -> Option<&CStr> {
        if self.stats_file_len == 0 {
            return None;
        }
        CStr::from_bytes_with_nul(&self.stats_file[..=self.stats_file_len]).ok()
    }
}

struct Slot(UnsafeCell<Options>);
// SAFETY: written only by `load`, from the library's initialiser, before the
// process can have other threads using the library; read-only afterwards.
unsafe impl Sync for Slot {}

static OPTIONS: Slot = Slot(UnsafeCell::new(Options::new()));

/// The options read at load (a reference: the struct holds a path, and
/// the library's initialiser runs on whatever stack the program starts
/// with, `ulimit -s 16` included).
pub fn get() -> &'static Options {
    // SAFETY: see `Slot`: no write happens after initialisation.
    unsafe { &*OPTIONS.0.get() }
}

fn flag(name: &CStr) -> bool {
    // SAFETY: getenv with a NUL-terminated name; the result is read at once.
    let v = unsafe { libc::getenv(name.as_ptr()) };
    if v.is_null() {
        return false;
    }
    // SAFETY: getenv returns a NUL-terminated string.
    crate::option_is_on(unsafe { CStr::from_ptr(v) }.to_bytes())
}

/// Removes every option from the environment (secure-execution mode).
fn scrub() {
    for name in crate::options::ALL {
        // SAFETY: a NUL-terminated name; libc serialises changes to the
        // environment.
        unsafe { libc::unsetenv(name.as_ptr()) };
    }
}

/// Reads the environment. Called once, from the library's initialiser.
pub fn load() {
    if crate::platform::secure_execution() {
        scrub();
        return;
    }
    // SAFETY: see `Slot`: written here only, before any reader; filled in
    // place (a copy on the stack would take a kilobyte of it).
    let o = unsafe { &mut *OPTIONS.0.get() };
    o.stats = flag(STATS);
    o.verbose = flag(VERBOSE);
    // SAFETY: as in `flag`.
    let pid: *const c_char = unsafe { libc::getenv(REPORT_PID.as_ptr()) };
    if !pid.is_null() {
        // SAFETY: NUL-terminated, from getenv.
        let v = unsafe { CStr::from_ptr(pid) }.to_str().unwrap_or("");
        o.report_pid = v.trim().parse().unwrap_or(0);
    }
    // SAFETY: as in `flag`.
    let file: *const c_char = unsafe { libc::getenv(STATS_FILE.as_ptr()) };
    if !file.is_null() {
        // SAFETY: NUL-terminated, from getenv.
        let bytes = unsafe { CStr::from_ptr(file) }.to_bytes();
        if !bytes.is_empty() && bytes.len() < PATH_MAX {
            o.stats_file[..bytes.len()].copy_from_slice(bytes);
            o.stats_file_len = bytes.len();
            // A file implies the report.
            o.stats = true;
        }
    }
    if o.stats {
        o.stderr = crate::log_file::Kept::dup(2);
    }
    // SAFETY: as in `flag`.
    let decay: *const c_char = unsafe { libc::getenv(DECAY.as_ptr()) };
    if !decay.is_null() {
        // SAFETY: NUL-terminated, from getenv.
        let v = unsafe { CStr::from_ptr(decay) }.to_bytes();
        match Decay::parse(v) {
            Some(d) => d.apply(),
            None if v.is_empty() => {}
            None => {
                use core::fmt::Write;
                let mut w = crate::writer::Writer::stderr();
                let _ = writeln!(
                    w,
                    "snmalloc-rs: SNMALLOC_DECAY={} is not a number of milliseconds, 0 or \"kernel\"; using the default",
                    core::str::from_utf8(v).unwrap_or("(not UTF-8)")
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Decay;

    #[test]
    fn decay_values() {
        assert_eq!(Decay::parse(b"kernel"), Some(Decay::Kernel));
        assert_eq!(Decay::parse(b"KERNEL"), Some(Decay::Kernel));
        assert_eq!(Decay::parse(b"0"), Some(Decay::AtOnce));
        assert_eq!(Decay::parse(b"250"), Some(Decay::Keep(250)));
        assert_eq!(Decay::parse(b" 10 "), Some(Decay::Keep(10)));
        assert_eq!(Decay::parse(b"-1"), None);
        assert_eq!(Decay::parse(b"1s"), None);
        assert_eq!(Decay::parse(b""), None);
    }
}
