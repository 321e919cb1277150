//! What differs between the platforms the launcher runs on: how a library
//! is injected, its file names, where other allocators live, and units.

#[cfg(target_os = "macos")]
use std::path::Path;

#[cfg(target_os = "macos")]
mod consts {
    pub const PRELOAD_VAR: &str = "DYLD_INSERT_LIBRARIES";
    pub const SEPARATOR: &str = ":";
    pub const LIB: &str = "libsnmalloc_rs.dylib";
    pub const PROFILE_LIB: &str = "libsnmalloc_rs_profile.dylib";
    pub const CHECK_LIB: &str = "libsnmalloc_rs-check.dylib";
    /// `ru_maxrss` is in bytes on macOS.
    pub const MAXRSS_UNIT: u64 = 1;
    pub const PEERS: [(&str, &str); 3] = [
        ("jemalloc", "libjemalloc.2.dylib"),
        ("mimalloc", "libmimalloc.dylib"),
        ("tcmalloc", "libtcmalloc_minimal.dylib"),
    ];
    pub const LIB_DIRS: &[&str] = &["/opt/homebrew/lib", "/usr/local/lib", "/opt/local/lib"];
}

#[cfg(windows)]
mod consts {
    // Injected, not preloaded: these two only name things in messages.
    pub const PRELOAD_VAR: &str = "SNMALLOC_RS_DLL";
    pub const SEPARATOR: &str = ";";
    pub const LIB: &str = "snmalloc_rs.dll";
    pub const PROFILE_LIB: &str = "snmalloc_rs_profile.dll";
    pub const CHECK_LIB: &str = "snmalloc_rs-check.dll";
}

#[cfg(not(any(target_os = "macos", windows)))]
mod consts {
    pub const PRELOAD_VAR: &str = "LD_PRELOAD";
    pub const SEPARATOR: &str = " ";
    pub const LIB: &str = "libsnmalloc_rs.so";
    pub const PROFILE_LIB: &str = "libsnmalloc_rs_profile.so";
    /// The hardened build (`--check`; scripts/install.sh installs it).
    pub const CHECK_LIB: &str = "libsnmalloc_rs-check.so";
    /// The musl build of the library, used for musl programs when it is
    /// installed next to the glibc one.
    pub const MUSL_LIB: &str = "libsnmalloc_rs-musl.so";
    /// `ru_maxrss` is in KiB on Linux and FreeBSD.
    pub const MAXRSS_UNIT: u64 = 1024;
    pub const PEERS: [(&str, &str); 3] = [
        ("jemalloc", "libjemalloc.so.2"),
        ("mimalloc", "libmimalloc.so.2"),
        ("tcmalloc", "libtcmalloc_minimal.so.4"),
    ];
    pub const LIB_DIRS: &[&str] = &[
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
        "/lib/x86_64-linux-gnu",
    ];
}

pub use consts::*;

/// The DLL that `--add-import` makes a Windows program load.
pub const WINDOWS_DLL: &str = "snmalloc_rs.dll";

/// Whether injection can work for `program`. System Integrity Protection
/// strips `DYLD_*` variables from protected binaries: say so rather than
/// run them silently on the system allocator.
#[cfg(target_os = "macos")]
pub fn check_preloadable(program: &Path) -> Result<(), String> {
    const PROTECTED: [&str; 4] = ["/usr/bin/", "/bin/", "/sbin/", "/System/"];
    let p = program.to_string_lossy();
    if PROTECTED.iter().any(|d| p.starts_with(d)) {
        return Err("is protected by System Integrity Protection, which strips \
                    DYLD_INSERT_LIBRARIES: use a copy outside the system paths, or another build"
            .into());
    }
    Ok(())
}
