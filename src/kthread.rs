// SPDX-License-Identifier: GPL-2.0

//! Kernel threads with an owner: [`KThread`] starts a kthread running a closure and stops it
//! when dropped.

use core::ptr::{self, NonNull};
use kernel::bindings;
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::sync::Arc;

/// A running kernel thread, stopped and released when dropped.
///
/// # Invariants
///
/// `task` was returned by `kthread_create_on_node`, has been woken up, and this object holds a
/// reference to it (taken with `get_task_struct`) that is given back only in `drop`, after
/// `kthread_stop`. `_body` is the closure the thread runs: the thread only borrows it, so it lives
/// here until the thread is known to be gone.
pub(crate) struct KThread {
    task: NonNull<bindings::task_struct>,
    _body: Arc<dyn Fn() + Send + Sync>,
}

// SAFETY: The task pointer is only passed to kthread functions, which may be called from any thread,
// and the closure is `Send + Sync`.
unsafe impl Send for KThread {}
// SAFETY: `&KThread` only gives out the task pointer for comparisons, which any thread may do.
unsafe impl Sync for KThread {}

impl KThread {
    /// Creates a kthread named `name` that runs `body` once, bound to `cpu` if given, then wakes
    /// it up.
    ///
    /// `body` should return when [`KThread::should_stop`] says so; dropping the [`KThread`] asks
    /// for that and waits for it. A `cpu` that is not online is refused with `EINVAL`.
    pub(crate) fn spawn<F: Fn() + Send + Sync + 'static>(
        name: &CStr,
        cpu: Option<u32>,
        body: F,
    ) -> Result<Self> {
        if let Some(cpu) = cpu {
            if cpu >= online_cpus() {
                pr_err!("cannot bind a thread to CPU {}: it is not online\n", cpu);
                return Err(EINVAL);
            }
        }
        let body = Arc::new(body, GFP_KERNEL)?;
        let data: *const F = &*body;
        // SAFETY: `trampoline::<F>` matches `data`, which stays valid until the thread is stopped
        // (`body` is kept in the returned object); "%s" with a C string is a valid format.
        let task = unsafe {
            bindings::kthread_create_on_node(
                Some(trampoline::<F>),
                data.cast_mut().cast(),
                bindings::NUMA_NO_NODE,
                kernel::c_str!("%s").as_char_ptr(),
                name.as_char_ptr(),
            )
        };
        let task = kernel::error::from_err_ptr(task)?;
        // `kthread_create_on_node` never returns NULL: it returns a task or an error pointer.
        let task = NonNull::new(task).ok_or(ENOMEM)?;
        // SAFETY: `task` is a newly created kthread that has not run yet, so it may be bound to a
        // CPU, which was checked to be online above. The reference taken here keeps its
        // `task_struct` alive even if the thread exits before `kthread_stop`.
        unsafe {
            if let Some(cpu) = cpu {
                bindings::kthread_bind(task.as_ptr(), cpu);
            }
            bindings::get_task_struct(task.as_ptr());
            bindings::wake_up_process(task.as_ptr());
        }
        // INVARIANT: created, woken, and referenced above; `body` is what the thread runs.
        Ok(Self { task, _body: body })
    }

    /// The thread's `task_struct`, for comparisons only.
    pub(crate) fn task(&self) -> *const bindings::task_struct {
        self.task.as_ptr()
    }

    /// Wakes the thread if it sleeps, in any state, so that it sees a stop request sooner: the
    /// scenarios' unloading (`Running`'s `drop`, in `scenario.rs`) wakes each thread while it
    /// waits for them. Sleeping kernel functions wait again when their condition does not hold,
    /// so an early wake-up costs them a check.
    pub(crate) fn wake(&self) {
        // SAFETY: By the type invariant we hold a reference to the task, so its `task_struct` is
        // alive; `wake_up_process` may be called on any task, even one that has exited (it then
        // does nothing).
        unsafe { bindings::wake_up_process(self.task.as_ptr()) };
    }

    /// Whether the calling kthread has been asked to stop (`false` outside a kthread).
    pub(crate) fn should_stop() -> bool {
        // SAFETY: `get_current` is always valid and returns the running task, whose `flags` the
        // task itself may read.
        let kthread = unsafe { (*bindings::get_current()).flags } & bindings::PF_KTHREAD != 0;
        // SAFETY: `kthread_should_stop` may be called from any kthread, which was just checked.
        kthread && unsafe { bindings::kthread_should_stop() }
    }
}

impl Drop for KThread {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, the task is a kthread we hold a reference to. This waits
        // until the thread function has returned (or makes sure it never runs), then drops our
        // reference, so `body` is no longer borrowed once it returns.
        unsafe { bindings::kthread_stop_put(self.task.as_ptr()) };
    }
}

/// How many CPUs are online. CPUs are numbered from 0 and, in the lab's guests, never go
/// offline, so a CPU number below this one is online.
fn online_cpus() -> u32 {
    // SAFETY: `__num_online_cpus` is an `atomic_t` the kernel keeps up to date; reading its counter
    // once, volatile, is what C's `num_online_cpus()` does.
    let n = unsafe { ptr::read_volatile(&raw const bindings::__num_online_cpus.counter) };
    n.try_into().unwrap_or(0)
}

/// The C entry point of a [`KThread`]: runs the closure `data` points to.
///
/// # Safety
///
/// `data` must point to an `F` that stays valid until this function returns.
unsafe extern "C" fn trampoline<F: Fn()>(data: *mut c_void) -> c_int {
    // SAFETY: The caller guarantees that `data` points to a live `F`.
    let body = unsafe { &*data.cast::<F>() };
    body();
    0
}
