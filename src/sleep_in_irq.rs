// SPDX-License-Identifier: GPL-2.0

//! A sleeping lock taken in an interrupt handler: a mutex in hard-interrupt context.
//!
//! `irq_raiser` raises an interrupt on its own CPU every iteration (an `irq_work`,
//! [`IrqWork`]), whose handler counts an update under `irq_mutex`, a mutex. An interrupt handler
//! must not sleep: it runs on top of whatever task it interrupted, with interrupts off, and no
//! scheduler can put it to sleep and run it again later. `mutex_lock()` sleeps whenever the mutex
//! is taken. In buggy mode the handler takes the mutex itself.
//!
//! Only the handler ever takes `irq_mutex`, so it is always free: the handler never really
//! sleeps, nothing hangs, and the module unloads. The kernel reports the bug all the same, on the
//! first try: `might_sleep()` prints "BUG: sleeping function called from invalid context"
//! (`in_atomic(): 1, irqs_disabled(): 1`, naming `irq_raiser`, the interrupted task; again at most
//! once a second), and lockdep "BUG: Invalid wait context" (once): a mutex, whose wait type is
//! sleeping, in hard-interrupt context. The interrupt is raised with interrupts off, so it comes
//! in the moment the thread turns them back on: always on top of `irq_raiser`, which holds no
//! lock.
//!
//! The fix moves the sleeping work out of the interrupt: the handler only queues a work item,
//! `irq_job`, and a kworker takes the mutex in process context, where it may sleep; the thread
//! waits until the job has run (`flush_work`), so its iterations count finished updates.
//!
//! `buggy` may be flipped at any time. After the fixed variant ran, the mutex taken in the
//! interrupt is also an inconsistent use of it (the job took it with interrupts on), but lockdep
//! checks the wait context first, and reports only the first problem it finds: the same report.

use crate::compat;
use crate::irq_work::IrqWork;
use crate::order::{Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use crate::work::Job;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::{new_mutex, Mutex};
use kernel::workqueue::new_work;

/// The interrupt's work, which carries what its handler needs.
#[pin_data]
pub(crate) struct SleepInIrq {
    #[pin]
    work: IrqWork<Handler>,
}

/// What the interrupt's handler works on.
struct Handler {
    /// Whether the handler takes the mutex itself (buggy) or queues the job (fixed); the thread
    /// sets it before it raises the interrupt.
    buggy: AtomicBool,
    /// The job, and its data: `irq_mutex`, a count of updates.
    job: Job<Mutex<u64>>,
}

/// What `status` shows the thread waiting on.
const JOB: &CStr = c_str!("irq_job");

impl Scenario for SleepInIrq {
    const THREADS: &'static [Thread<Self>] = &[Thread::new(c_str!("irq_raiser"), Self::thread)];
    const LOCKS: &'static [&'static str] = &["irq_mutex", "(work_completion)(irq_job)"];

    const BUGGY: &'static str =
        "buggy (irq_raiser raises an interrupt whose handler takes irq_mutex)";
    const FIXED: &'static str =
        "fixed (irq_raiser raises an interrupt whose handler queues irq_job, which takes irq_mutex)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            work <- IrqWork::new(
                Handler {
                    buggy: AtomicBool::new(false),
                    job: Job::new(
                        new_work!("(work_completion)(irq_job)"),
                        new_mutex!(0, "irq_mutex"),
                        Self::run,
                    )?,
                },
                Self::fire
            ),
        })
    }
}

impl SleepInIrq {
    /// `irq_raiser`: raises the interrupt, then waits until the job it may have queued has run.
    #[inline(never)]
    fn thread(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        let handler = self.work.data();
        // With interrupts off the thread stays on this CPU, and the interrupt, raised on it,
        // comes in as soon as they are back on: on top of this thread, after the store.
        compat::irqs_off(|| {
            handler.buggy.store(ctx.buggy(), Ordering::Relaxed);
            self.work.queue();
        });
        ctx.waits_on(JOB, || handler.job.flush());
    }

    /// The interrupt's handler, in hard-interrupt context on the thread's CPU.
    #[inline(never)]
    fn fire(handler: &Handler) {
        if handler.buggy.load(Ordering::Relaxed) {
            // The bug: a sleeping lock in an interrupt handler.
            *handler.job.data().lock() += 1;
        } else {
            handler.job.queue();
        }
    }

    /// The job, on a kworker (process context): counts an update under `irq_mutex`.
    #[inline(never)]
    fn run(irq_mutex: &Mutex<u64>) {
        *irq_mutex.lock() += 1;
    }
}
