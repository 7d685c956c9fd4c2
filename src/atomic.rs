// SPDX-License-Identifier: GPL-2.0

//! A sleeping lock taken in atomic context: a mutex under a spinlock.
//!
//! `atomic_1` updates a statistic under `atomic_spin` (a spinlock) and a log under `atomic_mutex`
//! (a mutex). In buggy mode it takes the mutex while it holds the spinlock. A spinlock holder
//! must not sleep (preemption is off, on `PREEMPT_RT` the spinlock itself sleeps), and
//! `mutex_lock()` may sleep whenever the mutex is contended. The kernel catches it even when the
//! mutex happens to be free: `might_sleep()` prints "BUG: sleeping function called from invalid
//! context" (once a second at most), and lockdep "BUG: Invalid wait context" (once), naming both
//! locks. Here the mutex is never contended, so nothing hangs and the module unloads.
//!
//! The fix moves the sleeping part out of atomic context: the mutex first, the spinlock only
//! around the short update.

use crate::order::{Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::{new_mutex, new_spinlock, Mutex, SpinLock};

/// The spinlock (a count of updates) and the mutex (a count of log entries).
#[pin_data]
pub(crate) struct Atomic {
    #[pin]
    atomic_spin: SpinLock<u64>,
    #[pin]
    atomic_mutex: Mutex<u64>,
}

impl Scenario for Atomic {
    const THREADS: &'static [Thread<Self>] = &[Thread::new(c_str!("atomic_1"), Self::thread)];
    const LOCKS: &'static [&'static str] = &["atomic_spin", "atomic_mutex"];

    const BUGGY: &'static str = "buggy (atomic_1 takes atomic_mutex while it holds atomic_spin)";
    const FIXED: &'static str = "fixed (atomic_1 takes atomic_mutex, then atomic_spin)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            atomic_spin <- new_spinlock!(0, "atomic_spin"),
            atomic_mutex <- new_mutex!(0, "atomic_mutex"),
        })
    }
}

impl Atomic {
    /// `atomic_1`: one update and one log entry.
    #[inline(never)]
    fn thread(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        if ctx.buggy() {
            let mut updates = self.atomic_spin.lock();
            *updates += 1;
            // The bug: this may sleep, and the spinlock is held.
            *self.atomic_mutex.lock() += 1;
        } else {
            let mut log = self.atomic_mutex.lock();
            *log += 1;
            *self.atomic_spin.lock() += 1;
        }
    }
}
