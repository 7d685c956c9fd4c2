// SPDX-License-Identifier: GPL-2.0

//! The kernel 6.12 side of [`crate::compat`]: the module's view of 6.12's Rust API.

use kernel::bindings;
use kernel::prelude::*;

/// The kernel series this module was built for, for log lines.
pub(crate) const SERIES: &str = "6.12";

/// The bytes of `s`, without the terminating NUL (6.12's `CStr` is the kernel's own).
pub(crate) fn cstr_bytes(s: &CStr) -> &[u8] {
    s.as_bytes()
}

/// Rebuilds C's `sema_init(sem, 1)` on an all-zero `struct semaphore`, except for its internal
/// spinlock, which the caller initialises: a count of one and an empty wait list.
///
/// # Safety
///
/// `sem` must be valid for writes and all-zero.
pub(crate) unsafe fn sema_init_zeroed(sem: *mut bindings::semaphore) {
    // SAFETY: The caller guarantees that `sem` is valid for writes.
    unsafe { (*sem).count = 1 };
    // SAFETY: As above. An empty list points to itself.
    unsafe {
        let list = &raw mut (*sem).wait_list;
        (*list).next = list;
        (*list).prev = list;
    }
}

/// Runs `f` with interrupts disabled on the current CPU, and lockdep told so, like C's
/// `local_irq_save()` ... `local_irq_restore()`. `f` must not sleep.
///
/// 6.12's kernel crate has no way to do it: the flags are saved and interrupts masked with the
/// native x86 instructions (what `arch_local_irq_save` comes down to on bare metal and under KVM
/// or QEMU, though not in a Xen PV guest), and lockdep's interrupt tracing is told, as
/// `local_irq_save` does.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn irqs_off<R>(f: impl FnOnce() -> R) -> R {
    /// The interrupt flag of `RFLAGS`.
    const X86_EFLAGS_IF: u64 = 1 << 9;
    let flags: u64;
    // SAFETY: This saves `RFLAGS` through the stack and masks interrupts on this CPU, which
    // kernel code may do at any time. No `nomem` option: like C's "memory" clobber, that keeps
    // the compiler from moving memory accesses out of the section.
    unsafe { core::arch::asm!("pushfq", "pop {}", "cli", out(reg) flags) };
    let were_on = flags & X86_EFLAGS_IF != 0;
    #[cfg(CONFIG_TRACE_IRQFLAGS)]
    if were_on {
        // SAFETY: Interrupts were on and have just been masked: this is the moment
        // `local_irq_save` tells lockdep.
        unsafe { bindings::trace_hardirqs_off() };
    }
    let r = f();
    if were_on {
        // SAFETY: Interrupts were on before the `cli` above and are still masked (`f` returns
        // with the state it was given, as every kernel function must): lockdep is told first,
        // then they are unmasked, the order of `local_irq_restore`. When they were already off
        // on entry, nothing is restored, as there.
        unsafe {
            #[cfg(CONFIG_TRACE_IRQFLAGS)]
            bindings::trace_hardirqs_on();
            core::arch::asm!("sti");
        }
    }
    r
}

#[cfg(not(target_arch = "x86_64"))]
compile_error!("irqs_off: on 6.12 only x86_64 is supported");

/// Adds one level to this CPU's preemption count, as C's `preempt_disable()` does: for a task
/// whose level the scheduler took away (see `crate::atomic`). x86-64 only: 6.12 keeps the count in
/// the per-CPU `pcpu_hot`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn preempt_count_inc() {
    /// Where the count is in `pcpu_hot`.
    const OFFSET: usize = core::mem::offset_of!(
        bindings::pcpu_hot__bindgen_ty_1__bindgen_ty_1,
        preempt_count
    );
    // SAFETY: This is `preempt_disable()`'s own instruction: one increment of this CPU's count
    // (the anonymous union and struct around it in `pcpu_hot` start at its start), a single
    // instruction, so it cannot be cut by preemption or an interrupt. No `nomem` option: like C's
    // barrier, it keeps the compiler from moving memory accesses across it.
    unsafe {
        core::arch::asm!(
            "incl %gs:{hot}+{offset}",
            hot = sym bindings::pcpu_hot,
            offset = const OFFSET,
            options(att_syntax, nostack)
        )
    };
}

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
/// 6.12 has no Rust hrtimer: this is a C `struct hrtimer` in place, set up with `hrtimer_init`.
///
/// # Invariants
///
/// `timer` was initialised by `hrtimer_init` with [`IrqTimer::MODE`] and [`IrqTimer::run`] as its
/// function, and is only ever active during a call to [`IrqTimer::armed`].
#[pin_data]
pub(crate) struct IrqTimer<T> {
    #[pin]
    timer: kernel::types::Opaque<bindings::hrtimer>,
    #[pin]
    data: T,
    fire: fn(&T),
}

// SAFETY: The C timer belongs to no thread: any thread may arm, cancel or drop it. `data` is
// `Send`, and `fire` is a plain function.
unsafe impl<T: Send> Send for IrqTimer<T> {}
// SAFETY: Through `&IrqTimer` threads only arm and cancel the timer, which the C timer code
// serialises with its own lock, and the callback and [`IrqTimer::data`] only share `data`, which
// is `Sync`.
unsafe impl<T: Sync> Sync for IrqTimer<T> {}

