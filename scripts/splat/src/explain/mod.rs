//! Explanations: prose written from the facts that extraction and analysis found.

pub mod waitfor;

use crate::analyze::title::{loop_entry_frame, title_function};
use crate::analyze::{
    culprit, first_interesting, interrupt_handler, lockdep_off, main_frames, own_frames,
    soft_lockup_place, spin_site, stack,
};
use crate::lex::functions::{is_spin_wait, primitive};
use crate::model::{HeldLock, HungTask, Report, ReportKind, Task};

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
    /// The last inconsistent-lock-state report, for a hard lockup after it.
    irq_state: Option<IrqState>,
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
                .any(|f| f.reliable && is_spin_wait(f.function())),
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

/// An inconsistent-lock-state report, remembered for a hard lockup after it: the interrupt it
/// warns about may have come.
#[derive(Debug, Clone)]
struct IrqState {
    /// The report's 1-based number.
    number: usize,
    title: String,
    /// The lock taken both in interrupt context and with interrupts enabled.
    lock: String,
    /// `HARDIRQ` or `SOFTIRQ`.
    class: &'static str,
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
        if let (ReportKind::InconsistentLockState, Some(lock)) = (r.kind, r.acquiring.as_ref()) {
            let usage = |k: &str| r.details.get(k).map_or("", String::as_str);
            let soft =
                usage("from_usage").contains("SOFTIRQ") || usage("to_usage").contains("SOFTIRQ");
            self.irq_state = Some(IrqState {
                number: self.count,
                title: r.title.clone(),
                lock: lock.lock.clone(),
                class: if soft { "SOFTIRQ" } else { "HARDIRQ" },
            });
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
/// An explanation as parts, rendered once into [`Report::explanation`]: the lines that tell
/// what happened, the fix, and whether the report is cut off. A hung task's parts are rendered
/// with what the wait-for graph says about it (`explain::waitfor`), which goes before the fix
/// and, for a cycle, replaces it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prose {
    lines: Vec<String>,
    fix: Option<String>,
    truncated: bool,
}

impl Prose {
    /// The explanation's text, with the wait-for graph's lines and fix (empty when its task
    /// printed no blocker line).
    pub(crate) fn render(self, wait: (Vec<String>, Option<String>)) -> String {
        let (wait_lines, wait_fix) = wait;
        let mut lines = self.lines;
        lines.extend(wait_lines);
        lines.extend(wait_fix.or(self.fix));
        if self.truncated {
            lines.push(
                "(The report is cut off: the log ends or moves on before the report's end.)"
                    .to_string(),
            );
        }
        lines.join("\n")
    }
}

/// The explanation of a report, from its facts and what the reports before it said.
pub(crate) fn explain(r: &Report, earlier: &History) -> Prose {
    let text = match r.kind {
        ReportKind::CircularDependency => explain_circular(r),
        ReportKind::RecursiveLocking => explain_recursive(r),
        ReportKind::InconsistentLockState => explain_inconsistent(r),
        ReportKind::IrqLockInversion => explain_irq_inversion(r),
        ReportKind::BadUnlockBalance => explain_bad_unlock(r),
        ReportKind::HeldLockFreed => explain_freed(r),
        ReportKind::LockHeldAtExit => explain_exit(r),
        ReportKind::SuspiciousRcuUsage => explain_rcu(r),
        ReportKind::SleepInAtomic => explain_sleep(r),
        ReportKind::HungTask => {
            let (lines, fix) = explain_hung(r, earlier);
            return Prose {
                lines,
                fix,
                truncated: r.truncated,
            };
        }
        ReportKind::SoftLockup => explain_soft_lockup(r, earlier),
        ReportKind::HardLockup => explain_hard_lockup(r, earlier),
        ReportKind::SchedulingWhileAtomic => explain_sched_atomic(r),
        ReportKind::InvalidWaitContext => explain_wait_context(r),
        ReportKind::SpinlockBug => explain_spinlock_bug(r),
        ReportKind::Generic => explain_generic(r),
    };
    Prose {
        lines: vec![text],
        fix: None,
        truncated: r.truncated,
    }
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
        let work =
            |l: &&String| l.starts_with("(work_completion)") || l.starts_with("(wq_completion)");
        // A two-lock cycle through a work item: a lock held around a flush that the item takes.
        if let (Some(w), 2) = (r.cycle.iter().find(work), unique.len()) {
            let others: Vec<&str> = unique
                .iter()
                .filter(|l| !work(l))
                .map(String::as_str)
                .collect();
            lines.push(format!(
                "{w} is not a lock but a wait: flushing or cancelling a work item \
                 (flush_work, cancel_work_sync, flush_workqueue) waits until it has run."
            ));
            lines.push(format!(
                "Fix: do not flush or cancel-and-wait for the work while holding {}, which the \
                 work item takes: flush first, then take the lock (or let the work item do \
                 without it).",
                others.join(", ")
            ));
            return lines.join("\n");
        }
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
        .map(|f| f.function().to_string())
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
    if let Some((kind, handler)) = interrupt_handler(r) {
        let count = r
            .details
            .get("preempt_count")
            .map(|c| format!(" (preempt_count {c})"))
            .unwrap_or_default();
        lines.push(format!(
            "It ran in a {kind}{count}: {handler} is interrupt code, which runs on top of the task \
             it interrupted ({}) and can never sleep, whatever locks are held.",
            who(r)
        ));
        if let Some(held) = held_summary(r) {
            lines.push(format!("Locks held: {held}."));
        }
        lines.push(SLEEP_IN_INTERRUPT_FIX.to_string());
        return lines.join("\n");
    }
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

/// The fix of a sleeping call in interrupt code.
const SLEEP_IN_INTERRUPT_FIX: &str = "Fix: move the sleeping work out of the interrupt handler, \
     e.g. to a work item (queue_work) or a threaded interrupt handler, which run in process \
     context and may sleep; in the handler itself take only spinlocks.";

/// The first frame of a stack, by context name.
fn first_frame<'a>(r: &'a Report, context: &str) -> Option<&'a str> {
    stack(r, context)
        .and_then(|s| s.frames.first())
        .map(|f| f.function())
}

