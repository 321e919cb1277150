// The link options of the preloadable libraries (a module of build.rs),
// written into OUT_DIR for the packages that build them (preload, profile),
// which read the file's path from DEP_SNMALLOC_RS_LINK_ARGS: one option per
// line, `@LIB@` standing for the library's name.
//
// On Linux the exported functions that only forward to snmalloc (the table
// in `src/c_api/forward_table.rs`) become aliases of the C++ functions
// themselves: `--defsym` overrides the one-`jmp` Rust stub, so that
// `malloc` *is* snmalloc's inlined fast path, as in upstream's own shim.

use std::path::Path;

/// One entry of the forward table, as this script reads it.
struct Forward {
    group: &'static str,
    symbol: &'static str,
    target: &'static str,
}

/// Reads `src/c_api/forward_table.rs` as data: the group, exported symbol
/// and target of each entry (`src/c_api/forwards.rs` reads it as code).
macro_rules! forward_table {
    ($($group:ident { $($(#[doc = $doc:literal])* $($sym:literal)? $name:ident => $($target:ident)::+ ($($arg:ident : $ty:ty),*) $(-> $ret:ty)?;)* })*) => {
        &[$($(Forward {
            group: stringify!($group),
            symbol: forward_table!(@symbol $($sym)? $name),
            target: stringify!($($target)::+),
        },)*)*]
    };
    (@symbol $sym:literal $name:ident) => { $sym };
    (@symbol $name:ident) => { stringify!($name) };
}

const FORWARDS: &[Forward] = include!("src/c_api/forward_table.rs");

/// The options, one per line, for the build's target.
fn options() -> Vec<String> {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let wide = std::env::var("CARGO_CFG_TARGET_POINTER_WIDTH").as_deref() == Ok("64");
    let glibc = std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    let mut out = Vec::new();
    if target_os == "linux" || target_os == "freebsd" {
        // Versioned like the system's allocator libraries, so that a package
        // installs lib*.so.0 and programs linked with -l<lib> need it.
        out.push("-Wl,-soname,lib@LIB@.so.0".to_string());
    }
    if target_os == "linux" {
        // An allocator must never be unloaded while its memory is live.
        out.push("-Wl,-z,nodelete".to_string());
        for f in FORWARDS {
            let applies = match f.group {
                "c" => true,
                "glibc" => glibc,
                "cxx" => wide,
                other => panic!("src/c_api/forward_table.rs: unknown group {other}"),
            };
            if applies && f.target.starts_with("snrs_") {
                out.push(format!("-Wl,--defsym={}={}", f.symbol, f.target));
            }
        }
    }
    out
}

/// Writes the options into `out_dir` and tells the dependent packages
/// where (`cargo:link_args`, read as DEP_SNMALLOC_RS_LINK_ARGS).
pub fn write(out_dir: &Path) {
    println!("cargo:rerun-if-changed=src/c_api/forward_table.rs");
    println!("cargo:rerun-if-changed=link_args.rs");
    let path = out_dir.join("link-args.txt");
    let lines: String = options().iter().map(|o| format!("{o}\n")).collect();
    std::fs::write(&path, lines).expect("write link-args.txt");
    println!("cargo:link_args={}", path.display());
}
