//! A downstream crate using `SnMalloc` as its global allocator: by default
//! its C `malloc` stays the system's; with the `override` feature it is
//! snmalloc's too. Builds the fixture crate in its own target directory.

use std::path::Path;
use std::process::Command;

fn build_and_run(features: &[&str]) -> String {
    build_and_run_fixture("rust-user", features)
}

/// The target directory of the fixture `name` built with `features`: one per
/// feature set, so that tests running at once never rebuild a binary that
/// another one runs.
fn fixture_target(name: &str, features: &[&str]) -> std::path::PathBuf {
    let mut dir = name.to_string();
    for f in features {
        dir.push('-');
        dir.push_str(f.trim_start_matches('-'));
    }
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir)
}

/// Builds and runs tests/fixtures/`name` in a target directory of its own.
fn build_and_run_fixture(name: &str, features: &[&str]) -> String {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let target = fixture_target(name, features);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(&fixture)
        .args(["run", "--quiet", "--release", "--target-dir"])
        .arg(&target)
        .args(features)
        .env_remove("LD_PRELOAD")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "fixture {features:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn library_users_keep_the_system_malloc_unless_they_opt_in() {
    assert_eq!(
        build_and_run(&[]).trim(),
        "rust: snmalloc, c malloc: system"
    );
    assert_eq!(
        build_and_run(&["--features", "override"]).trim(),
        "rust: snmalloc, c malloc: snmalloc"
    );
}

/// A program written for the 0.7 crate, with every 0.7 feature name it
/// could ask for, builds unchanged and runs on snmalloc.
#[test]
fn a_program_written_for_the_0_7_crate_builds_and_runs() {
    assert_eq!(
        build_and_run_fixture("v07-user", &[]).trim(),
        "0.7 API on snmalloc: 8388608 bytes in a vector"
    );
}

/// The crate builds from `cargo vendor`ed sources, offline, with an empty
/// Cargo home: snmalloc's source is found where Cargo put the pinned
/// snmalloc-sys package (the vendor directory), not in a registry cache.
#[test]
fn a_dependent_builds_offline_from_vendored_sources() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vendored");
    let _ = std::fs::remove_dir_all(&root);
    let app = root.join("app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rust-user");
    let manifest = std::fs::read_to_string(fixture.join("Cargo.toml"))
        .unwrap()
        .replace("../../..", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(app.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(fixture.join("src/main.rs"), app.join("src/main.rs")).unwrap();
    // A clean environment: what `cargo test` sets for tests (CARGO_*)
    // changes how the nested cargo resolves offline.
    let run = |cmd: &mut Command, cargo_home: Option<&Path>| {
        cmd.env_clear();
        for keep in ["PATH", "HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "TMPDIR"] {
            if let Some(v) = std::env::var_os(keep) {
                cmd.env(keep, v);
            }
        }
        if let Some(home) = cargo_home {
            cmd.env("CARGO_HOME", home);
        }
        let out = cmd.output().expect("run cargo");
        assert!(
            out.status.success(),
            "{cmd:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The packages come from this machine's cache; from then on, nothing.
    let config = run(
        // Not --quiet: that would also silence the configuration it prints.
        Command::new(&cargo)
            .current_dir(&app)
            .args(["vendor", "--offline", "../vendor"]),
        None,
    );
    assert!(root
        .join("vendor/snmalloc-sys/upstream/src/snmalloc")
        .is_dir());
    std::fs::create_dir_all(app.join(".cargo")).unwrap();
    std::fs::write(app.join(".cargo/config.toml"), config).unwrap();
    let home = root.join("empty-cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    let out = run(
        Command::new(&cargo)
            .current_dir(&app)
            .args(["run", "--quiet", "--release", "--offline"]),
        Some(&home),
    );
    assert_eq!(out.trim(), "rust: snmalloc, c malloc: system");
}

/// A Rust program under an address-space limit (Linux glibc): it starts,
/// uses most of the limit, and a request beyond it fails as a `Result`,
/// not an abort.
#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn a_rust_program_works_under_an_address_space_limit() {
    // Build first, unlimited (cargo and rustc need more than 1 GiB).
    build_and_run(&[]);
    let bin = fixture_target("rust-user", &[]).join("release/rust-user");
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 1048576 && exec "$0" limited"#)
        .arg(&bin)
        .env_remove("LD_PRELOAD")
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "under ulimit -v 1 GiB: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "limited: 800 MiB"
    );
}
