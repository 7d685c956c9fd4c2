// SPDX-License-Identifier: GPL-2.0

//! A three-lock cycle: three threads, three semaphores, each thread taking a different adjacent
//! pair.
//!
//! `abc_a` takes `sem_a` then `sem_b`, `abc_b` takes `sem_b` then `sem_c`. No two threads take
//! the same pair in opposite orders, so no AB-BA is in sight; but in buggy mode `abc_c` takes
//! `sem_c`, then `sem_a`, and the three orders together form the cycle a → b → c → a. Lockdep
//! reports it when the last of the three orders is attempted, a cycle of three locks; with each
//! thread holding its first semaphore for `hold_ms`, the three really deadlock.
//!
//! The fix is one global order for all three: `abc_c` takes `sem_a`, then `sem_c`. The fixed
//! paths take the semaphores through their lock levels (`lock_order!(AbcA, AbcB, AbcC)`), so the
//! compiler checks that order too.

use crate::new_semaphore;
use crate::order::{Ordered, Token, Unlocked};
use crate::scenario::{Ctx, Scenario, Thread};
use kernel::c_str;
use kernel::prelude::*;

crate::lock_order!(pub(crate) AbcA, AbcB, AbcC);

/// The three semaphores.
#[pin_data]
pub(crate) struct Abc {
    #[pin]
    sem_a: Ordered<(), AbcA>,
    #[pin]
    sem_b: Ordered<(), AbcB>,
    #[pin]
    sem_c: Ordered<(), AbcC>,
}

impl Scenario for Abc {
    const THREADS: &'static [Thread<Self>] = &[
        Thread::new(c_str!("abc_a"), Self::thread_a),
        Thread::new(c_str!("abc_b"), Self::thread_b),
        Thread::new(c_str!("abc_c"), Self::thread_c),
    ];
    const LOCKS: &'static [&'static str] = &["sem_a", "sem_b", "sem_c"];

    fn peek(&self) -> Option<&'static CStr> {
        drop(self.sem_a.unordered().lock());
        Some(c_str!("sem_a"))
    }

    const BUGGY: &'static str =
        "buggy (abc_a takes sem_a then sem_b, abc_b sem_b then sem_c, abc_c sem_c then sem_a)";
    const FIXED: &'static str =
        "fixed (abc_a takes sem_a then sem_b, abc_b sem_b then sem_c, abc_c sem_a then sem_c)";

    fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            sem_a <- Ordered::new(new_semaphore!((), "sem_a")),
            sem_b <- Ordered::new(new_semaphore!((), "sem_b")),
            sem_c <- Ordered::new(new_semaphore!((), "sem_c")),
        })
    }
}

impl Abc {
    /// `abc_a`: `sem_a`, then `sem_b`, in both modes.
    #[inline(never)]
    fn thread_a(&self, ctx: &Ctx, held: &mut Token<'_, Unlocked>) {
        let (_a, mut a) = self.sem_a.lock(held);
        if ctx.hold() {
            let _b = self.sem_b.lock(&mut a);
        }
    }

    /// `abc_b`: `sem_b`, then `sem_c`, in both modes.
    #[inline(never)]
    fn thread_b(&self, ctx: &Ctx, held: &mut Token<'_, Unlocked>) {
        let (_b, mut b) = self.sem_b.lock(held);
        if ctx.hold() {
            let _c = self.sem_c.lock(&mut b);
        }
    }

    /// `abc_c`: `sem_c`, then `sem_a` when buggy (closing the cycle); `sem_a`, then `sem_c` when
    /// fixed.
    #[inline(never)]
    fn thread_c(&self, ctx: &Ctx, held: &mut Token<'_, Unlocked>) {
        if ctx.buggy() {
            // The bug: `sem_a` after `sem_c`. The ordered API would refuse it (`AbcA` does not come
            // after `AbcC`), so this takes the plain semaphores.
            let _c = self.sem_c.unordered().lock();
            if ctx.hold() {
                let _a = self.sem_a.unordered().lock();
            }
        } else {
            let (_a, mut a) = self.sem_a.lock(held);
            if ctx.hold() {
                let _c = self.sem_c.lock(&mut a);
            }
        }
    }
}
