//! Titles: the kind of bug and the function that names the code to fix.
//!
//! The rules, one per kind of mistake a title can make (each with tests on real reports):
//!
//! * every title passes over lockdep, the scheduler, locking primitives and wrappers, sanitizer
//!   instrumentation (`is_boring`), the workqueue core, the printk path and the wrappers that
//!   take a lock for their caller (`is_title_skip`);
//! * a hung task is titled by the caller of what it sleeps in: the blocking primitives of
//!   splat's own table (`primitive`: `__flush_work`, `kthread_stop`, `console_lock`, ...) are
//!   passed over too;
//! * a lock-order report (circular, recursive, irq inversion) is titled where the report says
//!   the lock was taken: the `at:` of the lock being acquired, then of the lock held, then the
//!   backtrace and the dependency chain; a held-lock-freed report where the freed lock was
//!   taken; an inconsistent-lock-state report where the lock whose state changed was taken;
//! * a sleep in atomic context is titled by the caller of the function that may sleep (the
//!   frame whose file is the header's `at FILE:LINE`);
//! * a soft lockup is titled by its loop's entry point: the frame called from the innermost
//!   system call, workqueue, kthread, softirq or timer entry (`is_loop_entry`), which stays
//!   the same wherever the CPU is caught in the loop (the explanation says where it spins);
//! * a hard lockup is titled by the first function of the stuck CPU's stack, where it runs with
//!   interrupts off (an interrupt handler that spins, when one came on top of the task); the
//!   task code that the interrupt came in on is the alternative;
//! * the title says `BUG:`, `WARNING:` or `INFO:` as the report's header does, and an RCU stall
//!   keeps its `rcu: ` prefix;
//! * the other functions a title could name are its alternatives ([`alt_titles`]), which
//!   `--summary` uses to merge the same bug seen under variants.

use super::{culprit, main_frames, own_frames, soft_lockup_place};
use crate::lex::functions::{base, is_loop_entry, is_title_skip, primitive};
use crate::lex::unbracket;
use crate::model::{Frame, Report, ReportKind};

/// The frames a title may name, innermost first: reliable ones, and in symbolized stacks
/// (syzbot, `decode_stacktrace.sh`) not those inlined into the next one (`f file.c:12
/// [inline]`, no offset), so that the title names the function that was called.
fn candidates(frames: &[Frame]) -> impl Iterator<Item = &Frame> {
    let has_offsets = frames.iter().any(|f| f.offset().is_some());
    frames.iter().filter(move |f| {
        f.reliable && (!has_offsets || f.offset().is_some() || !f.raw().ends_with("[inline]"))
    })
}

/// The first frame of `frames` a title may name.
fn first_titled(frames: &[Frame], hung: bool) -> Option<&str> {
    candidates(frames)
        .find(|f| !skipped(f.function(), hung))
        .map(|f| f.function())
}

/// For a sleep in atomic context: the first frame a title may name that is not the function
/// that may sleep (the one the header's `at FILE:LINE` is in, when frames carry locations):
/// its caller called it in atomic context.
fn caller_of_sleeping(r: &Report) -> Option<&str> {
    let file = r.details.get("file")?;
    let in_file = |f: &Frame| {
        f.location()
            .is_some_and(|l| l.split(':').next() == Some(file.as_str()))
    };
    candidates(main_frames(r))
        .find(|f| !skipped(f.function(), false) && !in_file(f))
        .map(|f| f.function())
}

/// Whether a title passes over `function` (for a hung task, its blocking primitives too).
fn skipped(function: &str, hung: bool) -> bool {
    is_title_skip(function) || (hung && primitive(function).is_some())
}

/// A lock site's function, unless a title passes over it.
fn site(at: Option<&str>) -> Option<&str> {
    at.filter(|f| !is_title_skip(f))
}

/// The frame called from the innermost loop entry of a soft-locked CPU's own frames (below an
/// interrupt that came on top of them, if one did).
pub(crate) fn loop_entry_frame(r: &Report) -> Option<String> {
    let frames: Vec<Frame> = match own_frames(r) {
        Some(own) => own.into_iter().cloned().collect(),
        None => main_frames(r).to_vec(),
    };
    let usable: Vec<&Frame> = candidates(&frames).collect();
    let entry = usable.iter().position(|f| is_loop_entry(f.function()))?;
    usable[..entry]
        .iter()
        .rev()
        .find(|f| !is_title_skip(f.function()))
        .map(|f| f.function().to_string())
}

/// `rcu: INFO: rcu_preempt self-detected stall on CPU` and the other RCU CPU stall warnings.
fn is_rcu_stall(r: &Report) -> bool {
    let h = r.header.trim();
    let h = h.strip_prefix("rcu: ").unwrap_or(h);
    h.starts_with("INFO: rcu") && h.contains("stall")
}

