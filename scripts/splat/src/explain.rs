//! Titles and human explanations.
//!
//! The title follows syzbot's style: the kind of bug and the first *interesting* function of
//! the relevant stack, i.e. the first frame that is not part of lockdep, the stack dumper, the
//! scheduler, a locking primitive or the Rust `kernel::sync` wrappers. For the AB-BA module
//! that is the thread function (`rust_deadlock::abba::AbBa::thread_b`), not `down()` or
//! `kernel::sync::lock::Lock::lock`.

use crate::model::{Frame, HeldLock, HungTask, Report, ReportKind, Stack, Task};

/// Exact function names that are never "interesting": lockdep, stack dumping, scheduler,
/// locking primitives and entry code.
const BORING_EXACT: &[&str] = &[
    "dump_stack",
    "dump_stack_lvl",
    "__dump_stack",
    "show_stack",
    "dump_backtrace",
    "unwind_backtrace",
    "show_trace_log_lvl",
    "sched_show_task",
    "lock_acquire",
    "__lock_acquire",
    "lock_release",
    "__lock_release",
    "lock_acquired",
    "lock_contended",
    "lock_sync",
    "validate_chain",
    "check_prev_add",
    "check_prevs_add",
    "check_noncircular",
    "check_deadlock",
    "check_irq_usage",
    "check_flags",
    "check_wait_context",
    "check_usage_forwards",
    "check_usage_backwards",
    "mark_lock",
    "mark_usage",
    "mark_lock_irq",
    "mark_held_locks",
    "valid_state",
    "print_usage_bug",
    "print_circular_bug",
    "print_deadlock_bug",
    "print_bad_irq_dependency",
    "print_irq_inversion_bug",
    "print_unlock_imbalance_bug",
    "print_freed_lock_bug",
    "print_held_locks_bug",
    "print_lock_invalid_wait_context",
    "print_report",
    "lockdep_rcu_suspicious",
    "lockdep_sys_exit",
    "debug_check_no_locks_freed",
    "debug_check_no_locks_held",
    "lock_is_held_type",
    "__might_resched",
    "__might_sleep",
    "___might_sleep",
    "__might_fault",
    "might_fault",
    "__warn",
    "warn_slowpath_fmt",
    "report_bug",
    "handle_bug",
    "exc_invalid_op",
    "asm_exc_invalid_op",
    "__schedule",
    "schedule",
    "schedule_timeout",
    "schedule_preempt_disabled",
    "io_schedule",
    "io_schedule_timeout",
    "down",
    "up",
    "kasan_report",
    "rcu_lock_acquire",
    "rcu_lock_release",
    "ret_from_fork",
    "ret_from_fork_asm",
    // The lab module's wrapper that records the lock a thread waits on while it takes it.
    "rust_deadlock::scenario::Ctx::waits_on",
    "kfree",
    "kvfree",
    "vfree",
    "kmem_cache_free",
    "slab_free",
    "__slab_free",
    "free_large_kmalloc",
    "__kmem_cache_free",
];

/// Function-name prefixes that are never "interesting".
const BORING_PREFIXES: &[&str] = &[
    "_raw_spin_",
    "_raw_read_",
    "_raw_write_",
    "__raw_spin_",
    "__raw_read_",
    "__raw_write_",
    "do_raw_spin_",
    "do_raw_read_",
    "do_raw_write_",
    "raw_spin_",
    "spin_lock",
    "spin_unlock",
    "read_lock",
    "read_unlock",
    "write_lock",
    "write_unlock",
    "mutex_lock",
    "mutex_unlock",
    "mutex_trylock",
    "__mutex_",
    "down_",
    "__down",
    "up_",
    "__up",
    "rwsem_",
    "__rwsem_",
    "call_rwsem_",
    "percpu_down_",
    "percpu_up_",
    "percpu_rwsem_",
    "ww_mutex_",
    "__ww_mutex_",
    "rt_mutex_",
    "__rt_mutex_",
    "rt_spin_",
    "wait_for_completion",
    "__wait_for_common",
    "wait_for_common",
    "do_wait_for_common",
    "schedule_hrtimeout",
    "preempt_schedule",
    "lockdep_",
    "__lockdep_",
    "__kasan_",
    "kasan_",
    "__asan_",
    "__ubsan_",
    "ubsan_",
    "kcsan_",
    "__kcsan_",
    "stack_trace_",
    "arch_stack_walk",
    "kernel::sync::",
    // The lab module's own lock implementation (its lockdep-annotated and plain semaphores).
    "rust_deadlock::semaphore::",
    // C helpers that Rust calls for inline functions and macros (rust_helper_spin_lock).
    "rust_helper_",
    "context_switch",
    "__schedule_loop",
    "bit_wait",
    "__wait_on_bit",
    "out_of_line_wait_on_bit",
    "wait_on_bit",
    "wait_on_buffer",
    "__wait_on_buffer",
    "synchronize_rcu",
    "synchronize_srcu",
    "__synchronize_srcu",
    "slab_free",
    "queued_",
    "native_queued_",
    "trace_hardirqs_",
    "dma_fence_wait",
    "dma_fence_default_wait",
    "reservation_object_wait",
    "dma_resv_wait",
    "kmem_cache_alloc",
    "__kmem_cache_alloc",
    "kmalloc",
    "__kmalloc",
    "kzalloc",
    "krealloc",
    "__alloc_pages",
    "alloc_pages",
    "__get_free_pages",
    "slab_alloc",
    "___slab_alloc",
    "__slab_alloc",
    "stack_depot_",
    "__stack_depot_",
    "set_track",
    "alloc_debug_processing",
    "__sb_start_write",
    "sb_start_",
    "__sb_end_write",
    "core::",
    "alloc::",
];

/// Scheduler frames, left out of hung-task summaries.
const SCHEDULER: &[&str] = &[
    "context_switch",
    "__schedule_loop",
    "__schedule",
    "schedule",
    "schedule_timeout",
    "schedule_preempt_disabled",
    "schedule_idle",
    "io_schedule",
    "io_schedule_timeout",
    "preempt_schedule",
    "preempt_schedule_common",
    "preempt_schedule_irq",
    "schedule_hrtimeout",
    "schedule_hrtimeout_range",
    "schedule_hrtimeout_range_clock",
];

