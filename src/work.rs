// SPDX-License-Identifier: GPL-2.0

//! A work item on the system workqueue that its owner can also flush: [`Job`].
//!
//! The kernel crate queues work items (`kernel::workqueue`) on both series, but has no
//! `flush_work`, the call that waits until a queued item has run. That wait is what lockdep
//! watches: `flush_work` "acquires" the item's completion class (`(work_completion)...`, the name
//! given to `new_work!`), and so does the worker around the item's function, so a lock taken both
//! around a flush and inside the item closes a cycle that lockdep reports.

use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::workqueue::{self, impl_has_work, Work, WorkItem};

/// What the job's `Arc` holds: the work item, and the data its function runs on.
#[pin_data]
pub(crate) struct Inner<T> {
    #[pin]
    work: Work<Inner<T>>,
    #[pin]
    data: T,
    run: fn(&T),
}

impl_has_work! {
    impl{T} HasWork<Inner<T>> for Inner<T> { self.work }
}

impl<T: Send + Sync + 'static> WorkItem for Inner<T> {
    type Pointer = Arc<Self>;

    fn run(this: Arc<Self>) {
        (this.run)(&this.data);
    }
}

/// A work item that runs `run(&data)` on the system workqueue each time it is queued.
///
/// The queued item holds a reference to the `Arc`, so the data lives until the item has run; and
/// dropping the job flushes it, so no queued item is left to run the module's code after the
/// module is gone.
pub(crate) struct Job<T: Send + Sync + 'static> {
    inner: Arc<Inner<T>>,
}

impl<T: Send + Sync + 'static> Job<T> {
    /// A job running `run(&data)`; `work` is `new_work!("name")`, which names the item's
    /// completion class for lockdep and gives it a class of its own.
    pub(crate) fn new(
        work: impl PinInit<Work<Inner<T>>>,
        data: impl PinInit<T>,
        run: fn(&T),
    ) -> Result<Self> {
        let inner = Arc::pin_init(
            pin_init!(Inner {
                work <- work,
                data <- data,
                run,
            }),
            GFP_KERNEL,
        )?;
        Ok(Self { inner })
    }

    /// The data the item's function is given.
    pub(crate) fn data(&self) -> &T {
        &self.inner.data
    }

    /// Queues the item on the system workqueue, unless it is queued already.
    pub(crate) fn queue(&self) {
        // Already queued: it will run once, which is all a queue asks for.
        let _ = workqueue::system().enqueue(self.inner.clone());
    }

    /// Waits until the item, if queued, has run (C's `flush_work`).
    ///
    /// Always inlined, so that lockdep names the function that flushes.
    #[inline(always)]
    pub(crate) fn flush(&self) {
        // SAFETY: The work item was initialised by `Work::new` and lives as long as `self.inner`,
        // which `self` keeps alive for the whole call. `flush_work` may sleep: it is called from
        // the scenario threads, which run in process context.
        unsafe { bindings::flush_work(Work::raw_get(&raw const self.inner.work)) };
    }
}

impl<T: Send + Sync + 'static> Drop for Job<T> {
    fn drop(&mut self) {
        self.flush();
    }
}
