// SPDX-License-Identifier: GPL-2.0

//! rust_deadlock: textbook kernel deadlocks, made on purpose, for the kernel to catch.
//!
//! Each scenario (the `scenario` parameter, one file each) is one root cause of a kernel
//! deadlock, with a buggy and a fixed variant; `buggy` picks the variant and can be flipped at any
//! time through `/sys/module/rust_deadlock/parameters/buggy`. The default, `abba`: two kthreads
//! take two semaphores; with `buggy` set in opposite orders (A then B, B then A): lockdep reports
//! "possible circular locking dependency detected" and the threads really deadlock. With it unset
//! both take A then B and nothing is ever reported.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::prelude::*;

mod compat;
mod irq_work;
mod kthread;
mod order;
mod param;
mod rw_semaphore;
mod scenario;
mod semaphore;
mod wait;
mod work;

compat::with_kunit! {
    // The module's KUnit suite, where the kernel crate can build one.
    mod kunit;
}

// The scenarios.
mod abba;
mod abc;
mod atomic;
mod backlog;
mod completion;
mod hardirq;
mod irq;
mod leak;
mod mutex;
mod plain;
mod recursive;
mod rwsem;
mod sleep_in_irq;
mod spin;
mod workqueue;

use kernel::sync::Arc;
use param::{BoolParam, ChoiceParam, PageWriter, ParamLocked, ShowParam, UintParam};
use scenario::{Running, Scenario};

/// A scenario the `scenario` parameter can name.
struct Entry {
    name: &'static str,
    start: fn() -> Result<Running>,
    mode: fn(bool) -> &'static str,
    locks: &'static [&'static str],
}

/// Lists the scenarios: `NAME => Type`, the default first.
macro_rules! scenarios {
    ($($name:literal => $ty:ty),+ $(,)?) => {
        const NAMES: &[&str] = &[$($name),+];
        const SCENARIOS: &[Entry] = &[$(Entry {
            name: $name,
            start: Running::start::<$ty>,
            mode: <$ty as Scenario>::mode,
            locks: <$ty as Scenario>::LOCKS,
        }),+];
    };
}

scenarios! {
    "abba" => abba::AbBa,
    "abc" => abc::Abc,
    "recursive" => recursive::Recursive,
    "irq" => irq::Irq,
    "leak" => leak::Leak,
    "plain" => plain::Plain,
    "spin" => spin::Spin,
    "mutex" => mutex::Mutexes,
    "rwsem" => rwsem::RwSem,
    "workqueue" => workqueue::WorkQueue,
    "completion" => completion::Completions,
    "atomic" => atomic::Atomic,
    "hardirq" => hardirq::HardIrq,
    "backlog" => backlog::Backlog,
    "sleep_in_irq" => sleep_in_irq::SleepInIrq,
}

module! {
    type: RustDeadlock,
    name: "rust_deadlock",
    description: "Kernel deadlocks on purpose (AB-BA and other root causes), for lockdep and the lockup detectors to report",
    license: "GPL",
}

// The author, in `.modinfo` by hand: 6.12's `module!` spells the key `author`, 7.x's `authors`.
#[link_section = ".modinfo"]
#[used(compiler)]
static AUTHOR: [u8; 32] = *b"author=rust-deadlock developers\0";

/// Which scenario the module plays (load time only).
static SCENARIO: ChoiceParam = ChoiceParam::new(NAMES);
module_param!(
    SCENARIO: ChoiceParam,
    "scenario",
    0o444,
    "Load time only: the deadlock to make: abba (default), abc, recursive, irq, leak, plain, spin, mutex, rwsem, workqueue, completion, atomic, hardirq, backlog, sleep_in_irq"
);

/// Whether the threads run the buggy variant of the scenario.
static BUGGY: BoolParam = BoolParam::new(false, announce_mode);
module_param!(
    BUGGY: BoolParam,
    "buggy",
    0o644,
    "Run the scenario's buggy variant (it deadlocks) instead of its fixed one (default: N)"
);