/// Blocking primitives: (function-name prefix or exact name, what it waits on).
///
/// Entries ending in `*` match as prefixes.
const PRIMITIVES: &[(&str, &str)] = &[
    ("__down*", "semaphore"),
    ("down", "semaphore"),
    ("down_interruptible", "semaphore"),
    ("down_killable", "semaphore"),
    ("down_timeout", "semaphore"),
    ("rwsem_down_read*", "rw_semaphore (read)"),
    ("rwsem_down_write*", "rw_semaphore (write)"),
    ("call_rwsem_down_read*", "rw_semaphore (read)"),
    ("call_rwsem_down_write*", "rw_semaphore (write)"),
    ("down_read*", "rw_semaphore (read)"),
    ("down_write*", "rw_semaphore (write)"),
    ("__mutex_lock*", "mutex"),
    ("mutex_lock*", "mutex"),
    ("__ww_mutex_lock*", "ww_mutex"),
    ("ww_mutex_lock*", "ww_mutex"),
    ("__rt_mutex*", "rt_mutex"),
    ("rt_mutex_*", "rt_mutex"),
    ("rt_spin_lock*", "spinlock (PREEMPT_RT)"),
    ("percpu_down_write", "percpu rw_semaphore"),
    ("percpu_rwsem_wait", "percpu rw_semaphore"),
    ("__percpu_down_read", "percpu rw_semaphore"),
    ("do_wait_for_common", "completion"),
    ("__wait_for_common", "completion"),
    ("wait_for_common*", "completion"),
    ("wait_for_completion*", "completion"),
    ("__wait_rcu_gp", "RCU grace period"),
    ("dma_fence_default_wait", "dma fence"),
    ("dma_fence_wait*", "dma fence"),
    ("synchronize_rcu*", "RCU grace period"),
    ("__synchronize_srcu", "SRCU grace period"),
    ("bit_wait*", "bit wait (buffer or page I/O)"),
    ("__wait_on_bit*", "bit wait (buffer or page I/O)"),
    ("out_of_line_wait_on_bit*", "bit wait (buffer or page I/O)"),
    ("wait_on_buffer", "buffer I/O"),
    ("__wait_on_buffer", "buffer I/O"),
    ("synchronize_srcu*", "SRCU grace period"),
    ("__flush_work", "work item"),
    ("flush_work", "work item"),
    ("__flush_workqueue", "workqueue"),
    ("flush_workqueue", "workqueue"),
    ("kthread_stop*", "kthread exit"),
    ("msleep*", "timer (sleep)"),
    ("usleep_range*", "timer (sleep)"),
    ("folio_wait_bit*", "page lock / I/O"),
    ("__folio_lock*", "page lock / I/O"),
    ("wait_on_page_bit*", "page lock / I/O"),
    (
        "kernel::sync::condvar::CondVar::wait*",
        "condition variable",
    ),
];

/// The part of a function name before any `.cold` / `.isra.0` / `.constprop.0` suffix.
fn base(function: &str) -> &str {
    function.split('.').next().unwrap_or(function)
}

/// True for frames that a title or "where" should skip.
pub fn is_boring(function: &str) -> bool {
    let f = base(function);
    BORING_EXACT.contains(&f) || BORING_PREFIXES.iter().any(|p| f.starts_with(p))
}

/// The first reliable, interesting frame of a stack. In symbolized stacks (syzbot,
/// `decode_stacktrace.sh`), frames inlined into the next one (`f file.c:12 [inline]`, no
/// offset) are skipped like syzbot does: the title names the function that was called.
pub fn first_interesting(frames: &[Frame]) -> Option<&str> {
    let has_offsets = frames.iter().any(|f| f.offset.is_some());
    frames
        .iter()
        .filter(|f| {
            f.reliable && (!has_offsets || f.offset.is_some() || !f.raw.ends_with("[inline]"))
        })
        .find(|f| !is_boring(&f.function))
        .map(|f| f.function.as_str())
}

fn pattern_matches(pattern: &str, f: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => f.starts_with(prefix),
        None => f == pattern,
    }
}

fn primitive(function: &str) -> Option<&'static str> {
    let f = base(function);
    PRIMITIVES
        .iter()
        .find(|(p, _)| pattern_matches(p, f))
        .map(|(_, what)| *what)
}

fn is_scheduler(function: &str) -> bool {
    SCHEDULER.contains(&base(function))
}

fn stack<'a>(r: &'a Report, context: &str) -> Option<&'a Stack> {
    r.stacks.iter().find(|s| s.context == context)
}

/// The frames of the report's main trace (`backtrace`, `hung task`), if any.
fn main_frames(r: &Report) -> &[Frame] {
    stack(r, "backtrace")
        .or_else(|| stack(r, "hung task"))
        .map(|s| s.frames.as_slice())
        .unwrap_or(&[])
}

/// "comm/pid" of the report's first task, or "a task".
fn who(r: &Report) -> String {
    match r.tasks.first() {
        Some(t) => match t.pid {
            Some(pid) => format!("{}/{}", t.comm, pid),
            None => t.comm.clone(),
        },
        None => "a task".to_string(),
    }
}

/// The function where the reporting task did what the report is about.
fn culprit(r: &Report) -> Option<String> {
    if r.kind == ReportKind::Generic {
        if let Some(f) = r.details.get("function") {
            return Some(f.clone());
        }
        if let Some(f) = r.details.get("rip") {
            return Some(f.clone());
        }
    }
    if r.kind == ReportKind::InconsistentLockState {
        // syzbot's rule: where the lock whose state changed was taken ("takes: ... at:").
        if let Some(at) = r.acquiring.as_ref().and_then(|a| a.at.as_deref()) {
            if !is_boring(at) {
                return Some(at.to_string());
            }
        }
    }
    if let Some(f) = first_interesting(main_frames(r)) {
        return Some(f.to_string());
    }
    if let Some(f) = r
        .chain
        .iter()
        .find(|c| c.index == 0)
        .and_then(|c| first_interesting(&c.stack))
    {
        return Some(f.to_string());
    }
    let release = stack(r, "release").and_then(|s| s.frames.first());
    if let Some(f) = release {
        return Some(f.function.clone());
    }
    // No stack: where the lock was being taken, unless that is an allocator or locking
    // wrapper (`fs_reclaim` taken in `__kmalloc`), then where the held lock was taken.
    let acquiring_at = r.acquiring.as_ref().and_then(|s| s.at.clone());
    let holding_at = r.holding.as_ref().and_then(|s| s.at.clone());
    if let Some(at) = acquiring_at
        .iter()
        .chain(&holding_at)
        .find(|f| !is_boring(f))
    {
        return Some(at.clone());
    }
    if let Some(at) = acquiring_at {
        return Some(at);
    }
    if let Some(at) = r.held_locks.iter().rev().find_map(|h| h.at.clone()) {
        return Some(at);
    }
    r.stacks
        .iter()
        .find_map(|s| first_interesting(&s.frames))
        .map(str::to_string)
}

