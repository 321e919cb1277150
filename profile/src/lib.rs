//! The profiling library: the preloadable library with counters by size
//! class, cross-thread frees, peak live bytes and the largest allocation in
//! its exit report (`snmalloc-run --profile`). Build it on its own:
//! `cargo build --release -p snmalloc-rs-profile`.

pub use snmalloc_rs::*;

const _: () = assert!(snmalloc_rs_sys::PROFILE_BUILD);
