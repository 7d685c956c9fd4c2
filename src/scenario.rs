// SPDX-License-Identifier: GPL-2.0

//! Runs a locking [`Scenario`]: one kthread per scenario thread, each repeating the scenario's
//! step until the module is unloaded, with the counters that the `status` parameter shows.
//!
//! A scenario is its locks and a table of its threads ([`Thread`]: task name, CPU, the function
//! one iteration runs), which say which locks each thread takes, in which order; this file owns
//! the threads, the pacing, the statistics and the teardown (which breaks a real deadlock, see
//! [`Running::drop`]). Each scenario is one file beside this one; `rust_deadlock.rs` lists them.

use crate::kthread::KThread;
use crate::order::{Token, Unlocked};
use crate::semaphore;
use core::cell::Cell;
use core::fmt::{self, Write};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use kernel::bindings;
use kernel::ffi::c_long;
use kernel::prelude::*;
use kernel::sync::Arc;

/// The most threads a scenario may have.
pub(crate) const MAX_THREADS: usize = 4;

/// A locking scenario: its locks, and its threads.
pub(crate) trait Scenario: Send + Sync + Sized + 'static {
    /// The threads: one kthread each, which repeats its step until the module is unloaded.
    ///
    /// A step may touch the data behind a semaphore it took (a `Semaphore`'s; spinlocks are never
    /// broken) only after [`Ctx::hold`], [`Ctx::sleep`] or [`Ctx::running`] said, since it took
    /// the semaphore, that the module is not stopping.
    /// Unloading breaks deadlocks by giving semaphores to their sleepers (see [`Running::drop`]),
    /// so that two threads may then hold one: this rule keeps them off its data.
    const THREADS: &'static [Thread<Self>];

    /// The names of the locks, as lockdep shows them (for `status`, and for diagnosis tools that
    /// look for the module's lock classes).
    const LOCKS: &'static [&'static str];

    /// What the threads do in buggy mode, in a few words (for the log).
    const BUGGY: &'static str;

    /// What the threads do in fixed mode, in a few words (for the log).
    const FIXED: &'static str;

    /// What the threads do in the given mode.
    fn mode(buggy: bool) -> &'static str {
        if buggy {
            Self::BUGGY
        } else {
            Self::FIXED
        }
    }

    /// How long a thread sleeps before each iteration, in milliseconds.
    const PAUSE_MS: u32 = PAUSE_MS;

    /// Initialises the scenario's locks.
    fn new() -> impl PinInit<Self, Error>;

    /// Wakes what a thread may sleep on forever besides the module's semaphores (which unloading
    /// releases itself): called again and again while unloading waits for the threads. The woken
    /// thread sees that the module is stopping and returns. Most scenarios have nothing to wake.
    fn unblock(&self) {}

    /// Takes the scenario's first sleeping lock and releases it at once, touching no data behind
    /// it, and returns the lock's name: what a reader of the `peek` parameter does, so that a user
    /// process can be caught behind a deadlock as any file read that takes a lock can be. `None`:
    /// the scenario has no such lock (a spinlock would make the reader spin, not sleep).
    fn peek(&self) -> Option<&'static CStr> {
        None
    }
}