fn with_in(prefix: &str, f: Option<String>) -> String {
    match f {
        Some(f) => format!("{prefix} in {f}"),
        None => prefix.to_string(),
    }
}

/// The function a report's title names (see [`title`]), if any.
pub(crate) fn title_function(r: &Report) -> Option<String> {
    if r.kind == ReportKind::LockHeldAtExit {
        if let Some(at) = r.held_locks.iter().find_map(|h| h.at.clone()) {
            return Some(at);
        }
    }
    culprit(r)
}

/// The function name without compiler suffixes (`.isra.0`, `.constprop.3`, `.cold`).
pub(crate) fn base_function(function: &str) -> &str {
    base(function)
}

/// Computes the syzbot-style title of a report.
pub fn title(r: &Report) -> String {
    let f = culprit(r);
    match r.kind {
        ReportKind::CircularDependency
        | ReportKind::RecursiveLocking
        | ReportKind::IrqLockInversion => with_in("possible deadlock", f),
        ReportKind::InconsistentLockState => with_in("inconsistent lock state", f),
        ReportKind::BadUnlockBalance => with_in("WARNING: bad unlock balance", f),
        ReportKind::HeldLockFreed => with_in("WARNING: held lock freed", f),
        ReportKind::LockHeldAtExit => {
            let f = r.held_locks.iter().find_map(|h| h.at.clone()).or(f);
            if r.header.contains("returning to user space") {
                with_in("WARNING: lock held when returning to user space", f)
            } else if r.header.contains("lock held at task exit") {
                with_in("BUG: lock held at task exit", f)
            } else {
                with_in("WARNING: still has locks held", f)
            }
        }
        ReportKind::SuspiciousRcuUsage => with_in("WARNING: suspicious RCU usage", f),
        ReportKind::SleepInAtomic => {
            with_in("BUG: sleeping function called from invalid context", f)
        }
        ReportKind::HungTask => with_in("INFO: task hung", f),
        ReportKind::SoftLockup => with_in("BUG: soft lockup", soft_lockup_place(r)),
        ReportKind::Generic => generic_title(r, f),
    }
}

fn generic_title(r: &Report, f: Option<String>) -> String {
    let h = crate::segment::unbracket(r.header.trim());
    let h = match h.split_once(": ") {
        Some((word, rest))
            if word.bytes().all(|b| b.is_ascii_lowercase()) && rest.starts_with("BUG:") =>
        {
            rest
        }
        _ => h,
    };
    let new_warn = h
        .strip_prefix("WARNING: ")
        .and_then(|r| r.split_once(" at "))
        .is_some_and(|(loc, _)| !loc.contains(' ') && loc.contains(':'));
    if h.starts_with("WARNING: CPU: ") || h.starts_with("WARNING: at ") || new_warn {
        return with_in("WARNING", f);
    }
    if h.starts_with("kernel BUG at ") {
        return with_in("kernel BUG", f);
    }
    if let Some(rest) = h.strip_prefix("BUG: KASAN: ") {
        let what = rest.split(" in ").next().unwrap_or(rest);
        return with_in(&format!("KASAN: {what}"), f);
    }
    // Keep the descriptive start of the header: up to ", " / " - " / "!" / " at " / ": ".
    let mut main = h;
    let skip = ["BUG: ", "WARNING: ", "INFO: "]
        .iter()
        .find(|p| h.starts_with(**p))
        .map(|p| p.len())
        .unwrap_or(0);
    let tail = &h[skip..];
    let cut = [", ", " - ", "!", " at ", ": ", " for address", " ["]
        .iter()
        .filter_map(|p| tail.find(p))
        .min();
    if let Some(cut) = cut {
        main = &h[..skip + cut];
    }
    with_in(main.trim_end_matches('.'), f)
}

/// Fills `hung_task` analysis fields (summary, blocking primitive).
pub fn analyse_hung(r: &mut Report) {
    let frames: Vec<Frame> = stack(r, "hung task")
        .map(|s| s.frames.clone())
        .unwrap_or_default();
    let Some(h) = r.hung_task.as_mut() else {
        return;
    };
    let summary: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.reliable && !is_scheduler(&f.function))
        .collect();
    h.summary = summary.iter().map(|f| f.function.clone()).collect();
    let first_prim = summary
        .iter()
        .take(3)
        .position(|f| primitive(&f.function).is_some());
    if let Some(start) = first_prim {
        let mut last = start;
        while last + 1 < summary.len() && primitive(&summary[last + 1].function).is_some() {
            last += 1;
        }
        let api = base(&summary[last].function);
        h.blocked_in = Some(format!("{api}()"));
        h.waiting_on = primitive(api).map(str::to_string);
        h.called_from = summary.get(last + 1).map(|f| f.function.clone());
    } else if let Some(first) = summary.first() {
        h.blocked_in = Some(format!("{}()", base(&first.function)));
    }
}

/// What the explanation of a report needs to know about the reports before it in the log:
/// a bounded summary, so that a log of any length is explained in constant memory.
#[derive(Debug, Default, Clone)]
pub(crate) struct History {
    /// Reports seen so far.
    count: usize,
    /// An earlier report turned lockdep off.
    lockdep_off: bool,
    /// The last lock-order report.
    cause: Option<Cause>,
    /// The last [`MAX_LEAKS`] reports of a task that exited (or returned to user space) with
    /// locks held, oldest first.
    leaks: Vec<Leak>,
}

/// A lock-order report (circular or recursive), remembered for the hung-task and soft-lockup
/// reports after it.
#[derive(Debug, Clone)]
struct Cause {
    /// The report's 1-based number.
    number: usize,
    title: String,
    tasks: Vec<Task>,
    cycle: Vec<String>,
    /// Its stacks take a spinlock (`_raw_spin_lock`, ...): its locks include spinlocks.
    spinlocks: bool,
}

