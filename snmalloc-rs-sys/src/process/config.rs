//! Options read from the environment once, when the preloaded library is
//! initialised (see the README's table; their grammar is `crate::options`).
//!
//! Read with `getenv`, which does not allocate, and kept in fixed storage:
//! nothing here can call into an allocator that is not ready.
//!
//! A bad value and an unknown `SNMALLOC_*` name each get one line on stderr
//! naming what is used instead, once per process: the line is not repeated
//! when the process `exec`s (a shell script, a wrapper), for which the
//! library notes the pid that said it in the environment it passes on
//! (`SNMALLOC_RS_SAID`); a child, another process, says it again.
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
use core::fmt::Write;

use crate::options::{self, Decay, Stats, DECAY, REPORT_PID, STATS, STATS_FILE, VERBOSE};
use crate::process::writer::{Escaped, Writer};

/// Hands the decay policy to the allocator (`snrs_set_decay`).
fn apply(decay: Decay) {
    let (mode, ms) = match decay {
        Decay::Keep(ms) => (0, ms),
        Decay::AtOnce => (1, 0),
        Decay::Kernel => (2, 0),
    };
    // SAFETY: sets two atomics; no preconditions.
    unsafe { crate::ffi::snrs_set_decay(mode, ms) };
}

const PATH_MAX: usize = 1024;

/// Where the library notes the pid that has said its lines (verbose,
/// warnings) for this process.
const SAID: &CStr = c"SNMALLOC_RS_SAID";

/// The options in force.
pub struct Options {
    /// The report to print at exit.
    pub stats: Stats,
    /// Say so on stderr when the library is loaded.
    pub verbose: bool,
    /// This process has said its lines already, before an `exec`.
    pub said: bool,
    /// Only this process reports (0: every process).
    report_pid: i32,
    stats_file: [u8; PATH_MAX],
    stats_file_len: usize,
    /// The library's duplicate of stderr, taken at load when a report is
    /// asked for (`crate::options::log_file::Kept`).
    pub stderr: Option<crate::options::log_file::Kept>,
    /// When the library was loaded (CLOCK_MONOTONIC, ns): the report's
    /// wall time.
    pub loaded_ns: u64,
    /// The pid of the process that loaded the library (a forked child has
    /// another).
    pub loaded_pid: i32,
}

