//! Options read from the environment once, when the preloaded library is
//! initialised (see the README's table).
//!
//! Read with `getenv`, which does not allocate, and kept in fixed storage:
//! nothing here can call into an allocator that is not ready.

use core::cell::UnsafeCell;
use core::ffi::{c_char, CStr};

/// `SNMALLOC_STATS`: print a report at exit.
pub const STATS: &CStr = c"SNMALLOC_STATS";
/// `SNMALLOC_STATS_FILE`: append the report to this file instead of stderr.
pub const STATS_FILE: &CStr = c"SNMALLOC_STATS_FILE";
/// `SNMALLOC_VERBOSE`: say on stderr when the library takes over.
pub const VERBOSE: &CStr = c"SNMALLOC_VERBOSE";

const PATH_MAX: usize = 1024;

/// The options in force.
#[derive(Clone, Copy)]
pub struct Options {
    /// Print a report at exit.
    pub stats: bool,
    /// Say so on stderr when the library is loaded.
    pub verbose: bool,
    stats_file: [u8; PATH_MAX],
    stats_file_len: usize,
}

impl Options {
    const fn new() -> Self {
        Options {
            stats: false,
            verbose: false,
            stats_file: [0; PATH_MAX],
            stats_file_len: 0,
        }
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

/// The options read at load.
pub fn get() -> Options {
    // SAFETY: see `Slot`: no write happens after initialisation.
    unsafe { *OPTIONS.0.get() }
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

/// Reads the environment. Called once, from the library's initialiser.
pub fn load() {
    let mut o = Options::new();
    o.stats = flag(STATS);
    o.verbose = flag(VERBOSE);
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
    // SAFETY: see `Slot`.
    unsafe { *OPTIONS.0.get() = o };
}