/// One iteration of a thread of the scenario `S`. `held` is the thread's lock-order token: it
/// holds no ordered lock when a step starts. [`Ctx::exit`] ends the thread after the step.
///
/// Each thread's step is a function of its own, never inlined, so that lockdep's stack traces say
/// which thread did what.
pub(crate) type Step<S> = fn(&S, &Ctx, &mut Token<'static, Unlocked>);

/// A thread of a scenario: its task name, the CPU it must run on if that matters, and its step.
pub(crate) struct Thread<S> {
    name: &'static CStr,
    cpu: Option<u32>,
    step: Step<S>,
}

impl<S> Thread<S> {
    /// The thread `name` (a task name, at most 15 bytes), which repeats `step`, on any CPU.
    pub(crate) const fn new(name: &'static CStr, step: Step<S>) -> Self {
        Self {
            name,
            cpu: None,
            step,
        }
    }

    /// The same thread, on CPU `cpu` only. The scenario does not start (`EINVAL`) when that CPU
    /// is not online.
    pub(crate) const fn on_cpu(self, cpu: u32) -> Self {
        Self {
            name: self.name,
            cpu: Some(cpu),
            step: self.step,
        }
    }
}

/// What a scenario step may ask of the lab: the mode, the pacing, and a record of what the thread
/// waits for.
pub(crate) struct Ctx {
    thread: usize,
    exit: Cell<bool>,
}

impl Ctx {
    /// Ends the thread after this step: its kthread exits (unloading still works).
    pub(crate) fn exit(&self) {
        self.exit.set(true);
    }

    /// Whether the module is still running, not being unloaded (see [`Scenario::THREADS`] for why
    /// a step asks before it touches the data behind a lock).
    pub(crate) fn running(&self) -> bool {
        !stopping()
    }

    /// Whether the module runs in buggy mode (re-read at every call: it may change any time).
    pub(crate) fn buggy(&self) -> bool {
        crate::BUGGY.get()
    }

    /// Sleeps for `hold_ms` milliseconds with a lock held, the window in which the other thread
    /// takes its first lock. Returns `false` when the module is being unloaded: the step should
    /// then release what it holds and return.
    pub(crate) fn hold(&self) -> bool {
        sleep_unless_stopping(crate::HOLD_MS.get())
    }

    /// Sleeps for `ms` milliseconds, or less when the module is being unloaded. Returns `false`
    /// when the module is being unloaded, like [`Ctx::hold`].
    pub(crate) fn sleep(&self, ms: u32) -> bool {
        sleep_unless_stopping(ms)
    }

    /// Busy-waits for `hold_ms` milliseconds, for holders of spinlocks, which must not sleep.
    /// Returns `false` when the module is being unloaded, like [`Ctx::hold`].
    pub(crate) fn hold_spinning(&self) -> bool {
        self.spin_until(crate::HOLD_MS.get(), || false)
    }

    /// Busy-waits until `done` returns `true`, for at most `ms` milliseconds (checked every
    /// millisecond). Returns `false` when the module is being unloaded, like [`Ctx::hold`].
    pub(crate) fn spin_until(&self, ms: u32, done: impl Fn() -> bool) -> bool {
        let mut left = ms;
        while left > 0 && !stopping() && !done() {
            // SAFETY: `__udelay` busy-waits; it may be called in any context.
            unsafe { bindings::__udelay(1000) };
            left -= 1;
        }
        !stopping()
    }

    /// Runs `take` (which takes the lock named `lock`) with the thread shown in `status` as
    /// waiting on `lock`. Semaphores record their sleepers themselves; this is for the
    /// other locks, and for waits on completions and work items.
    pub(crate) fn waits_on<R>(&self, lock: &'static CStr, take: impl FnOnce() -> R) -> R {
        let waiting = &STATS[self.thread].waiting;
        waiting.store(lock.as_char_ptr().cast_mut(), Ordering::Release);
        let r = take();
        waiting.store(ptr::null_mut(), Ordering::Release);
        r
    }
}

/// What the `status` parameter reports about one thread.
struct ThreadStats {
    name: AtomicPtr<kernel::ffi::c_char>,
    /// The thread's task, compared with sleeper records only, never dereferenced.
    task: AtomicPtr<bindings::task_struct>,
    iterations: AtomicU64,
    running: AtomicBool,
    /// What the thread waits on besides semaphores (a static C string), or null ([`Ctx::waits_on`]).
    waiting: AtomicPtr<kernel::ffi::c_char>,
}

impl ThreadStats {
    /// The thread's name, once it has been started.
    fn name(&self) -> Option<&'static CStr> {
        let name = self.name.load(Ordering::Relaxed);
        // SAFETY: Non-null names are the static C strings of `Scenario::THREADS`.
        (!name.is_null()).then(|| unsafe { CStr::from_char_ptr(name) })
    }
}

static STATS: [ThreadStats; MAX_THREADS] = [const {
    ThreadStats {
        name: AtomicPtr::new(ptr::null_mut()),
        task: AtomicPtr::new(ptr::null_mut()),
        iterations: AtomicU64::new(0),
        running: AtomicBool::new(false),
        waiting: AtomicPtr::new(ptr::null_mut()),
    }
}; MAX_THREADS];

/// Set when the module is being unloaded.
static STOPPING: AtomicBool = AtomicBool::new(false);

fn stopping() -> bool {
    STOPPING.load(Ordering::Acquire) || KThread::should_stop()
}

