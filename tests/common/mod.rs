//! Shared by the integration tests: find the built library, compile test
//! programs, run programs with and without it preloaded.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// The preloadable library built by this `cargo test` (same profile).
pub fn library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        let deps = exe.parent().expect("deps dir");
        // deps/ first: what this `cargo test` built. The copy one level up
        // is only refreshed by `cargo build`, and may be older.
        let candidates = [
            deps.join("libsnmalloc_rs.so"),
            deps.join("../libsnmalloc_rs.so"),
        ];
        let lib = candidates
            .iter()
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("libsnmalloc_rs.so not found next to {}", deps.display()))
            .canonicalize()
            .unwrap();
        let nm = Command::new("nm")
            .arg("-D")
            .arg("--defined-only")
            .arg(&lib)
            .output();
        if let Ok(nm) = nm {
            assert!(
                String::from_utf8_lossy(&nm.stdout).contains(" T malloc\n"),
                "{} does not export malloc: it is not the preload package's \
                 library. Run the tests from the workspace root (`cargo test`).",
                lib.display()
            );
        }
        lib
    })
}

/// A scratch directory for this test binary.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles tests/programs/`src` (C or C++ by extension) into an executable,
/// once per test binary. `-fno-builtin` keeps the compiler from folding
/// malloc/free pairs away: every call must reach the allocator.
pub fn compile(src: &str) -> PathBuf {
    compile_with(src, &[])
}

/// `compile`, with more arguments for the compiler and linker (libraries to
/// link); the same source with other arguments is another executable.
pub fn compile_with(src: &str, extra: &[&std::ffi::OsStr]) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut name = src.replace('.', "_");
    if !extra.is_empty() {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        extra.hash(&mut h);
        name = format!("{name}-{:x}", h.finish());
    }
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(exe) = built.get(&name) {
        return exe.clone();
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(&name);
    let cxx = src.ends_with(".cpp");
    let status = Command::new(if cxx { "g++" } else { "gcc" })
        .args(["-O1", "-g", "-Wall", "-Werror", "-pthread", "-fno-builtin"])
        .arg("-Wno-alloc-size-larger-than")
        .args(if cxx {
            &["-std=c++17"][..]
        } else {
            &["-std=gnu11"][..]
        })
        .arg(dir.join(src))
        .arg("-o")
        .arg(&out)
        .args(extra)
        .arg("-ldl")
        .status()
        .expect("run the C compiler (scripts/install-test-deps.sh installs it)");
    assert!(status.success(), "compiling {src} failed");
    built.insert(name, out.clone());
    out
}

/// Compiles tests/programs/`src` (C) into a shared library, once per test
/// binary.
pub fn compile_shared(src: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(lib) = built.get(src) {
        return lib.clone();
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    let out =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("lib{}.so", src.replace('.', "_")));
    let status = Command::new("gcc")
        .args([
            "-O1",
            "-g",
            "-Wall",
            "-Werror",
            "-fPIC",
            "-shared",
            "-fno-builtin",
        ])
        .arg(dir.join(src))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling {src} failed");
    built.insert(src.to_string(), out.clone());
    out
}

/// Builds libsnmalloc_rs.so (the preload package) with the snmalloc-rs
/// `features` in a target directory of its own, `variant-NAME`, and
/// returns its path. Test
/// binaries that ask for the same variant share that build.
pub fn variant(name: &str, features: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("variant-{name}"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "snmalloc-rs-preload",
            "--target-dir",
        ])
        .arg(&target)
        .arg("--features")
        .arg(
            features
                .split(',')
                .map(|f| format!("snmalloc-rs/{f}"))
                .collect::<Vec<_>>()
                .join(","),
        )
        .env_remove("RUSTFLAGS")
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the {name} variant failed");
    target.join("release/libsnmalloc_rs.so")
}

/// The library builds that behaviour tests run under: the default one and
/// the hardened `check` build.
pub fn builds() -> Vec<(&'static str, PathBuf)> {
    vec![
        ("default", library().to_path_buf()),
        ("check", variant("check", "check")),
    ]
}

/// `program ARGS` as a command.
pub fn command(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args);
    cmd
}

/// Runs `cmd` with `lib` preloaded.
pub fn preloaded_with(lib: &Path, mut cmd: Command) -> Output {
    cmd.env("LD_PRELOAD", lib);
    cmd.output().expect("spawn")
}

/// Runs `cmd` with our library preloaded.
pub fn preloaded(mut cmd: Command) -> Output {
    cmd.env("LD_PRELOAD", library());
    cmd.output().expect("spawn")
}

/// Runs `cmd` without it.
pub fn plain(mut cmd: Command) -> Output {
    cmd.env_remove("LD_PRELOAD");
    cmd.output().expect("spawn")
}

/// Asserts success and returns stdout.
pub fn ok(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs `cmd` preloaded with the dynamic linker's binding log on, and
/// asserts that `malloc` and `free` calls of the process bound to our
/// library. Returns the output.
pub fn preloaded_and_bound(what: &str, mut cmd: Command, log_dir: &Path) -> Output {
    std::fs::create_dir_all(log_dir).unwrap();
    let log = log_dir.join("ld");
    cmd.env("LD_DEBUG", "bindings").env("LD_DEBUG_OUTPUT", &log);
    let out = preloaded(cmd);
    let lib = library().to_string_lossy().into_owned();
    let mut bound = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(log_dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            for sym in ["malloc", "free", "realloc", "calloc"] {
                if line.contains(&format!("to {lib} [0]: normal symbol `{sym}'")) {
                    bound.insert(sym);
                }
            }
        }
    }
    assert!(
        bound.contains("malloc") && bound.contains("free"),
        "{what}: malloc/free did not bind to {lib} (bound: {bound:?})"
    );
    out
}

/// Taken by the tests that fill gigabytes (address-space limits, blocks
/// given back): they run one at a time, so that two of them never compete
/// for the machine's memory (a test that expects pages to stay resident,
/// or the kernel to keep MADV_FREE pages, would see another's pressure).
/// Fails with a clear message when the machine has too little memory for
/// them.
pub fn memory_hungry() -> std::sync::MutexGuard<'static, ()> {
    static HUNGRY: Mutex<()> = Mutex::new(());
    let guard = HUNGRY.lock().unwrap_or_else(|e| e.into_inner());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let available_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(u64::MAX);
    assert!(
        available_kib >= 6 << 20,
        "the memory tests need 6 GiB of available memory; {} MiB are",
        available_kib >> 10
    );
    guard
}

/// The python3 binary itself, not a wrapper script (pyenv's is a bash
/// script that execs it through several processes).
pub fn python3() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let out = plain(command(
            "python3",
            &["-c", "import sys; print(sys.executable)"],
        ));
        PathBuf::from(ok("python3 sys.executable", &out).trim())
    })
}

/// The launcher this `cargo test` built (target/<profile>/snmalloc-run; the
/// snmalloc-run package's tests make Cargo build it).
pub fn launcher() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let launcher = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join("snmalloc-run");
    assert!(
        launcher.is_file(),
        "{} not built (cargo test builds it with the workspace)",
        launcher.display()
    );
    launcher
}
