//! The few Win32 functions the hooks need, declared here rather than pulling
//! a bindings crate into every user of the allocator.

#![allow(non_snake_case, clippy::upper_case_acronyms)]

use core::ffi::c_void;

pub type HANDLE = *mut c_void;
pub type HMODULE = *mut c_void;
pub type BOOL = i32;

pub const MEM_COMMIT: u32 = 0x1000;
pub const MEM_RESERVE: u32 = 0x2000;
pub const PAGE_READWRITE: u32 = 0x04;
pub const PAGE_EXECUTE_READ: u32 = 0x20;
pub const PAGE_EXECUTE_READWRITE: u32 = 0x40;
pub const STD_ERROR_HANDLE: u32 = -12i32 as u32;
pub const GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS: u32 = 0x4;
pub const GET_MODULE_HANDLE_EX_FLAG_PIN: u32 = 0x1;
pub const DLL_PROCESS_ATTACH: u32 = 1;
pub const LDR_DLL_NOTIFICATION_REASON_LOADED: u32 = 1;
pub const TH32CS_SNAPTHREAD: u32 = 0x4;
pub const THREAD_SUSPEND_RESUME: u32 = 0x2;
pub const THREAD_GET_CONTEXT: u32 = 0x8;
pub const THREAD_SET_CONTEXT: u32 = 0x10;
pub const CONTEXT_CONTROL: u32 = 0x0010_0001;
/// Offsets in the x64 `CONTEXT` (1232 bytes, 16-aligned).
pub const CONTEXT_SIZE: usize = 1232;
pub const CONTEXT_FLAGS_AT: usize = 0x30;
pub const CONTEXT_RIP_AT: usize = 0xF8;

/// `THREADENTRY32`.
#[repr(C)]
pub struct ThreadEntry32 {
    pub size: u32,
    pub usage: u32,
    pub thread_id: u32,
    pub owner_process_id: u32,
    pub base_priority: i32,
    pub delta_priority: i32,
    pub flags: u32,
}

/// An x64 `CONTEXT`, as bytes with its alignment.
#[repr(C, align(16))]
pub struct Context(pub [u8; CONTEXT_SIZE]);

/// `UNICODE_STRING`.
#[repr(C)]
pub struct UnicodeString {
    pub length: u16,
    pub maximum_length: u16,
    pub buffer: *const u16,
}

/// `LDR_DLL_LOADED_NOTIFICATION_DATA` (the unloaded variant has the same
/// layout).
#[repr(C)]
pub struct DllNotificationData {
    pub flags: u32,
    pub full_dll_name: *const UnicodeString,
    pub base_dll_name: *const UnicodeString,
    pub dll_base: *mut c_void,
    pub size_of_image: u32,
}

pub type DllNotification =
    unsafe extern "system" fn(reason: u32, data: *const DllNotificationData, context: *mut c_void);

#[link(name = "kernel32")]
extern "system" {
    pub fn GetModuleHandleW(name: *const u16) -> HMODULE;
    pub fn GetModuleHandleExW(flags: u32, name: *const u16, module: *mut HMODULE) -> BOOL;
    pub fn GetProcAddress(module: HMODULE, name: *const u8) -> *mut c_void;
    pub fn VirtualAlloc(addr: *mut c_void, size: usize, kind: u32, protect: u32) -> *mut c_void;
    pub fn VirtualProtect(addr: *mut c_void, size: usize, protect: u32, old: *mut u32) -> BOOL;
    pub fn FlushInstructionCache(process: HANDLE, addr: *const c_void, size: usize) -> BOOL;
    pub fn GetCurrentProcess() -> HANDLE;
    pub fn GetCurrentProcessId() -> u32;
    pub fn GetEnvironmentVariableA(name: *const u8, buf: *mut u8, size: u32) -> u32;
    pub fn GetStdHandle(which: u32) -> HANDLE;
    pub fn GetCurrentThreadId() -> u32;
    pub fn CreateToolhelp32Snapshot(flags: u32, pid: u32) -> HANDLE;
    pub fn Thread32First(snapshot: HANDLE, entry: *mut ThreadEntry32) -> BOOL;
    pub fn Thread32Next(snapshot: HANDLE, entry: *mut ThreadEntry32) -> BOOL;
    pub fn OpenThread(access: u32, inherit: BOOL, id: u32) -> HANDLE;
    pub fn SuspendThread(thread: HANDLE) -> u32;
    pub fn ResumeThread(thread: HANDLE) -> u32;
    pub fn GetThreadContext(thread: HANDLE, context: *mut Context) -> BOOL;
    pub fn SetThreadContext(thread: HANDLE, context: *const Context) -> BOOL;
    pub fn CloseHandle(h: HANDLE) -> BOOL;
    pub fn WriteFile(
        file: HANDLE,
        buf: *const u8,
        len: u32,
        written: *mut u32,
        overlapped: *mut c_void,
    ) -> BOOL;
}

#[link(name = "ntdll")]
extern "system" {
    pub fn LdrRegisterDllNotification(
        flags: u32,
        callback: DllNotification,
        context: *mut c_void,
        cookie: *mut *mut c_void,
    ) -> i32;
}