/// The functions a report's title may name, the one it names first, without repeats.
pub fn title_functions(r: &Report) -> Vec<String> {
    fn push(out: &mut Vec<String>, f: Option<&str>) {
        if let Some(f) = f {
            if !out.iter().any(|o| o == f) {
                out.push(f.to_string());
            }
        }
    }
    let mut out: Vec<String> = Vec::new();
    let mut add = |f: Option<&str>| push(&mut out, f);
    let acquiring = r.acquiring.as_ref().and_then(|s| s.at.as_deref());
    let holding = r.holding.as_ref().and_then(|s| s.at.as_deref());
    let hung = r.kind == ReportKind::HungTask;
    let backtrace = first_titled(main_frames(r), hung);
    let chain = r
        .chain
        .iter()
        .find(|c| c.index == 0)
        .and_then(|c| first_titled(&c.stack, false));
    match r.kind {
        ReportKind::CircularDependency
        | ReportKind::RecursiveLocking
        | ReportKind::IrqLockInversion => {
            add(site(acquiring));
            add(site(holding));
            add(backtrace);
            add(chain);
        }
        ReportKind::InconsistentLockState | ReportKind::InvalidWaitContext => {
            add(site(acquiring));
            add(backtrace);
        }
        ReportKind::HeldLockFreed => {
            add(site(holding));
            add(backtrace);
        }
        ReportKind::LockHeldAtExit => {
            add(r.held_locks.iter().find_map(|h| site(h.at.as_deref())));
            add(r.held_locks.iter().find_map(|h| h.at.as_deref()));
        }
        ReportKind::HungTask => add(backtrace),
        ReportKind::SleepInAtomic => add(caller_of_sleeping(r)),
        ReportKind::SoftLockup => {
            add(loop_entry_frame(r).as_deref());
            add(soft_lockup_place(r).as_deref());
        }
        ReportKind::HardLockup => {
            add(backtrace);
            add(loop_entry_frame(r).as_deref());
        }
        // An RCU stall is a CPU looping in a read-side section (or with interrupts off): like
        // a soft lockup, titled by the loop's entry.
        ReportKind::Generic if is_rcu_stall(r) => add(loop_entry_frame(r).as_deref()),
        ReportKind::BadUnlockBalance
        | ReportKind::SchedulingWhileAtomic
        | ReportKind::SpinlockBug
        | ReportKind::SuspiciousRcuUsage
        | ReportKind::Generic => {}
    }
    if r.kind != ReportKind::Generic {
        add(backtrace);
    }
    // The first frame that is not boring, and its fallbacks: when nothing else was found, or
    // as an alternative when it is not code every report of the kind goes through.
    let older = culprit(r);
    if out.is_empty() || older.as_deref().is_some_and(|f| !skipped(f, hung)) {
        push(&mut out, older.as_deref());
    }
    out
}

/// The function a report's title names, if any.
pub fn title_function(r: &Report) -> Option<String> {
    title_functions(r).into_iter().next()
}

/// The function name without compiler suffixes (`.isra.0`, `.constprop.3`, `.cold`).
pub fn base_function(function: &str) -> &str {
    base(function)
}

fn with_in(prefix: &str, f: Option<&str>) -> String {
    match f {
        Some(f) => format!("{prefix} in {f}"),
        None => prefix.to_string(),
    }
}

/// `BUG`, `WARNING` or `INFO`, as the report's header says (`WARNING` when it says none).
fn severity(r: &Report) -> &'static str {
    let h = unbracket(r.header.trim());
    let h = h.split_once(": ").map_or(h, |(word, rest)| {
        if word.bytes().all(|b| b.is_ascii_lowercase()) {
            rest
        } else {
            h
        }
    });
    ["BUG", "WARNING", "INFO"]
        .into_iter()
        .find(|w| h.strip_prefix(w).is_some_and(|rest| rest.starts_with(':')))
        .unwrap_or("WARNING")
}

