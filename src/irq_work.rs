// SPDX-License-Identifier: GPL-2.0

//! A hard interrupt on demand, on this CPU: [`IrqWork`] queues a C `struct irq_work`, whose
//! callback then runs in hard-interrupt context on the CPU that queued it.
//!
//! Where the CPU has a local APIC (every x86-64 machine, QEMU's included), `irq_work_queue()`
//! sends the CPU an interrupt of its own (a self-IPI, `IRQ_WORK_VECTOR`): it comes in as soon as
//! interrupts are enabled on that CPU, at once if they are. No timer, no other CPU: the interrupt
//! arrives by construction, at a point of the caller's choosing. Neither kernel crate wraps
//! `irq_work`; the C struct and functions come from `crate::compat` (6.12's bindings lack them).

use crate::compat::{self, IrqWorkC};
use kernel::prelude::*;
use kernel::types::Opaque;

/// A C `struct irq_work` that calls `run(&data)` in hard-interrupt context once queued.
///
/// The work is not `IRQ_WORK_HARD_IRQ`: without `PREEMPT_RT` it runs in hard-interrupt context
/// all the same, and lockdep then allows a `spinlock_t` in it (`lockdep_irq_work_enter`), as it
/// would not in a `HARD` one under `PROVE_RAW_LOCK_NESTING` ("Invalid wait context").
///
/// # Invariants
///
/// `work` was initialised as C's `init_irq_work(work, Self::callback)` initialises it, and is
/// neither queued nor running once the `IrqWork` is dropped (its drop waits for that).
#[pin_data(PinnedDrop)]
pub(crate) struct IrqWork<T> {
    #[pin]
    work: Opaque<IrqWorkC>,
    #[pin]
    data: T,
    run: fn(&T),
}

// SAFETY: The C work belongs to no thread: any thread may queue it or wait for it. `data` is
// `Send`, and `run` is a plain function.
unsafe impl<T: Send> Send for IrqWork<T> {}
// SAFETY: Through `&IrqWork` threads only queue the work, which `irq_work_queue` makes safe
// against concurrent callers (it claims the work with an atomic operation), and the callback and
// [`IrqWork::data`] only share `data`, which is `Sync`.
unsafe impl<T: Sync> Sync for IrqWork<T> {}

impl<T: Send + Sync + 'static> IrqWork<T> {
    /// Work that calls `run(&data)` in hard-interrupt context each time it is queued.
    pub(crate) fn new(data: impl PinInit<T>, run: fn(&T)) -> impl PinInit<Self, Error> {
        // INVARIANT: `work` is initialised here as `init_irq_work` does.
        try_pin_init!(Self {
            // SAFETY: `ffi_init` hands over memory valid for writes; what is written there is what
            // C's `init_irq_work` stores.
            work <- Opaque::ffi_init(|work: *mut IrqWorkC| unsafe {
                work.write(compat::irq_work_init(Self::callback));
            }),
            data <- data,
            run,
        })
    }

    /// The data the callback is given.
    pub(crate) fn data(&self) -> &T {
        &self.data
    }

    /// Queues the work on this CPU and raises the interrupt that runs it: it runs as soon as
    /// interrupts are enabled here, at once if they are. Returns `false` if the work was still
    /// queued from before (it then runs once for both).
    ///
    /// The caller must stay on this CPU until it runs (hold a spinlock, or be bound to the CPU)
    /// for it to run on top of the caller.
    pub(crate) fn queue(&self) -> bool {
        // SAFETY: By the type invariant the work is initialised; it lives as long as `self`, and
        // dropping `self` waits until it has run.
        unsafe { compat::irq_work_queue(self.work.get()) }
    }

    /// The C callback.
    ///
    /// # Safety
    ///
    /// `work` must be the `work` of an [`IrqWork<T>`] that is still alive.
    unsafe extern "C" fn callback(work: *mut IrqWorkC) {
        // `Opaque` is `repr(transparent)`: the C work is the field.
        let work = work.cast::<Opaque<IrqWorkC>>();
        // SAFETY: The kernel calls this only for work set up in `new`, queued by `queue`, which
        // borrows the `IrqWork`; its drop waits until the work is no longer queued or running:
        // the `IrqWork` is alive, and `work` is its field.
        let this = unsafe { &*kernel::container_of!(work, Self, work) };
        (this.run)(&this.data);
    }
}

#[pinned_drop]
impl<T> PinnedDrop for IrqWork<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant the work is initialised. Nobody can queue it any more
        // (this is its last reference); `irq_work_sync` returns once it is neither queued nor
        // running. It may sleep: the scenario
        // that holds the work is dropped in process context (by the unload, or by a thread's exit).
        unsafe { compat::irq_work_sync(self.work.get()) };
    }
}
