// SPDX-License-Identifier: GPL-2.0

//! The `irq` bug when the interrupt really comes: on the CPU whose thread holds the lock.
//!
//! `hardirq_thread` runs on CPU 1. Every iteration it arms a one-shot hrtimer about 1 ms ahead,
//! pinned to its own CPU, takes `hardirq_lock` and holds it, busy-waiting, for a few timer ticks,
//! so the timer expires while the lock is held. The timer's callback takes `hardirq_lock` in
//! hard-interrupt context. In buggy mode the thread holds the lock with interrupts enabled (C's
//! `spin_lock()` where `spin_lock_irqsave()` is needed): the interrupt comes in on top of the
//! holder, and its callback spins on a lock that only the code it interrupted can release. That
//! code never runs again: the CPU spins in the interrupt, with interrupts off, forever.
//!
//! What the kernel prints: lockdep first, as the callback asks for the lock, "inconsistent lock
//! state" ({HARDIRQ-ON-W} -> {IN-HARDIRQ-W}, by the interrupted `hardirq_thread` itself, with
//! `hardirq_lock` in its list of held locks). Lockdep then turns itself off, and so does the
//! spinlock debug code's "BUG: spinlock recursion" check, which prints only while lockdep is on.
//! The stuck CPU takes no more timer interrupts, so its soft-lockup watchdog never runs; the
//! other CPU's hard-lockup detector (the buddy detector) sees that and reports "Watchdog
//! detected hard LOCKUP on cpu 1", with the stuck CPU's stack by NMI: the spinlock's loop, in the
//! timer's callback, on top of the thread's step. The thread is on CPU 1 because CPU 0 keeps the
//! jiffies on the lab's periodic-tick kernels. Nothing can end this: the lab powers the guest off.
//!
//! The fix is `spin_lock_irqsave()`'s: the thread disables interrupts on its CPU around the lock.
//! The timer then expires while they are off, and its interrupt waits until the thread has let go
//! of the lock: it comes as soon as they are on again, and its callback takes a free lock.

use crate::compat::{self, IrqTimer};
use crate::order::{Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::{new_spinlock, SpinLock};

/// The timer, which carries the lock its callback takes.
#[pin_data]
pub(crate) struct HardIrq {
    /// Its data is `hardirq_lock`, a count of updates.
    #[pin]
    timer: IrqTimer<SpinLock<u64>>,
}

/// How far ahead the thread arms the timer.
const DELAY_US: u32 = 1000;

/// How long the thread holds the lock: three ticks of a 250 Hz kernel, whose hrtimers expire at
/// the tick when it has no high-resolution timers (as in the lab). Not `hold_ms`: the fixed
/// variant holds it with interrupts off, which must stay short.
const HOLD_MS: u32 = 12;

/// How long the thread sleeps with the timer armed after it let go of the lock, before it cancels
/// it: enough for a timer that has not expired yet to expire.
const ARMED_MS: u32 = 20;

impl Scenario for HardIrq {
    const THREADS: &'static [Thread<Self>] =
        &[Thread::new(c_str!("hardirq_thread"), Self::thread).on_cpu(1)];
    const LOCKS: &'static [&'static str] = &["hardirq_lock"];

    const BUGGY: &'static str =
        "buggy (hardirq_thread holds hardirq_lock with interrupts on; a timer interrupt on its CPU takes it)";
    const FIXED: &'static str =
        "fixed (hardirq_thread turns interrupts off while it holds hardirq_lock)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            timer <- IrqTimer::new(new_spinlock!(0, "hardirq_lock"), Self::fire),
        })
    }
}

impl HardIrq {
    /// `hardirq_thread`: arms the timer on its CPU, then holds `hardirq_lock` while the timer
    /// expires, with interrupts enabled when buggy and disabled when fixed.
    #[inline(never)]
    fn thread(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        self.timer.armed(DELAY_US, || {
            if ctx.buggy() {
                // The bug: the timer's interrupt comes in on this CPU while the lock is held.
                self.hold(ctx);
            } else {
                compat::irqs_off(|| self.hold(ctx));
            }
            ctx.sleep(ARMED_MS)
        });
    }

    /// Takes `hardirq_lock`, bumps the count, and busy-waits with it held.
    #[inline(always)]
    fn hold(&self, ctx: &Ctx) {
        let mut count = self.timer.data().lock();
        *count += 1;
        ctx.spin_until(HOLD_MS, || false);
    }

    /// The timer's callback, in hard-interrupt context on the thread's CPU: bumps the count.
    fn fire(hardirq_lock: &SpinLock<u64>) {
        *hardirq_lock.lock() += 1;
    }
}
