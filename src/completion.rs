// SPDX-License-Identifier: GPL-2.0

//! Waiting for a completion while holding the lock its completer needs: a deadlock lockdep cannot
//! see.
//!
//! `waiter` takes `done_lock` (a mutex), and in buggy mode waits for the completion `done` while
//! it holds it. `completer` takes `done_lock` to record its work, then completes `done`. Once
//! `waiter` holds the mutex and waits, `completer` sleeps on the mutex and can never complete:
//! both are stuck in state D. Lockdep tracks locks, not completions, so it prints nothing; only
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
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::{new_mutex, Mutex};

/// The mutex (a count of completed jobs), and the completion.
#[pin_data]
pub(crate) struct Completions {
    #[pin]
    done_lock: Mutex<u64>,
    #[pin]
    done: Completion,
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

    const BUGGY: &'static str = "buggy (waiter waits for done while it holds done_lock)";
    const FIXED: &'static str = "fixed (waiter waits for done, then takes done_lock)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            done_lock <- new_mutex!(0, "done_lock"),
            done <- Completion::new(),
        })
    }

    fn unblock(&self) {
        self.done.complete();
    }
}

impl Completions {
    /// `waiter`: waits for one completion, with `done_lock` held when buggy.
    #[inline(never)]
    fn waiter(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        if ctx.buggy() {
            // The bug: `completer` needs `done_lock` before it can complete.
            let _jobs = ctx.waits_on(LOCK, || self.done_lock.lock());
            if ctx.hold() {
                ctx.waits_on(DONE, || self.done.wait());
            }
        } else {
            ctx.waits_on(DONE, || self.done.wait());
            let _jobs = ctx.waits_on(LOCK, || self.done_lock.lock());
        }
    }

    /// `completer`: records a job under `done_lock`, then completes `done`.
    #[inline(never)]
    fn completer(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        let mut jobs = ctx.waits_on(LOCK, || self.done_lock.lock());
        if ctx.running() {
            *jobs += 1;
        }
        drop(jobs);
        self.done.complete();
    }
}
