// SPDX-License-Identifier: GPL-2.0

//! The `irq` bug when the interrupt really comes: on the CPU whose thread holds the lock.
//!
//! `hardirq_thread` runs on CPU 1. Every iteration it takes `hardirq_lock`, bumps a count, and
//! while it still holds the lock queues an `irq_work` ([`IrqWork`]): the CPU sends itself an
//! interrupt, whose handler takes `hardirq_lock` too. The interrupt does not depend on timing: it
//! comes in as soon as interrupts are enabled on the CPU that queued it.
//!
//! In buggy mode the thread holds the lock with interrupts enabled (C's `spin_lock()` where
//! `spin_lock_irqsave()` is needed): the interrupt comes in at once, on top of the holder, and its
//! handler spins on a lock that only the code it interrupted can release. That code never runs
//! again: the CPU spins in the interrupt, with interrupts off, forever.
//!
//! What the kernel prints: lockdep first, "inconsistent lock state" ({IN-HARDIRQ-W} ->
//! {HARDIRQ-ON-W} when the fixed variant ran before, by the thread as it takes the lock; else the
//! reverse, from the interrupt, whose task is the interrupted thread). Lockdep then turns itself
//! off, and with it the spinlock debug code's "BUG: spinlock recursion" (it prints only while the
//! kernel's lock debugging is on). The stuck CPU takes no more timer interrupts, so its own
//! soft-lockup watchdog never runs; the other CPU's hard-lockup detector (the buddy detector)
//! sees that and reports "Watchdog detected hard LOCKUP on cpu 1", with the stuck CPU's stack by
//! NMI: the spinlock's loop, in the interrupt's handler, on top of the thread's step. The thread
//! is on CPU 1. Should the stuck CPU be the one that kept the jiffies, the other takes that over
//! once they have not moved for five of its ticks (`tick_sched_do_timer()`). Nothing can end
//! this: the lab powers the guest off.
//!
//! The fix is `spin_lock_irqsave()`'s: the thread disables interrupts on its CPU around the lock.
//! The interrupt then waits until the thread has let go of the lock: it comes as soon as
//! interrupts are on again, and its handler takes a free lock.

use crate::compat;
use crate::irq_work::IrqWork;
use crate::order::{Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::{new_spinlock, SpinLock};

/// The interrupt's work, which carries the lock its handler takes.
#[pin_data]
pub(crate) struct HardIrq {
    /// Its data is `hardirq_lock`, a count of updates.
    #[pin]
    work: IrqWork<SpinLock<u64>>,
}

/// The lock's name, for `status` (lockdep gets it from `new_spinlock!`).
const NAME: &CStr = c_str!("hardirq_lock");

impl Scenario for HardIrq {
    const THREADS: &'static [Thread<Self>] =
        &[Thread::new(c_str!("hardirq_thread"), Self::thread).on_cpu(1)];
    const LOCKS: &'static [&'static str] = &["hardirq_lock"];

    const BUGGY: &'static str =
        "buggy (hardirq_thread holds hardirq_lock with interrupts on and raises an interrupt on its CPU that takes it)";
    const FIXED: &'static str =
        "fixed (hardirq_thread turns interrupts off while it holds hardirq_lock)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            work <- IrqWork::new(new_spinlock!(0, "hardirq_lock"), Self::fire),
        })
    }
}

impl HardIrq {
    /// `hardirq_thread`: takes `hardirq_lock` and raises the interrupt while it holds it, with
    /// interrupts enabled when buggy and disabled when fixed.
    #[inline(never)]
    fn thread(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        if ctx.buggy() {
            // The bug: the interrupt comes in on this CPU while the lock is held.
            self.update(ctx);
        } else {
            compat::irqs_off(|| self.update(ctx));
        }
    }

    /// Takes `hardirq_lock`, bumps the count and queues the work, the lock still held (which
    /// keeps the thread on this CPU: a spinlock disables preemption).
    #[inline(always)]
    fn update(&self, ctx: &Ctx) {
        let mut count = ctx.waits_on(NAME, || self.work.data().lock());
        *count += 1;
        self.work.queue();
    }

    /// The interrupt's handler, in hard-interrupt context on the thread's CPU: bumps the count.
    #[inline(never)]
    fn fire(hardirq_lock: &SpinLock<u64>) {
        *hardirq_lock.lock() += 1;
    }
}
