// SPDX-License-Identifier: GPL-2.0

//! AB-BA on two mutexes: the kernel crate's `Mutex`, the lock Rust-for-Linux code takes most.
//!
//! `mutex_1` always takes `mutex_a`, then `mutex_b`; in buggy mode `mutex_2` takes `mutex_b`,
//! then `mutex_a`. The C mutex tells lockdep about every acquisition, so lockdep reports the cycle
//! as soon as the second order is attempted, as for `abba`'s annotated semaphores. Then both
//! threads sleep forever in `mutex_lock()`, in state D. A mutex has an owner: 7.x's hung-task
//! detector names it ("is blocked on a mutex likely owned by task mutex_2"), so the report itself
//! shows the cycle.
//!
//! Unlike a semaphore, a mutex can only be released by its owner, and a task asleep in
//! `mutex_lock()` cannot be woken: nothing breaks this deadlock, and `rmmod` would hang with the
//! threads. Only the fixed variant can be unloaded.
//!
//! The fix is `abba`'s: one global order, `mutex_a` then `mutex_b`, for everybody.

use crate::order::{Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::{new_mutex, Mutex};

/// The two mutexes. They guard no data: the order of acquisition is the whole point.
#[pin_data]
pub(crate) struct Mutexes {
    #[pin]
    mutex_a: Mutex<()>,
    #[pin]
    mutex_b: Mutex<()>,
}

/// The mutexes' names, for `status` (lockdep gets them from `new_mutex!`).
const A: &CStr = c_str!("mutex_a");
const B: &CStr = c_str!("mutex_b");

impl Scenario for Mutexes {
    const THREADS: &'static [Thread<Self>] = &[
        Thread::new(c_str!("mutex_1"), Self::thread_a),
        Thread::new(c_str!("mutex_2"), Self::thread_b),
    ];
    const LOCKS: &'static [&'static str] = &["mutex_a", "mutex_b"];

    fn peek(&self) -> Option<&'static CStr> {
        drop(self.mutex_a.lock());
        Some(c_str!("mutex_a"))
    }

    const BUGGY: &'static str = "buggy (mutex_2 takes mutex_b, then mutex_a)";
    const FIXED: &'static str = "fixed (both threads take mutex_a, then mutex_b)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            mutex_a <- new_mutex!((), "mutex_a"),
            mutex_b <- new_mutex!((), "mutex_b"),
        })
    }
}

impl Mutexes {
    /// `mutex_1`: always `mutex_a`, then `mutex_b`.
    #[inline(never)]
    fn thread_a(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        Self::both((&self.mutex_a, A), (&self.mutex_b, B), ctx);
    }

    /// `mutex_2`: `mutex_a`, then `mutex_b` when fixed; the opposite order when buggy.
    #[inline(never)]
    fn thread_b(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        if ctx.buggy() {
            // The bug.
            Self::both((&self.mutex_b, B), (&self.mutex_a, A), ctx);
        } else {
            Self::both((&self.mutex_a, A), (&self.mutex_b, B), ctx);
        }
    }

    /// Takes `first`, holds it for `hold_ms`, takes `second`, releases both (each mutex with its
    /// name, for `status`).
    #[inline(always)]
    fn both(first: (&Mutex<()>, &'static CStr), second: (&Mutex<()>, &'static CStr), ctx: &Ctx) {
        let _first = ctx.waits_on(first.1, || first.0.lock());
        if ctx.hold() {
            let _second = ctx.waits_on(second.1, || second.0.lock());
        }
    }
}
