//! `snmalloc-run`: run any program with snmalloc-rs as its allocator, see
//! what it did, and compare allocators on it.
//!
//! ```text
//! snmalloc-run [--stats] [--stats-file F] [--profile] [--verbose] [--lib PATH] [--] CMD [ARGS...]
//! snmalloc-run --compare [-n RUNS] [--] CMD [ARGS...]
//! snmalloc-run --add-import APP.exe OUT.exe
//! ```

// On Windows only injection and --add-import exist (no --compare, stats).
#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

#[cfg(unix)]
mod compare;
#[cfg(not(any(target_os = "macos", windows)))]
mod elf;
mod pe;
// The library's environment options, named once (src/options.rs).
#[path = "../../src/options.rs"]
#[allow(dead_code)]
mod options;
mod platform;
#[cfg(windows)]
mod windows;

use std::ffi::{OsStr, OsString};
#[cfg(unix)]
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

use platform::{LIB, PRELOAD_VAR, PROFILE_LIB};

const USAGE: &str = "\
usage: snmalloc-run [OPTIONS] [--] CMD [ARGS...]
       snmalloc-run --compare [-n RUNS] [--] CMD [ARGS...]

Runs CMD with snmalloc-rs preloaded as its allocator (same pid, exit status
and signals as CMD itself).

