//! The environment options of the library, named once: read by the library
//! (`config.rs`, the Windows redirection) and set by the launcher, which
//! includes this file. The README's table says what each does.
//!
//! In secure-execution mode (a set-user-ID program, say) the library
//! ignores every one of them and removes them from the environment that
//! the process passes on: `ALL` lists them.

use core::ffi::CStr;

/// `SNMALLOC_STATS`: print a report at exit.
pub const STATS: &CStr = c"SNMALLOC_STATS";
/// `SNMALLOC_STATS_FILE`: append the report to this file instead of stderr.
pub const STATS_FILE: &CStr = c"SNMALLOC_STATS_FILE";
/// `SNMALLOC_VERBOSE`: say on stderr when the library takes over.
pub const VERBOSE: &CStr = c"SNMALLOC_VERBOSE";
/// `SNMALLOC_DECAY`: how long freed memory may be kept before it goes back
/// to the OS (milliseconds, `0` for at once, `kernel` for MADV_FREE).
pub const DECAY: &CStr = c"SNMALLOC_DECAY";
/// `SNMALLOC_REPORT_PID`: only the process with this pid prints the verbose
/// line and the exit report (the launcher sets its own pid, which the
/// program it `exec`s keeps; its children stay quiet unless `--children`).
pub const REPORT_PID: &CStr = c"SNMALLOC_REPORT_PID";

/// Every option, for what applies to all of them.
pub const ALL: [&CStr; 5] = [STATS, STATS_FILE, VERBOSE, DECAY, REPORT_PID];
