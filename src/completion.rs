// SPDX-License-Identifier: GPL-2.0

//! Waiting for a completion while holding the lock its completer needs: a deadlock lockdep cannot
//! see.
//!
//! `waiter` asks for a job and waits for the completion `done`; in buggy mode it does both while
//! it holds `done_lock` (a mutex). `completer` does each job it is asked for: it takes
//! `done_lock` to record it, then completes `done`. Once `waiter` holds the mutex and waits,
//! `completer` sleeps on the mutex and can never complete: both are stuck in state D. Lockdep tracks locks, not completions, so it prints nothing; only
//! the hung-task detector reports the two threads (on 7.x it names `waiter` as the owner of the
//! mutex `completer` waits for; what `waiter` waits for, no report can say).
//!
//! Unloading completes `done` once more ([`Scenario::unblock`]): `waiter` wakes up, sees the module
//! stopping, and releases the mutex, so the threads exit.
//!
//! The fix: `waiter` waits for the completion before it takes the mutex; never wait for something
//! while holding a lock that what you wait for needs.

use crate::order::{Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use crate::wait::Completion;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::{new_mutex, Mutex};

/// The mutex (a count of completed jobs), the completion, and the request for a job.
#[pin_data]
pub(crate) struct Completions {
    #[pin]
    done_lock: Mutex<u64>,
    #[pin]
    done: Completion,
    /// Set by `waiter` to ask for a job, cleared by `completer` as it takes it: one completion
    /// per request, so that `waiter` always waits for a job still to be done.
    requested: AtomicBool,
}

/// What `status` shows a thread waiting on.
const LOCK: &CStr = c_str!("done_lock");
const DONE: &CStr = c_str!("done");

impl Scenario for Completions {
    const THREADS: &'static [Thread<Self>] = &[
        Thread::new(c_str!("waiter"), Self::waiter),
        Thread::new(c_str!("completer"), Self::completer),
    ];
    const LOCKS: &'static [&'static str] = &["done_lock"];

    fn peek(&self) -> Option<&'static CStr> {
        drop(self.done_lock.lock());
        Some(c_str!("done_lock"))
    }

    const BUGGY: &'static str = "buggy (waiter waits for done while it holds done_lock)";
    const FIXED: &'static str = "fixed (waiter waits for done, then takes done_lock)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            done_lock <- new_mutex!(0, "done_lock"),
            done <- Completion::new(),
            requested: AtomicBool::new(false),
        })
    }

    fn unblock(&self) {
        self.done.complete();
    }
}

impl Completions {
    /// `waiter`: asks for a job and waits for its completion, with `done_lock` held when buggy.
    #[inline(never)]
    fn waiter(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        if ctx.buggy() {
            // The bug: `completer` needs `done_lock` before it can complete.
            let _jobs = ctx.waits_on(LOCK, || self.done_lock.lock());
            if ctx.hold() {
                self.request_and_wait(ctx);
            }
        } else {
            self.request_and_wait(ctx);
            let _jobs = ctx.waits_on(LOCK, || self.done_lock.lock());
        }
    }

    /// Asks for a job, and waits until it is done.
    #[inline(always)]
    fn request_and_wait(&self, ctx: &Ctx) {
        self.requested.store(true, Ordering::Release);
        ctx.waits_on(DONE, || self.done.wait());
    }

    /// `completer`: if a job was asked for, records it under `done_lock`, then completes `done`.
    #[inline(never)]
    fn completer(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        if !self.requested.swap(false, Ordering::AcqRel) {
            return;
        }
        let mut jobs = ctx.waits_on(LOCK, || self.done_lock.lock());
        if ctx.running() {
            *jobs += 1;
        }
        drop(jobs);
        self.done.complete();
    }
}