options:
  --stats             print a report to stderr when the program exits
  --stats-file FILE   append the report to FILE instead
  --profile           use the profiling library: the report adds allocations
                      and bytes by size class, cross-thread frees, peak live
                      bytes and the largest allocation
  --verbose           say on stderr when the library takes over
  --decay MS          keep freed memory for reuse at most MS milliseconds
                      (0: give it back at once; kernel: MADV_FREE, the
                      kernel takes it when it needs memory; without it,
                      the library's default)
  --lib PATH          preload this library instead of the one installed
  --compare           run CMD under glibc, snmalloc-rs and every other
                      allocator installed (jemalloc, mimalloc, tcmalloc),
                      interleaved, and print time and peak memory as ratios
  -n RUNS             runs per allocator for --compare (default 5)
  --with NAME=LIB     also compare the allocator preloaded from LIB
  --alt NAME=PROGRAM  also compare another build of the program (run in
                      CMD's place, with the same arguments, nothing preloaded)
  --csv FILE          append one row per allocator to FILE (for scripts)
  --label NAME        the workload's name in the CSV (default: CMD)
  --add-import EXE OUT
                      write OUT: a copy of the Windows program EXE that
                      loads snmalloc_rs.dll at start (from its folder or
                      PATH), making snmalloc its allocator for good
  -h, --help          this text
";

/// What the command line asked for.
#[derive(Default)]
struct Args {
    stats: bool,
    stats_file: Option<OsString>,
    profile: bool,
    verbose: bool,
    decay: Option<OsString>,
    lib: Option<PathBuf>,
    compare: bool,
    runs: usize,
    with: Vec<(String, PathBuf)>,
    alt: Vec<(String, PathBuf)>,
    csv: Option<PathBuf>,
    label: Option<String>,
    add_import: Option<(PathBuf, PathBuf)>,
    cmd: Vec<OsString>,
}

pub fn fail(code: i32, msg: impl std::fmt::Display) -> ! {
    eprintln!("snmalloc-run: {msg}");
    exit(code)
}

fn parse(mut it: impl Iterator<Item = OsString>) -> Args {
    let mut a = Args {
        runs: 5,
        ..Args::default()
    };
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .unwrap_or_else(|| fail(2, format!("{name} needs a value")))
        };
        match arg.to_str() {
            Some("--stats") => a.stats = true,
            Some("--stats-file") => a.stats_file = Some(value("--stats-file")),
            Some("--profile") => a.profile = true,
            Some("--verbose") => a.verbose = true,
            Some("--decay") => a.decay = Some(value("--decay")),
            Some("--lib") => a.lib = Some(value("--lib").into()),
            Some("--compare") => a.compare = true,
            Some(flag @ ("--with" | "--alt")) => {
                let v = value(flag);
                let v = v.to_string_lossy();
                let (name, path) = v
                    .split_once('=')
                    .unwrap_or_else(|| fail(2, format!("{flag} takes NAME=PATH")));
                let list = if flag == "--with" {
                    &mut a.with
                } else {
                    &mut a.alt
                };
                list.push((name.to_string(), PathBuf::from(path)));
            }
            Some("--csv") => a.csv = Some(value("--csv").into()),
            Some("--add-import") => {
                let exe = value("--add-import");
                let out = value("--add-import");
                a.add_import = Some((exe.into(), out.into()));
                return a;
            }
            Some("--label") => a.label = Some(value("--label").to_string_lossy().into_owned()),
            Some("-n") => {
                let v = value("-n");
                a.runs = v
                    .to_str()
                    .and_then(|s| s.parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| fail(2, "-n needs a positive number"));
            }
            Some("-h" | "--help") => {
                print!("{USAGE}");
                exit(0);
            }
            Some("--") => {
                a.cmd.extend(it);
                break;
            }
            Some(s) if s.starts_with('-') && a.cmd.is_empty() => {
                fail(2, format!("unknown option {s}\n{USAGE}"))
            }
            _ => {
                a.cmd.push(arg);
                a.cmd.extend(it);
                break;
            }
        }
    }
    if a.cmd.is_empty() && a.add_import.is_none() {
        eprint!("{USAGE}");
        exit(2);
    }
    a
}

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
            fail(127, format!("{}: no such library", lib.display()));
        }
        return lib.canonicalize().unwrap_or_else(|_| lib.clone());
    }
    let name = if a.profile { PROFILE_LIB } else { LIB };
    find_library(name).unwrap_or_else(|| {
        if a.profile {
            fail(
                127,
                format!(
                    "{PROFILE_LIB} not found next to this executable, in ../lib or the system's \
                     library directories: build it with `cargo build --release -p snmalloc-rs-profile` \
                     (scripts/install.sh and the .deb install it)"
                ),
            )
        }
        fail(
            127,
            format!(
                "{LIB} not found next to this executable, in ../lib or the system's library \
                 directories: build it with `cargo build --release`"
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

/// The injection variable's value with our library first, keeping what
/// was there.
pub fn preload_value(lib: &Path) -> OsString {
    let mut v = OsString::from(lib.as_os_str());
    if let Some(old) = std::env::var_os(PRELOAD_VAR).filter(|v| !v.is_empty()) {
        v.push(platform::SEPARATOR);
        v.push(old);
    }
    v
}

/// `--add-import`: the permanent alternative to injection on Windows.
fn add_import(exe: &Path, out: &Path) -> ! {
    let image = std::fs::read(exe).unwrap_or_else(|e| fail(1, format!("{}: {e}", exe.display())));
    match pe::add_import(&image, platform::WINDOWS_DLL, "snmalloc_rs_owns") {
        Ok(p) => {
            // The loader takes imports in order: ours must come first.
            let first = pe::imports(&p.image)
                .ok()
                .and_then(|v| v.into_iter().next());
            if first.as_deref() != Some(platform::WINDOWS_DLL) {
                fail(
                    1,
                    format!(
                        "{}: the patched import table does not start with {}",
                        exe.display(),
                        platform::WINDOWS_DLL
                    ),
                );
            }
            std::fs::write(out, &p.image)
                .unwrap_or_else(|e| fail(1, format!("{}: {e}", out.display())));
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
        Err(why) => fail(1, format!("{}: {why}", exe.display())),
    }
}

#[cfg(windows)]
fn main() {
    let a = parse(std::env::args_os().skip(1));
    if let Some((exe, out)) = &a.add_import {
        add_import(exe, out);
    }
    if a.compare || a.profile || a.stats || a.stats_file.is_some() {
        fail(
            2,
            "--compare, --stats and --profile are not available on Windows",
        );
    }
    let dll = library(&a);
    exit(windows::run(&a.cmd, &dll, a.verbose))
}

#[cfg(unix)]
fn main() {
    let a = parse(std::env::args_os().skip(1));
    if let Some((exe, out)) = &a.add_import {
        add_import(exe, out);
    }
    let program = resolve(&a.cmd[0]).unwrap_or_else(|| {
        fail(
            127,
            format!("{}: command not found", a.cmd[0].to_string_lossy()),
        )
    });
    if let Err(why) = platform::check_preloadable(&program) {
        fail(126, format!("{}: {why}", program.display()));
    }
    if a.compare {
        let contenders = compare::contenders(&library(&a), &a.with, &a.alt);
        let label = a
            .label
            .clone()
            .unwrap_or_else(|| a.cmd[0].to_string_lossy().into_owned());
        let out = compare::Output {
            csv: a.csv.as_deref(),
            label: &label,
        };
        exit(compare::run(&contenders, &a.cmd, a.runs, &out));
    }
    let lib = library(&a);
    let mut c = Command::new(&a.cmd[0]);
    c.args(&a.cmd[1..]).env(PRELOAD_VAR, preload_value(&lib));
    if a.stats || a.profile {
        c.env(option(options::STATS), "1");
    }
    if let Some(f) = &a.stats_file {
        c.env(option(options::STATS), "1")
            .env(option(options::STATS_FILE), f);
    }
    if a.verbose {
        c.env(option(options::VERBOSE), "1");
    }
    if let Some(d) = &a.decay {
        c.env(option(options::DECAY), d);
    }
    let err = c.exec();
    fail(
        if err.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        },
        format!("cannot run {}: {err}", a.cmd[0].to_string_lossy()),
    )
}

/// An environment option's name (src/options.rs) as `Command::env` takes it.
fn option(name: &std::ffi::CStr) -> &str {
    name.to_str().expect("option names are ASCII")
}
