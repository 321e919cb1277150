//! Compiles snmalloc (from the pinned `snmalloc-sys` registry package) and our
//! C++ glue in `shim/` with the configuration the product needs.
//! README.md (this package's) explains every choice made here.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

mod link_args;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=shim");
    println!("cargo:rerun-if-env-changed=SNMALLOC_SYS_SRC");
    println!("cargo:rerun-if-env-changed=SNMALLOC_RS_SKIP_CXX");
    println!("cargo:rerun-if-env-changed=DOCS_RS");

    // Type-checking for targets whose C++ toolchain is not on this machine
    // (scripts that run `cargo check --target ...`) sets this to skip the
    // C++; docs.rs builds only documentation, offline.
    if env::var_os("SNMALLOC_RS_SKIP_CXX").is_some() || env::var_os("DOCS_RS").is_some() {
        return;
    }

    let upstream = upstream_src();
    let feature = |f: &str| env::var_os(format!("CARGO_FEATURE_{f}")).is_some();
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let debug = feature("DEBUG");
    let over = feature("OVERRIDE");

    let base = |file: &str| {
        let mut b = cc::Build::new();
        b.cpp(true)
            .std(if feature("USECXX17") {
                "c++17"
            } else {
                "c++20"
            })
            .file(Path::new("shim").join(file))
            .include(&upstream)
            .include("shim")
            .flag("-fvisibility=hidden")
            .flag("-fvisibility-inlines-hidden")
            .flag("-fomit-frame-pointer")
            .warnings(true)
            .cpp_link_stdlib(None);
        if debug {
            b.opt_level(0).debug(true);
        } else {
            b.opt_level(3).define("NDEBUG", None);
        }
        if target_os == "windows" {
            // snmalloc's Windows PAL carries MSVC pragmas GCC does not know.
            b.flag_if_supported("-Wno-unknown-pragmas");
        }
        if target_arch == "x86_64" {
            // 16-byte CAS for the ABA-protected stacks; write-prefetch of
            // free-list heads, as upstream's CMake enables.
            b.flag("-mcx16");
            b.flag_if_supported("-mprfchw");
        }
        if feature("NATIVE_CPU") {
            b.flag("-march=native");
        }
        if over {
            b.define("SNRS_OVERRIDE", "1");
        }
        b
    };

    // The allocator itself: no exceptions, no RTTI, static TLS.
    let mut alloc = base("api/snmalloc_rs.cc");
    alloc
        .flag("-fno-exceptions")
        .flag("-fno-rtti")
        .define("SNMALLOC_PROVIDE_OWN_CONFIG", None)
        .define(
            "SNMALLOC_CHECK_LOADS",
            if feature("CHECK_LOADS") {
                "true"
            } else {
                "false"
            },
        )
        .define("SNMALLOC_USE_WAIT_ON_ADDRESS", "1");
    if feature("LOCAL_DYNAMIC_TLS") {
        alloc.flag("-ftls-model=local-dynamic");
    } else {
        alloc.flag("-ftls-model=initial-exec");
    }
    if feature("CHECK") {
        alloc.define("SNMALLOC_CHECK_CLIENT", None);
    }
    if feature("PROFILE") {
        alloc.define("SNRS_PROFILE", None);
    }
    if feature("QEMU") {
        alloc.define("SNMALLOC_QEMU_WORKAROUND", None);
    }
    if feature("TRACING") {
        alloc.define("SNMALLOC_TRACING", None);
    }
    if feature("VENDORED_STL") {
        alloc.define("SNMALLOC_USE_SELF_VENDORED_STL", None);
    }
    if target_os == "linux" || target_os == "android" {
        // A thread's allocator is torn down by a pthread key destructor:
        // setting the key allocates nothing (glibc's
        // __cxa_thread_atexit_impl allocates, and when memory is exhausted
        // aborts the process at a thread's first malloc; musl has none).
        alloc.define("SNMALLOC_USE_PTHREAD_DESTRUCTORS", None);
        alloc
            .define("SNMALLOC_HAS_LINUX_RANDOM_H", None)
            .define("SNMALLOC_HAS_LINUX_FUTEX_H", None)
            .define("SNMALLOC_PLATFORM_HAS_GETENTROPY", None);
    } else if target_os == "macos" {
        // Upstream's macOS default: C++11 thread_local destructors (libc++).
        println!("cargo:rustc-link-lib=dylib=c++");
    } else if target_os == "windows" {
        // MinGW's thread_local is emulated TLS, which allocates with the
        // CRT's malloc: the per-thread allocator lives in a Win32 TLS slot
        // instead (shim/process/windows_thread.h), torn down by our TLS callback.
        alloc.define("SNMALLOC_EXTERNAL_THREAD_ALLOC", None);
    } else {
        alloc.define("SNMALLOC_USE_PTHREAD_DESTRUCTORS", None);
        if target_os == "freebsd" {
            // getentropy(3) since FreeBSD 12. Without it snmalloc falls back
            // to std::random_device, a libc++ import that a C program's
            // process does not have: the library would not load.
            alloc.define("SNMALLOC_PLATFORM_HAS_GETENTROPY", None);
        }
    }
    // The extra code of large blocks mapped on their own (exact_blocks.h)
    // and of fork children (fork.h) used up GCC's inlining budget for the
    // unit, which then gave malloc's fast path a stack frame
    // (scripts/bench/fastpath.sh --check catches it).
    alloc.flag_if_supported("--param=inline-unit-growth=200");
    // For measurements only: snmalloc's flat pagemap (a 256 GiB reservation
    // at start, one load fewer per free) instead of the two-level one, to
    // compare the two on the same code (docs/memory.md).
    println!("cargo:rerun-if-env-changed=SNMALLOC_RS_FLAT_PAGEMAP");
    if env::var_os("SNMALLOC_RS_FLAT_PAGEMAP").is_some() {
        alloc.define("SNRS_FLAT_PAGEMAP", None);
    }
    alloc.compile("snmalloc_rs_alloc");

    if feature("CHECK") {
        // The hardened build's messages, its own unit (no snmalloc in it).
        base("process/check_messages.cc")
            .flag("-fno-exceptions")
            .flag("-fno-rtti")
            .define("SNMALLOC_CHECK_CLIENT", None)
            .compile("snmalloc_rs_check");
    }

    if over {
        let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
        link_args::write(&out_dir);
    }
    if over && target_os == "linux" {
        // C++ operator new's failure path must throw std::bad_alloc and call
        // the new-handler: that one small file is built with exceptions.
        base("api/new_failure.cc")
            .flag("-fexceptions")
            .compile("snmalloc_rs_new");
    }
    if target_os == "windows" {
        // snmalloc's Windows PAL: BCryptGenRandom, NtAllocateVirtualMemory.
        println!("cargo:rustc-link-lib=dylib=bcrypt");
        println!("cargo:rustc-link-lib=dylib=ntdll");
        if env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu") {
            // Guards of function-local statics (__cxa_guard_*) come from the
            // C++ runtime; link it statically so the DLL stands alone.
            let cxx = cc::Build::new().cpp(true).get_compiler();
            let out = std::process::Command::new(cxx.path())
                .arg("-print-file-name=libstdc++.a")
                .output()
                .expect("ask the C++ compiler where libstdc++.a is");
            let lib = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if let Some(dir) = lib.parent() {
                println!("cargo:rustc-link-search=native={}", dir.display());
            }
            println!("cargo:rustc-link-lib=static=stdc++");
        }
    }
    if target_os == "linux" {
        println!("cargo:rustc-link-lib=dylib=dl");
    }
}

