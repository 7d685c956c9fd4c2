// SPDX-License-Identifier: GPL-2.0

//! Work piling up behind a deadlocked consumer: kernel memory that grows with no user-space cause.
//!
//! `producer` queues requests, each a 4 KiB buffer from the kernel's slab allocator
//! (`kmalloc-4k`), [`BATCH`] an iteration. `consumer` takes `backlog_a`, then `backlog_b`, and
//! with both held frees every request queued. `auditor` takes the same two semaphores; in buggy
//! mode in the opposite order: the AB-BA of `abba`. Lockdep reports the cycle, `consumer` and
//! `auditor` deadlock, and nothing frees the requests any more. The queue grows until it holds
//! [`MAX`] of them (8 MiB), a bound that keeps the guest alive; then `producer` says so, once,
//! and queues no more. `Slab` in `/proc/meminfo`, and `kmalloc-4k` in `/proc/slabinfo`, show the
//! growth: no process owns that memory. Unloading breaks the deadlock (the semaphores are given
//! to their sleepers), and the queue is freed with the scenario.
//!
//! The fix is `abba`'s: both `consumer` and `auditor` take `backlog_a`, then `backlog_b`; the
//! queue then never holds more than what `producer` queues while `consumer` holds the semaphores.

use crate::new_semaphore;
use crate::order::{Ordered, Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::{new_mutex, Mutex};

crate::lock_order!(pub(crate) BacklogA, BacklogB);

/// How many requests `producer` queues an iteration.
const BATCH: usize = 16;

/// The most requests the queue holds: 8 MiB of them.
const MAX: usize = 2048;

/// The size of a request's buffer: a `kmalloc-4k` object.
const REQUEST_BYTES: usize = 4096;

/// The two semaphores, and the queue of requests.
#[pin_data]
pub(crate) struct Backlog {
    #[pin]
    backlog_a: Ordered<(), BacklogA>,
    #[pin]
    backlog_b: Ordered<(), BacklogB>,
    /// The requests queued and not yet consumed.
    #[pin]
    queue: Mutex<KVec<KVec<u8>>>,
    /// Whether `producer` has said that the queue is full (it says so once a load).
    full: AtomicBool,
}

impl Scenario for Backlog {
    const THREADS: &'static [Thread<Self>] = &[
        Thread::new(c_str!("producer"), Self::producer),
        Thread::new(c_str!("consumer"), Self::consumer),
        Thread::new(c_str!("auditor"), Self::auditor),
    ];
    const LOCKS: &'static [&'static str] = &["backlog_a", "backlog_b", "backlog_queue"];

    const BUGGY: &'static str =
        "buggy (auditor takes backlog_b, then backlog_a: consumer will deadlock and requests pile up)";
    const FIXED: &'static str =
        "fixed (consumer and auditor take backlog_a, then backlog_b; consumer frees the requests)";

    fn peek(&self) -> Option<&'static CStr> {
        drop(self.backlog_a.unordered().lock());
        Some(c_str!("backlog_a"))
    }

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            backlog_a <- Ordered::new(new_semaphore!((), "backlog_a")),
            backlog_b <- Ordered::new(new_semaphore!((), "backlog_b")),
            queue <- new_mutex!(KVec::new(), "backlog_queue"),
            full: AtomicBool::new(false),
        })
    }
}

impl Backlog {
    /// `producer`: queues [`BATCH`] requests, unless the queue holds [`MAX`].
    #[inline(never)]
    fn producer(&self, _ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        let mut queue = self.queue.lock();
        for _ in 0..BATCH {
            if queue.len() >= MAX {
                if !self.full.swap(true, Ordering::Relaxed) {
                    pr_warn!(
                        "backlog: {} requests queued ({} KiB), none consumed: queueing no more\n",
                        queue.len(),
                        queue.len() * REQUEST_BYTES / 1024
                    );
                }
                return;
            }
            // A request that cannot be allocated is not queued: the next iteration tries again.
            let Ok(request) = KVec::with_capacity(REQUEST_BYTES, GFP_KERNEL) else {
                return;
            };
            if queue.push(request, GFP_KERNEL).is_err() {
                return;
            }
        }
    }

    /// `consumer`: `backlog_a`, then `backlog_b`; with both held, frees every request queued.
    #[inline(never)]
    fn consumer(&self, ctx: &Ctx, held: &mut Token<'_, Unlocked>) {
        let (_a, mut a) = self.backlog_a.lock(held);
        if !ctx.hold() {
            return;
        }
        let (_b, _) = self.backlog_b.lock(&mut a);
        if ctx.running() {
            // Freed: every request, and the queue's own array.
            *self.queue.lock() = KVec::new();
        }
    }

    /// `auditor`: `backlog_a`, then `backlog_b` when fixed; the opposite order when buggy.
    #[inline(never)]
    fn auditor(&self, ctx: &Ctx, held: &mut Token<'_, Unlocked>) {
        if ctx.buggy() {
            // The bug: the order the ordered API refuses (see `abba`), on the plain semaphores.
            let _b = self.backlog_b.unordered().lock();
            if !ctx.hold() {
                return;
            }
            let _a = self.backlog_a.unordered().lock();
        } else {
            let (_a, mut a) = self.backlog_a.lock(held);
            if !ctx.hold() {
                return;
            }
            let (_b, _) = self.backlog_b.lock(&mut a);
        }
    }
}