impl Cause {
    fn new(number: usize, r: &Report) -> Self {
        let chains = r.chain.iter().map(|c| c.stack.as_slice());
        let stacks = r.stacks.iter().map(|s| s.frames.as_slice());
        Cause {
            number,
            title: r.title.clone(),
            tasks: r.tasks.clone(),
            cycle: r.cycle.clone(),
            spinlocks: chains
                .chain(stacks)
                .flatten()
                .any(|f| f.reliable && is_spin_wait(&f.function)),
        }
    }

    /// `report #N "TITLE" (A -> B -> A), which this task triggered` for the task `comm`/`pid`.
    fn mention(&self, comm: &str, pid: u32) -> String {
        let involved = self
            .tasks
            .iter()
            .any(|t| t.comm == comm && t.pid.is_none_or(|p| p == pid));
        let cycle = if self.cycle.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.cycle.join(" -> "))
        };
        format!(
            "report #{} \"{}\"{cycle}{}",
            self.number,
            self.title,
            if involved {
                ", which this task triggered"
            } else {
                ""
            }
        )
    }

    /// A recursive-locking cycle: one lock taken while held.
    fn is_recursive(&self) -> bool {
        matches!(&self.cycle[..], [a, b] if a == b)
    }
}

/// Lock-held-at-exit reports remembered for the hung-task reports after them.
const MAX_LEAKS: usize = 8;

/// A task that exited (or returned to user space) holding locks: a lock-held-at-exit report.
#[derive(Debug, Clone)]
struct Leak {
    /// The report's 1-based number.
    number: usize,
    title: String,
    /// The task that left the locks held.
    task: Task,
    /// "exited" or "returned to user space".
    how: &'static str,
    /// The locks it left held, "L (taken at F), ...", when the report listed them.
    held: Option<String>,
    /// How many locks it left held (0 when not listed).
    count: usize,
}

impl Leak {
    /// True when `t` (a blocker's holder) is this leak's task.
    fn is_task(&self, t: &Task) -> bool {
        self.task.comm == t.comm && self.task.pid.is_some() && self.task.pid == t.pid
    }
}

impl History {
    /// Records a finished report (after its explanation was written).
    pub fn record(&mut self, r: &Report) {
        self.count += 1;
        self.lockdep_off |= lockdep_off(r);
        if matches!(
            r.kind,
            ReportKind::CircularDependency | ReportKind::RecursiveLocking
        ) {
            self.cause = Some(Cause::new(self.count, r));
        }
        if let (ReportKind::LockHeldAtExit, Some(task)) = (r.kind, r.tasks.first()) {
            if self.leaks.len() >= MAX_LEAKS {
                self.leaks.remove(0);
            }
            self.leaks.push(Leak {
                number: self.count,
                title: r.title.clone(),
                task: task.clone(),
                how: exit_how(r),
                held: held_summary(r),
                count: own_held(r).count(),
            });
        }
    }

    /// The lock-held-at-exit report that likely explains what hung task `h` waits for: the one
    /// of the holder its blocker line names; without a blocker line naming a holder (the kernel
    /// cannot name a holder that has exited), the last one of another task, when `h` waits for
    /// a lock and no lock-order report came after it.
    fn leak_for(&self, h: &HungTask) -> Option<&Leak> {
        let me = Task {
            comm: h.comm.clone(),
            pid: Some(h.pid),
        };
        let others = self.leaks.iter().rev().filter(|l| !l.is_task(&me));
        match h.blocker.as_ref().and_then(|b| b.holder.as_ref()) {
            Some(holder) => others.into_iter().find(|l| l.is_task(holder)),
            None if h.waiting_on.as_deref().is_some_and(is_lock_wait) => {
                let order_after =
                    |l: &&Leak| self.cause.as_ref().is_some_and(|c| c.number > l.number);
                others.into_iter().next().filter(|l| !order_after(l))
            }
            None => None,
        }
    }
}

/// True for what a task waits on when a lock left held can block it: a sleeping lock (a
/// semaphore, a mutex), or an SRCU grace period (the end of an SRCU read-side section).
fn is_lock_wait(waiting_on: &str) -> bool {
    waiting_on.contains("semaphore")
        || waiting_on.contains("mutex")
        || waiting_on == "SRCU grace period"
}

/// True when the report turns lockdep off (every lockdep report does), or says it is off.
pub(crate) fn lockdep_off(e: &Report) -> bool {
    e.details.get("lockdep").map(String::as_str) == Some("off")
        || matches!(
            e.kind,
            ReportKind::CircularDependency
                | ReportKind::RecursiveLocking
                | ReportKind::InconsistentLockState
                | ReportKind::IrqLockInversion
                | ReportKind::BadUnlockBalance
                | ReportKind::HeldLockFreed
                | ReportKind::LockHeldAtExit
        )
}

fn lock_list(locks: &[String]) -> String {
    match locks.len() {
        0 => String::new(),
        1 => locks[0].clone(),
        2 => format!("{} and {}", locks[0], locks[1]),
        _ => {
            let (last, rest) = locks.split_last().unwrap_or((&locks[0], &[]));
            format!("{}, and {}", rest.join(", "), last)
        }
    }
}

fn at(f: &Option<String>) -> String {
    match f {
        Some(f) => format!(" (taken at {f})"),
        None => String::new(),
    }
}

/// The held locks of the report's first task.
fn own_held(r: &Report) -> impl Iterator<Item = &HeldLock> {
    let task = r.tasks.first();
    r.held_locks.iter().filter(move |h| {
        task.is_some_and(|t| h.task == t.comm && (t.pid.is_none() || h.pid == t.pid))
    })
}

/// Held locks of the report's first task, "L (taken at F), ...".
fn held_summary(r: &Report) -> Option<String> {
    let held: Vec<String> = own_held(r)
        .map(|h| format!("{}{}", h.lock, at(&h.at)))
        .collect();
    if held.is_empty() {
        None
    } else {
        Some(held.join(", "))
    }
}

