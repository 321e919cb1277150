//! `snmalloc-run`: run any program with snmalloc-rs as its allocator, see
//! what it did, and compare allocators on it.
//!
//! `snmalloc-run --help` (`cli.rs`) lists the options and exit statuses.

// On Windows only injection and --add-import exist (no --compare, stats).
#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

mod cli;
#[cfg(unix)]
mod compare;
#[cfg(not(any(target_os = "macos", windows)))]
mod elf;
#[cfg(not(any(target_os = "macos", windows)))]
mod needed;
mod pe;
// The library's environment options, named once, and how it opens the
// report's file, which --stats-file is checked by.
use snmalloc_rs_options as options;
#[cfg(unix)]
use snmalloc_rs_options::log_file;
mod platform;
#[cfg(windows)]
mod windows;

use std::ffi::{OsStr, OsString};
#[cfg(unix)]
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

use cli::{fail, status, Args};
use platform::{CHECK_LIB, LIB, PRELOAD_VAR, PROFILE_LIB};

/// `name` (or its versioned `name.0`) next to this executable, in ../lib
/// or ../lib/<multiarch> (installed layouts: `scripts/install.sh`, the
/// .deb), in deps/ (Cargo's layout when only the launcher was built), and
/// last in the system's library directories (a launcher installed with
/// `cargo install` and a library from the package).
fn find_library(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    #[cfg(unix)]
    let system = platform::LIB_DIRS;
    #[cfg(not(unix))]
    let system: &[&str] = &[];
    let dirs = [
        dir.to_path_buf(),
        dir.join("../lib"),
        // Debian's name for this machine's directory under /usr/lib.
        dir.join("../lib")
            .join(format!("{}-linux-gnu", std::env::consts::ARCH)),
        dir.join("deps"),
    ]
    .into_iter()
    .chain(system.iter().map(PathBuf::from));
    dirs.flat_map(|d| [d.join(name), d.join(format!("{name}.0"))])
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

fn library(a: &Args) -> PathBuf {
    if let Some(lib) = &a.lib {
        if !lib.is_file() {
            fail(
                status::NO_LIBRARY,
                format!("{}: no such library", lib.display()),
            );
        }
        return lib.canonicalize().unwrap_or_else(|_| lib.clone());
    }
    let (name, how) = if a.profile {
        (
            PROFILE_LIB,
            "build it with `cargo build --release -p snmalloc-rs-profile` (scripts/install.sh and the .deb install it)",
        )
    } else if a.check {
        (
            CHECK_LIB,
            "install it with scripts/install.sh (or the .deb), or build it with `cargo build --release \
             -p snmalloc-rs-preload --features snmalloc-rs/check --target-dir target/check-lib` \
             and pass --lib target/check-lib/release/libsnmalloc_rs.so",
        )
    } else {
        (LIB, "build it with `cargo build --release`")
    };
    find_library(name).unwrap_or_else(|| {
        fail(
            status::NO_LIBRARY,
            format!(
                "{name} not found next to this executable, in ../lib or the system's library \
                 directories: {how}"
            ),
        )
    })
}

/// CMD as the kernel will find it: a path, or the first match in PATH.
#[cfg(unix)]
fn resolve(cmd: &OsStr) -> Option<PathBuf> {
    let p = Path::new(cmd);
    if p.components().count() > 1 || cmd.to_string_lossy().contains('/') {
        return p.is_file().then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(cmd)).find(|c| {
        use std::os::unix::fs::PermissionsExt;
        c.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

/// The injection variable's value: what was there first (a tool such as
/// heaptrack, whose `malloc` records each call and passes it on to the
/// next definition, ours), then our library.
pub fn preload_value(lib: &Path) -> OsString {
    let mut v = OsString::new();
    if let Some(old) = std::env::var_os(PRELOAD_VAR).filter(|v| !v.is_empty()) {
        v.push(old);
        v.push(platform::SEPARATOR);
    }
    v.push(lib.as_os_str());
    v
}

/// `--add-import`: the permanent alternative to injection on Windows.
fn add_import(exe: &Path, out: &Path) -> ! {
    let image = std::fs::read(exe)
        .unwrap_or_else(|e| fail(status::FAILED, format!("{}: {e}", exe.display())));
    match pe::add_import(&image, platform::WINDOWS_DLL, "snmalloc_rs_owns") {
        Ok(p) => {
            // The loader takes imports in order: ours must come first.
            let first = pe::imports(&p.image)
                .ok()
                .and_then(|v| v.into_iter().next());
            if first.as_deref() != Some(platform::WINDOWS_DLL) {
                fail(
                    status::FAILED,
                    format!(
                        "{}: the patched import table does not start with {}",
                        exe.display(),
                        platform::WINDOWS_DLL
                    ),
                );
            }
            std::fs::write(out, &p.image)
                .unwrap_or_else(|e| fail(status::FAILED, format!("{}: {e}", out.display())));
            if p.stripped_signature {
                eprintln!("snmalloc-run: {}: its Authenticode signature no longer matched and was removed", exe.display());
            }
            eprintln!(
                "snmalloc-run: wrote {}: loads {} at start; keep the DLL next to it or on PATH",
                out.display(),
                platform::WINDOWS_DLL
            );
            exit(0)
        }
        Err(why) => fail(status::FAILED, format!("{}: {why}", exe.display())),
    }
}

#[cfg(windows)]
fn main() {
    let a = cli::parse(std::env::args_os().skip(1));
    if let Some((exe, out)) = &a.add_import {
        add_import(exe, out);
    }
    if a.add_needed.is_some() {
        fail(
            status::USAGE,
            "--add-needed is for ELF programs (Linux); use --add-import",
        );
    }
    if a.compare || a.profile || a.stats || a.stats_file.is_some() {
        fail(
            status::USAGE,
            "--compare, --stats and --profile are not available on Windows",
        );
    }
    let dll = library(&a);
    exit(windows::run(&a.cmd, &dll, a.verbose))
}

/// CMD, found, or exit 127.
#[cfg(unix)]
fn program(a: &Args) -> PathBuf {
    resolve(&a.cmd[0]).unwrap_or_else(|| {
        fail(
            status::NOT_FOUND,
            format!(
                "{}: command not found (no such file, nor an executable of that name in PATH)",
                a.cmd[0].to_string_lossy()
            ),
        )
    })
}

/// Everything that can be known before `exec`: CMD can take a preloaded
/// library, and the library (ours, `--lib`, the musl build for a musl
/// program) is one for it. Returns the library and CMD's machine.
#[cfg(not(any(target_os = "macos", windows)))]
fn preflight(a: &Args, program: &Path) -> (PathBuf, object::Architecture) {
    let facts = elf::check_program(program).unwrap_or_else(|why| {
        fail(
            status::CANNOT_PRELOAD,
            format!("{}: {why}", program.display()),
        )
    });
    let arch = facts.as_ref().map_or_else(elf::host_arch, |f| f.arch);
    let mut lib = library(a);
    if facts.as_ref().is_some_and(elf::Facts::is_musl) {
        if a.profile || a.check {
            fail(
                status::CANNOT_PRELOAD,
                format!(
                    "{}: is linked against musl, and the {} library has no musl build",
                    program.display(),
                    if a.profile { "profiling" } else { "hardened" }
                ),
            );
        }
        let musl = lib.with_file_name(platform::MUSL_LIB);
        if !musl.is_file() {
            fail(
                status::CANNOT_PRELOAD,
                format!(
                    "{}: is linked against musl ({}); {} is built for glibc and would not load, \
                     and no musl build ({}) is installed next to it",
                    program.display(),
                    facts
                        .as_ref()
                        .and_then(|f| f.interpreter.as_deref())
                        .unwrap_or("?"),
                    lib.display(),
                    platform::MUSL_LIB
                ),
            );
        }
        lib = musl;
    }
    if let Err(why) = elf::check_library(&lib, arch) {
        fail(status::BAD_LIBRARY, format!("{}: {why}", lib.display()));
    }
    if let Some(why) = elf::secure_execution(program) {
        eprintln!(
            "snmalloc-run: warning: {} {why}: the kernel runs it in secure-execution mode, \
             where the loader ignores {PRELOAD_VAR}; it will run on its own allocator",
            program.display()
        );
    }
    (lib, arch)
}

/// macOS: no machine to report (System Integrity Protection is the check).
#[cfg(target_os = "macos")]
fn preflight(a: &Args, program: &Path) -> (PathBuf, ()) {
    if let Err(why) = platform::check_preloadable(program) {
        fail(
            status::CANNOT_PRELOAD,
            format!("{}: {why}", program.display()),
        );
    }
    (library(a), ())
}

/// `--stats-file`, made absolute (CMD may change directory) and opened now
/// as the library will open it at exit (created if missing), so that a
/// refusal is said before CMD runs rather than at its end.
#[cfg(unix)]
fn stats_file(f: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let abs = std::path::absolute(f).unwrap_or_else(|e| {
        fail(
            status::STATS_FILE,
            format!("--stats-file {}: {e}", f.display()),
        )
    });
    let c = std::ffi::CString::new(abs.as_os_str().as_bytes()).unwrap_or_else(|_| {
        fail(
            status::STATS_FILE,
            format!("--stats-file {}: the path holds a NUL byte", abs.display()),
        )
    });
    match log_file::open_append(&c) {
        // SAFETY: ours, just opened.
        Ok(fd) => unsafe {
            libc::close(fd);
        },
        Err(why) => fail(
            status::STATS_FILE,
            format!(
                "--stats-file {} cannot be used: the file {why}",
                abs.display()
            ),
        ),
    }
    abs
}

#[cfg(unix)]
fn main() {
    let a = cli::parse(std::env::args_os().skip(1));
    if let Some((exe, out)) = &a.add_import {
        add_import(exe, out);
    }
    #[cfg(not(target_os = "macos"))]
    if let Some((app, out)) = &a.add_needed {
        needed::add_needed(app, out, &library(&a));
    }
    #[cfg(target_os = "macos")]
    if a.add_needed.is_some() {
        fail(
            status::USAGE,
            "--add-needed is for ELF programs (Linux, FreeBSD)",
        );
    }
    let program = program(&a);
    let (lib, arch) = preflight(&a, &program);
    #[cfg(target_os = "macos")]
    let () = arch;
    if a.compare {
        #[cfg(not(target_os = "macos"))]
        for (name, with) in &a.with {
            if !with.is_file() {
                fail(
                    status::NO_LIBRARY,
                    format!("--with {name}={}: no such library", with.display()),
                );
            }
            if let Err(why) = elf::check_library(with, arch) {
                fail(
                    status::BAD_LIBRARY,
                    format!("--with {name}={}: {why}", with.display()),
                );
            }
        }
        let contenders = compare::contenders(&lib, &a.with, &a.alt);
        let label = a
            .label
            .clone()
            .unwrap_or_else(|| a.cmd[0].to_string_lossy().into_owned());
        let out = compare::Output {
            csv: a.csv.as_deref(),
            runs_csv: a.runs_csv.as_deref(),
            label: &label,
            ignore_output: a.ignore_output,
            ignore_lines: &a.ignore_lines,
        };
        exit(compare::run(&contenders, &a.cmd, a.runs, &out));
    }
    let mut c = Command::new(&a.cmd[0]);
    c.args(&a.cmd[1..]).env(PRELOAD_VAR, preload_value(&lib));
    if a.stats || a.profile {
        c.env(option(options::STATS), "1");
    }
    if let Some(f) = &a.stats_file {
        c.env(option(options::STATS), "1")
            .env(option(options::STATS_FILE), stats_file(f));
    }
    if a.verbose {
        c.env(option(options::VERBOSE), "1");
    }
    if let Some(d) = &a.decay {
        c.env(option(options::DECAY), d);
    }
    if a.children {
        c.env_remove(option(options::REPORT_PID));
    } else {
        // exec keeps our pid: CMD, and what it execs into, report; its
        // children do not.
        c.env(option(options::REPORT_PID), std::process::id().to_string());
    }
    let err = c.exec();
    fail(
        if err.kind() == std::io::ErrorKind::NotFound {
            status::NOT_FOUND
        } else {
            status::CANNOT_PRELOAD
        },
        format!("cannot run {}: {err}", a.cmd[0].to_string_lossy()),
    )
}

/// An environment option's name (snmalloc-rs-options) as `Command::env` takes it.
fn option(name: &std::ffi::CStr) -> &str {
    name.to_str().expect("option names are ASCII")
}
