//! Analysis: what the extracted facts mean. The title and its culprit function (syzbot's
//! style: the first *interesting* frame, i.e. not lockdep, the stack dumper, the scheduler, a
//! locking primitive or a `kernel::sync` wrapper), what a hung task is blocked in, where a
//! soft-locked CPU spins, and the wait-for graph of the hung tasks ([`waitfor`]).

pub mod title;
pub mod waitfor;

pub use title::{alt_titles, base_function, title, title_function, title_functions, titles};

use crate::lex::functions::{
    base, is_boring, is_interrupt_entry, is_irq_entry, is_scheduler, is_softirq_dispatch,
    is_spin_wait, primitive,
};
use crate::model::{Frame, Report, ReportKind, Stack};

/// The first reliable, interesting frame of a stack. In symbolized stacks (syzbot,
/// `decode_stacktrace.sh`), frames inlined into the next one (`f file.c:12 [inline]`, no
/// offset) are skipped like syzbot does: the title names the function that was called.
pub fn first_interesting(frames: &[Frame]) -> Option<&str> {
    let has_offsets = frames.iter().any(|f| f.offset().is_some());
    frames
        .iter()
        .filter(|f| {
            f.reliable && (!has_offsets || f.offset().is_some() || !f.raw().ends_with("[inline]"))
        })
        .find(|f| !is_boring(f.function()))
        .map(|f| f.function())
}

pub(crate) fn stack<'a>(r: &'a Report, context: &str) -> Option<&'a Stack> {
    r.stacks.iter().find(|s| s.context == context)
}

/// The frames of the report's main trace (`backtrace`, `hung task`), if any.
pub(crate) fn main_frames(r: &Report) -> &[Frame] {
    stack(r, "backtrace")
        .or_else(|| stack(r, "hung task"))
        .map(|s| s.frames.as_slice())
        .unwrap_or(&[])
}

/// The function where the reporting task did what the report is about.
pub(crate) fn culprit(r: &Report) -> Option<String> {
    if r.kind == ReportKind::Generic {
        if let Some(f) = r.details.get("function") {
            return Some(f.clone());
        }
        if let Some(f) = r.details.get("rip").filter(|f| !is_boring(f)) {
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
        return Some(f.function().to_string());
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

/// Fills `hung_task` analysis fields (summary, blocking primitive).
pub fn analyse_hung(r: &mut Report) {
    let Some(h) = r.hung_task.as_mut() else {
        return;
    };
    let frames: &[Frame] = r
        .stacks
        .iter()
        .find(|s| s.context == "hung task")
        .map_or(&[], |s| s.frames.as_slice());
    let summary: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.reliable && !is_scheduler(f.function()))
        .collect();
    h.summary = summary.iter().map(|f| f.function().to_string()).collect();
    let first_prim = summary
        .iter()
        .take(3)
        .position(|f| primitive(f.function()).is_some());
    if let Some(start) = first_prim {
        let mut last = start;
        while last + 1 < summary.len() && primitive(summary[last + 1].function()).is_some() {
            last += 1;
        }
        let api = base(summary[last].function());
        h.blocked_in = Some(format!("{api}()"));
        h.waiting_on = primitive(api).map(str::to_string);
        h.called_from = summary.get(last + 1).map(|f| f.function().to_string());
    } else if let Some(first) = summary.first() {
        h.blocked_in = Some(format!("{}()", base(first.function())));
    }
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
                | ReportKind::InvalidWaitContext
        )
}

/// The reliable frames of the code a report's CPU was running itself, below the outermost
/// interrupt entry, when an interrupt came on top of it (the soft-lockup detector's own timer
/// interrupt may find the CPU inside another interrupt's softirqs); `None` when none did.
pub(crate) fn own_frames(r: &Report) -> Option<Vec<&Frame>> {
    let reliable: Vec<&Frame> = main_frames(r).iter().filter(|f| f.reliable).collect();
    let entry = reliable
        .iter()
        .rposition(|f| is_interrupt_entry(f.function()))?;
    Some(reliable[entry + 1..].to_vec())
}

/// The kind of interrupt a report's code ran in ("hard interrupt", "softirq" or "NMI"), and its
/// handler's function: the report's first interesting frame, when it lies above the outermost
/// interrupt entry of the main trace (the interrupt came in on top of the report's task, which is
/// only the task it interrupted). `None`: the code ran in the task's own context.
pub(crate) fn interrupt_handler(r: &Report) -> Option<(&'static str, &str)> {
    let frames = main_frames(r);
    let entry = frames
        .iter()
        .rposition(|f| f.reliable && is_irq_entry(f.function()))?;
    let handler = first_interesting(&frames[..entry])?;
    let mut inner = frames[..entry].iter().filter(|f| f.reliable);
    let kind = if base(frames[entry].function()).contains("nmi") {
        "NMI"
    } else if inner.any(|f| is_softirq_dispatch(f.function())) {
        "softirq"
    } else {
        "hard interrupt"
    };
    Some((kind, handler))
}

/// Where a soft-locked CPU spins for a spinlock, when it does: a spinlock's slow path among the
/// innermost reliable frames of the code the CPU was running itself, below an interrupt that
/// came on top of it (then also those frames); else the `RIP:` function or one of the innermost
/// reliable frames of the whole stack (an interrupt that spins for a lock its own CPU holds).
pub(crate) fn spin_site(r: &Report) -> Option<(&str, Option<Vec<&Frame>>)> {
    if let Some(own) = own_frames(r) {
        let spin = own.iter().take(3).find(|f| is_spin_wait(f.function()));
        if let Some(spin) = spin {
            return Some((spin.function(), Some(own)));
        }
    }
    let rip = stack(r, "rip").and_then(|s| s.frames.first());
    let frames = main_frames(r).iter().filter(|f| f.reliable).take(3);
    rip.into_iter()
        .chain(frames)
        .map(|f| f.function())
        .find(|f| is_spin_wait(f))
        .map(|spin| (spin, None))
}

/// The function a soft-locked CPU is reported in: where its task spins when an interrupt came on
/// top of the spin, else the report's culprit.
pub(crate) fn soft_lockup_place(r: &Report) -> Option<String> {
    if let Some((_, Some(own))) = spin_site(r) {
        let own: Vec<Frame> = own.into_iter().cloned().collect();
        if let Some(f) = first_interesting(&own) {
            return Some(f.to_string());
        }
    }
    culprit(r)
}
