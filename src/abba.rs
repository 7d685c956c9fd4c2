// SPDX-License-Identifier: GPL-2.0

//! The AB-BA deadlock: two threads, two semaphores.
//!
//! `deadlock_a` always takes `sem_a`, then `sem_b`. `deadlock_b` does the same in fixed mode, and
//! takes `sem_b`, then `sem_a` in buggy mode. Holding the first semaphore for `hold_ms` lets the
//! other thread take its own first one meanwhile: then each waits for the semaphore the other
//! holds, forever. Lockdep sees the two orders and reports the cycle as soon as the second one
//! is attempted, before anything blocks.
//!
//! The fix is the rule lockdep enforces: every thread takes the two in one global order.

use crate::new_semaphore;
use crate::scenario::{Ctx, Scenario};
use crate::semaphore::Semaphore;
use kernel::c_str;
use kernel::prelude::*;

/// The two semaphores. They guard no data: the order of acquisition is the whole point.
#[pin_data]
pub(crate) struct AbBa {
    #[pin]
    sem_a: Semaphore<()>,
    #[pin]
    sem_b: Semaphore<()>,
}

impl Scenario for AbBa {
    const THREADS: &'static [&'static CStr] = &[c_str!("deadlock_a"), c_str!("deadlock_b")];

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            sem_a <- new_semaphore!((), "sem_a"),
            sem_b <- new_semaphore!((), "sem_b"),
        })
    }

    fn step(&self, thread: usize, ctx: &Ctx) {
        match thread {
            0 => self.thread_a(ctx),
            _ => self.thread_b(ctx),
        }
    }
}

impl AbBa {
    /// `deadlock_a`: always `sem_a`, then `sem_b`.
    ///
    /// Each thread has a function of its own (never inlined) so that lockdep's stack traces say
    /// which thread recorded which dependency.
    #[inline(never)]
    fn thread_a(&self, ctx: &Ctx) {
        lock_in_order(&self.sem_a, &self.sem_b, ctx);
    }

    /// `deadlock_b`: `sem_a`, then `sem_b` when fixed; the opposite order when buggy.
    #[inline(never)]
    fn thread_b(&self, ctx: &Ctx) {
        if ctx.buggy() {
            lock_in_order(&self.sem_b, &self.sem_a, ctx); // The bug.
        } else {
            lock_in_order(&self.sem_a, &self.sem_b, ctx);
        }
    }
}

/// Takes `first`, holds it for `hold_ms`, takes `second`, then releases both (second first).
///
/// Always inlined, so that the stack traces show `thread_a` or `thread_b`, not this helper.
#[inline(always)]
fn lock_in_order(first: &Semaphore<()>, second: &Semaphore<()>, ctx: &Ctx) {
    let _first = first.lock();
    if !ctx.hold() {
        return;
    }
    let _second = second.lock();
    // The critical section would be here. The guards drop in reverse order: second, then first.
}