fn explain_sched_atomic(r: &Report) -> String {
    let count = r
        .details
        .get("preempt_count")
        .map(|c| format!(" (preempt_count {c})"))
        .unwrap_or_default();
    let mut lines = vec![format!(
        "{} called the scheduler (it slept or blocked) while atomic{count}{}.",
        who(r),
        culprit(r).map(|f| format!(", in {f}")).unwrap_or_default()
    )];
    if let Some(site) = first_frame(r, "preemption disabled") {
        lines.push(format!("Preemption was disabled at {site}."));
    }
    let rt = main_frames(r)
        .iter()
        .any(|f| f.function().starts_with("rt_spin_lock") || f.function().starts_with("rtlock_"));
    if rt {
        lines.push(
            "On PREEMPT_RT a spinlock_t is a sleeping lock: it was taken in atomic context \
             (hard interrupt, or preemption disabled)."
                .to_string(),
        );
    }
    lines.push(
        "Fix: do not sleep in atomic context: move the sleeping call out of the section that \
         disables preemption (spinlock, interrupt handler); a lock taken in hard interrupt \
         context on PREEMPT_RT must be a raw_spinlock_t."
            .to_string(),
    );
    lines.join("\n")
}

/// A lockdep wait type (`{3:3}`'s inner number): what kind of lock may be taken in it.
fn wait_type_name(w: &str) -> &'static str {
    let inner = w
        .trim_matches(|c| c == '{' || c == '}')
        .rsplit(':')
        .next()
        .unwrap_or("");
    match inner {
        "1" => "no waiting",
        "2" => "spinning: raw_spinlock_t",
        "3" => "spinlock_t, which sleeps on PREEMPT_RT",
        "4" => "sleeping: mutex, rw_semaphore",
        _ => "unknown wait type",
    }
}

