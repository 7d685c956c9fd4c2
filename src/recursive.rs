// SPDX-License-Identifier: GPL-2.0

//! Recursive locking: a thread takes a semaphore it already holds.
//!
//! The thread `recursive` takes `sem_r` to update its record, then calls a helper that logs the
//! update. In buggy mode the helper takes `sem_r` itself, not knowing that its caller holds it:
//! lockdep reports "possible recursive locking detected" before the second `down()`, and the
//! thread then sleeps forever on a semaphore only it could release (state D, reported by the
//! hung-task detector).
//!
//! The fix is not to nest: the fixed helper takes the caller's guard as proof that the semaphore
//! is held, instead of taking it again. (The ordered API refuses the nesting at compile time as
//! well: `RecR` does not come after itself.)

use crate::new_semaphore;
use crate::order::{Ordered, Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use crate::semaphore::SemaphoreBackend;
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::lock::Guard;

crate::lock_order!(pub(crate) RecR);

/// The semaphore, guarding the number of updates.
#[pin_data]
pub(crate) struct Recursive {
    #[pin]
    sem_r: Ordered<u64, RecR>,
}

impl Scenario for Recursive {
    const THREADS: &'static [Thread<Self>] = &[Thread::new(c_str!("recursive"), Self::update)];
    const LOCKS: &'static [&'static str] = &["sem_r"];

    fn peek(&self) -> Option<&'static CStr> {
        drop(self.sem_r.unordered().lock());
        Some(c_str!("sem_r"))
    }

    const BUGGY: &'static str =
        "buggy (recursive holds sem_r and calls a helper that takes sem_r again)";
    const FIXED: &'static str = "fixed (the helper uses the caller's hold on sem_r)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            sem_r <- Ordered::new(new_semaphore!(0, "sem_r")),
        })
    }
}

impl Recursive {
    /// `recursive`: counts one update under `sem_r`, then has it logged.
    #[inline(never)]
    fn update(&self, ctx: &Ctx, held: &mut Token<'_, Unlocked>) {
        let (mut count, _) = self.sem_r.lock(held);
        if !ctx.hold() {
            return;
        }
        *count += 1;
        if ctx.buggy() {
            self.log_update(ctx);
        } else {
            Self::log_update_locked(&count);
        }
    }

    /// The buggy helper: takes `sem_r` to read the count, although its caller holds it already.
    #[inline(never)]
    fn log_update(&self, ctx: &Ctx) {
        let count = self.sem_r.unordered().lock();
        if ctx.running() {
            pr_debug!("recursive: update {}\n", *count);
        }
    }

    /// The fixed helper: reads the count through the caller's guard, which proves that `sem_r` is
    /// held.
    fn log_update_locked(count: &Guard<'_, u64, SemaphoreBackend>) {
        pr_debug!("recursive: update {}\n", **count);
    }
}
