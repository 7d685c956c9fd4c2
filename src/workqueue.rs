// SPDX-License-Identifier: GPL-2.0

//! Flushing a work item while holding a lock that the work item takes.
//!
//! `wq_flusher` queues `wq_job` on the system workqueue and waits until it has run
//! (`flush_work`). The job takes `wq_lock` (a mutex) to count its runs. In buggy mode the flusher
//! queues and flushes with `wq_lock` held: the job, on a kworker, sleeps on the mutex, and the
//! flusher waits for the job forever. Lockdep sees it coming: `flush_work` acquires the job's
//! completion class, `(work_completion)(wq_job)`, and the worker holds that class while the job
//! runs, so `wq_lock` -> `(work_completion)(wq_job)` -> `wq_lock` is a cycle it reports. Then the
//! real hang: the flusher in `flush_work`, the kworker in `mutex_lock` (7.x names the flusher as
//! the mutex's owner), both in state D.
//!
//! Nothing can wake them: only the fixed variant can be unloaded.
//!
//! The fix: flush first, then take the lock (never wait for work while holding a lock that the
//! work takes).

use crate::order::{Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use crate::work::Job;
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::{new_mutex, Mutex};
use kernel::workqueue::new_work;

/// The job, and its data: `wq_lock`, a count of its runs.
#[pin_data]
pub(crate) struct WorkQueue {
    job: Job<Mutex<u64>>,
}

/// What `status` shows the flusher waiting on.
const LOCK: &CStr = c_str!("wq_lock");
const JOB: &CStr = c_str!("wq_job");

impl Scenario for WorkQueue {
    const THREADS: &'static [Thread<Self>] = &[Thread::new(c_str!("wq_flusher"), Self::flusher)];
    const LOCKS: &'static [&'static str] = &["wq_lock", "(work_completion)(wq_job)"];

    fn peek(&self) -> Option<&'static CStr> {
        drop(self.job.data().lock());
        Some(c_str!("wq_lock"))
    }

    const BUGGY: &'static str = "buggy (wq_flusher flushes wq_job while it holds wq_lock)";
    const FIXED: &'static str = "fixed (wq_flusher flushes wq_job, then takes wq_lock)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            job: Job::new(
                new_work!("(work_completion)(wq_job)"),
                new_mutex!(0, "wq_lock"),
                Self::run
            )?,
        })
    }
}

impl WorkQueue {
    /// `wq_flusher`: queues the job and waits for it, holding `wq_lock` when buggy.
    #[inline(never)]
    fn flusher(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        if ctx.buggy() {
            // The bug: the job needs `wq_lock` to finish.
            let _runs = ctx.waits_on(LOCK, || self.job.data().lock());
            self.job.queue();
            if ctx.hold() {
                ctx.waits_on(JOB, || self.job.flush());
            }
        } else {
            self.job.queue();
            ctx.waits_on(JOB, || self.job.flush());
            let _runs = ctx.waits_on(LOCK, || self.job.data().lock());
        }
    }

    /// The job, on a kworker: counts a run under `wq_lock`.
    fn run(wq_lock: &Mutex<u64>) {
        *wq_lock.lock() += 1;
    }
}
