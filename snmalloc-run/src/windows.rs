//! Windows: start a program suspended, load snmalloc_rs.dll into it, then
//! let it run. The DLL's initialiser redirects the C runtime's allocator
//! before the program's entry point (or any of its code) runs.
//!
//! Injection: a thread created in the suspended process runs
//! `LoadLibraryW(path)`. `kernel32.dll` is mapped at the same address in
//! every process of a session, so our own `LoadLibraryW` address is valid
//! there. The process is resumed once that thread has returned.

use std::ffi::c_void;
use std::os::windows::io::AsRawHandle;
use std::os::windows::process::CommandExt;
use std::path::Path;
use std::process::Command;

type Handle = *mut c_void;

const CREATE_SUSPENDED: u32 = 0x4;
const MEM_COMMIT_RESERVE: u32 = 0x3000;
const MEM_RELEASE: u32 = 0x8000;
const PAGE_READWRITE: u32 = 0x4;
const INFINITE: u32 = u32::MAX;

#[link(name = "kernel32")]
extern "system" {
    fn GetModuleHandleW(name: *const u16) -> Handle;
    fn GetProcAddress(module: Handle, name: *const u8) -> *mut c_void;
    fn VirtualAllocEx(
        p: Handle,
        addr: *mut c_void,
        size: usize,
        kind: u32,
        prot: u32,
    ) -> *mut c_void;
    fn VirtualFreeEx(p: Handle, addr: *mut c_void, size: usize, kind: u32) -> i32;
    fn WriteProcessMemory(
        p: Handle,
        to: *mut c_void,
        from: *const c_void,
        n: usize,
        done: *mut usize,
    ) -> i32;
    fn CreateRemoteThread(
        p: Handle,
        attrs: *mut c_void,
        stack: usize,
        start: *mut c_void,
        arg: *mut c_void,
        flags: u32,
        id: *mut u32,
    ) -> Handle;
    fn WaitForSingleObject(h: Handle, ms: u32) -> u32;
    fn GetExitCodeThread(h: Handle, code: *mut u32) -> i32;
    fn CloseHandle(h: Handle) -> i32;
    fn TerminateProcess(p: Handle, code: u32) -> i32;
    fn SetConsoleCtrlHandler(handler: *mut c_void, add: i32) -> i32;
    fn IsWow64Process(p: Handle, wow64: *mut i32) -> i32;
}

#[link(name = "ntdll")]
extern "system" {
    fn NtResumeProcess(p: Handle) -> i32;
}

fn last_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// Loads `dll` into the suspended process `process`.
fn inject(process: Handle, dll: &Path) -> Result<(), String> {
    use std::os::windows::ffi::OsStrExt;
    let wide: Vec<u16> = dll.as_os_str().encode_wide().chain([0]).collect();
    let bytes = wide.len() * 2;
    // SAFETY: plain Win32 calls on a process handle we own; every pointer
    // passed is valid for the size given.
    unsafe {
        let k32: Vec<u16> = "kernel32.dll\0".encode_utf16().collect();
        let load = GetProcAddress(
            GetModuleHandleW(k32.as_ptr()),
            c"LoadLibraryW".as_ptr().cast(),
        );
        if load.is_null() {
            return Err(format!("LoadLibraryW not found: {}", last_error()));
        }
        let remote = VirtualAllocEx(
            process,
            std::ptr::null_mut(),
            bytes,
            MEM_COMMIT_RESERVE,
            PAGE_READWRITE,
        );
        if remote.is_null() {
            return Err(format!(
                "cannot allocate in the new process: {}",
                last_error()
            ));
        }
        let mut done = 0;
        if WriteProcessMemory(process, remote, wide.as_ptr().cast(), bytes, &mut done) == 0 {
            return Err(format!("cannot write to the new process: {}", last_error()));
        }
        let thread = CreateRemoteThread(
            process,
            std::ptr::null_mut(),
            0,
            load,
            remote,
            0,
            std::ptr::null_mut(),
        );
        if thread.is_null() {
            return Err(format!(
                "cannot start a thread in the new process: {}",
                last_error()
            ));
        }
        WaitForSingleObject(thread, INFINITE);
        let mut module = 0u32;
        GetExitCodeThread(thread, &mut module);
        CloseHandle(thread);
        VirtualFreeEx(process, remote, 0, MEM_RELEASE);
        if module == 0 {
            return Err(format!(
                "LoadLibraryW({}) failed in the new process",
                dll.display()
            ));
        }
    }
    Ok(())
}

/// Refuses a 32-bit (WOW64) process: our DLL is 64-bit only.
fn require_64bit(process: Handle, name: &str) -> Result<(), String> {
    let mut wow64 = 0;
    // SAFETY: a query on our own child's handle.
    if unsafe { IsWow64Process(process, &mut wow64) } != 0 && wow64 != 0 {
        return Err(format!(
            "{name}: a 32-bit program: snmalloc_rs.dll is 64-bit only"
        ));
    }
    Ok(())
}

/// Lets the suspended process run.
fn resume(process: Handle, name: &str) -> Result<(), String> {
    // SAFETY: resumes the suspended threads of our own child.
    let status = unsafe { NtResumeProcess(process) };
    if status != 0 {
        return Err(format!("cannot resume {name}: NTSTATUS {status:#x}"));
    }
    Ok(())
}

/// Runs `cmd` with `dll` loaded before its entry point; returns its exit
/// code.
pub fn run(cmd: &[std::ffi::OsString], dll: &Path, verbose: bool) -> i32 {
    let mut c = Command::new(&cmd[0]);
    c.args(&cmd[1..]).creation_flags(CREATE_SUSPENDED);
    if verbose {
        c.env(crate::option(crate::options::VERBOSE), "1");
    }
    let mut child = c.spawn().unwrap_or_else(|e| {
        crate::fail(
            if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            },
            format!("cannot run {}: {e}", cmd[0].to_string_lossy()),
        )
    });
    let process = child.as_raw_handle();
    let name = cmd[0].to_string_lossy();
    let started = require_64bit(process, &name)
        .and_then(|()| inject(process, dll))
        .and_then(|()| resume(process, &name));
    if let Err(why) = started {
        // SAFETY: our own child, never resumed.
        unsafe { TerminateProcess(process, 126) };
        crate::fail(126, why);
    }
    // Ctrl+C reaches both processes: the program decides what it means, and
    // the launcher stays to report how it ended. (Set after the spawn: the
    // child would inherit the flag.)
    // SAFETY: a NULL handler with TRUE only sets this process's flag.
    unsafe { SetConsoleCtrlHandler(std::ptr::null_mut(), 1) };
    match child.wait() {
        Ok(s) => s.code().unwrap_or(1),
        Err(e) => crate::fail(1, format!("waiting for {name}: {e}")),
    }
}
