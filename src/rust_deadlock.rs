// SPDX-License-Identifier: GPL-2.0

//! rust_deadlock: a textbook kernel deadlock, made on purpose, for lockdep to catch.
//!
//! Two kthreads take two semaphores. With `buggy` set they take them in opposite orders (A then
//! B, B then A): lockdep reports "possible circular locking dependency detected" and the threads
//! really deadlock. With it unset both take A then B and nothing is ever reported. `buggy` can be
//! flipped at any time through `/sys/module/rust_deadlock/parameters/buggy`.

use core::fmt::{self, Write};
use kernel::prelude::*;

mod abba;
mod compat;
mod kthread;
#[cfg(kernel_7)]
mod kunit;
mod order;
mod param;
mod scenario;
mod semaphore;

use param::{BoolParam, PageWriter, ShowParam, UintParam};
use scenario::Running;

module! {
    type: RustDeadlock,
    name: "rust_deadlock",
    description: "Two kthreads, two semaphores: an AB-BA deadlock that lockdep reports",
    license: "GPL",
}

// The author, in `.modinfo` by hand: 6.12's `module!` spells the key `author`, 7.x's `authors`.
#[link_section = ".modinfo"]
#[used(compiler)]
static AUTHOR: [u8; 32] = *b"author=rust-deadlock developers\0";

/// Whether thread B takes the semaphores in the wrong order.
static BUGGY: BoolParam = BoolParam::new(false, announce_mode);
module_param!(
    BUGGY: BoolParam,
    "buggy",
    0o644,
    "Take the semaphores in opposite orders (deadlock) instead of one order (default: N)"
);

/// How long a thread holds its first semaphore before it takes the second.
static HOLD_MS: UintParam = UintParam::new(100, 0, 10_000);
module_param!(
    HOLD_MS: UintParam,
    "hold_ms",
    0o644,
    "Milliseconds each thread holds its first semaphore, 0..10000; 0 leaves only lockdep's prediction (default: 100)"
);

/// The mode and what each thread is doing.
static STATUS: ShowParam = ShowParam::new(show_status);
module_param!(
    STATUS: ShowParam,
    "status",
    0o444,
    "Read-only: the mode, and per thread its iteration count and whether it waits for a semaphore"
);

fn mode(buggy: bool) -> &'static str {
    if buggy {
        "buggy (deadlock_b takes sem_b, then sem_a)"
    } else {
        "fixed (both threads take sem_a, then sem_b)"
    }
}

fn announce_mode(buggy: bool) {
    pr_info!("mode: {}\n", mode(buggy));
}

fn show_status(out: &mut PageWriter<'_>) -> fmt::Result {
    writeln!(
        out,
        "mode={} hold_ms={}",
        if BUGGY.get() { "buggy" } else { "fixed" },
        HOLD_MS.get()
    )?;
    scenario::write_status(out)
}

struct RustDeadlock {
    _running: Running<abba::AbBa>,
}

impl kernel::Module for RustDeadlock {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let running = Running::start().inspect_err(|e| {
            pr_err!(
                "load failed: error {}, nothing left running\n",
                e.to_errno()
            );
        })?;
        pr_info!(
            "loaded (built for kernel {}): threads deadlock_a and deadlock_b started, hold_ms={}\n",
            compat::SERIES,
            HOLD_MS.get()
        );
        Ok(Self { _running: running })
    }
}

impl Drop for RustDeadlock {
    fn drop(&mut self) {
        pr_info!("unloading\n");
    }
}
