// SPDX-License-Identifier: GPL-2.0

//! The kernel's `struct completion`, with C's counting semantics: each [`Completion::complete`]
//! lets one [`Completion::wait`] through, now or later.
//!
//! 7.x's kernel crate has a `Completion`, but only its `complete_all` side (once done, it stays
//! done); 6.12's has none. The module wants the counting one on both, so it wraps the C API.
//! Lockdep does not track completions: a thread waiting for one while it holds a lock that the
//! completer needs deadlocks without a single lockdep report.

use crate::rw_semaphore::ClassKey;
use kernel::bindings;
use kernel::prelude::*;
use kernel::types::Opaque;

/// A completion, not done.
///
/// # Invariants
///
/// `inner` was initialised as C's `init_completion` does: `done` zero, and its wait queue by
/// `__init_swait_queue_head`.
#[pin_data]
pub(crate) struct Completion {
    #[pin]
    inner: Opaque<bindings::completion>,
}

// SAFETY: A completion belongs to no thread: any thread may complete it, wait for it or drop it
// (once nobody waits).
unsafe impl Send for Completion {}
// SAFETY: `complete` and `wait_for_completion` serialise on the completion's own lock.
unsafe impl Sync for Completion {}

/// The lock class of every completion's internal wait-queue lock (C's `init_completion` has one
/// per call site; the module has one call site).
static KEY: ClassKey = ClassKey::new();

impl Completion {
    /// A completion that nobody has completed yet.
    pub(crate) fn new() -> impl PinInit<Self> {
        // INVARIANT: Initialised as `init_completion` does.
        pin_init!(Self {
            // SAFETY: `ffi_init` hands over memory valid for writes. `done` is set, and the wait
            // queue initialised whatever it held, with a static name and a static class key.
            inner <- Opaque::ffi_init(|c: *mut bindings::completion| unsafe {
                (*c).done = 0;
                bindings::__init_swait_queue_head(
                    &raw mut (*c).wait,
                    kernel::c_str!("&x->wait").as_char_ptr(),
                    KEY.as_ptr(),
                );
            }),
        })
    }

    /// Lets one waiter through: wakes one that waits, or the next one to come.
    pub(crate) fn complete(&self) {
        // SAFETY: By the type invariant the completion is initialised; it lives as long as `self`.
        unsafe { bindings::complete(self.inner.get()) };
    }

    /// Sleeps, uninterruptibly (state D), until the completion has been completed once more than
    /// it has been waited for.
    #[inline(always)]
    pub(crate) fn wait(&self) {
        // SAFETY: As in `complete`.
        unsafe { bindings::wait_for_completion(self.inner.get()) };
    }
}