/// The explanation text of one report; `earlier` summarizes the reports before it in the log.
pub(crate) fn explain(r: &Report, earlier: &History) -> String {
    let mut out = match r.kind {
        ReportKind::CircularDependency => explain_circular(r),
        ReportKind::RecursiveLocking => explain_recursive(r),
        ReportKind::InconsistentLockState => explain_inconsistent(r),
        ReportKind::IrqLockInversion => explain_irq_inversion(r),
        ReportKind::BadUnlockBalance => explain_bad_unlock(r),
        ReportKind::HeldLockFreed => explain_freed(r),
        ReportKind::LockHeldAtExit => explain_exit(r),
        ReportKind::SuspiciousRcuUsage => explain_rcu(r),
        ReportKind::SleepInAtomic => explain_sleep(r),
        ReportKind::HungTask => explain_hung(r, earlier),
        ReportKind::SoftLockup => explain_soft_lockup(r, earlier),
        ReportKind::Generic => explain_generic(r),
    };
    if r.truncated {
        out.push_str(
            "\n(The report is cut off: the log ends or moves on before the report's end.)",
        );
    }
    out
}

fn explain_circular(r: &Report) -> String {
    let mut lines = Vec::new();
    if r.cycle.len() >= 2 {
        lines.push(format!("Lock-order cycle: {}", r.cycle.join(" -> ")));
    }
    let who = who(r);
    let where_now = culprit(r);
    let held = r.holding.as_ref();
    let acq = r.acquiring.as_ref();
    if let (Some(h), Some(a)) = (held, acq) {
        lines.push(format!(
            "{who} holds {}{} and is trying to take {}{}.",
            h.lock,
            at(&h.at),
            a.lock,
            where_now
                .as_ref()
                .map(|f| format!(" in {f}"))
                .unwrap_or_default()
        ));
    }
    let mut entries: Vec<_> = r.chain.iter().collect();
    entries.sort_by_key(|c| c.index);
    for pair in entries.windows(2) {
        let (prev, cur) = (pair[0], pair[1]);
        let f = first_interesting(&cur.stack)
            .map(|f| format!(" in {f}"))
            .unwrap_or_default();
        lines.push(format!(
            "Earlier, {} was taken while holding {}{} (dependency chain #{}).",
            cur.lock, prev.lock, f, cur.index
        ));
    }
    if r.cycle.len() >= 3 {
        lines.push(
            "If these paths run at the same time, each waits for a lock another one holds: \
             a deadlock."
                .to_string(),
        );
        let unique = global_order(&r.cycle);
        let against = match (&where_now, held, acq) {
            (Some(f), Some(h), Some(a)) => format!(
                "; {f} ({who}) must not take {} while holding {}",
                a.lock, h.lock
            ),
            _ => String::new(),
        };
        lines.push(format!(
            "Fix: take {} in one global order everywhere (always {}){against}.",
            lock_list(&unique),
            unique.join(" before ")
        ));
    }
    lines.join("\n")
}

/// The fix for a task that takes a lock it already holds (the same instance).
pub(crate) const RECURSIVE_FIX: &str = "Fix: do not take a lock the task already holds: pass the \
     held lock (its guard) down to the code that needs it instead of taking it again, or \
     release it before the call.";

/// The order a lock-order cycle establishes: its locks from the requested one on (`#0, #1,
/// ..., #N`: the new acquisition goes against it), without repeats.
fn global_order(cycle: &[String]) -> Vec<String> {
    let mut unique: Vec<String> = Vec::new();
    for l in cycle.iter().skip(1) {
        if !unique.contains(l) {
            unique.push(l.clone());
        }
    }
    unique
}

fn explain_recursive(r: &Report) -> String {
    let who = who(r);
    let mut lines = Vec::new();
    let mut same_lock = false;
    if let (Some(h), Some(a)) = (&r.holding, &r.acquiring) {
        lines.push(format!(
            "{who} already holds {}{} and is trying to take {} again{}.",
            h.lock,
            at(&h.at),
            a.lock,
            culprit(r).map(|f| format!(" in {f}")).unwrap_or_default()
        ));
        match (&h.address, &a.address) {
            (Some(x), Some(y)) if x == y => {
                same_lock = true;
                lines.push(format!(
                    "It is the same lock (address {x}): the task would wait for itself forever."
                ));
            }
            (Some(x), Some(y)) => lines.push(format!(
                "These are two locks of the same class (addresses {x} and {y}); lockdep cannot \
                 order them, and two tasks nesting them in opposite orders would deadlock."
            )),
            _ => {}
        }
    }
    lines.push(if same_lock {
        RECURSIVE_FIX.to_string()
    } else {
        "Fix: do not take a lock the task already holds; if two objects of one lock class \
         must nest, take them in a fixed order and annotate the inner one with a lockdep \
         subclass (e.g. mutex_lock_nested(.., SINGLE_DEPTH_NESTING))."
            .to_string()
    });
    lines.join("\n")
}

/// `IN-SOFTIRQ-W` -> "taken in softirq context (for writing)".
fn describe_usage(usage: &str) -> String {
    let rw = if usage.ends_with("-R") {
        " for reading"
    } else {
        ""
    };
    let ctx = |s: &str| s.to_ascii_lowercase();
    if let Some(rest) = usage.strip_prefix("IN-") {
        let what = rest.split('-').next().unwrap_or(rest);
        format!("taken{rw} in {} context", ctx(what))
    } else if let Some((what, _)) = usage.split_once("-ON-") {
        format!("taken{rw} with {}s enabled", ctx(what))
    } else {
        usage.to_string()
    }
}

fn irq_fix(class: &str) -> &'static str {
    if class.contains("SOFTIRQ") {
        "spin_lock_bh()"
    } else {
        "spin_lock_irqsave()"
    }
}

fn explain_inconsistent(r: &Report) -> String {
    let who = who(r);
    let lock = r
        .acquiring
        .as_ref()
        .map(|s| s.lock.clone())
        .unwrap_or_else(|| "the lock".to_string());
    let from = r.details.get("from_usage").cloned().unwrap_or_default();
    let to = r.details.get("to_usage").cloned().unwrap_or_default();
    let registered = r
        .stacks
        .iter()
        .find(|s| s.context.ends_with("state registered"))
        .and_then(|s| first_interesting(&s.frames))
        .map(|f| format!(" (first seen in {f})"))
        .unwrap_or_default();
    let now = culprit(r).map(|f| format!(" in {f}")).unwrap_or_default();
    let irq = if from.contains("SOFTIRQ") || to.contains("SOFTIRQ") {
        "SOFTIRQ"
    } else {
        "HARDIRQ"
    };
    [
        format!(
            "{lock} is used in two incompatible ways: {{{from}}}: {}{registered}, and now \
             {{{to}}}: {} by {who}{now}.",
            describe_usage(&from),
            describe_usage(&to)
        ),
        format!(
            "An interrupt that arrives while {lock} is held with interrupts enabled, on the \
             same CPU, spins on {lock} forever."
        ),
        format!(
            "Fix: take {lock} with interrupts disabled where it is used outside interrupt \
             context ({}), or stop taking it in interrupt context.",
            irq_fix(irq)
        ),
    ]
    .join("\n")
}