/// The `upstream/src` folder of the pinned `snmalloc-sys` package.
///
/// Cargo knows where that package is (registry cache, `cargo vendor`
/// directory, offline mirror), so build.rs asks it: first which version our
/// manifest pins (`cargo metadata --no-deps`), then, through a one-dependency
/// manifest in OUT_DIR, where that version's source is. The dependency is
/// declared for no target, so Cargo locks and vendors it but never builds
/// it. `SNMALLOC_SYS_SRC` overrides all this.
fn upstream_src() -> PathBuf {
    if let Some(dir) = env::var_os("SNMALLOC_SYS_SRC") {
        return checked(PathBuf::from(dir));
    }
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by Cargo"));
    let ours = cargo_metadata::MetadataCommand::new()
        .manifest_path(manifest_dir.join("Cargo.toml"))
        .current_dir(&manifest_dir)
        .no_deps()
        .other_options(vec!["--offline".into()])
        .exec()
        .unwrap_or_else(|e| panic!("cargo metadata of snmalloc-rs-sys: {e}"));
    let pin = ours
        .packages
        .iter()
        .flat_map(|p| &p.dependencies)
        .find(|d| d.name == "snmalloc-sys")
        .expect("Cargo.toml declares snmalloc-sys")
        .req
        .to_string();
    assert!(
        pin.starts_with('='),
        "Cargo.toml must pin snmalloc-sys exactly (\"=X.Y.Z\"), not {pin}"
    );

    let probe =
        PathBuf::from(env::var_os("OUT_DIR").expect("set by Cargo")).join("snmalloc-sys-probe");
    fs::create_dir_all(&probe).expect("create the probe manifest's folder");
    fs::write(probe.join("lib.rs"), "").expect("write the probe's lib.rs");
    fs::write(
        probe.join("Cargo.toml"),
        format!(
            "[package]\nname = \"snmalloc-sys-probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [lib]\npath = \"lib.rs\"\n\
             [dependencies]\nsnmalloc-sys = {{ version = \"{pin}\", default-features = false }}\n\
             [workspace]\n"
        ),
    )
    .expect("write the probe manifest");
    // Run from our own folder so that the configuration that applies to us
    // (source replacement of `cargo vendor`, offline mode) applies to the
    // probe. Offline first: the package is usually there already.
    let ask = |offline: bool| {
        let mut cmd = cargo_metadata::MetadataCommand::new();
        cmd.manifest_path(probe.join("Cargo.toml"))
            .current_dir(&manifest_dir);
        if offline {
            cmd.other_options(vec!["--offline".into()]);
        }
        cmd.exec()
    };
    let metadata = ask(true).or_else(|_| ask(false)).unwrap_or_else(|e| {
        panic!(
            "could not locate the snmalloc-sys {pin} package (the source of snmalloc's C++): {e}. \
             Run `cargo fetch` with network access, or set SNMALLOC_SYS_SRC to its upstream/src folder."
        )
    });
    let package = metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == "snmalloc-sys")
        .expect("cargo metadata lists snmalloc-sys");
    let root = package
        .manifest_path
        .parent()
        .expect("a manifest path has a parent")
        .as_std_path();
    checked(root.join("upstream").join("src"))
}

fn checked(dir: PathBuf) -> PathBuf {
    assert!(
        dir.join("snmalloc").join("snmalloc.h").is_file(),
        "{} does not hold snmalloc's source tree",
        dir.display()
    );
    dir
}
