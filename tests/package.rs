//! What the system package and the install script give C and C++ users:
//! the .deb built by scripts/build-deb.sh from this build, unpacked into a
//! scratch root (never the machine's own /usr), and programs built against
//! its files (pkg-config, the static library, C++), each proven to be
//! served by snmalloc; and scripts/install.sh into a scratch prefix, with
//! its uninstall.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn multiarch() -> String {
    text(&run(Command::new("dpkg-architecture").arg("-qDEB_HOST_MULTIARCH")).stdout)
        .trim()
        .to_string()
}

/// The package, built once per test binary (the script builds whatever is
/// out of date; the libraries of this `cargo test` are up to date).
fn deb() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        let out = run(Command::new(root().join("scripts/build-deb.sh"))
            .current_dir(root())
            .env_remove("RUSTFLAGS"));
        root().join(text(&out.stdout).trim())
    })
}

/// The package unpacked into a scratch root, once.
fn unpacked() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = common::scratch("deb-root");
        run(Command::new("dpkg-deb").arg("-x").arg(deb()).arg(&dir));
        dir
    })
}

#[test]
fn the_deb_holds_the_versioned_library_its_links_the_launcher_header_and_pkg_config() {
    let ma = multiarch();
    let listing = text(&run(Command::new("dpkg-deb").arg("-c").arg(deb())).stdout);
    for path in [
        format!("./usr/lib/{ma}/libsnmalloc_rs.so.0"),
        format!("./usr/lib/{ma}/libsnmalloc_rs.so -> libsnmalloc_rs.so.0"),
        format!("./usr/lib/{ma}/libsnmalloc_rs.a"),
        format!("./usr/lib/{ma}/libsnmalloc_rs_profile.so.0"),
        format!("./usr/lib/{ma}/libsnmalloc_rs-check.so"),
        format!("./usr/lib/{ma}/libsnmalloc_rs-musl.so"),
        format!("./usr/lib/{ma}/pkgconfig/snmalloc_rs.pc"),
        "./usr/bin/snmalloc-run".to_string(),
        "./usr/include/snmalloc_rs.h".to_string(),
        "./usr/share/doc/snmalloc-rs/copyright".to_string(),
    ] {
        assert!(
            listing.contains(&path),
            "{path} not in the package:\n{listing}"
        );
    }
    let lib = unpacked().join(format!("usr/lib/{ma}/libsnmalloc_rs.so.0"));
    let dynamic = text(&run(Command::new("readelf").arg("-d").arg(&lib)).stdout);
    assert!(
        dynamic.contains("Library soname: [libsnmalloc_rs.so.0]"),
        "{dynamic}"
    );
    let depends = text(
        &run(Command::new("dpkg-deb")
            .args(["-f"])
            .arg(deb())
            .arg("Depends"))
        .stdout,
    );
    assert!(depends.starts_with("libc6 (>= 2."), "{depends}");
}

/// The library that `launcher` preloads, read from the maps of the program
/// it runs.
fn preloaded_by(launcher: &Path) -> String {
    let out = run(Command::new(launcher)
        .args(["cat", "/proc/self/maps"])
        .env_remove("LD_PRELOAD"));
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("libsnmalloc_rs"))
        .unwrap_or_else(|| {
            panic!(
                "no libsnmalloc_rs in the maps of a program run by {}",
                launcher.display()
            )
        })
        .to_string()
}

#[test]
fn the_installed_launcher_finds_the_installed_library() {
    let ma = multiarch();
    let expected = unpacked()
        .join(format!("usr/lib/{ma}/libsnmalloc_rs.so.0"))
        .canonicalize()
        .unwrap();
    assert_eq!(
        preloaded_by(&unpacked().join("usr/bin/snmalloc-run")),
        expected.to_str().unwrap()
    );
}

