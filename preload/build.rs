//! The link options of libsnmalloc_rs, written by snmalloc-rs-sys's build
//! script (its link_args.rs, shared with the profiling library).

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_SNMALLOC_RS_LINK_ARGS");
    // Absent when the C++ is skipped (type-checking other targets).
    if let Ok(path) = std::env::var("DEP_SNMALLOC_RS_LINK_ARGS") {
        let options = std::fs::read_to_string(&path).expect("read the link options");
        for o in options.lines() {
            println!(
                "cargo:rustc-link-arg-cdylib={}",
                o.replace("@LIB@", "snmalloc_rs")
            );
        }
    }
}
