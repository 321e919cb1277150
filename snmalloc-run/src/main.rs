//! `snmalloc-run CMD ARGS...`: runs CMD with libsnmalloc_rs.so preloaded.
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{exit, Command};

const LIB: &str = "libsnmalloc_rs.so";

/// The library next to this executable, in ../lib (an installed layout), or
/// in deps/ (Cargo's layout when only this package was built).
fn find_library() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [
        dir.join(LIB),
        dir.join("../lib").join(LIB),
        dir.join("deps").join(LIB),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .and_then(|p| p.canonicalize().ok())
}

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(cmd) = args.next() else {
        eprintln!("usage: snmalloc-run CMD [ARGS...]");
        exit(2);
    };
    let Some(lib) = find_library() else {
        eprintln!("snmalloc-run: {LIB} not found next to this executable or in ../lib");
        exit(127);
    };
    let mut preload = OsString::from(lib.as_os_str());
    if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        preload.push(" ");
        preload.push(old);
    }
    let err = Command::new(&cmd)
        .args(args)
        .env("LD_PRELOAD", preload)
        .exec();
    eprintln!("snmalloc-run: cannot run {}: {err}", cmd.to_string_lossy());
    exit(if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    });
}
