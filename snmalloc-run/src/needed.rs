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
    // The library by absolute path: the copy needs no search path.
    let st = Command::new("patchelf")
        .arg("--add-needed")
        .arg(lib)
        .arg("--output")
        .arg(out)
        .arg(app)
        .status()
        .unwrap_or_else(|e| failed(format!("cannot run patchelf: {e}")));
    if !st.success() {
        failed(format!("patchelf --add-needed failed ({st})"));
    }
    // The loader binds malloc to the first object that defines it: ours
    // must come before libc.
    let after = needed(out).unwrap_or_else(|e| failed(e));
    if after.first().map(String::as_str) != lib.to_str() {
        let _ = std::fs::remove_file(out);
        failed(format!(
            "patchelf did not put {} first in DT_NEEDED ({after:?})",
            lib.display()
        ));
    }
    eprintln!(
        "snmalloc-run: wrote {}: loads {} at start, before {}",
        out.display(),
        lib.display(),
        before.join(", ")
    );
    std::process::exit(0)
}
