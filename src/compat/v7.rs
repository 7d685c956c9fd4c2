// SPDX-License-Identifier: GPL-2.0

//! The kernel 7.x side of [`crate::compat`]: the module's view of 7.x's Rust API.

use kernel::bindings;
use kernel::prelude::*;

/// The kernel series this module was built for, for log lines.
pub(crate) const SERIES: &str = "7.x";

/// The bytes of `s`, without the terminating NUL (7.x's `CStr` is core's).
pub(crate) fn cstr_bytes(s: &CStr) -> &[u8] {
    s.to_bytes()
}

/// Rebuilds C's `sema_init(sem, 1)` on an all-zero `struct semaphore`, except for its internal
/// spinlock, which the caller initialises: a count of one and an empty wait queue.
///
/// # Safety
///
/// `sem` must be valid for writes and all-zero.
pub(crate) unsafe fn sema_init_zeroed(sem: *mut bindings::semaphore) {
    // SAFETY: The caller guarantees that `sem` is valid for writes.
    unsafe { (*sem).count = 1 };
    // An empty wait queue is a null `first_waiter`, and no last holder is a zero `last_holder`:
    // the caller's zeroing made both.
}

/// Runs `f` with interrupts disabled on the current CPU, and lockdep told so, like C's
/// `local_irq_save()` ... `local_irq_restore()`. `f` must not sleep.
#[inline(always)]
pub(crate) fn irqs_off<R>(f: impl FnOnce() -> R) -> R {
    let _off = kernel::interrupt::local_interrupt_disable();
    f()
}

/// Adds one level to this CPU's preemption count, as C's `preempt_disable()` does: for a task
/// whose level the scheduler took away (see `crate::atomic`). x86-64 only: 7.x keeps the count in
/// the per-CPU `__preempt_count`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn preempt_count_inc() {
    // SAFETY: This is `preempt_disable()`'s own instruction: one increment of this CPU's count,
    // a single instruction, so it cannot be cut by preemption or an interrupt. No `nomem` option:
    // like C's barrier, it keeps the compiler from moving memory accesses across it.
    unsafe {
        core::arch::asm!(
            "incl %gs:{count}",
            count = sym bindings::__preempt_count,
            options(att_syntax, nostack)
        )
    };
}

#[cfg(not(target_arch = "x86_64"))]
compile_error!("preempt_count_inc: only x86_64 is supported");

/// A one-shot high-resolution timer that expires on the CPU that arms it, in hard-interrupt
/// context (on kernels without `PREEMPT_RT`), and then calls `fire(&data)`.
///
/// It is never left armed: [`IrqTimer::armed`] arms it for the length of a closure and cancels it
/// before returning, so its callback never outlives the timer or the data.
///
/// Not a `HARD` mode timer: a `spinlock_t` may not be taken in one (on `PREEMPT_RT` it sleeps),
/// and `PROVE_RAW_LOCK_NESTING` (off by default on 6.12, on by default on x86 on 7.x) would report
/// "Invalid wait context" at once, in both modes of the scenario. The default mode expires in
/// hard-interrupt context all the same, unless `PREEMPT_RT` moves it to a softirq, and lockdep
/// counts it as hard-interrupt context.
///
/// Built on the kernel crate's `HrTimer`, in an `Arc` of its own (the abstraction's handle keeps
/// the `Arc` alive while the timer may run).
#[pin_data]
pub(crate) struct IrqTimer<T> {
    inner: kernel::sync::Arc<timer::Inner<T>>,
}

mod timer {
    use kernel::prelude::*;
    use kernel::sync::ArcBorrow;
    use kernel::time::hrtimer::{
        HrTimer, HrTimerCallback, HrTimerCallbackContext, HrTimerRestart, RelativePinnedMode,
    };
    use kernel::time::Monotonic;

    /// What the timer's `Arc` holds.
    #[pin_data]
    pub(super) struct Inner<T> {
        #[pin]
        pub(super) timer: HrTimer<Self>,
        #[pin]
        pub(super) data: T,
        pub(super) fire: fn(&T),
    }

    kernel::impl_has_hr_timer! {
        impl{T: Send + Sync + 'static} HasHrTimer<Inner<T>> for Inner<T> {
            mode: RelativePinnedMode<Monotonic>, field: self.timer
        }
    }

    impl<T: Send + Sync + 'static> HrTimerCallback for Inner<T> {
        type Pointer<'a> = kernel::sync::Arc<Self>;

        fn run(
            this: ArcBorrow<'_, Self>,
            _ctx: HrTimerCallbackContext<'_, Self>,
        ) -> HrTimerRestart {
            (this.fire)(&this.data);
            HrTimerRestart::NoRestart
        }
    }
}

impl<T: Send + Sync + 'static> IrqTimer<T> {
    /// A timer that calls `fire(&data)` when it expires.
    pub(crate) fn new(data: impl PinInit<T>, fire: fn(&T)) -> impl PinInit<Self, Error> {
        use kernel::time::hrtimer::HrTimer;
        try_pin_init!(Self {
            inner: kernel::sync::Arc::pin_init(
                pin_init!(timer::Inner {
                    timer <- HrTimer::new(),
                    data <- data,
                    fire,
                }),
                GFP_KERNEL
            )?,
        })
    }

    /// The data the callback is given.
    pub(crate) fn data(&self) -> &T {
        &self.inner.data
    }

    /// Arms the timer to expire `delay_us` microseconds from now, on this CPU; runs `f`; then
    /// cancels the timer, waiting for its callback if that is running.
    pub(crate) fn armed<R>(&self, delay_us: u32, f: impl FnOnce() -> R) -> R {
        use kernel::time::{hrtimer::HrTimerPointer, Delta};
        // Dropping the handle cancels the timer.
        let _handle = self
            .inner
            .clone()
            .start(Delta::from_micros(delay_us.into()));
        f()
    }
}

/// C's `struct irq_work`, as the bindings have it.
pub(crate) use bindings::irq_work as IrqWorkC;
pub(crate) use bindings::{irq_work_queue, irq_work_sync};

/// C's `IRQ_WORK_INIT(func)`: a `struct irq_work` that is not queued and not lazy or hard, whose
/// callback is `func`. `init_irq_work` stores exactly this.
pub(crate) fn irq_work_init(func: unsafe extern "C" fn(*mut IrqWorkC)) -> IrqWorkC {
    // No flags, an empty list node and no `irqwait` task: the bindings' `Default` is all-zero.
    IrqWorkC {
        func: Some(func),
        ..Default::default()
    }
}

/// The items of the kernel crate's `Backend` trait that 7.x requires beyond 6.12's, for the
/// module's semaphore backend: expanded inside `impl Backend for SemaphoreBackend`
/// (`crate::semaphore`), whose `try_acquire` and `is_held` they call.
macro_rules! semaphore_backend_items {
    () => {
        #[inline(always)]
        unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
            // SAFETY: The caller guarantees that `init` ran.
            unsafe { Self::try_acquire(ptr, $crate::semaphore::caller_ip()) }.then_some(())
        }

        unsafe fn assert_is_held(ptr: *mut Self::State) {
            // SAFETY: The caller guarantees that `init` ran.
            if !unsafe { Self::is_held(ptr) } {
                ::kernel::warn_on!(true);
            }
        }
    };
}
pub(crate) use semaphore_backend_items;

/// The items given, on a series whose kernel crate builds KUnit suites (`#[kunit_tests]`, since
/// 6.15): the module's suite (`crate::kunit`) is declared through this.
macro_rules! with_kunit {
    ($($item:item)*) => {
        $($item)*
    };
}
pub(crate) use with_kunit;