/// The default pause between two iterations, so that the other thread gets its turn; also the
/// interval at which unloading wakes the threads again until they have all stopped.
const PAUSE_MS: u32 = 10;

/// Sleeps `ms` milliseconds in interruptible sleep (state S: only a blocked lock shows as D).
fn pause(ms: u32) {
    // SAFETY: The module's threads and its unload path run in process context and may sleep.
    unsafe { bindings::msleep_interruptible(ms) };
}

/// Sleeps at least `ms` milliseconds in interruptible sleep, and returns early, `false`, when the
/// module is being unloaded: [`Running::drop`] wakes the threads until they have stopped.
///
/// One timed sleep, not a poll: under emulation each wake-up costs the host CPU time, and ten
/// slices a hold cost a thread in fixed mode most of what it spent.
fn sleep_unless_stopping(ms: u32) -> bool {
    if ms == 0 {
        return !stopping();
    }
    // One jiffy more, as `msleep` adds: the first tick may come at once.
    let jiffies = kernel::time::msecs_to_jiffies(ms).saturating_add(1);
    let mut left = c_long::try_from(jiffies).unwrap_or(c_long::MAX);
    while left > 0 && !stopping() {
        // SAFETY: Only the module's threads sleep here (a `Ctx`, which this is reached through,
        // never leaves its thread), in process context, and never with a spinlock held: its
        // holders wait with `Ctx::hold_spinning`. A wake-up (from unloading, or a spurious one)
        // ends the sleep early with the time that was left.
        left = unsafe { bindings::schedule_timeout_interruptible(left) };
    }
    !stopping()
}

/// How long unloading waits for the threads before it gives up on a clean exit.
const UNLOAD_TIMEOUT_MS: u32 = 1500;

/// A scenario whose threads are running; dropping it stops them.
///
/// The scenario itself is shared by the thread closures, so it lives until the last thread is gone.
pub(crate) struct Running {
    threads: KVec<KThread>,
    /// The scenario's [`Scenario::unblock`].
    unblock: Arc<dyn Fn() + Send + Sync>,
    /// The scenario's [`Scenario::peek`] (the closure keeps the scenario alive).
    peek: Arc<dyn Fn() -> Option<&'static CStr> + Send + Sync>,
}

impl Running {
    /// Initialises the scenario `S` and starts its threads.
    pub(crate) fn start<S: Scenario>() -> Result<Self> {
        const { assert!(S::THREADS.len() <= MAX_THREADS) };
        let scenario = Arc::pin_init(S::new(), GFP_KERNEL)?;
        // Built first, so that on a failure below, dropping it stops the threads already started.
        let s = scenario.clone();
        let mut running = Self {
            threads: KVec::with_capacity(S::THREADS.len(), GFP_KERNEL)?,
            unblock: Arc::new(move || s.unblock(), GFP_KERNEL)?,
            peek: {
                let s = scenario.clone();
                Arc::new(move || s.peek(), GFP_KERNEL)?
            },
        };
        for (i, &Thread { name, cpu, step }) in S::THREADS.iter().enumerate() {
            let s = scenario.clone();
            STATS[i]
                .name
                .store(name.as_char_ptr().cast_mut(), Ordering::Relaxed);
            STATS[i].running.store(true, Ordering::Release);
            let thread = KThread::spawn(name, cpu, move || {
                let ctx = Ctx {
                    thread: i,
                    exit: Cell::new(false),
                };
                // SAFETY: A new kthread holds no lock, and this is its only token.
                let mut held = unsafe { Token::unlocked() };
                // The pause comes before each iteration, the first one too: once `init`
                // returns, the module loader waits for an RCU grace period (`do_free_init`),
                // which threads that spin with preemption off (`spin`) would hold up.
                while sleep_unless_stopping(S::PAUSE_MS) {
                    step(&s, &ctx, &mut held);
                    STATS[i].iterations.fetch_add(1, Ordering::Relaxed);
                    if ctx.exit.get() {
                        break;
                    }
                }
                STATS[i].running.store(false, Ordering::Release);
            });
            let thread = match thread {
                Ok(thread) => thread,
                Err(e) => {
                    STATS[i].running.store(false, Ordering::Release);
                    pr_err!(
                        "cannot start thread {}: error {}\n",
                        name.to_str().unwrap_or("?"),
                        e.to_errno()
                    );
                    return Err(e);
                }
            };
            STATS[i]
                .task
                .store(thread.task().cast_mut(), Ordering::Relaxed);
            running.threads.push(thread, GFP_KERNEL)?;
        }
        Ok(running)
    }