fn explain_irq_inversion(r: &Report) -> String {
    let who = who(r);
    let class = r
        .details
        .get("irq_class")
        .cloned()
        .unwrap_or_else(|| "HARDIRQ".to_string());
    let mut lines = Vec::new();
    if let (Some(safe), Some(unsafe_)) = (
        r.details.get("irq_safe_lock"),
        r.details.get("irq_unsafe_lock"),
    ) {
        if let Some(dep) = r.details.get("new_dependency") {
            lines.push(format!(
                "{who} creates the lock dependency {dep}{}.",
                culprit(r).map(|f| format!(" in {f}")).unwrap_or_default()
            ));
        }
        lines.push(format!(
            "That connects {safe}, which is taken in {} context, to {unsafe_}, which is taken \
             with {}s enabled: an interrupt taking {safe} while {unsafe_} is held on another \
             path can deadlock.",
            class.to_ascii_lowercase(),
            class.to_ascii_lowercase()
        ));
        lines.push(format!(
            "Fix: take {unsafe_} with interrupts disabled everywhere ({}), or break the \
             dependency between {safe} and {unsafe_}.",
            irq_fix(&class)
        ));
    } else {
        let lock = r
            .acquiring
            .as_ref()
            .map(|s| s.lock.clone())
            .unwrap_or_else(|| "a lock".to_string());
        let other = r
            .details
            .get("other_lock")
            .cloned()
            .unwrap_or_else(|| "another lock".to_string());
        let direction = r.details.get("direction").cloned().unwrap_or_default();
        lines.push(format!(
            "{who} changed the state of {lock}{}; {lock} {direction} ({other}).",
            culprit(r).map(|f| format!(" in {f}")).unwrap_or_default()
        ));
        lines.push(format!(
            "An interrupt can then take {lock} and {other} in the opposite order of process \
             context: a deadlock."
        ));
        lines.push(format!(
            "Fix: take the irq-unsafe lock with interrupts disabled ({}) wherever it nests \
             with the other, or remove the nesting.",
            irq_fix(&class)
        ));
    }
    lines.join("\n")
}

fn explain_bad_unlock(r: &Report) -> String {
    let lock = r
        .acquiring
        .as_ref()
        .map(|s| s.lock.clone())
        .unwrap_or_else(|| "a lock".to_string());
    let f = stack(r, "release")
        .and_then(|s| s.frames.first())
        .map(|f| f.function.clone())
        .or_else(|| culprit(r));
    [
        format!(
            "{} released {lock}{} but holds no such lock: a double unlock, or an unlock \
             without a matching lock on some path.",
            who(r),
            f.map(|f| format!(" in {f}")).unwrap_or_default()
        ),
        "Fix: make every unlock match exactly one lock on every path (check error paths)."
            .to_string(),
    ]
    .join("\n")
}

fn explain_freed(r: &Report) -> String {
    let lock = r
        .holding
        .as_ref()
        .map(|s| format!("{}{}", s.lock, at(&s.at)))
        .unwrap_or_else(|| "a lock".to_string());
    let mem = r
        .details
        .get("memory")
        .map(|m| format!(" {m}"))
        .unwrap_or_default();
    [
        format!(
            "{} freed memory{mem}{} that contains {lock}, which is still held.",
            who(r),
            culprit(r).map(|f| format!(" in {f}")).unwrap_or_default()
        ),
        "Fix: release the lock (and make sure nobody else can take it) before freeing the \
         object that contains it."
            .to_string(),
    ]
    .join("\n")
}

/// How the task of a lock-held-at-exit report left its locks: "exited" or "returned to user
/// space".
fn exit_how(r: &Report) -> &'static str {
    if r.header.contains("returning to user space") {
        "returned to user space"
    } else {
        "exited"
    }
}

fn explain_exit(r: &Report) -> String {
    let held = held_summary(r).unwrap_or_else(|| "locks".to_string());
    [
        format!("{} {} while still holding {held}.", who(r), exit_how(r)),
        if own_held(r).count() == 1 {
            "Nothing will release it now: whoever waits for it waits forever."
        } else {
            "Nothing will release them now: whoever waits for one of them waits forever."
        }
        .to_string(),
        "Fix: release every lock on every return path, including error paths.".to_string(),
    ]
    .join("\n")
}

/// The "Likely cause" line and the fix of a hung task that waits for a lock `leak` left held.
fn leak_lines(h: &HungTask, leak: &Leak) -> [String; 2] {
    let holder = match leak.task.pid {
        Some(pid) => format!("{}/{pid}", leak.task.comm),
        None => leak.task.comm.clone(),
    };
    let held = leak.held.as_deref().unwrap_or("its locks");
    let named = h.blocker.as_ref().is_some_and(|b| b.holder.is_some());
    let how = leak.how;
    let why = if named {
        format!("{holder}, the last holder of what this task waits for, {how} while holding {held}")
    } else if how == "exited" {
        format!(
            "{holder} {how} while holding {held}, and the kernel names no holder of what this \
             task waits for (it cannot name a holder that has exited)"
        )
    } else {
        format!("{holder} {how} while holding {held}")
    };
    let released = if leak.count == 1 { "it" } else { "them" };
    [
        format!(
            "Likely cause: report #{} \"{}\": {why}; nobody will release {released}.",
            leak.number, leak.title
        ),
        format!(
            "Fix: {holder} {how} without releasing {held}, so this task waits forever: release \
             every lock on every return path, including error paths."
        ),
    ]
}

