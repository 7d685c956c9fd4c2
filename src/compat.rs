// SPDX-License-Identifier: GPL-2.0

//! Every difference between the kernel series the module supports, in one place.
//!
//! The module builds against 6.12 (LTS) and 7.x. Kbuild passes `--cfg kernel_7` when the kernel
//! is 7.0 or newer; nothing outside this file tests that cfg, except where a trait's required
//! items differ (`Backend::try_lock` and `Backend::assert_is_held`, in `semaphore.rs`).
//!
//! What changed in the Rust-for-Linux API between the two, as far as this module is concerned:
//! - 7.x has core's `CStr` (its pointer methods come from the `CStrExt` trait and are not const,
//!   its bytes from `to_bytes`); 6.12 has the kernel's own `CStr`.
//! - `struct semaphore` lost its `wait_list` for a `first_waiter` pointer (and gained
//!   `last_holder`, for the hung-task detector's blocker report).
//! - `Backend` gained `try_lock` and `assert_is_held` (6.12 has neither, so there the module's
//!   semaphores have no `try_lock`: only the KUnit suite, which 6.12 does not build, uses it).
//! - 7.x marks `Lock::lock`, `Lock::try_lock` and the guard's `drop` `#[inline]`, and they end up
//!   inside their caller; on 6.12 they stay functions of their own. That decides how the backend
//!   finds the address of the code that took the lock (see [`caller_ip`]).
//! - `module!` renamed `author` to `authors` and `THIS_MODULE` left the crate root: the module
//!   writes its author into `.modinfo` itself and names `__this_module` directly.
//! - 7.x has an hrtimer abstraction (`kernel::time::hrtimer`) and a way to disable interrupts
//!   (`kernel::interrupt`); 6.12 has neither, and its C timer API is `hrtimer_init` (7.x:
//!   `hrtimer_setup`). See [`IrqTimer`] and [`irqs_off`].

use kernel::bindings;
use kernel::prelude::*;

/// The kernel series this module was built for, for log lines.
pub(crate) const SERIES: &str = if cfg!(kernel_7) { "7.x" } else { "6.12" };

/// The bytes of `s`, without the terminating NUL.
pub(crate) fn cstr_bytes(s: &CStr) -> &[u8] {
    #[cfg(kernel_7)]
    {
        s.to_bytes()
    }
    #[cfg(not(kernel_7))]
    {
        s.as_bytes()
    }
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
    #[cfg(not(kernel_7))]
    // SAFETY: As above. An empty list points to itself.
    unsafe {
        let list = &raw mut (*sem).wait_list;
        (*list).next = list;
        (*list).prev = list;
    }
    // On 7.x an empty wait queue is a null `first_waiter`, and no last holder is a zero
    // `last_holder`: the caller's zeroing made both.
}

// `struct module` holds an empty C struct, which Rust calls not FFI-safe; only the static's
// address is ever used here, never its contents.
#[allow(improper_ctypes)]
extern "C" {
    /// The module's `struct module`, which the module loader fills in; `module!` refers to it the
    /// same way.
    static __this_module: kernel::types::Opaque<bindings::module>;
}

/// This module's `struct module`, usable in a static initialiser.
pub(crate) const fn this_module() -> *mut bindings::module {
    // Taking the address of an extern static reads nothing, so it needs no `unsafe`.
    (&raw const __this_module).cast_mut().cast()
}

/// The address of the code that took or released a lock, for lockdep's `at:` lines: C passes
/// `_RET_IP_` from its out-of-line lock functions.
///
/// Called from the always-inlined backend functions. On 7.x those end up inside the function that
/// called `Lock::lock` (which is inlined there too), so their own address is the caller's (C's
/// `_THIS_IP_`). On 6.12 they end up inside the out-of-line `Lock::lock`, whose return address
/// lies in the caller (C's `_RET_IP_`). The lab's VM tests check, on both kernels, that lockdep
/// names the scenario's thread functions.
#[inline(always)]
pub(crate) fn caller_ip() -> kernel::ffi::c_ulong {
    #[cfg(all(target_arch = "x86_64", kernel_7))]
    {
        let ip: kernel::ffi::c_ulong;
        // SAFETY: `lea` only computes an address into a register: it reads no memory, touches no
        // stack and leaves the flags alone, as the options state.
        unsafe {
            core::arch::asm!("lea {}, [rip]", out(reg) ip, options(nomem, nostack, preserves_flags))
        };
        ip
    }
    #[cfg(all(target_arch = "x86_64", not(kernel_7)))]
    {
        let ip: kernel::ffi::c_ulong;
        // SAFETY: The kernel builds Rust code with `-Cforce-frame-pointers=y`, so in the body of
        // any function `rbp` points at the saved frame pointer, with the return address right
        // above it. This only reads that word; it writes nothing and leaves the flags alone.
        unsafe {
            core::arch::asm!(
                "mov {}, qword ptr [rbp + 8]",
                out(reg) ip,
                options(nostack, readonly, preserves_flags)
            )
        };
        ip
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// Runs `f` with interrupts disabled on the current CPU, and lockdep told so, like C's
/// `local_irq_save()` ... `local_irq_restore()`. `f` must not sleep.
///
/// 7.x has this in the kernel crate (`local_interrupt_disable`). 6.12 has nothing: the flags are
/// saved and interrupts masked with the native x86 instructions (what `arch_local_irq_save` comes
/// down to on bare metal and under KVM or QEMU, though not in a Xen PV guest), and lockdep's
/// interrupt tracing is told, as `local_irq_save` does.
#[inline(always)]
pub(crate) fn irqs_off<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(kernel_7)]
    {
        let _off = kernel::interrupt::local_interrupt_disable();
        f()
    }
    #[cfg(all(not(kernel_7), target_arch = "x86_64"))]
    {
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
    #[cfg(all(not(kernel_7), not(target_arch = "x86_64")))]
    compile_error!("irqs_off: on 6.12 only x86_64 is supported");
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
/// 7.x builds it on the kernel crate's `HrTimer`, in an `Arc` of its own (the abstraction's
/// handle keeps the `Arc` alive while the timer may run); 6.12 has no Rust hrtimer, so there it is
/// a C `struct hrtimer` in place.
#[cfg(kernel_7)]
#[pin_data]
pub(crate) struct IrqTimer<T> {
    inner: kernel::sync::Arc<timer::Inner<T>>,
}

#[cfg(kernel_7)]
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

#[cfg(kernel_7)]
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

/// 6.12's [`IrqTimer`] (see there).
///
/// # Invariants
///
/// `timer` was initialised by `hrtimer_init` with [`IrqTimer::MODE`] and [`IrqTimer::run`] as its
/// function, and is only ever active during a call to [`IrqTimer::armed`].
#[cfg(not(kernel_7))]
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
#[cfg(not(kernel_7))]
unsafe impl<T: Send> Send for IrqTimer<T> {}
// SAFETY: Through `&IrqTimer` threads only arm and cancel the timer, which the C timer code
// serialises with its own lock, and the callback and [`IrqTimer::data`] only share `data`, which
// is `Sync`.
#[cfg(not(kernel_7))]
unsafe impl<T: Sync> Sync for IrqTimer<T> {}

#[cfg(not(kernel_7))]
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