/// How long a thread holds its first semaphore before it takes the second.
static HOLD_MS: UintParam = UintParam::new(100, 0, 10_000);
module_param!(
    HOLD_MS: UintParam,
    "hold_ms",
    0o644,
    "Milliseconds each thread holds its first lock, 0..10000; 0 leaves only lockdep's prediction (default: 100)"
);

/// The mode and what each thread is doing.
static STATUS: ShowParam = ShowParam::new(show_status);
module_param!(
    STATUS: ShowParam,
    "status",
    0o444,
    "Read-only: the scenario and mode, and per thread its iteration count and the lock it waits on"
);

/// Takes the scenario's first sleeping lock, then releases it.
static PEEK: ShowParam = ShowParam::new(show_peek);
module_param!(
    PEEK: ShowParam,
    "peek",
    0o444,
    "Read-only: takes the scenario's first sleeping lock and releases it (a read caught behind a deadlock)"
);

/// What a `peek` read runs: the running scenario's `Scenario::peek`.
type Peek = Arc<dyn Fn() -> Option<&'static CStr> + Send + Sync>;

/// The running scenario's peek, while the module is loaded.
static PEEKER: ParamLocked<Option<Peek>> = ParamLocked::new(None);

/// The scenario chosen at load time.
fn scenario() -> &'static Entry {
    &SCENARIOS[SCENARIO.get()]
}

/// Set once the threads run: from then on a change of `buggy` is announced.
static LIVE: AtomicBool = AtomicBool::new(false);

fn announce_mode(buggy: bool) {
    if LIVE.load(Ordering::Acquire) {
        pr_info!("mode: {}\n", (scenario().mode)(buggy));
    }
}

fn show_status(out: &mut PageWriter<'_>) -> fmt::Result {
    write!(
        out,
        "scenario={} mode={} hold_ms={} locks=",
        scenario().name,
        if BUGGY.get() { "buggy" } else { "fixed" },
        HOLD_MS.get()
    )?;
    for (i, lock) in scenario().locks.iter().enumerate() {
        write!(out, "{}{lock}", if i > 0 { "," } else { "" })?;
    }
    writeln!(out)?;
    scenario::write_status(out)
}

/// Reads as the name of the lock it took and released, after waiting for it as long as it takes.
fn show_peek(out: &mut PageWriter<'_>) -> fmt::Result {
    // SAFETY: Only `PEEK`'s get callback calls this (`ShowParam::get`), and the kernel calls that
    // with the module's parameter lock held (`param_attr_show`); the reference is dropped before
    // the callback returns.
    let peeker = unsafe { PEEKER.in_callback() };
    match peeker.as_ref().map(|peek| peek()) {
        Some(Some(lock)) => writeln!(out, "took {} and released it", lock.to_str().unwrap_or("?")),
        Some(None) => writeln!(out, "scenario {} has no lock to peek at", scenario().name),
        None => writeln!(out, "no scenario running"),
    }
}

struct RustDeadlock {
    /// `None` once dropped (see `Drop`).
    running: Option<Running>,
}

impl kernel::Module for RustDeadlock {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let entry = scenario();
        let running = (entry.start)().inspect_err(|e| {
            pr_err!(
                "load failed: error {}, nothing left running\n",
                e.to_errno()
            );
        })?;
        drop(PEEKER.replace(Some(running.peek())));
        LIVE.store(true, Ordering::Release);
        pr_info!(
            "loaded (built for kernel {}): scenario {}, hold_ms={}\n",
            compat::SERIES,
            entry.name,
            HOLD_MS.get()
        );
        announce_mode(BUGGY.get());
        Ok(Self {
            running: Some(running),
        })
    }
}

impl Drop for RustDeadlock {
    fn drop(&mut self) {
        pr_info!("unloading\n");
        // The threads first: stopping them breaks the deadlocks, and with them the wait of a
        // `peek` read, which holds the parameter lock that taking the peek back needs.
        drop(self.running.take());
        drop(PEEKER.replace(None));
    }
}