fn explain_rcu(r: &Report) -> String {
    let what = match (
        r.details.get("file"),
        r.details.get("line"),
        r.details.get("message"),
    ) {
        (Some(f), Some(l), Some(m)) => format!("{f}:{l}: {m}"),
        (_, _, Some(m)) => m.clone(),
        _ => "suspicious RCU usage".to_string(),
    };
    let mut lines = vec![format!(
        "{what}, reported for {}{}.",
        who(r),
        culprit(r).map(|f| format!(" in {f}")).unwrap_or_default()
    )];
    if let Some(held) = held_summary(r) {
        lines.push(format!("Locks held at that point: {held}."));
    }
    let msg = r.details.get("message").map(String::as_str).unwrap_or("");
    if msg.contains("context switch") || msg.contains("sleep") {
        lines.push("Fix: do not sleep inside an RCU read-side critical section.".to_string());
    } else {
        lines.push(
            "Fix: hold rcu_read_lock() (or the update-side lock the check names) around the \
             access, or use the accessor that matches the protection actually held."
                .to_string(),
        );
    }
    lines.join("\n")
}

fn explain_sleep(r: &Report) -> String {
    let loc = match (r.details.get("file"), r.details.get("line")) {
        (Some(f), Some(l)) => format!(" (might_sleep at {f}:{l})"),
        _ => String::new(),
    };
    let ctx: Vec<String> = ["in_atomic", "irqs_disabled", "preempt_count"]
        .iter()
        .filter_map(|k| r.details.get(*k).map(|v| format!("{k}={v}")))
        .collect();
    let mut lines = vec![format!(
        "{} called a function that may sleep{loc} from atomic context{}{}.",
        who(r),
        culprit(r).map(|f| format!(" in {f}")).unwrap_or_default(),
        if ctx.is_empty() {
            String::new()
        } else {
            format!(" ({})", ctx.join(", "))
        }
    )];
    if let Some(held) = held_summary(r) {
        lines.push(format!(
            "Locks held: {held}; a spinlock among them makes the context atomic."
        ));
    }
    lines.push(
        "Fix: do not sleep in atomic context: release the spinlock or re-enable interrupts \
         first, use a sleeping lock (mutex, semaphore) instead, or use a non-sleeping variant."
            .to_string(),
    );
    lines.join("\n")
}

fn state_name(state: &str) -> &'static str {
    match state {
        "D" => "uninterruptible sleep",
        "S" => "interruptible sleep",
        "R" => "running",
        "T" => "stopped",
        "t" => "traced",
        "I" => "idle",
        "X" => "dead",
        "Z" => "zombie",
        _ => "unknown state",
    }
}

fn explain_hung(r: &Report, earlier: &History) -> String {
    let mut lines = Vec::new();
    let Some(h) = &r.hung_task else {
        return "A task is blocked for too long.".to_string();
    };
    let HungTask {
        comm,
        pid,
        seconds,
        state,
        blocked_in,
        waiting_on,
        called_from,
        summary,
        blocker: _,
    } = h;
    let state = state
        .as_ref()
        .map(|s| format!(" in state {s} ({})", state_name(s)))
        .unwrap_or_default();
    lines.push(format!(
        "Task {comm} (pid {pid}) has been blocked for more than {seconds} seconds{state}."
    ));
    let reached = first_interesting(main_frames(r)).map(str::to_string);
    if let Some(b) = blocked_in {
        let on = waiting_on
            .as_ref()
            .map(|w| format!(" on a {w}"))
            .unwrap_or_default();
        let from = called_from
            .as_ref()
            .map(|c| format!(", called from {c}"))
            .unwrap_or_default();
        let via = match (&reached, called_from) {
            (Some(f), Some(c)) if f != c => format!(", in {f}"),
            (Some(f), None) => format!(", in {f}"),
            _ => String::new(),
        };
        lines.push(format!("It is blocked in {b}{on}{from}{via}."));
    }
    if !summary.is_empty() {
        lines.push(format!("Stack (innermost first): {}", summary.join(" <- ")));
    }
    if let Some(held) = held_summary(r) {
        lines.push(format!("It holds {held}."));
    }
    let others: Vec<String> = r
        .held_locks
        .iter()
        .filter(|l| !(l.task == *comm && l.pid == Some(*pid)))
        .map(|l| {
            let p = l.pid.map(|p| format!("/{p}")).unwrap_or_default();
            format!("{}{p} holds {}", l.task, l.lock)
        })
        .collect();
    if !others.is_empty() {
        lines.push(format!("Other held locks: {}.", others.join("; ")));
    }
    if r.held_locks.is_empty() && (lockdep_off(r) || earlier.lockdep_off) {
        lines.push(
            "Held locks are not known: lockdep was turned off by an earlier report.".to_string(),
        );
    }
    if let Some(cause) = &earlier.cause {
        lines.push(format!("Likely cause: {}.", cause.mention(comm, *pid)));
    }
    match earlier.leak_for(h) {
        Some(leak) => lines.extend(leak_lines(h, leak)),
        None => lines.push(
            "Fix: find who holds what this task waits for (a lock-order report above, or \
             SysRq-d \"show all locks\") and fix the ordering or the missing release."
                .to_string(),
        ),
    }
    lines.join("\n")
}

/// Spinning on a spinlock (or rwlock): the slow paths and the raw lock functions.
const SPIN_WAITS: &[&str] = &[
    "queued_spin_lock_slowpath",
    "native_queued_spin_lock_slowpath",
    "__pv_queued_spin_lock_slowpath",
    "queued_read_lock_slowpath",
    "queued_write_lock_slowpath",
    "do_raw_spin_lock",
    "do_raw_read_lock",
    "do_raw_write_lock",
    "_raw_spin_lock",
    "_raw_read_lock",
    "_raw_write_lock",
    "__raw_spin_lock",
    "arch_spin_lock",
    "rust_helper_spin_lock",
];

/// True for a function that takes a spinlock (or spins for one).
fn is_spin_wait(function: &str) -> bool {
    let f = base(function);
    SPIN_WAITS.iter().any(|p| f.starts_with(p))
}

/// Whether a function is where x86 enters an interrupt or exception from the code it stops
/// (`asm_sysvec_apic_timer_interrupt`, `asm_common_interrupt`, `asm_exc_page_fault`, ...).
fn is_interrupt_entry(function: &str) -> bool {
    let f = base(function);
    f.starts_with("asm_")
        && ["sysvec", "interrupt", "nmi", "exc_"]
            .iter()
            .any(|w| f.contains(w))
}

