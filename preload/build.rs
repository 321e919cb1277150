//! Link options of libsnmalloc_rs (preload/link.rs, shared with the
//! profiling library).

include!("link.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    link_options("snmalloc_rs");
}
