// SPDX-License-Identifier: GPL-2.0

//! A lock that is never released: an error path that forgets to unlock.
//!
//! `leak_a` takes `sem_l`, does a job, and releases it; its fifth job fails, and the thread gives
//! up and exits. In buggy mode that error path returns without releasing `sem_l`, the way C code
//! forgets an `up()` before an early `return`: lockdep reports at the thread's exit that it still
//! holds a lock, and `leak_b`, which takes `sem_l` every iteration, waits for it forever (state D,
//! reported by the hung-task detector; 7.x names a semaphore's last holder only while that task
//! exists, so here it names none).
//!
//! A guard releases its lock on every path, so in Rust this bug cannot happen by accident: the
//! buggy variant forgets the guard on purpose (`core::mem::forget`). The fixed variant lets the
//! guard go out of scope on the error path like on any other. In both modes `leak_a` exits after
//! the failed job; `buggy` is read at that moment, so flipping it later changes nothing.

use crate::new_semaphore;
use crate::order::{Ordered, Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use kernel::c_str;
use kernel::prelude::*;

crate::lock_order!(pub(crate) LeakL);

/// Which job of `leak_a` fails.
const FAILING_JOB: u64 = 5;

/// The semaphore, guarding the number of jobs done.
#[pin_data]
pub(crate) struct Leak {
    #[pin]
    sem_l: Ordered<u64, LeakL>,
}

impl Scenario for Leak {
    const THREADS: &'static [Thread<Self>] = &[
        Thread::new(c_str!("leak_a"), Self::leak_a),
        Thread::new(c_str!("leak_b"), Self::wait),
    ];
    const LOCKS: &'static [&'static str] = &["sem_l"];

    fn peek(&self) -> Option<&'static CStr> {
        drop(self.sem_l.unordered().lock());
        Some(c_str!("sem_l"))
    }

    const BUGGY: &'static str = "buggy (leak_a's failing job returns without releasing sem_l)";
    const FIXED: &'static str = "fixed (leak_a's failing job releases sem_l)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            sem_l <- Ordered::new(new_semaphore!(0, "sem_l")),
        })
    }
}

impl Leak {
    /// `leak_a`: one job; when it fails, the thread exits.
    #[inline(never)]
    fn leak_a(&self, ctx: &Ctx, held: &mut Token<'_, Unlocked>) {
        if let Err(e) = self.job(ctx, held) {
            pr_info!(
                "leak_a: job failed (error {}), thread exits\n",
                e.to_errno()
            );
            ctx.exit();
        }
    }

    /// One job of `leak_a` under `sem_l`; the fifth fails.
    #[inline(never)]
    fn job(&self, ctx: &Ctx, held: &mut Token<'_, Unlocked>) -> Result {
        let (mut done, _) = self.sem_l.lock(held);
        if !ctx.hold() {
            return Ok(());
        }
        if *done + 1 == FAILING_JOB {
            if ctx.buggy() {
                // The bug, on purpose: the guard is forgotten, so `sem_l` is never released.
                core::mem::forget(done);
            }
            return Err(EIO);
        }
        *done += 1;
        Ok(())
    }

    /// `leak_b`: takes `sem_l` and lets it go.
    #[inline(never)]
    fn wait(&self, ctx: &Ctx, held: &mut Token<'_, Unlocked>) {
        let (_done, _) = self.sem_l.lock(held);
        ctx.hold();
    }
}