impl<T: Send + Sync + 'static> IrqTimer<T> {
    /// Relative to now, on the CPU that arms it; neither `SOFT` nor `HARD` (see [`IrqTimer`]).
    const MODE: bindings::hrtimer_mode = bindings::hrtimer_mode_HRTIMER_MODE_REL_PINNED;

    /// A timer that calls `fire(&data)` when it expires.
    pub(crate) fn new(data: impl PinInit<T>, fire: fn(&T)) -> impl PinInit<Self, Error> {
        // INVARIANT: `timer` is initialised with `MODE` and `run` here; only `armed` starts it.
        try_pin_init!(Self {
            // SAFETY: `ffi_init` hands over memory valid for writes, which `hrtimer_init`
            // initialises whatever it held; the function is set afterwards, as C code does.
            timer <- kernel::types::Opaque::ffi_init(|timer: *mut bindings::hrtimer| unsafe {
                let clock = bindings::CLOCK_MONOTONIC as bindings::clockid_t;
                bindings::hrtimer_init(timer, clock, Self::MODE);
                (*timer).function = Some(Self::run);
            }),
            data <- data,
            fire,
        })
    }

    /// The data the callback is given.
    pub(crate) fn data(&self) -> &T {
        &self.data
    }

    /// Arms the timer to expire `delay_us` microseconds from now, on this CPU; runs `f`; then
    /// cancels the timer, waiting for its callback if that is running.
    pub(crate) fn armed<R>(&self, delay_us: u32, f: impl FnOnce() -> R) -> R {
        let timer = self.timer.get();
        // SAFETY: By the type invariant the timer is initialised, with `MODE`. It lives as long
        // as `self`, which stays borrowed until the cancellation below.
        unsafe {
            bindings::hrtimer_start_range_ns(timer, i64::from(delay_us) * 1000, 0, Self::MODE)
        };
        let r = f();
        // SAFETY: As above. When this returns, the timer is inactive and its callback is not
        // running (unless another call of `armed`, which still borrows `self`, has armed it again).
        unsafe { bindings::hrtimer_cancel(timer) };
        r
    }

    /// The C callback.
    ///
    /// # Safety
    ///
    /// `timer` must be the `timer` of an [`IrqTimer<T>`] that is still alive.
    unsafe extern "C" fn run(timer: *mut bindings::hrtimer) -> bindings::hrtimer_restart {
        // SAFETY: The kernel calls this only for a timer set up in `new`, and that timer is only
        // active during `armed`, which borrows the `IrqTimer` and cancels the timer, waiting for
        // this callback, before it returns: the `IrqTimer` is alive. `Opaque` is
        // `repr(transparent)`, so the field is where `container_of!` computes it.
        let this = unsafe { &*kernel::container_of!(timer, Self, timer) };
        (this.fire)(&this.data);
        bindings::hrtimer_restart_HRTIMER_NORESTART
    }
}

/// C's `struct irq_work` (`include/linux/irq_work_types.h`), which 6.12's bindings lack (its
/// bindings' headers do not include it): the same fields in the same order, each of the
/// bindings' own type for the C field's type, so that its layout is C's.
#[repr(C)]
pub(crate) struct IrqWorkC {
    node: bindings::__call_single_node,
    func: Option<unsafe extern "C" fn(*mut IrqWorkC)>,
    irqwait: bindings::rcuwait,
}

// The C functions (`kernel/irq_work.c`, exported to GPL modules), which 6.12's bindings lack too.
// `irqwait` points to a `struct task_struct`, which holds an empty C struct (`sched_statistics`
// without `SCHEDSTATS`) that Rust calls not FFI-safe; the functions are only given a pointer.
#[allow(improper_ctypes)]
extern "C" {
    /// C's `irq_work_queue`: queues the work on this CPU, and raises the interrupt that runs it.
    pub(crate) fn irq_work_queue(work: *mut IrqWorkC) -> bool;
    /// C's `irq_work_sync`: waits until the work is neither queued nor running.
    pub(crate) fn irq_work_sync(work: *mut IrqWorkC);
}

/// C's `IRQ_WORK_INIT(func)`: a `struct irq_work` that is not queued and not lazy or hard, whose
/// callback is `func`. `init_irq_work` stores exactly this.
pub(crate) fn irq_work_init(func: unsafe extern "C" fn(*mut IrqWorkC)) -> IrqWorkC {
    IrqWorkC {
        // No flags and an empty list node: the bindings' `Default` is all-zero.
        node: Default::default(),
        func: Some(func),
        // `__RCUWAIT_INITIALIZER`: no task waits.
        irqwait: bindings::rcuwait {
            task: core::ptr::null_mut(),
        },
    }
}

/// The items of the kernel crate's `Backend` trait that other series require beyond 6.12's: none
/// (6.12 has no `try_lock` and no `assert_is_held`).
macro_rules! semaphore_backend_items {
    () => {};
}
pub(crate) use semaphore_backend_items;

/// Nothing: 6.12's kernel crate has no `#[kunit_tests]`, so the module builds no KUnit suite.
macro_rules! with_kunit {
    ($($item:item)*) => {};
}
pub(crate) use with_kunit;