/// What a report's title says before ` in FUNCTION`.
fn prefix(r: &Report) -> String {
    let sev = severity(r);
    match r.kind {
        ReportKind::CircularDependency
        | ReportKind::RecursiveLocking
        | ReportKind::IrqLockInversion => "possible deadlock".to_string(),
        ReportKind::InconsistentLockState => "inconsistent lock state".to_string(),
        ReportKind::BadUnlockBalance => format!("{sev}: bad unlock balance"),
        ReportKind::HeldLockFreed => format!("{sev}: held lock freed"),
        ReportKind::LockHeldAtExit => {
            if r.header.contains("returning to user space") {
                format!("{sev}: lock held when returning to user space")
            } else if r.header.contains("lock held at task exit") {
                format!("{sev}: lock held at task exit")
            } else {
                format!("{sev}: still has locks held")
            }
        }
        ReportKind::SuspiciousRcuUsage => format!("{sev}: suspicious RCU usage"),
        ReportKind::SleepInAtomic => "BUG: sleeping function called from invalid context".into(),
        ReportKind::HungTask => "INFO: task hung".to_string(),
        ReportKind::SoftLockup => "BUG: soft lockup".to_string(),
        // The header says no BUG: or WARNING: ("Watchdog detected hard LOCKUP on cpu 1").
        ReportKind::HardLockup => "hard lockup".to_string(),
        ReportKind::SchedulingWhileAtomic => "BUG: scheduling while atomic".to_string(),
        ReportKind::InvalidWaitContext => format!("{sev}: Invalid wait context"),
        ReportKind::SpinlockBug => match r.details.get("spinlock_bug") {
            Some(what) => format!("BUG: spinlock {what}"),
            None => "BUG: spinlock bug".to_string(),
        },
        ReportKind::Generic => generic_prefix(r),
    }
}

/// Computes the syzbot-style title of a report.
pub fn title(r: &Report) -> String {
    with_in(&prefix(r), title_function(r).as_deref())
}

/// The report's other titles: the same prefix with each other function it could name (see
/// [`title_functions`]).
pub fn alt_titles(r: &Report) -> Vec<String> {
    titles(r).1
}

/// The title and the other titles at once (the functions are worked out once).
pub fn titles(r: &Report) -> (String, Vec<String>) {
    let p = prefix(r);
    let functions = title_functions(r);
    let title = with_in(&p, functions.first().map(String::as_str));
    let alt = functions
        .iter()
        .skip(1)
        .map(|f| with_in(&p, Some(f)))
        .collect();
    (title, alt)
}

fn generic_prefix(r: &Report) -> String {
    let h = unbracket(r.header.trim());
    // A subsystem's prefix ("watchdog: BUG: ...", "rcu: INFO: ..."): only RCU's is kept.
    let (subsystem, h) = match h.split_once(": ") {
        Some((word, rest))
            if word.bytes().all(|b| b.is_ascii_lowercase())
                && (rest.starts_with("BUG:") || rest.starts_with("INFO:")) =>
        {
            (word, rest)
        }
        _ => ("", h),
    };
    let keep = if subsystem == "rcu" { "rcu: " } else { "" };
    let new_warn = h
        .strip_prefix("WARNING: ")
        .and_then(|r| r.split_once(" at "))
        .is_some_and(|(loc, _)| !loc.contains(' ') && loc.contains(':'));
    if h.starts_with("WARNING: CPU: ") || h.starts_with("WARNING: at ") || new_warn {
        return "WARNING".to_string();
    }
    if h.starts_with("kernel BUG at ") {
        return "kernel BUG".to_string();
    }
    if let Some(rest) = h.strip_prefix("BUG: KASAN: ") {
        let what = rest.split(" in ").next().unwrap_or(rest);
        return format!("KASAN: {what}");
    }
    // Keep the descriptive start of the header: up to ", " / " - " / "!" / " at " / ": ".
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
    let main = match cut {
        Some(cut) => &h[..skip + cut],
        None => h,
    };
    format!("{keep}{}", main.trim_end_matches(['.', ':']))
}

/// Whether `f` is a frame a title never names (for tests and callers outside analysis).
#[cfg(test)]
fn never_titled(f: &str) -> bool {
    crate::lex::functions::is_boring(f) || is_title_skip(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips() {
        for f in [
            "process_one_work",
            "vprintk_emit",
            "lock_sock_nested",
            "check_usage.cold",
            "__switch_to",
            "__msan_metadata_ptr_for_load_4",
            "__sanitizer_cov_trace_pc",
            "write_comp_data",
            "check_memory_region",
        ] {
            assert!(never_titled(f), "{f}");
        }
        assert!(!never_titled("team_del_slave"));
        assert!(skipped("__flush_work", true));
        assert!(skipped("kthread_stop", true));
        assert!(skipped("wait_on_page_bit_common", true));
        assert!(!skipped("jbd2_journal_commit_transaction", true));
    }

    #[test]
    fn loop_entries() {
        assert!(is_loop_entry("__x64_sys_ioctl"));
        assert!(is_loop_entry("process_one_work"));
        assert!(is_loop_entry("kthread"));
        assert!(is_loop_entry("call_timer_fn.cold"));
        assert!(!is_loop_entry("my_loop"));
    }
}
