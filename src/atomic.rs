// SPDX-License-Identifier: GPL-2.0

//! A sleeping lock taken in atomic context: a mutex under a spinlock.
//!
//! `atomic_1` updates a statistic under `atomic_spin` (a spinlock) and a log under `atomic_mutex`
//! (a mutex). In buggy mode it takes the mutex while it holds the spinlock. A spinlock holder
//! must not sleep (preemption is off, on `PREEMPT_RT` the spinlock itself sleeps), and
//! `mutex_lock()` sleeps whenever the mutex is contended. The kernel catches it even when the
//! mutex happens to be free: `might_sleep()` prints "BUG: sleeping function called from invalid
//! context" (once a second at most), and lockdep "BUG: Invalid wait context" (once), naming both
//! locks.
//!
//! `atomic_2` writes the log too, now and then (once a second), and holds the mutex for `hold_ms`
//! while it does, asleep: a mutex holder may sleep. When `atomic_1` then asks for the mutex with
//! the spinlock held, it really sleeps, in atomic context, and the scheduler prints "BUG:
//! scheduling while atomic: atomic_1/PID/0x00000002" (the preemption count: the spinlock's one
//! level, and the scheduler's own). The scheduler then resets the count to what it expects, so the
//! spinlock's release later takes it one level below zero; the next time `atomic_1` sleeps (its
//! pause between two iterations), the scheduler finds the count wrong again and says so once more,
//! with the count it found, before it resets it again. That is what a real system shows too: the
//! first report is the bug, the rest its aftermath. Nothing hangs: `atomic_1` gets the mutex once
//! `atomic_2` lets go, and the module unloads.
//!
//! The fix moves the sleeping part out of atomic context: the mutex first, the spinlock only
//! around the short update. `atomic_1` then simply waits for `atomic_2` with no lock held.

use crate::compat;
use crate::order::{Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use kernel::bindings;
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
    const THREADS: &'static [Thread<Self>] = &[
        Thread::new(c_str!("atomic_1"), Self::thread),
        Thread::new(c_str!("atomic_2"), Self::writer),
    ];
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
            let switches = voluntary_switches();
            // The bug: this may sleep, and the spinlock is held.
            *self.atomic_mutex.lock() += 1;
            if voluntary_switches() != switches {
                // It slept: the scheduler reported it and set the preemption count back to what it
                // expects, without the spinlock's level. Give that back, or the spinlock's release
                // would take the count below zero (a kernel with `DEBUG_PREEMPT` would refuse it;
                // one without goes on with a count that says "in every kind of interrupt").
                compat::preempt_count_inc();
            }
        } else {
            let mut log = self.atomic_mutex.lock();
            *log += 1;
            *self.atomic_spin.lock() += 1;
        }
    }

    /// `atomic_2`: one log entry, with `atomic_mutex` held for `hold_ms`, asleep; then a rest of
    /// [`WRITER_REST_MS`], so that `atomic_1` finds the mutex taken now and then, not always.
    #[inline(never)]
    fn writer(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        {
            let mut log = self.atomic_mutex.lock();
            if ctx.hold() {
                *log += 1;
            }
        }
        ctx.sleep(WRITER_REST_MS);
    }
}

/// How many times the current task has given up its CPU to wait (its `nvcsw`).
fn voluntary_switches() -> usize {
    // SAFETY: `get_current` returns the running task, which is alive while it runs; its `nvcsw`
    // changes only when this task itself goes to sleep, so reading it from here does not race.
    unsafe { (*bindings::get_current()).nvcsw }
}

/// How long `atomic_2` rests between two log entries.
const WRITER_REST_MS: u32 = 1000;