/// The reliable frames of the code a report's CPU was running itself, below the outermost
/// interrupt entry, when an interrupt came on top of it (the soft-lockup detector's own timer
/// interrupt may find the CPU inside another interrupt's softirqs); `None` when none did.
fn own_frames(r: &Report) -> Option<Vec<&Frame>> {
    let reliable: Vec<&Frame> = main_frames(r).iter().filter(|f| f.reliable).collect();
    let entry = reliable
        .iter()
        .rposition(|f| is_interrupt_entry(&f.function))?;
    Some(reliable[entry + 1..].to_vec())
}

/// Where a soft-locked CPU spins for a spinlock, when it does: a spinlock's slow path among the
/// innermost reliable frames of the code the CPU was running itself, below an interrupt that
/// came on top of it (then also those frames); else the `RIP:` function or one of the innermost
/// reliable frames of the whole stack (an interrupt that spins for a lock its own CPU holds).
fn spin_site(r: &Report) -> Option<(&str, Option<Vec<&Frame>>)> {
    if let Some(own) = own_frames(r) {
        let spin = own.iter().take(3).find(|f| is_spin_wait(&f.function));
        if let Some(spin) = spin {
            return Some((spin.function.as_str(), Some(own)));
        }
    }
    let rip = stack(r, "rip").and_then(|s| s.frames.first());
    let frames = main_frames(r).iter().filter(|f| f.reliable).take(3);
    rip.into_iter()
        .chain(frames)
        .map(|f| f.function.as_str())
        .find(|f| is_spin_wait(f))
        .map(|spin| (spin, None))
}

/// The function a soft-locked CPU is reported in: where its task spins when an interrupt came on
/// top of the spin, else the report's culprit.
fn soft_lockup_place(r: &Report) -> Option<String> {
    if let Some((_, Some(own))) = spin_site(r) {
        let own: Vec<Frame> = own.into_iter().cloned().collect();
        if let Some(f) = first_interesting(&own) {
            return Some(f.to_string());
        }
    }
    culprit(r)
}

fn explain_soft_lockup(r: &Report, earlier: &History) -> String {
    let cpu = r
        .details
        .get("cpu")
        .map_or_else(|| "A CPU".to_string(), |c| format!("CPU#{c}"));
    let seconds = r
        .details
        .get("seconds")
        .map_or_else(String::new, |s| format!(" for {s} seconds"));
    let f = soft_lockup_place(r);
    let place = f.as_ref().map(|f| format!(", in {f}")).unwrap_or_default();
    let mut lines = vec![format!(
        "{cpu} has spun in kernel code without scheduling{seconds} (task {}{place}).",
        who(r)
    )];
    match spin_site(r).map(|(site, _)| site) {
        Some(spin) => lines.push(format!(
            "It spins for a spinlock (in {spin}) that its holder does not release."
        )),
        // A report cut off before its stack may spin for a lock too.
        None if stack(r, "rip").is_none() && main_frames(r).is_empty() => {}
        None => {
            lines.push(format!(
                "Fix: find why {} loops without end or waits for something that never \
                 happens; a long loop in kernel code must call cond_resched().",
                f.as_deref().unwrap_or("the code")
            ));
            return lines.join("\n");
        }
    }
    let task = r.tasks.first();
    let cause = earlier.cause.as_ref().filter(|c| c.spinlocks);
    match (cause, task.and_then(|t| Some((t.comm.as_str(), t.pid?)))) {
        (Some(c), Some((comm, pid))) if c.is_recursive() => {
            lines.push(format!(
                "Likely cause: {}: the task spins on a spinlock it already holds, and a \
                 spinning CPU never schedules: nothing will ever release it.",
                c.mention(comm, pid)
            ));
            lines.push(RECURSIVE_FIX.to_string());
        }
        (Some(c), Some((comm, pid))) => {
            lines.push(format!(
                "Likely cause: {}: the CPUs spin on each other's spinlocks (an AB-BA deadlock on \
                 spinlocks), and a spinning CPU never schedules: no lock of the cycle is ever \
                 released.",
                c.mention(comm, pid)
            ));
            let order = global_order(&c.cycle);
            lines.push(if order.len() >= 2 {
                format!(
                    "Fix: take {} in one global order everywhere (always {}).",
                    lock_list(&order),
                    order.join(" before ")
                )
            } else {
                format!(
                    "Fix: take the locks of report #{} in one global order everywhere.",
                    c.number
                )
            });
        }
        _ => lines.push(
            "Fix: find the spinlock's holder (another CPU's soft-lockup report or backtrace) \
             and why it does not release it: it spins itself for a lock this CPU holds (take \
             the locks in one global order), or it returned without unlocking."
                .to_string(),
        ),
    }
    lines.join("\n")
}

fn explain_generic(r: &Report) -> String {
    let mut s = format!("{}: reported for {}", r.header.trim(), who(r));
    if let Some(f) = culprit(r) {
        s.push_str(&format!(" in {f}"));
    }
    if let (Some(file), Some(line)) = (r.details.get("file"), r.details.get("line")) {
        s.push_str(&format!(" ({file}:{line})"));
    }
    s.push('.');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boring() {
        assert!(is_boring("kernel::sync::lock::Lock::lock"));
        assert!(is_boring("_raw_spin_lock_irqsave"));
        assert!(is_boring("down"));
        assert!(is_boring("__lock_acquire.constprop.0"));
        assert!(is_boring("rust_helper_spin_lock"));
        assert!(is_boring("rust_deadlock::scenario::Ctx::waits_on"));
        assert!(is_boring(
            "rust_deadlock::semaphore::SemaphoreBackend::acquire"
        ));
        assert!(!is_boring("rust_deadlock::abba::AbBa::thread_b"));
        assert!(!is_boring("download_firmware"));
        assert!(!is_boring("kthread_worker_fn"));
    }

    #[test]
    fn usage_text() {
        assert_eq!(describe_usage("IN-SOFTIRQ-W"), "taken in softirq context");
        assert_eq!(
            describe_usage("SOFTIRQ-ON-W"),
            "taken with softirqs enabled"
        );
        assert_eq!(
            describe_usage("HARDIRQ-ON-R"),
            "taken for reading with hardirqs enabled"
        );
    }
}
