// SPDX-License-Identifier: GPL-2.0

//! Lock levels: a lock order the compiler checks.
//!
//! Lockdep finds a bad lock order at run time, once the code has run. This makes the wrong order
//! a type error instead. Each [`Ordered`] semaphore carries a level, a type declared with
//! [`lock_order!`] (`lock_order!(SemA, SemB)` says: `SemA` before `SemB`). Taking one requires a
//! [`Token`] for the highest level already held, and gives back the guard plus the token of the
//! new level. A kthread starts with the token of [`Unlocked`].
//!
//! ```ignore
//! let (a, mut ta) = sem_a.lock(held);  // held: &mut Token<Unlocked>
//! let (b, mut tb) = sem_b.lock(&mut ta); // SemB: LockAfter<SemA> (lock_order!): compiles
//! let (a2, _) = sem_a.lock(&mut tb);     // SemA: LockAfter<SemB> does not hold: error[E0277]
//! ```
//!
//! The guard and the new token borrow the token given, so the lower token cannot be used again
//! before both are gone. Lockdep's annotation stays on underneath ([`Ordered`] locks the same
//! [`Semaphore`]), so the two checks see the same orders. Tokens are zero-sized, and the
//! ordered path compiles to the same code as the plain one (the lab's `ordering` test compares
//! the disassembly).
//!
//! Paths that must take locks out of order on purpose (the buggy variants of the scenarios) use
//! the semaphore itself, through [`Ordered::unordered`].

use crate::semaphore::{Semaphore, SemaphoreBackend};
use core::marker::PhantomData;
use kernel::prelude::*;
use kernel::sync::lock::Guard;

/// A level in the lock order: a type declared by [`lock_order!`], or [`Unlocked`]. Levels are
/// uninhabited types: they exist only for the compiler.
pub(crate) trait Level {}

/// The level of a context that holds no ordered lock: every level comes after it.
pub(crate) enum Unlocked {}

impl Level for Unlocked {}

/// `Self` comes after `L` in the lock order: a lock of level `Self` may be taken while locks up
/// to level `L` are held. [`lock_order!`] implements it for every pair of its list, in order.
#[diagnostic::on_unimplemented(
    message = "lock order violation: a `{Self}` lock cannot be taken while holding `{L}`",
    label = "this takes a `{Self}` lock with the token of `{L}`",
    note = "`{Self}` does not come after `{L}` in the lock order declared with `lock_order!`: take `{Self}` first, or release the `{L}` lock before"
)]
pub(crate) trait LockAfter<L: Level>: Level {}

/// A level that no token ever has. Every level comes after it, so every level has at least two
/// `LockAfter` impls; with one only, the compiler would guess a lock's `H` from that impl instead
/// of the token passed, and report a wrong token as a type mismatch rather than with the message
/// above.
pub(crate) enum NoLevel {}

impl Level for NoLevel {}

impl<L: Level> LockAfter<NoLevel> for L {}

/// Declares lock levels and their order: `lock_order!(pub(crate) A, B, C)` declares the level
/// types `A`, `B` and `C`, and that `A` comes before `B` and `C`, and `B` before `C` (all after
/// [`Unlocked`]).
#[macro_export]
macro_rules! lock_order {
    (@rest $vis:vis) => {};
    (@rest $vis:vis $($rest:ident),+) => {
        $crate::lock_order!($vis $($rest),+);
    };
    ($vis:vis $first:ident $(, $rest:ident)* $(,)?) => {
        #[doc = concat!("Lock level `", stringify!($first), "` (see `lock_order!`).")]
        $vis enum $first {}
        impl $crate::order::Level for $first {}
        impl $crate::order::LockAfter<$crate::order::Unlocked> for $first {}
        $(impl $crate::order::LockAfter<$first> for $rest {})*
        $crate::lock_order!(@rest $vis $($rest),*);
    };
}

/// Proof that the current context holds ordered locks up to level `L` and none above: what it
/// takes to lock an [`Ordered`] semaphore of a higher level.
///
/// # Invariants
///
/// The context holding a `Token<L>` holds no ordered lock of a level that comes after `L`. A
/// token is zero-sized, not `Send` (it belongs to one thread), and only made by
/// [`Token::unlocked`] (the caller promises to hold nothing) or by [`Ordered::lock`].
pub(crate) struct Token<'a, L: Level> {
    _level: PhantomData<fn() -> L>,
    _held: PhantomData<&'a mut ()>,
    _not_send: PhantomData<*mut ()>,
}

impl Token<'static, Unlocked> {
    /// The token of a thread that holds no lock yet: what a kthread starts with.
    ///
    /// # Safety
    ///
    /// The calling thread must hold no [`Ordered`] lock, and no other `Token` while it uses this
    /// one.
    pub(crate) unsafe fn unlocked() -> Self {
        // INVARIANT: the caller holds nothing.
        Self {
            _level: PhantomData,
            _held: PhantomData,
            _not_send: PhantomData,
        }
    }
}

/// A [`Semaphore`] at level `L` of the lock order.
#[pin_data]
pub(crate) struct Ordered<T, L: Level> {
    #[pin]
    sem: Semaphore<T>,
    _level: PhantomData<fn() -> L>,
}

impl<T, L: Level> Ordered<T, L> {
    /// Gives the semaphore built by `sem` (see `new_semaphore!`) the level `L`.
    pub(crate) fn new(sem: impl PinInit<Semaphore<T>>) -> impl PinInit<Self> {
        pin_init!(Self {
            sem <- sem,
            _level: PhantomData,
        })
    }

    /// Takes the semaphore, with the token of the highest level held (`H`, which `L` must come
    /// after). Returns the guard and the token of `L`, for the next, higher lock. Both borrow
    /// `held`: the lower token is usable again once both are gone.
    #[inline(always)]
    pub(crate) fn lock<'a, H: Level>(
        &'a self,
        held: &'a mut Token<'_, H>,
    ) -> (Guard<'a, T, SemaphoreBackend>, Token<'a, L>)
    where
        L: LockAfter<H>,
    {
        let _ = held;
        let guard = self.sem.lock();
        // INVARIANT: `held` proves that nothing above `H` is held, `L` comes after `H`, and `held`
        // stays borrowed while the new token lives: nothing above `L` is held.
        let token = Token {
            _level: PhantomData,
            _held: PhantomData,
            _not_send: PhantomData,
        };
        (guard, token)
    }

    /// The semaphore itself, without the order check, for code that must break the order on
    /// purpose (the buggy variants). Lockdep still checks what it does.
    pub(crate) fn unordered(&self) -> &Semaphore<T> {
        &self.sem
    }
}

// Zero run-time cost: a token takes no space, and an ordered semaphore no more than a plain one.
const _: () = {
    assert!(core::mem::size_of::<Token<'static, Unlocked>>() == 0);
    assert!(
        core::mem::size_of::<Ordered<u64, Unlocked>>() == core::mem::size_of::<Semaphore<u64>>()
    );
};