impl Options {
    const fn new() -> Self {
        Options {
            stats: Stats::Off,
            verbose: false,
            said: false,
            report_pid: 0,
            stats_file: [0; PATH_MAX],
            stats_file_len: 0,
            stderr: None,
            loaded_ns: 0,
            loaded_pid: 0,
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

/// The value of `name`, if set.
fn var(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: getenv with a NUL-terminated name.
    let v: *const c_char = unsafe { libc::getenv(name.as_ptr()) };
    // SAFETY: getenv returns NULL or a NUL-terminated string of environ.
    (!v.is_null()).then(|| unsafe { CStr::from_ptr(v) }.to_bytes())
}

/// Removes every option from the environment (secure-execution mode).
fn scrub() {
    for name in options::ALL {
        // SAFETY: a NUL-terminated name; libc serialises changes to the
        // environment.
        unsafe { libc::unsetenv(name.as_ptr()) };
    }
}

/// Whether this process said a warning.
static WARNED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// One line of warning on stderr.
fn warn(args: core::fmt::Arguments<'_>) {
    WARNED.store(true, core::sync::atomic::Ordering::Relaxed);
    let mut w = Writer::stderr();
    let _ = w.write_str("snmalloc-rs: ");
    let _ = w.write_fmt(args);
    w.end_line();
}

/// A value that is not one of the option's.
fn bad(name: &CStr, v: &[u8], expected: &str, instead: &str) {
    warn(format_args!(
        "{}={} is not {expected}; using {instead}",
        name.to_str().unwrap_or_default(),
        Escaped(v)
    ));
}

/// Says so for every `SNMALLOC_*` variable that is no option.
fn unknown_names() {
    extern "C" {
        static environ: *const *const c_char;
    }
    // SAFETY: the environment, read at load, before other threads could
    // change it; each entry is a NUL-terminated string.
    let mut e = unsafe { environ };
    while !e.is_null() {
        // SAFETY: environ is NULL-terminated.
        let entry = unsafe { *e };
        if entry.is_null() {
            break;
        }
        // SAFETY: a NUL-terminated entry.
        let bytes = unsafe { CStr::from_ptr(entry) }.to_bytes();
        let name = bytes.split(|&b| b == b'=').next().unwrap_or_default();
        if name.starts_with(b"SNMALLOC_")
            && !options::ALL.iter().any(|o| o.to_bytes() == name)
            && !options::NOT_OPTIONS.iter().any(|p| name.starts_with(p))
        {
            if let Some((_, why)) = options::RETIRED.iter().find(|(r, _)| *r == name) {
                warn(format_args!(
                    "{} is no longer an option: {why}; ignored",
                    Escaped(name)
                ));
            } else {
            match options::closest(name) {
                Some(o) => warn(format_args!(
                    "{} is not an option of snmalloc-rs (did you mean {}?); ignored",
                    Escaped(name),
                    o.to_str().unwrap_or_default()
                )),
                None => warn(format_args!(
                    "{} is not an option of snmalloc-rs; ignored",
                    Escaped(name)
                )),
            }
            }
        }
        // SAFETY: still within the NULL-terminated array.
        e = unsafe { e.add(1) };
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
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    o.said = var(SAID)
        .and_then(options::parse_pid)
        .is_some_and(|p| p == pid);
    let say = !o.said;
    o.stats = match var(STATS) {
        None => Stats::Off,
        Some(v) => options::parse_stats(v).unwrap_or_else(|| {
            if say {
                bad(STATS, v, "on, off or json", "off");
            }
            Stats::Off
        }),
    };
    o.verbose = match var(VERBOSE) {
        None => false,
        Some(v) => options::parse_bool(v).unwrap_or_else(|| {
            if say {
                bad(VERBOSE, v, "on or off", "off");
            }
            false
        }),
    };
    if let Some(v) = var(REPORT_PID) {
        o.report_pid = options::parse_pid(v).unwrap_or_else(|| {
            if say && !v.is_empty() {
                bad(REPORT_PID, v, "a process id", "every process");
            }
            0
        });
    }
    if let Some(bytes) = var(STATS_FILE) {
        if !bytes.is_empty() && bytes.len() < PATH_MAX {
            o.stats_file[..bytes.len()].copy_from_slice(bytes);
            o.stats_file_len = bytes.len();
            // A file implies the report, unless SNMALLOC_STATS said off.
            if var(STATS).is_none() {
                o.stats = Stats::Text;
            }
        } else if say && !bytes.is_empty() {
            bad(STATS_FILE, b"(too long)", "a path", "stderr");
        }
    }
    if o.stats != Stats::Off {
        o.stderr = crate::options::log_file::Kept::dup(2);
        o.loaded_ns = crate::platform::now_ns();
        // SAFETY: getpid has no preconditions.
        o.loaded_pid = unsafe { libc::getpid() };
    }
    if let Some(v) = var(DECAY) {
        match options::parse_decay(v) {
            Some(d) => apply(d),
            None if v.is_empty() => {}
            None if say => bad(
                DECAY,
                v,
                "a number of milliseconds, 0 or \"kernel\"",
                "the default",
            ),
            None => {}
        }
    }
    if say {
        unknown_names();
    }
}

/// Notes in the environment that this process has said its lines (the
/// verbose line, warnings), so that what it `exec`s does not say them
/// again. Called after the verbose line; nothing is noted when nothing was
/// said.
pub fn mark_said(verbose_said: bool) {
    let o = get();
    if o.said || !(verbose_said || WARNED.load(core::sync::atomic::Ordering::Relaxed)) {
        return;
    }
    // The pid in decimal, NUL-terminated.
    let mut digits = [0u8; 16];
    // SAFETY: getpid has no preconditions.
    let mut n = unsafe { libc::getpid() }.unsigned_abs();
    let mut i = digits.len() - 1;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // SAFETY: NUL-terminated name and value (digits ends with its NUL);
    // setenv copies them.
    unsafe { libc::setenv(SAID.as_ptr(), digits[i..].as_ptr().cast(), 1) };
}
