// SPDX-License-Identifier: GPL-2.0

//! The AB-BA deadlock: two threads, two semaphores.
//!
//! `deadlock_a` always takes `sem_a`, then `sem_b`. `deadlock_b` does the same in fixed mode, and
//! takes `sem_b`, then `sem_a` in buggy mode. Holding the first semaphore for `hold_ms` lets the
//! other thread take its own first one meanwhile: then each waits for the semaphore the other
//! holds, forever. Lockdep sees the two orders and reports the cycle as soon as the second one
//! is attempted, before anything blocks.
//!
//! The fix is the rule lockdep enforces: every thread takes the two in one global order. Here the
//! compiler enforces it too: the fixed paths take the semaphores through their lock levels
//! (`SemA` before `SemB`, see [`crate::order`]), so the opposite order would not build. The buggy
//! path must build, so it takes the plain semaphores.

use crate::new_semaphore;
use crate::order::{Ordered, Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use kernel::c_str;
use kernel::prelude::*;

crate::lock_order!(pub(crate) SemA, SemB);

/// The two semaphores. They guard no data: the order of acquisition is the whole point.
#[pin_data]
pub(crate) struct AbBa {
    #[pin]
    sem_a: Ordered<(), SemA>,
    #[pin]
    sem_b: Ordered<(), SemB>,
}

impl Scenario for AbBa {
    const THREADS: &'static [Thread<Self>] = &[
        Thread::new(c_str!("deadlock_a"), Self::thread_a),
        Thread::new(c_str!("deadlock_b"), Self::thread_b),
    ];
    const LOCKS: &'static [&'static str] = &["sem_a", "sem_b"];

    fn peek(&self) -> Option<&'static CStr> {
        drop(self.sem_a.unordered().lock());
        Some(c_str!("sem_a"))
    }

    const BUGGY: &'static str = "buggy (deadlock_b takes sem_b, then sem_a)";
    const FIXED: &'static str = "fixed (both threads take sem_a, then sem_b)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            sem_a <- Ordered::new(new_semaphore!((), "sem_a")),
            sem_b <- Ordered::new(new_semaphore!((), "sem_b")),
        })
    }
}

impl AbBa {
    /// `deadlock_a`: always `sem_a`, then `sem_b`.
    #[inline(never)]
    fn thread_a(&self, ctx: &Ctx, held: &mut Token<'_, Unlocked>) {
        self.in_order(ctx, held);
    }

    /// `deadlock_b`: `sem_a`, then `sem_b` when fixed; the opposite order when buggy.
    #[inline(never)]
    fn thread_b(&self, ctx: &Ctx, held: &mut Token<'_, Unlocked>) {
        if ctx.buggy() {
            // The bug. The ordered API refuses this order at compile time (`self.sem_a.lock(&mut
            // b)` with `b` the token of `sem_b`: `SemA: LockAfter<SemB>` is not satisfied), so it
            // takes the plain semaphores.
            let _b = self.sem_b.unordered().lock();
            if !ctx.hold() {
                return;
            }
            let _a = self.sem_a.unordered().lock();
        } else {
            self.in_order(ctx, held);
        }
    }

    /// The fixed path: takes `sem_a`, holds it for `hold_ms`, takes `sem_b` with `sem_a`'s token,
    /// then releases both (`sem_b` first).
    ///
    /// Always inlined, so that the stack traces show `thread_a` or `thread_b`, not this helper.
    #[inline(always)]
    fn in_order(&self, ctx: &Ctx, held: &mut Token<'_, Unlocked>) {
        let (_a, mut a) = self.sem_a.lock(held);
        if !ctx.hold() {
            return;
        }
        let (_b, _) = self.sem_b.lock(&mut a);
        // The critical section would be here.
    }
}
