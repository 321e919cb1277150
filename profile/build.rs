//! Link options of libsnmalloc_rs_profile (the same as libsnmalloc_rs's).

include!("../preload/link.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    link_options("snmalloc_rs_profile");
}
