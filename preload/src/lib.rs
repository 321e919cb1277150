//! The preloadable library: snmalloc-rs with its C API (`override`), built
//! as `libsnmalloc_rs.so` (Windows `snmalloc_rs.dll`, macOS
//! `libsnmalloc_rs.dylib`) and `libsnmalloc_rs.a`. Everything it exports
//! comes from `snmalloc-rs-sys` (through the `snmalloc-rs` crate, whose
//! features choose the build); build.rs adds the link options.

pub use snmalloc_rs::*;

// Cargo unifies features across the packages of one build: built together
// with the profiling library (`--workspace`), this one would carry its
// counters. Refuse that build rather than ship it.
const _: () = assert!(
    !snmalloc_rs_sys::PROFILE_BUILD,
    "libsnmalloc_rs would be the profiling build: build snmalloc-rs-profile on its own (cargo build --release -p snmalloc-rs-profile), not with --workspace"
);