/// Whether the report's main trace goes through a sleeping lock's slow path (`__mutex_lock`,
/// `down_write`, ...) above its first interesting frame: the lock being taken is a sleeping one.
fn takes_sleeping_lock(r: &Report) -> bool {
    let frames = main_frames(r);
    let first = first_interesting(frames);
    frames
        .iter()
        .filter(|f| f.reliable)
        .take_while(|f| Some(f.function()) != first)
        .any(|f| primitive(f.function()).is_some())
}

fn explain_wait_context(r: &Report) -> String {
    let mut lines = Vec::new();
    let lock = r.acquiring.as_ref();
    let class = lock.and_then(|a| r.lock(&a.lock));
    // The held locks whose inner wait type is below the new lock's outer one forbid it: a lock
    // that may wait longer (sleep) taken inside one that may not. The numbers differ between
    // kernels (PROVE_RAW_LOCK_NESTING adds one), their order does not.
    let level = |w: Option<&str>, inner: bool| -> Option<u32> {
        let (outer, inner_) = w?.trim_matches(|c| c == '{' || c == '}').split_once(':')?;
        (if inner { inner_ } else { outer }).parse().ok()
    };
    let wanted = class.and_then(|c| level(c.wait_type.as_deref(), false));
    // A task's own context is the highest wait type: {5:5} with PROVE_RAW_LOCK_NESTING, where a
    // sleeping lock is 4, and {4:4} without, where it is 3. Only a sleeping lock is explained
    // here; a spinlock_t inside a raw spinlock is the case below.
    let interrupt = interrupt_handler(r);
    let sleeping = match level(r.details.get("context").map(String::as_str), true) {
        Some(5) => Some(4),
        Some(4) => Some(3),
        // In interrupt code the context's number does not tell the numbering; a sleeping lock's
        // own slow path on the stack does (its wait type is then the sleeping one).
        _ if interrupt.is_some() && takes_sleeping_lock(r) => wanted,
        _ => None,
    };
    // Without PROVE_RAW_LOCK_NESTING, spinlock_t and raw_spinlock_t share 2 and sleeping is 3.
    let name = |w: &str| match (sleeping, level(Some(w), true)) {
        (Some(3), Some(2)) => "spinning: spinlock_t, raw_spinlock_t",
        (Some(3), Some(3)) => "sleeping: mutex, rw_semaphore",
        _ => wait_type_name(w),
    };
    if let Some(a) = lock {
        let wait = class
            .and_then(|c| c.wait_type.as_deref())
            .map(|w| format!(" (wait type {w}: {})", name(w)))
            .unwrap_or_default();
        let site =
            a.at.as_ref()
                .map(|f| format!(" in {f}"))
                .unwrap_or_default();
        lines.push(format!("{} tries to take {}{wait}{site}.", who(r), a.lock));
    }
    let narrower: Vec<&str> = own_held(r)
        .filter(|h| {
            let inner = r
                .lock(&h.lock)
                .and_then(|c| level(c.wait_type.as_deref(), true));
            matches!((inner, wanted), (Some(i), Some(w)) if i < w)
        })
        .map(|h| h.lock.as_str())
        .collect();
    if let (Some(a), false, true) = (lock, narrower.is_empty(), wanted == sleeping) {
        let held = narrower.join(", ");
        lines.push(format!(
            "It holds {held}, inside which {} may not be taken: it may wait longer (sleep) than \
             {held} allows.",
            a.lock
        ));
        lines.push(format!(
            "Fix: take {} before {held} (or after releasing it): move what may sleep out of the \
             atomic section.",
            a.lock
        ));
        return lines.join("\n");
    }
    if let (Some(a), Some((kind, handler)), true) = (lock, interrupt, wanted == sleeping) {
        let ctx = r
            .details
            .get("context")
            .map(|c| format!(" (lockdep's wait context there is {c}, below a task's)"))
            .unwrap_or_default();
        lines.push(format!(
            "It takes it in a {kind}{ctx}: {handler} is interrupt code, which runs on top of the \
             task it interrupted and can never sleep, and {} is a lock that sleeps when it is taken.",
            a.lock
        ));
        lines.push(SLEEP_IN_INTERRUPT_FIX.to_string());
        return lines.join("\n");
    }
    if let Some(ctx) = r.details.get("context") {
        lines.push(format!(
            "lockdep's wait context there is {ctx}: the lock's wait type is not allowed in it."
        ));
    }
    let strict: Vec<String> = own_held(r)
        .filter_map(|h| {
            let w = r.lock(&h.lock)?.wait_type.as_deref()?;
            (wait_type_name(w) == "spinning: raw_spinlock_t")
                .then(|| format!("{}{}", h.lock, at(&h.at)))
        })
        .collect();
    if !strict.is_empty() {
        lines.push(format!("It holds raw spinlocks: {}.", strict.join(", ")));
    }
    lines.push(format!(
        "Fix: make {} a raw_spinlock_t (if its sections are short and never sleep), or take it \
         outside the raw spinlock / atomic section.",
        lock.map_or("the lock", |a| a.lock.as_str())
    ));
    lines.join("\n")
}

