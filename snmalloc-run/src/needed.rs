//! `--add-needed APP OUT`: the Linux counterpart of `--add-import`. OUT is
//! a copy of APP whose first DT_NEEDED entry is our library, so that the
//! loader loads it (and its `malloc` interposes libc's) without the
//! launcher or `LD_PRELOAD`. The ELF surgery is patchelf's (Debian package
//! `patchelf`); APP itself is never written.

use crate::cli::{fail, status};
use crate::elf;
use std::path::Path;
use std::process::Command;

/// The DT_NEEDED entries of `file`, in order.
fn needed(file: &Path) -> Result<Vec<String>, String> {
    let out = Command::new("patchelf")
        .arg("--print-needed")
        .arg(file)
        .output()
        .map_err(|e| format!("cannot run patchelf ({e}): install it (apt-get install patchelf)"))?;
    if !out.status.success() {
        return Err(format!(
            "patchelf --print-needed failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

/// Writes OUT, or exits with a one-line reason.
pub fn add_needed(app: &Path, out: &Path, lib: &Path) -> ! {
    let failed = |why: String| -> ! { fail(status::FAILED, format!("{}: {why}", app.display())) };
    let facts = match elf::check_program(app) {
        Ok(Some(f)) => f,
        Ok(None) => {
            failed("is not an ELF program (a script? patch its interpreter instead)".into())
        }
        Err(why) => failed(why),
    };
    if facts.is_musl() {
        failed(format!(
            "is linked against musl ({}); {} is built for glibc",
            facts.interpreter.as_deref().unwrap_or("?"),
            lib.display()
        ));
    }
    if let Err(why) = elf::check_library(lib, facts.arch) {
        fail(status::BAD_LIBRARY, format!("{}: {why}", lib.display()));
    }
    let before = needed(app).unwrap_or_else(|e| failed(e));
    if before.iter().any(|n| n.contains("libsnmalloc_rs")) {
        failed(format!(
            "already loads {}",
            before
                .iter()
                .find(|n| n.contains("libsnmalloc_rs"))
                .unwrap()
        ));
    }
    if app.canonicalize().ok() == out.canonicalize().ok() {
        failed("OUT must be another file: APP is not modified".into());
    }
    // OUT is never followed: a symbolic link there (planted in a shared
    // directory) is refused, and the copy is written to a file of our own
    // beside it, then renamed over OUT.
    let out_failed = |why: &str| -> ! { fail(status::FAILED, format!("{}: {why}", out.display())) };
    match std::fs::symlink_metadata(out) {
        Ok(m) if m.file_type().is_symlink() => out_failed("is a symbolic link"),
        Ok(m) if !m.is_file() => out_failed("is not a regular file"),
        _ => {}
    }
    let name = out
        .file_name()
        .unwrap_or_else(|| out_failed("names no file"));
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".snmalloc-run-{}", std::process::id()));
    let tmp = out.with_file_name(tmp_name);
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .unwrap_or_else(|e| out_failed(&format!("cannot be written: {e}")));
    }
    let cleanup_failed = |why: String| -> ! {
        let _ = std::fs::remove_file(&tmp);
        failed(why)
    };
    // The library by absolute path: the copy needs no search path.
    let st = Command::new("patchelf")
        .arg("--add-needed")
        .arg(lib)
        .arg("--output")
        .arg(&tmp)
        .arg(app)
        .status()
        .unwrap_or_else(|e| cleanup_failed(format!("cannot run patchelf: {e}")));
    if !st.success() {
        cleanup_failed(format!("patchelf --add-needed failed ({st})"));
    }
    // The loader binds malloc to the first object that defines it: ours
    // must come before libc.
    let after = needed(&tmp).unwrap_or_else(|e| cleanup_failed(e));
    if after.first().map(String::as_str) != lib.to_str() {
        cleanup_failed(format!(
            "patchelf did not put {} first in DT_NEEDED ({after:?})",
            lib.display()
        ));
    }
    // APP's permissions, without set-user-ID or set-group-ID.
    if let Ok(m) = std::fs::metadata(app) {
        use std::os::unix::fs::PermissionsExt;
        let mode = m.permissions().mode() & 0o777;
        let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode));
    }
    if let Err(e) = std::fs::rename(&tmp, out) {
        let _ = std::fs::remove_file(&tmp);
        out_failed(&format!("cannot be written: {e}"));
    }
    eprintln!(
        "snmalloc-run: wrote {}: loads {} at start, before {}",
        out.display(),
        lib.display(),
        before.join(", ")
    );
    std::process::exit(0)
}
