// SPDX-License-Identifier: GPL-2.0

//! Every difference between the kernel series the module supports: one file per series.
//!
//! The module builds against 6.12 (LTS) and 7.x. Kbuild passes `--cfg kernel_7` when the kernel
//! is 7.0 or newer, and this file picks the series' file by it: `compat/v7.rs` or
//! `compat/v6_12.rs`. Nothing else tests the version. Each series file has the same items (listed
//! below), without a version cfg of its own: supporting a new series that differs is a new file
//! and its line here; dropping one is deleting its file and its line.
//!
//! The items each series file provides:
//! - `SERIES`, the series' name for log lines;
//! - `cstr_bytes`, a `CStr`'s bytes;
//! - `sema_init_zeroed`, C's `sema_init(sem, 1)` rebuilt for its `struct semaphore`;
//! - `irqs_off`, and `IrqTimer`, a one-shot hrtimer that fires in hard-interrupt context;
//! - `IrqWorkC`, C's `struct irq_work`, its initialiser `irq_work_init` and the C functions
//!   `irq_work_queue` and `irq_work_sync` (for `crate::irq_work`);
//! - `semaphore_backend_items!`, the items of `kernel::sync::lock::Backend` it requires beyond
//!   6.12's (`try_lock`, `assert_is_held`), for the module's semaphore backend;
//! - `with_kunit!`, which keeps the items given where the kernel crate builds KUnit suites and
//!   drops them elsewhere (the module's suite is declared through it).
//!
//! What changed in the Rust-for-Linux API between the two, as far as this module is concerned:
//! - 7.x has core's `CStr` (its pointer methods come from the `CStrExt` trait and are not const,
//!   its bytes from `to_bytes`); 6.12 has the kernel's own `CStr`.
//! - `struct semaphore` lost its `wait_list` for a `first_waiter` pointer (and gained
//!   `last_holder`, for the hung-task detector's blocker report).
//! - `Backend` gained `try_lock` and `assert_is_held` (6.12 has neither, so there the module's
//!   semaphores have no `try_lock`: only the KUnit suite, which 6.12 does not build, uses it).
//! - `module!` renamed `author` to `authors` and `THIS_MODULE` left the crate root: the module
//!   writes its author into `.modinfo` itself and names `__this_module` directly.
//! - 7.x has an hrtimer abstraction (`kernel::time::hrtimer`) and a way to disable interrupts
//!   (`kernel::interrupt`); 6.12 has neither, and its C timer API is `hrtimer_init` (7.x:
//!   `hrtimer_setup`): `IrqTimer` and `irqs_off`.
//! - `#[kunit_tests]` came in 6.15: 6.12 builds no KUnit suite.
//! - 7.x's bindings have `struct irq_work` and its functions; 6.12's headers for them do not
//!   include `linux/irq_work.h`, so there the module declares them itself.

#[cfg(kernel_7)]
#[path = "compat/v7.rs"]
mod series;
#[cfg(not(kernel_7))]
#[path = "compat/v6_12.rs"]
mod series;

pub(crate) use series::*;

use kernel::bindings;

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
