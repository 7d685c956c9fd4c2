// SPDX-License-Identifier: GPL-2.0

//! AB-BA on two spinlocks: a deadlock that burns CPUs instead of sleeping.
//!
//! `spinner_a` takes `spin_a`, then `spin_b`; in buggy mode `spinner_b` takes `spin_b`, then
//! `spin_a`. A spinlock's waiter does not sleep: it spins, with preemption off. Lockdep reports the
//! cycle as soon as the second order is attempted, exactly as for `abba`; then both threads spin
//! forever, each on the lock the other holds, and their CPUs never schedule again (the article's
//! "high CPU utilization"). The soft-lockup detector reports each stuck CPU.
//!
//! Nothing can end this: a spinning CPU runs no other code, `rmmod` included. The lab's guest has
//! two CPUs, so the whole guest freezes; the lab powers it off from the host.
//!
//! The fix is the one for `abba`: both threads take `spin_a`, then `spin_b`. Spinlock holders must
//! not sleep, so the threads hold their first lock for `hold_ms` by busy-waiting; between two
//! iterations they sleep longer than other scenarios' threads, so that even the fixed variant
//! leaves the guest's CPUs mostly free for everything else (`rmmod` included).
//!
//! That pause is longer than the hold, and both threads keep the same rhythm: left alone, their
//! hold windows could miss each other for minutes. So in buggy mode each thread, once it holds its
//! first lock, waits (spinning, for at most one of the other thread's iterations) until the other
//! holds its own: the deadlock then comes in the first buggy iteration, every time.

use crate::order::{Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use crate::HOLD_MS;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::{new_spinlock, SpinLock};

/// The two spinlocks.
#[pin_data]
pub(crate) struct Spin {
    #[pin]
    spin_a: SpinLock<()>,
    #[pin]
    spin_b: SpinLock<()>,
    /// Whether each thread holds its first lock (the rendezvous of buggy mode).
    holding: [AtomicBool; 2],
}

/// The spinlocks' names, for `status` (lockdep gets them from `new_spinlock!`).
const NAME_A: &CStr = c_str!("spin_a");
const NAME_B: &CStr = c_str!("spin_b");

impl Scenario for Spin {
    const THREADS: &'static [Thread<Self>] = &[
        Thread::new(c_str!("spinner_a"), Self::thread_a),
        Thread::new(c_str!("spinner_b"), Self::thread_b),
    ];
    const LOCKS: &'static [&'static str] = &["spin_a", "spin_b"];

    const BUGGY: &'static str =
        "buggy (spinner_b takes spin_b, then spin_a: both CPUs will spin forever)";
    const FIXED: &'static str = "fixed (both threads take spin_a, then spin_b)";

    /// Each thread's CPU spins with preemption off for up to two holds an iteration (its own,
    /// and its wait for the other's), and passes an RCU quiescent state only in this pause: long
    /// enough that a grace period (the module loader's `synchronize_rcu` in `do_free_init`, at
    /// every `insmod`, which the first pause lets through) ends well within the hung-task
    /// detector's second, even on a loaded host.
    const PAUSE_MS: u32 = 300;

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            spin_a <- new_spinlock!((), "spin_a"),
            spin_b <- new_spinlock!((), "spin_b"),
            holding: [const { AtomicBool::new(false) }; 2],
        })
    }
}

impl Spin {
    /// `spinner_a`: `spin_a`, then `spin_b`.
    #[inline(never)]
    fn thread_a(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        self.both(0, (&self.spin_a, NAME_A), (&self.spin_b, NAME_B), ctx);
    }

    /// `spinner_b`: `spin_b`, then `spin_a` when buggy; `spin_a`, then `spin_b` when fixed.
    #[inline(never)]
    fn thread_b(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        if ctx.buggy() {
            self.both(1, (&self.spin_b, NAME_B), (&self.spin_a, NAME_A), ctx);
        } else {
            self.both(1, (&self.spin_a, NAME_A), (&self.spin_b, NAME_B), ctx);
        }
    }

    /// Thread number `me` takes `first`, busy-waits with it held, takes `second`, releases both.
    /// The wait is `hold_ms`, or in buggy mode until the other thread holds its first lock too.
    #[inline(always)]
    fn both(
        &self,
        me: usize,
        first: (&SpinLock<()>, &'static CStr),
        second: (&SpinLock<()>, &'static CStr),
        ctx: &Ctx,
    ) {
        let _first = ctx.waits_on(first.1, || first.0.lock());
        self.holding[me].store(true, Ordering::Release);
        let held = if ctx.buggy() {
            // At most one iteration of the other thread: it may be asleep, or (just after the
            // switch to buggy mode) still in a fixed iteration that waits for our lock.
            let other = &self.holding[1 - me];
            ctx.spin_until(HOLD_MS.get() + Self::PAUSE_MS, || {
                other.load(Ordering::Acquire)
            })
        } else {
            ctx.hold_spinning()
        };
        if held {
            let _second = ctx.waits_on(second.1, || second.0.lock());
        }
        self.holding[me].store(false, Ordering::Release);
    }
}
