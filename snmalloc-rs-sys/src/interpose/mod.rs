//! How the library takes the place of the platform's allocator where
//! exporting the C names is not enough: macOS's interpose table and malloc
//! zone, and the redirection of Windows' C runtimes. (On Linux and FreeBSD
//! the exported functions of `forwards`, `libc_api` and the platform's API
//! modules are the whole mechanism.)

#[cfg(target_os = "macos")]
pub mod macos;
#[cfg(windows)]
pub mod windows;