    /// The scenario's [`Scenario::peek`], which may outlive the threads.
    pub(crate) fn peek(&self) -> Arc<dyn Fn() -> Option<&'static CStr> + Send + Sync> {
        self.peek.clone()
    }
}

impl Drop for Running {
    /// Stops the threads, even when they are deadlocked.
    ///
    /// Deadlocked threads sleep in `down()` and cannot see any stop request, so while any thread
    /// still runs this gives every sleeping semaphore waiter the semaphore it waits for
    /// ([`semaphore::up_sleepers`]); the woken thread sees that the module is stopping, drops its
    /// guards (a balanced release for lockdep) and exits. Its holder may still hold the semaphore
    /// too, or a later taker share it: none of them touches the data behind it (see below).
    fn drop(&mut self) {
        STOPPING.store(true, Ordering::Release);
        let mut broken = 0;
        let mut waited = 0;
        while STATS.iter().any(|s| s.running.load(Ordering::Acquire)) && waited < UNLOAD_TIMEOUT_MS
        {
            // SAFETY: Every semaphore a thread of ours may sleep on belongs to the scenario, which
            // the closures owned by `self.threads` keep alive until they are dropped below.
            // `STOPPING` is set above, before any semaphore is released here, so every thread
            // that takes a semaphore released here (the sleeper, or a later taker while the count
            // stays above one) sees it set: its `down()` synchronises with our `up()`. Such a
            // thread touches no data behind that semaphore, by the rule of `Scenario::THREADS`
            // (it asks `Ctx` first), so the data keeps at most one user: a holder from before.
            broken += unsafe { semaphore::up_sleepers() };
            (self.unblock)();
            // A thread that checked `STOPPING` just before it was set sleeps through one wake-up:
            // the next round wakes it.
            for thread in &self.threads {
                thread.wake();
            }
            pause(PAUSE_MS);
            waited += PAUSE_MS;
        }
        if broken > 0 {
            pr_info!(
                "unload: released {} sleeping semaphore waiter(s), so that every thread can stop\n",
                broken
            );
        }
        if waited >= UNLOAD_TIMEOUT_MS {
            pr_warn!(
                "unload: threads still running after {} ms, waiting for them\n",
                waited
            );
        }
        // Dropping the threads stops them (`kthread_stop`) and waits until they have exited.
        drop(core::mem::take(&mut self.threads));
        for stats in &STATS {
            stats.task.store(ptr::null_mut(), Ordering::Relaxed);
        }
    }
}

/// The name of the module's thread whose task is `task`, if it is one of them (it may have
/// exited: the name is remembered).
fn thread_name(task: *const bindings::task_struct) -> Option<&'static str> {
    if task.is_null() {
        return None;
    }
    STATS
        .iter()
        .find(|s| ptr::eq(s.task.load(Ordering::Relaxed), task))?
        .name()?
        .to_str()
        .ok()
}

/// Writes the `status` report: one line per thread.
pub(crate) fn write_status(out: &mut impl Write) -> fmt::Result {
    for stats in &STATS {
        let Some(name) = stats.name() else {
            continue;
        };
        let task = stats.task.load(Ordering::Relaxed);
        let iterations = stats.iterations.load(Ordering::Relaxed);
        write!(
            out,
            "{} iterations={iterations} ",
            name.to_str().unwrap_or("?")
        )?;
        let spinning = stats.waiting.load(Ordering::Acquire);
        // SAFETY: A non-null `waiting` is a static C string (see `Ctx::waits_on`).
        let spinning = (!spinning.is_null()).then(|| unsafe { CStr::from_char_ptr(spinning) });
        let waiting = semaphore::sleeping_on(task).or(spinning.map(|s| (s, ptr::null())));
        match waiting {
            _ if !stats.running.load(Ordering::Acquire) => writeln!(out, "state=stopped")?,
            Some((lock, holder)) => {
                write!(out, "state=waiting on={}", lock.to_str().unwrap_or("?"))?;
                match thread_name(holder) {
                    Some(name) => writeln!(out, " holder={name}")?,
                    None => writeln!(out)?,
                }
            }
            None => writeln!(out, "state=running")?,
        }
    }
    Ok(())
}
