//! Opening the report's file (`SNMALLOC_STATS_FILE`, the launcher's
//! `--stats-file`) the way a careful daemon opens a log, so that whoever
//! controls the path cannot make the process write where it should not:
//!
//! - the last component is never followed if it is a symbolic link;
//! - an existing file is appended to only if it is a regular file owned by
//!   the process's real user;
//! - a missing file is created exclusively (never through a name that
//!   appears meanwhile), mode 0600.
//!
//! Self-contained (`core` and `libc`): the library and the launcher, which
//! checks the file before it runs the program, apply the same rule.
//!
//! Also the library's own duplicate of stderr (`Kept`): taken at load, so
//! that a program that closes descriptor 2 before it exits (coreutils do)
//! does not silence the report, and never written to once it no longer is
//! the file it was (a program that closed every descriptor and opened its
//! own data file in its place).

use core::ffi::{c_int, CStr};
use core::fmt;

/// Why the file was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The last component is a symbolic link.
    Symlink,
    /// Not a regular file (a directory, a FIFO, a device).
    NotRegular,
    /// Owned by another user than the process's real user.
    NotOwned,
    /// `open` failed with this `errno`.
    Os(c_int),
}

/// A predicate: "the file ..." reads as a sentence.
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Refusal::Symlink => f.write_str("is a symbolic link"),
            Refusal::NotRegular => f.write_str("is not a regular file"),
            Refusal::NotOwned => f.write_str("belongs to another user"),
            Refusal::Os(libc::ENOENT) => f.write_str("is in a directory that does not exist"),
            Refusal::Os(libc::EISDIR) => f.write_str("is a directory"),
            Refusal::Os(libc::ENOTDIR) => f.write_str("has a path through a non-directory"),
            Refusal::Os(libc::EACCES) | Refusal::Os(libc::EPERM) => {
                f.write_str("cannot be written (permission denied)")
            }
            Refusal::Os(libc::EROFS) => f.write_str("is on a read-only file system"),
            Refusal::Os(libc::ENOSPC) => f.write_str("cannot be created (no space left)"),
            Refusal::Os(libc::ENAMETOOLONG) => f.write_str("has too long a name"),
            Refusal::Os(e) => write!(f, "cannot be opened (errno {e})"),
        }
    }
}

fn errno() -> c_int {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: __errno_location returns this thread's errno slot.
    return unsafe { *libc::__errno_location() };
    #[cfg(any(target_os = "freebsd", target_os = "macos"))]
    // SAFETY: __error returns this thread's errno slot.
    return unsafe { *libc::__error() };
}

/// What `open` says when O_NOFOLLOW meets a symbolic link.
const fn is_symlink_errno(e: c_int) -> bool {
    #[cfg(target_os = "freebsd")]
    return e == libc::EMLINK || e == libc::ELOOP;
    #[cfg(not(target_os = "freebsd"))]
    return e == libc::ELOOP;
}

// O_NONBLOCK: opening a FIFO for writing would otherwise wait for a reader
// (it is refused right after, as not a regular file).
const FLAGS: c_int = libc::O_WRONLY
    | libc::O_APPEND
    | libc::O_CLOEXEC
    | libc::O_NOFOLLOW
    | libc::O_NOCTTY
    | libc::O_NONBLOCK;

/// Keeps `fd`, an existing file, if it is a regular file of the real user's;
/// closes it if not.
fn checked(fd: c_int) -> Result<c_int, Refusal> {
    // SAFETY: an all-zero stat is a valid out-buffer for fstat.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fd is open; st is writable.
    let verdict = if unsafe { libc::fstat(fd, &mut st) } != 0 {
        Err(Refusal::Os(errno()))
    } else if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        Err(Refusal::NotRegular)
    // SAFETY: getuid has no preconditions.
    } else if st.st_uid != unsafe { libc::getuid() } {
        Err(Refusal::NotOwned)
    } else {
        Ok(fd)
    };
    match verdict {
        Ok(fd) => Ok(blocking(fd)),
        Err(why) => {
            // SAFETY: we opened it and it is not handed out.
            unsafe { libc::close(fd) };
            Err(why)
        }
    }
}

/// `fd` without the O_NONBLOCK it was opened with.
fn blocking(fd: c_int) -> c_int {
    // SAFETY: sets the status flags of our own descriptor.
    unsafe { libc::fcntl(fd, libc::F_SETFL, libc::O_APPEND) };
    fd
}

/// Opens `path` for appending, creating it (0600) if it does not exist; the
/// descriptor is close-on-exec and the caller closes it.
pub fn open_append(path: &CStr) -> Result<c_int, Refusal> {
    // Twice at most: a file created between our two opens by someone else
    // is then checked as an existing one.
    for _ in 0..2 {
        // SAFETY: a NUL-terminated path; no mode without O_CREAT.
        let fd = unsafe { libc::open(path.as_ptr(), FLAGS) };
        if fd >= 0 {
            return checked(fd);
        }
        match errno() {
            libc::ENOENT => {}
            // A FIFO without a reader (O_NONBLOCK), a device without a driver.
            libc::ENXIO => return Err(Refusal::NotRegular),
            e if is_symlink_errno(e) => return Err(Refusal::Symlink),
            e => return Err(Refusal::Os(e)),
        }
        // SAFETY: as above, with the mode O_CREAT needs.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                FLAGS | libc::O_CREAT | libc::O_EXCL,
                0o600 as libc::c_uint,
            )
        };
        if fd >= 0 {
            // Made here, by this process: a regular file of its own.
            return Ok(blocking(fd));
        }
        match errno() {
            libc::EEXIST => continue,
            e => return Err(Refusal::Os(e)),
        }
    }
    Err(Refusal::Os(libc::EEXIST))
}

/// A descriptor the library keeps, and the file it was when kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kept {
    fd: c_int,
    dev: u64,
    ino: u64,
}

fn identity(fd: c_int) -> Option<(u64, u64)> {
    // SAFETY: an all-zero stat is a valid out-buffer for fstat.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: st is writable; a closed fd is an error, not UB.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // dev_t and ino_t differ by platform
    Some((st.st_dev as u64, st.st_ino as u64))
}

impl Kept {
    /// A close-on-exec duplicate of `fd`, high in the table where programs
    /// rarely put their own (100 and up, else the lowest free), or `None`
    /// when `fd` is not open.
    pub fn dup(fd: c_int) -> Option<Kept> {
        let (dev, ino) = identity(fd)?;
        // SAFETY: duplicates a descriptor; no memory is involved.
        let mut new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100) };
        if new < 0 {
            // SAFETY: as above.
            new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        }
        (new >= 0).then_some(Kept { fd: new, dev, ino })
    }

    /// The descriptor, if it still is the file it was when kept.
    pub fn get(&self) -> Option<c_int> {
        (identity(self.fd) == Some((self.dev, self.ino))).then_some(self.fd)
    }
}
