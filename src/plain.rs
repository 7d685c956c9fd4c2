// SPDX-License-Identifier: GPL-2.0

//! The article's exact code: AB-BA on two plain kernel semaphores.
//!
//! Same threads and orders as `abba` (`plain_a` takes `sem1` then `sem2`; in buggy mode `plain_b`
//! takes `sem2` then `sem1`), but on semaphores used the way C code uses them: `down()` and `up()`,
//! nothing told to lockdep ([`PlainSemaphore`]). The threads deadlock just the same, and lockdep
//! prints nothing at all: only the hung-task detector sees two tasks in state D (on 7.x it also
//! names the semaphore's last holder). This is what the annotation in [`crate::semaphore`] is for.
//!
//! The fix is the same as for `abba`: both threads take `sem1`, then `sem2`.

use crate::order::{Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use crate::semaphore::PlainSemaphore;
use kernel::c_str;
use kernel::prelude::*;

/// The two semaphores, as the article names them.
#[pin_data]
pub(crate) struct Plain {
    #[pin]
    sem1: PlainSemaphore,
    #[pin]
    sem2: PlainSemaphore,
}

impl Scenario for Plain {
    const THREADS: &'static [Thread<Self>] = &[
        Thread::new(c_str!("plain_a"), Self::thread_a),
        Thread::new(c_str!("plain_b"), Self::thread_b),
    ];
    const LOCKS: &'static [&'static str] = &["sem1", "sem2"];

    fn peek(&self) -> Option<&'static CStr> {
        drop(self.sem1.down());
        Some(c_str!("sem1"))
    }

    const BUGGY: &'static str = "buggy (plain_b takes sem2, then sem1; lockdep cannot see them)";
    const FIXED: &'static str = "fixed (both threads take sem1, then sem2)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            sem1 <- PlainSemaphore::new(c_str!("sem1")),
            sem2 <- PlainSemaphore::new(c_str!("sem2")),
        })
    }
}

impl Plain {
    /// `plain_a`: `sem1`, then `sem2`.
    #[inline(never)]
    fn thread_a(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        Self::both(&self.sem1, &self.sem2, ctx);
    }

    /// `plain_b`: `sem2`, then `sem1` when buggy; `sem1`, then `sem2` when fixed.
    #[inline(never)]
    fn thread_b(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        if ctx.buggy() {
            Self::both(&self.sem2, &self.sem1, ctx);
        } else {
            Self::both(&self.sem1, &self.sem2, ctx);
        }
    }

    /// Takes `first`, holds it for `hold_ms`, takes `second`, releases both.
    #[inline(always)]
    fn both(first: &PlainSemaphore, second: &PlainSemaphore, ctx: &Ctx) {
        let _first = first.down();
        if ctx.hold() {
            let _second = second.down();
        }
    }
}
