//! `fork`, exported by the preloaded library (Linux): libc's own, made
//! again when the child was copied while another thread was inside one of
//! the allocator's locked sections. That happens only after a fork has let
//! a waiting thread through to break a lock cycle; shim/fork_gate.h tells
//! the whole story.

use crate::ffi;
use crate::libc_api::forward;

forward! {
    /// POSIX `fork`. The child is never left holding a half-updated
    /// allocator: one that would be is discarded (`_exit` before any of the
    /// program's code runs in it) and the process forks again.
    fork => ffi::snrs_fork() -> libc::pid_t;
}
