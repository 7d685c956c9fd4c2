// SPDX-License-Identifier: GPL-2.0

//! Every difference between the kernel series the module supports, in one place.
//!
//! The module builds against 6.12 (LTS) and 7.x. Kbuild passes `--cfg kernel_7` when the kernel
//! is 7.0 or newer; nothing outside this file tests that cfg, except where a trait's required
//! items differ (`Backend::try_lock` and `Backend::assert_is_held`, in `semaphore.rs`).
//!
//! What changed in the Rust-for-Linux API between the two, as far as this module is concerned:
//! - 7.x has core's `CStr` (its pointer methods come from the `CStrExt` trait and are not const,
//!   its bytes from `to_bytes`); 6.12 has the kernel's own `CStr`.
//! - `struct semaphore` lost its `wait_list` for a `first_waiter` pointer (and gained
//!   `last_holder`, for the hung-task detector's blocker report).
//! - `Lock` gained `try_lock` (6.12 has none, and its `Guard` cannot be built outside the kernel
//!   crate; see [`TryLock`]).
//! - 7.x marks `Lock::lock`, `Lock::try_lock` and the guard's `drop` `#[inline]`, and they end up
//!   inside their caller; on 6.12 they stay functions of their own. That decides how the backend
//!   finds the address of the code that took the lock (see [`caller_ip`]).
//! - `module!` renamed `author` to `authors` and `THIS_MODULE` left the crate root: the module
//!   writes its author into `.modinfo` itself and names `__this_module` directly.

use kernel::bindings;
use kernel::prelude::*;

/// The kernel series this module was built for, for log lines.
pub(crate) const SERIES: &str = if cfg!(kernel_7) { "7.x" } else { "6.12" };

/// The bytes of `s`, without the terminating NUL.
pub(crate) fn cstr_bytes(s: &CStr) -> &[u8] {
    #[cfg(kernel_7)]
    {
        s.to_bytes()
    }
    #[cfg(not(kernel_7))]
    {
        s.as_bytes()
    }
}

/// Rebuilds C's `sema_init(sem, 1)` on an all-zero `struct semaphore`, except for its internal
/// spinlock, which the caller initialises: a count of one and an empty wait list.
///
/// # Safety
///
/// `sem` must be valid for writes and all-zero.
pub(crate) unsafe fn sema_init_zeroed(sem: *mut bindings::semaphore) {
    // SAFETY: The caller guarantees that `sem` is valid for writes.
    unsafe { (*sem).count = 1 };
    #[cfg(not(kernel_7))]
    // SAFETY: As above. An empty list points to itself.
    unsafe {
        let list = &raw mut (*sem).wait_list;
        (*list).next = list;
        (*list).prev = list;
    }
    // On 7.x an empty wait queue is a null `first_waiter`, and no last holder is a zero
    // `last_holder`: the caller's zeroing made both.
}

// `struct module` holds an empty C struct, which Rust calls not FFI-safe; only the static's
// address is ever used here, never its contents.
#[allow(improper_ctypes)]
extern "C" {
    /// The module's `struct module`, which the module loader fills in; `module!` refers to it the
    /// same way.
    static __this_module: kernel::types::Opaque<bindings::module>;
}

/// This module's `struct module`, usable in a static initialiser.
pub(crate) const fn this_module() -> *mut bindings::module {
    // Taking the address of an extern static reads nothing, so it needs no `unsafe`.
    (&raw const __this_module).cast_mut().cast()
}

/// `Lock::try_lock` for 6.12, which lacks it (7.x has it as an inherent method, which method
/// resolution picks before this trait).
#[cfg(not(kernel_7))]
#[expect(
    dead_code,
    reason = "only the KUnit suite calls try_lock, and 6.12 builds none"
)]
pub(crate) trait TryLock {
    /// The guard a successful attempt returns.
    type Guard<'a>
    where
        Self: 'a;

    /// Takes the lock if it is free, without sleeping.
    fn try_lock(&self) -> Option<Self::Guard<'_>>;
}

/// The address of the code that took or released a lock, for lockdep's `at:` lines: C passes
/// `_RET_IP_` from its out-of-line lock functions.
///
/// Called from the always-inlined backend functions. On 7.x those end up inside the function that
/// called `Lock::lock` (which is inlined there too), so their own address is the caller's (C's
/// `_THIS_IP_`). On 6.12 they end up inside the out-of-line `Lock::lock`, whose return address
/// lies in the caller (C's `_RET_IP_`). The lab's VM tests check, on both kernels, that lockdep
/// names the scenario's thread functions.
#[inline(always)]
pub(crate) fn caller_ip() -> kernel::ffi::c_ulong {
    #[cfg(all(target_arch = "x86_64", kernel_7))]
    {
        let ip: kernel::ffi::c_ulong;
        // SAFETY: `lea` only computes an address into a register: it reads no memory, touches no
        // stack and leaves the flags alone, as the options state.
        unsafe {
            core::arch::asm!("lea {}, [rip]", out(reg) ip, options(nomem, nostack, preserves_flags))
        };
        ip
    }
    #[cfg(all(target_arch = "x86_64", not(kernel_7)))]
    {
        let ip: kernel::ffi::c_ulong;
        // SAFETY: The kernel builds Rust code with `-Cforce-frame-pointers=y`, so in the body of
        // any function `rbp` points at the saved frame pointer, with the return address right
        // above it. This only reads that word; it writes nothing and leaves the flags alone.
        unsafe {
            core::arch::asm!(
                "mov {}, qword ptr [rbp + 8]",
                out(reg) ip,
                options(nostack, readonly, preserves_flags)
            )
        };
        ip
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}
