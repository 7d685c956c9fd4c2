//! Analysis: what the extracted facts mean. The title and its culprit function (syzbot's
//! style: the first *interesting* frame, i.e. not lockdep, the stack dumper, the scheduler, a
//! locking primitive or a `kernel::sync` wrapper), what a hung task is blocked in, where a
//! soft-locked CPU spins, and the wait-for graph of the hung tasks ([`waitfor`]).

pub mod waitfor;

use crate::lex::functions::{
    base, is_boring, is_interrupt_entry, is_scheduler, is_spin_wait, primitive,
};
use crate::lex::unbracket;
use crate::model::{Frame, Report, ReportKind, Stack};

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
    let h = unbracket(r.header.trim());
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

/// The reliable frames of the code a report's CPU was running itself, below the outermost
/// interrupt entry, when an interrupt came on top of it (the soft-lockup detector's own timer
/// interrupt may find the CPU inside another interrupt's softirqs); `None` when none did.
pub(crate) fn own_frames(r: &Report) -> Option<Vec<&Frame>> {
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
pub(crate) fn spin_site(r: &Report) -> Option<(&str, Option<Vec<&Frame>>)> {
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
pub(crate) fn soft_lockup_place(r: &Report) -> Option<String> {
    if let Some((_, Some(own))) = spin_site(r) {
        let own: Vec<Frame> = own.into_iter().cloned().collect();
        if let Some(f) = first_interesting(&own) {
            return Some(f.to_string());
        }
    }
    culprit(r)
}
