// SPDX-License-Identifier: GPL-2.0

//! A reader-writer deadlock: a reader that holds the rwsem waits for a mutex whose holder waits to
//! write.
//!
//! `rw_reader` takes `rw_sem` for reading, then `rw_mutex`. `rw_writer` takes `rw_sem` for
//! writing, then `rw_mutex` when fixed; in buggy mode it takes `rw_mutex` first, then `rw_sem` for
//! writing. A writer waits until every reader is gone, and the reader waits for the mutex the
//! writer holds: both sleep forever, in state D. Readers can share an rwsem with each other, never
//! with a writer, so a read acquisition counts in a lock cycle like any other: lockdep reports
//! the circular dependency, its lock list showing the read acquisition (`rlock(rw_sem)`), and
//! 7.x's hung-task detector names the mutex's owner and the rwsem's reader.
//!
//! Nothing can wake a task asleep in `down_write()` or `mutex_lock()`: only the fixed variant can
//! be unloaded.
//!
//! The fix: one global order for everybody, `rw_sem` (to read or to write) before `rw_mutex`.

use crate::new_rw_semaphore;
use crate::order::{Token, Unlocked};
use crate::rw_semaphore::RwSemaphore;
use crate::scenario::{Ctx, Scenario, Thread};
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::{new_mutex, Mutex};

/// The rwsem (a table's version) and the mutex (a count of writes).
#[pin_data]
pub(crate) struct RwSem {
    #[pin]
    rw_sem: RwSemaphore<u64>,
    #[pin]
    rw_mutex: Mutex<u64>,
}

/// The locks' names, for `status` (lockdep gets them from the constructors).
const SEM: &CStr = c_str!("rw_sem");
const MUTEX: &CStr = c_str!("rw_mutex");

impl Scenario for RwSem {
    const THREADS: &'static [Thread<Self>] = &[
        Thread::new(c_str!("rw_reader"), Self::reader),
        Thread::new(c_str!("rw_writer"), Self::writer),
    ];
    const LOCKS: &'static [&'static str] = &["rw_sem", "rw_mutex"];

    fn peek(&self) -> Option<&'static CStr> {
        drop(self.rw_mutex.lock());
        Some(c_str!("rw_mutex"))
    }

    const BUGGY: &'static str = "buggy (rw_writer takes rw_mutex, then rw_sem to write)";
    const FIXED: &'static str = "fixed (both threads take rw_sem, then rw_mutex)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            rw_sem <- new_rw_semaphore!(0, "rw_sem"),
            rw_mutex <- new_mutex!(0, "rw_mutex"),
        })
    }
}

impl RwSem {
    /// `rw_reader`: `rw_sem` for reading, then `rw_mutex`.
    #[inline(never)]
    fn reader(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        let version = ctx.waits_on(SEM, || self.rw_sem.read());
        if ctx.hold() {
            let writes = ctx.waits_on(MUTEX, || self.rw_mutex.lock());
            let _consistent = *version >= *writes;
        }
    }

    /// `rw_writer`: `rw_sem` for writing, then `rw_mutex` when fixed; the opposite order when
    /// buggy.
    #[inline(never)]
    fn writer(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        if ctx.buggy() {
            // The bug.
            let mut writes = ctx.waits_on(MUTEX, || self.rw_mutex.lock());
            if ctx.hold() {
                let mut version = ctx.waits_on(SEM, || self.rw_sem.write());
                *version += 1;
                *writes += 1;
            }
        } else {
            let mut version = ctx.waits_on(SEM, || self.rw_sem.write());
            let mut writes = ctx.waits_on(MUTEX, || self.rw_mutex.lock());
            *version += 1;
            *writes += 1;
        }
    }
}
