// SPDX-License-Identifier: GPL-2.0

//! A lock taken in interrupt context, and in process context with interrupts enabled.
//!
//! `irq_lock` counts updates. A timer interrupt takes it: every iteration `irq_timer` arms a
//! one-shot hrtimer about 1 ms ahead, pinned to its own CPU, and the timer's callback takes the
//! lock and bumps the count in hard-interrupt context. `irq_thread` takes it every iteration too;
//! in buggy mode with interrupts enabled, the way C code calls `spin_lock()` where it needs
//! `spin_lock_irqsave()`. Were the interrupt to come on the holder's CPU while it holds the lock,
//! the callback would spin on a lock that only the code it interrupted can release, and that CPU
//! would never get out of the interrupt again. Lockdep knows without waiting for that: once it has
//! seen the lock taken both in hard-interrupt context and with interrupts enabled, on any CPU, it
//! reports "inconsistent lock state" ({HARDIRQ-ON-W} -> {IN-HARDIRQ-W}, or the reverse, whichever
//! it saw first).
//!
//! Here the collision itself cannot happen: `irq_thread` only runs on CPU 0 and the timer only
//! fires on CPU 1, `irq_timer`'s, where it is armed. At worst the callback spins on CPU 1 until
//! `irq_thread` lets go on CPU 0. So the buggy variant stays at lockdep's prediction: nothing
//! hangs, and unloading works in both modes. The scenario needs two online CPUs.
//!
//! The fix is `spin_lock_irqsave()`'s: `irq_thread` disables interrupts on its CPU around the
//! lock, so no interrupt can come in while it holds it. Lockdep then sees a lock that is only ever
//! held with interrupts off, which is consistent, and reports nothing.

use crate::compat::{self, IrqTimer};
use crate::order::{Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::{new_spinlock, SpinLock};

/// The timer, which carries the lock its callback takes.
#[pin_data]
pub(crate) struct Irq {
    /// Its data is `irq_lock`, a count of updates.
    #[pin]
    timer: IrqTimer<SpinLock<u64>>,
}

/// The lock's name, for `status` (lockdep gets it from `new_spinlock!`).
const NAME: &CStr = c_str!("irq_lock");

/// How far ahead `irq_timer` arms the timer.
const DELAY_US: u32 = 1000;

/// How long `irq_timer` sleeps with the timer armed before it cancels it: enough for the timer to
/// expire even on a kernel whose hrtimers only run at the tick (10 ms apart at 100 Hz).
const ARMED_MS: u32 = 20;

impl Scenario for Irq {
    /// `irq_thread` on CPU 0, `irq_timer` (and so the timer) on CPU 1.
    const THREADS: &'static [Thread<Self>] = &[
        Thread::new(c_str!("irq_thread"), Self::thread).on_cpu(0),
        Thread::new(c_str!("irq_timer"), Self::arm).on_cpu(1),
    ];
    const LOCKS: &'static [&'static str] = &["irq_lock"];

    const BUGGY: &'static str =
        "buggy (irq_thread takes irq_lock with interrupts on; a timer interrupt takes it too)";
    const FIXED: &'static str = "fixed (irq_thread turns interrupts off while it holds irq_lock)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            timer <- IrqTimer::new(new_spinlock!(0, "irq_lock"), Self::fire),
        })
    }
}

impl Irq {
    /// `irq_thread`: one update of `irq_lock`'s count, with interrupts enabled when buggy and
    /// disabled when fixed.
    #[inline(never)]
    fn thread(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        if ctx.buggy() {
            // The bug: the timer interrupt may come in on this CPU while the lock is held.
            self.update(ctx);
        } else {
            compat::irqs_off(|| self.update(ctx));
        }
    }

    /// Takes `irq_lock` and bumps the count.
    #[inline(always)]
    fn update(&self, ctx: &Ctx) {
        *ctx.waits_on(NAME, || self.timer.data().lock()) += 1;
    }

    /// `irq_timer`: arms the timer on this CPU and sleeps while it expires.
    #[inline(never)]
    fn arm(&self, ctx: &Ctx, _held: &mut Token<'_, Unlocked>) {
        self.timer.armed(DELAY_US, || ctx.sleep(ARMED_MS));
    }

    /// The timer's callback, in hard-interrupt context on `irq_timer`'s CPU: bumps the count.
    fn fire(irq_lock: &SpinLock<u64>) {
        *irq_lock.lock() += 1;
    }
}
