//! The library's life in the process, apart from how it is loaded
//! (`crate::platform`) and what it exports (`crate::c_api`):
//!
//! - `config`: the options, read once at load;
//! - `lifecycle`: what happens at load and at exit;
//! - `stats`: the exit report (text and JSON);
//! - `writer`: formatting without allocating, for all of it.

preload_platform! {
    pub mod config;
    pub mod lifecycle;
    pub mod stats;
}

pub mod writer;
