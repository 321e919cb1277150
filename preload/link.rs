// Link options of the preloadable libraries, included by the build.rs of
// the preload and profile packages.
//
// On Linux the exported functions that only forward to snmalloc (the table
// in `src/forward_table.rs` of the snmalloc-rs crate) become aliases of the
// C++ functions themselves: `--defsym` overrides the one-`jmp` Rust stub,
// so that `malloc` *is* snmalloc's inlined fast path, as in upstream's own
// shim.

/// One entry of the forward table, as this script reads it.
struct Forward {
    group: &'static str,
    symbol: &'static str,
    target: &'static str,
}

/// Reads `src/forward_table.rs` as data: the group, exported symbol and
/// target of each entry (the crate's `forward_table!` reads it as code).
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

const FORWARDS: &[Forward] = include!("../src/forward_table.rs");

/// Passes the link options of the library `lib` (its `[lib] name`).
fn link_options(lib: &str) {
    println!("cargo:rerun-if-changed=../src/forward_table.rs");
    println!("cargo:rerun-if-changed=../preload/link.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let wide = std::env::var("CARGO_CFG_TARGET_POINTER_WIDTH").as_deref() == Ok("64");
    let glibc = std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if target_os == "linux" || target_os == "freebsd" {
        // Versioned like the system's allocator libraries, so that a package
        // installs lib*.so.0 and programs linked with -l<lib> need it.
        println!("cargo:rustc-link-arg-cdylib=-Wl,-soname,lib{lib}.so.0");
    }
    if target_os == "linux" {
        // An allocator must never be unloaded while its memory is live.
        println!("cargo:rustc-link-arg-cdylib=-Wl,-z,nodelete");
        for f in FORWARDS {
            let applies = match f.group {
                "c" => true,
                "glibc" => glibc,
                "cxx" => wide,
                other => panic!("src/forward_table.rs: unknown group {other}"),
            };
            if applies && f.target.starts_with("snrs_") {
                println!(
                    "cargo:rustc-link-arg-cdylib=-Wl,--defsym={}={}",
                    f.symbol, f.target
                );
            }
        }
    }
}