#[test]
fn the_installed_launchers_check_takes_the_hardened_library() {
    let ma = multiarch();
    let launcher = unpacked().join("usr/bin/snmalloc-run");
    let out = run(Command::new(&launcher)
        .args(["--check", "cat", "/proc/self/maps"])
        .env_remove("LD_PRELOAD"));
    let check = unpacked()
        .join(format!("usr/lib/{ma}/libsnmalloc_rs-check.so"))
        .canonicalize()
        .unwrap();
    assert!(
        text(&out.stdout).contains(check.to_str().unwrap()),
        "{} not in the maps of a program run with --check",
        check.display()
    );
    // The library is the hardened build: a double free ends the program
    // with its message (misuse.c runs each case in a child of its own).
    let out = run(Command::new(&launcher)
        .arg("--check")
        .arg(common::compile("misuse.c"))
        .env_remove("LD_PRELOAD"));
    let line = text(&out.stdout)
        .lines()
        .find(|l| l.starts_with("double-free-small\t"))
        .map(String::from)
        .unwrap_or_default();
    assert!(
        line.contains("\tabort\tsnmalloc-rs (check build): "),
        "double-free-small under --check: {line:?}"
    );
}

/// Compiles tests/programs/`src` with `args` into an executable named
/// `name` (each test its own), runs it, and checks that it says it was
/// served by snmalloc.
fn build_and_run(src: &str, name: &str, compiler: &str, args: &[String]) {
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pkg-{name}"));
    run(Command::new(compiler)
        .args(["-O1", "-Wall", "-Werror"])
        .arg(root().join("tests/programs").join(src))
        .arg("-o")
        .arg(&exe)
        .args(args));
    let out = run(Command::new(&exe).env_remove("LD_PRELOAD"));
    assert_eq!(text(&out.stdout).trim(), "served by snmalloc", "{src}");
}

