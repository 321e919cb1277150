//! The musl build (scripts/build-musl.sh) under programs linked against
//! musl (musl-gcc, from musl-tools): the C API's edge cases and a block of
//! musl's own malloc, many threads with cross-thread frees and thread
//! exits, fork while threads allocate, errno, the launcher choosing the
//! musl build for a musl program, and a statically linked musl program
//! with the musl static library. Each proves that snmalloc served it.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;
use common::{ok, plain, preloaded_with};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The musl build, once per test binary.
fn musl_library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let out = Command::new(root().join("scripts/build-musl.sh"))
            .current_dir(root())
            .env_remove("RUSTFLAGS")
            .output()
            .unwrap();
        PathBuf::from(ok("scripts/build-musl.sh", &out).trim())
    })
}

/// tests/programs/`src` built with musl-gcc, once per test binary (tests
/// that run at once share the build instead of writing one file together).
fn musl_program(src: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(exe) = built.get(src) {
        return exe.clone();
    }
    let exe =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("musl-{}", src.replace('.', "_")));
    let out = Command::new("musl-gcc")
        .args([
            "-O1",
            "-g",
            "-Wall",
            "-Werror",
            "-pthread",
            "-fno-builtin",
            "-std=gnu11",
        ])
        .arg("-Wno-alloc-size-larger-than")
        .arg(root().join("tests/programs").join(src))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("musl-gcc (scripts/install-test-deps.sh installs musl-tools)");
    ok(&format!("musl-gcc {src}"), &out);
    let interp = text(
        &Command::new("readelf")
            .arg("-l")
            .arg(&exe)
            .output()
            .unwrap()
            .stdout,
    );
    assert!(interp.contains("ld-musl"), "{src} is not a musl program");
    built.insert(src.to_string(), exe.clone());
    exe
}

fn run_preloaded(exe: &Path) -> Output {
    preloaded_with(musl_library(), Command::new(exe))
}

#[test]
fn the_c_api_and_musls_own_blocks() {
    let exe = musl_program("musl_api.c");
    assert_eq!(ok("musl_api", &run_preloaded(&exe)).trim(), "musl api ok");
    // The same program fails without the library: it checks who serves it.
    let out = plain(Command::new(&exe));
    assert!(
        !out.status.success(),
        "musl_api.c passed on musl's own malloc"
    );
}

#[test]
fn threads_with_cross_thread_frees_and_exits() {
    let exe = musl_program("threads.c");
    assert!(ok("threads", &run_preloaded(&exe)).contains("threads ok 800000"));
}

#[test]
fn fork_while_threads_allocate() {
    let exe = musl_program("fork.c");
    assert!(ok("fork", &run_preloaded(&exe)).contains("fork ok"));
}

#[test]
fn successful_calls_leave_errno_alone() {
    let exe = musl_program("errno.c");
    assert!(ok("errno", &run_preloaded(&exe)).contains("errno ok"));
}

#[test]
fn the_launcher_runs_musl_programs_on_the_musl_build() {
    // The launcher takes the musl build from next to the library it would
    // preload: both copied into a directory of their own (in Cargo's
    // layout the library may be only in deps/, where no musl build is).
    let dir = common::scratch("musl-launch");
    std::fs::copy(common::library(), dir.join("libsnmalloc_rs.so")).unwrap();
    std::fs::copy(musl_library(), dir.join("libsnmalloc_rs-musl.so")).unwrap();
    let exe = musl_program("musl_api.c");
    let out = Command::new(common::launcher())
        .arg("--verbose")
        .arg("--lib")
        .arg(dir.join("libsnmalloc_rs.so"))
        .arg(&exe)
        .env_remove("LD_PRELOAD")
        .output()
        .unwrap();
    assert_eq!(ok("snmalloc-run musl_api", &out).trim(), "musl api ok");
    assert!(
        text(&out.stderr).contains("serving allocations"),
        "{}",
        text(&out.stderr)
    );
}

/// zig as the musl C/C++ toolchain (musl-gcc has no C++).
fn zig(driver: &str) -> Command {
    let zig_python = text(
        &Command::new(root().join("scripts/zig.sh"))
            .output()
            .unwrap()
            .stdout,
    );
    let mut c = Command::new(root().join("scripts/zig").join(driver));
    c.env("SNMALLOC_RS_ZIG_PYTHON", zig_python.trim())
        .env("SNMALLOC_RS_ZIG_TARGET", "x86_64-linux-musl");
    c
}

#[test]
fn a_cxx_program_new_and_delete() {
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("musl-cxx");
    let out = zig("c++")
        .args(["-dynamic", "-O1", "-std=c++17"])
        .arg(root().join("tests/programs/cxx.cpp"))
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    ok("zig c++ (musl)", &out);
    assert!(ok("cxx (musl)", &run_preloaded(&exe)).contains("cxx ok"));
}

#[test]
fn a_statically_linked_musl_program_links_the_musl_static_library() {
    let lib = musl_library();
    let static_lib = lib
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("musl/x86_64-unknown-linux-musl/release/libsnmalloc_rs.a");
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("musl-static-linked");
    // zig's musl toolchain: musl-gcc would take the system's glibc libgcc_eh
    // for the unwinder the Rust standard library needs.
    let zig_python = text(
        &Command::new(root().join("scripts/zig.sh"))
            .output()
            .unwrap()
            .stdout,
    );
    let out = Command::new(root().join("scripts/zig/cc"))
        .env("SNMALLOC_RS_ZIG_PYTHON", zig_python.trim())
        .env("SNMALLOC_RS_ZIG_TARGET", "x86_64-linux-musl")
        .args(["-static", "-O1", "-DSTATIC"])
        .arg(format!("-I{}", root().join("preload/include").display()))
        .arg(root().join("tests/programs/linked.c"))
        .arg(&static_lib)
        .arg("-lunwind")
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    ok("zig cc -static", &out);
    let file = text(&Command::new("file").arg(&exe).output().unwrap().stdout);
    assert!(file.contains("statically linked"), "{file}");
    assert_eq!(
        ok(
            "linked (musl, static)",
            &Command::new(&exe).output().unwrap()
        )
        .trim(),
        "served by snmalloc"
    );
}