fn explain_spinlock_bug(r: &Report) -> String {
    let what = r.details.get("spinlock_bug").map_or("bug", String::as_str);
    let lock = r.details.get("lock").map_or("a spinlock", String::as_str);
    let cpu = r
        .details
        .get("cpu")
        .map(|c| format!(" on CPU#{c}"))
        .unwrap_or_default();
    let owner = match (r.details.get("owner"), r.details.get("owner_cpu")) {
        (Some(o), Some(c)) => format!(" (owner {o} on CPU#{c})"),
        (Some(o), None) => format!(" (owner {o})"),
        _ => String::new(),
    };
    let place = culprit(r).map(|f| format!(" in {f}")).unwrap_or_default();
    let mut lines = vec![format!(
        "{}{cpu}: spinlock {what} on {lock}{owner}{place}.",
        who(r)
    )];
    let fix = match what {
        "recursion" | "cpu recursion" => {
            "Fix: the lock is taken again by the CPU that holds it (a callback, an interrupt or \
             a printk under the lock): do not call code that takes it while holding it, or \
             defer that call (a work item) until the lock is released."
        }
        "lockup suspected" => {
            "Fix: another CPU holds the lock far too long or never releases it: find the \
             owner's path that misses the unlock or loops under the lock."
        }
        _ => {
            "Fix: the lock is released by a task or CPU that does not hold it (or is corrupt): \
             make every unlock match a lock on the same path."
        }
    };
    lines.push(fix.to_string());
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

/// A hung task's explanation: the lines, and the fix.
fn explain_hung(r: &Report, earlier: &History) -> (Vec<String>, Option<String>) {
    let mut lines = Vec::new();
    let Some(h) = &r.hung_task else {
        return (vec!["A task is blocked for too long.".to_string()], None);
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
    // A blocking primitive below the one named (`folio_wait_bit_common` under
    // `folio_wait_writeback`) is not where the task's own code reached.
    let reached = first_interesting(main_frames(r))
        .filter(|f| primitive(f).is_none())
        .map(str::to_string);
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
    let held = held_summary(r);
    let fix = match (earlier.leak_for(h), waiting_on.as_deref(), &held) {
        (Some(leak), _, _) => {
            let [cause, fix] = leak_lines(h, leak);
            lines.push(cause);
            fix
        }
        // A wait lockdep does not track, with locks held: what it waits for may need them.
        (None, Some(what @ ("completion" | "work item")), Some(held)) => format!(
            "Fix: do not wait for a {what} while holding {held}: lockdep cannot see this wait, \
             and if the completer (or the work item) needs one of these locks, neither can go \
             on. Release the locks before waiting, or complete without taking them."
        ),
        // Waiting for a buffer's or a page's I/O: no task holds it, a device (or the layer
        // beneath the file system) has not completed it.
        (None, Some("page writeback" | "buffer I/O" | "bit wait (buffer or page I/O)"), _) => {
            "Fix: the task waits for I/O that has not completed: look below it, at the device \
             and its driver (a stuck, failing or throttled device, a lost interrupt, a remote \
             server that stopped answering), not at a lock order; SysRq-w lists the other tasks \
             blocked behind the same I/O."
                .to_string()
        }
        (None, _, _) => {
            "Fix: find who holds what this task waits for (a lock-order report above, or \
                 SysRq-d \"show all locks\") and fix the ordering or the missing release."
                .to_string()
        }
    };
    (lines, Some(fix))
}

fn explain_hard_lockup(r: &Report, earlier: &History) -> String {
    let cpu = r
        .details
        .get("cpu")
        .map_or_else(|| "A CPU".to_string(), |c| format!("CPU#{c}"));
    let by = r
        .details
        .get("detected_by")
        .map_or_else(String::new, |c| format!(" (CPU#{c} noticed)"));
    let task = if r.tasks.is_empty() {
        String::new()
    } else {
        format!(", running {}", who(r))
    };
    let mut lines = vec![format!(
        "{cpu} took no timer interrupt for the hard-lockup detector's whole period{by}: it runs \
         with interrupts disabled and has not enabled them since{task}."
    )];
    let handler = title_function(r);
    let interrupted = own_frames(r).and(loop_entry_frame(r));
    // A spin in the CPU's innermost frames, above an interrupt entry: the handler spins.
    let spin = spin_site(r).map(|(spin, own)| (spin, own.is_none()));
    match (spin, interrupted) {
        (Some((spin, true)), Some(interrupted)) => lines.push(format!(
            "An interrupt handler{} spins for a spinlock (in {spin}) with interrupts off. The \
             interrupt came in on top of {} in {interrupted}: if that code holds the lock, it \
             never runs again to release it, and the CPU spins forever.",
            handler.map(|f| format!(" ({f})")).unwrap_or_default(),
            who(r)
        )),
        (Some((spin, _)), _) => lines.push(format!(
            "It spins for a spinlock (in {spin}), interrupts off, that its holder does not release."
        )),
        (None, _) => {
            lines.push(format!(
                "Fix: find why {} loops with interrupts disabled; code that disables interrupts \
                 must enable them again within microseconds.",
                handler.as_deref().unwrap_or("the code")
            ));
            return lines.join("\n");
        }
    }
    match &earlier.irq_state {
        Some(c) => {
            lines.push(format!(
                "Likely cause: report #{} \"{}\": {} is taken in interrupt context and, \
                 elsewhere, with interrupts enabled; the interrupt came while it was held.",
                c.number, c.title, c.lock
            ));
            lines.push(format!(
                "Fix: take {} with interrupts disabled where it is used outside interrupt \
                 context ({}), or stop taking it in interrupt context.",
                c.lock,
                irq_fix(c.class)
            ));
        }
        None => lines.push(
            "Fix: a spinlock that an interrupt handler takes must be taken with interrupts \
             disabled everywhere else (spin_lock_irqsave()), or the handler must not take it."
                .to_string(),
        ),
    }
    lines.join("\n")
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
    let context = match (r.tasks.is_empty(), f.as_ref()) {
        (false, _) => format!(" (task {}{place})", who(r)),
        (true, Some(f)) => format!(" (in {f})"),
        (true, None) => String::new(),
    };
    let mut lines = vec![format!(
        "{cpu} has spun in kernel code without scheduling{seconds}{context}."
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