/// `pkg-config --cflags --libs snmalloc_rs` against the unpacked package,
/// plus an rpath to its library directory (installed, ld.so finds it).
fn pkg_config_flags() -> Vec<String> {
    let ma = multiarch();
    let out = run(Command::new("pkg-config")
        .args(["--cflags", "--libs", "snmalloc_rs"])
        .env(
            "PKG_CONFIG_LIBDIR",
            unpacked().join(format!("usr/lib/{ma}/pkgconfig")),
        )
        .env("PKG_CONFIG_SYSROOT_DIR", unpacked()));
    let mut flags: Vec<String> = text(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect();
    assert!(flags.iter().any(|f| f == "-lsnmalloc_rs"), "{flags:?}");
    flags.push(format!(
        "-Wl,-rpath,{}",
        unpacked().join(format!("usr/lib/{ma}")).display()
    ));
    flags
}

#[test]
fn a_c_program_built_with_pkg_config_runs_on_snmalloc() {
    build_and_run("linked.c", "linked-c", "gcc", &pkg_config_flags());
}

#[test]
fn a_cxx_program_built_with_pkg_config_runs_on_snmalloc() {
    let mut flags = vec!["-std=c++17".to_string()];
    flags.extend(pkg_config_flags());
    build_and_run("linked.cpp", "linked-cxx", "g++", &flags);
}

#[test]
fn a_statically_linked_c_program_runs_on_snmalloc() {
    let ma = multiarch();
    let usr = unpacked().join("usr");
    build_and_run(
        "linked.c",
        "linked-c-static",
        "gcc",
        &[
            "-static".into(),
            "-DSTATIC".into(),
            format!("-I{}", usr.join("include").display()),
            usr.join(format!("lib/{ma}/libsnmalloc_rs.a"))
                .display()
                .to_string(),
            "-lpthread".into(),
            "-ldl".into(),
            "-lm".into(),
        ],
    );
}

#[test]
fn install_sh_installs_into_a_prefix_and_uninstalls_everything() {
    deb(); // builds what install.sh --no-build copies (for glibc 2.28)
    let prefix = common::scratch("install-prefix");
    run(Command::new(root().join("scripts/install.sh"))
        .arg("--prefix")
        .arg(&prefix)
        .args(["--glibc", "2.28", "--musl", "--no-build"])
        .current_dir(root()));
    for f in [
        "bin/snmalloc-run",
        "lib/libsnmalloc_rs.so.0",
        "lib/libsnmalloc_rs.so",
        "lib/libsnmalloc_rs.a",
        "lib/libsnmalloc_rs_profile.so.0",
        "lib/libsnmalloc_rs-check.so",
        "lib/libsnmalloc_rs-musl.so",
        "lib/pkgconfig/snmalloc_rs.pc",
        "include/snmalloc_rs.h",
        "share/snmalloc-rs/installed-files",
    ] {
        assert!(prefix.join(f).exists(), "{f} not installed");
    }
    assert_eq!(
        preloaded_by(&prefix.join("bin/snmalloc-run")),
        prefix
            .join("lib/libsnmalloc_rs.so.0")
            .canonicalize()
            .unwrap()
            .to_str()
            .unwrap()
    );
    // A manifest someone else could write names files elsewhere: only the
    // files install.sh installs, under the prefix, are removed.
    let victims = common::scratch("install-victims");
    let outside = victims.join("shadow");
    let named_like_ours = victims.join("snmalloc-run");
    std::fs::write(&outside, "keep\n").unwrap();
    std::fs::write(&named_like_ours, "keep\n").unwrap();
    let manifest = prefix.join("share/snmalloc-rs/installed-files");
    let mut lines = std::fs::read_to_string(&manifest).unwrap();
    for extra in [
        outside.display().to_string(),
        named_like_ours.display().to_string(),
        format!("{}/../install-victims/shadow", prefix.display()),
    ] {
        lines.push_str(&extra);
        lines.push('\n');
    }
    std::fs::write(&manifest, lines).unwrap();
    let out = run(Command::new(root().join("scripts/install.sh"))
        .arg("--uninstall")
        .arg("--prefix")
        .arg(&prefix)
        .current_dir(root()));
    let left: Vec<_> = walk(&prefix);
    assert!(left.is_empty(), "left after --uninstall: {left:?}");
    assert!(
        outside.exists() && named_like_ours.exists(),
        "removed a file it never installed"
    );
    assert_eq!(
        text(&out.stderr).matches("skipped").count(),
        3,
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn install_sh_runs_no_build_step_as_root() {
    // Under sudo, every build step (cargo, zig, the musl build) runs as the
    // user who ran sudo: a root that ran target/tools/zig/bin/python3 ran
    // what that user could write. Each such call goes through as_user or
    // cargo_cmd.
    let script = std::fs::read_to_string(root().join("scripts/install.sh")).unwrap();
    for line in script
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
    {
        for step in ["scripts/zig.sh", "scripts/build-musl.sh", "cargo build"] {
            if line.contains(step) && !line.contains("echo") && !line.contains("step ") {
                assert!(
                    line.contains("as_user ") || line.contains("cargo_cmd "),
                    "install.sh runs {step} without as_user: {line}"
                );
            }
        }
    }
}

#[test]
fn the_deb_has_checksums_of_every_file() {
    // dpkg --verify needs DEBIAN/md5sums: the library docs/deployment.md
    // says to preload machine-wide must be checkable.
    let control = common::scratch("deb-control");
    run(Command::new("dpkg-deb").arg("-e").arg(deb()).arg(&control));
    let sums = std::fs::read_to_string(control.join("md5sums")).unwrap();
    let listed: Vec<&str> = sums
        .lines()
        .map(|l| l.split_once("  ").unwrap().1)
        .collect();
    let mut files: Vec<String> = walk(unpacked())
        .iter()
        .filter(|p| !p.is_symlink())
        .map(|p| p.strip_prefix(unpacked()).unwrap().display().to_string())
        .collect();
    files.sort();
    assert_eq!(listed, files, "md5sums does not list every file");
    let check = run(Command::new("md5sum")
        .args(["--check", "--quiet"])
        .arg(control.join("md5sums"))
        .current_dir(unpacked()));
    assert!(check.status.success());
}

/// The files (not directories) under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            files.extend(walk(&p));
        } else {
            files.push(p);
        }
    }
    files
}
