//! What a report header says beyond its kind (which [`super::classify_header`] tells): the
//! task, the source location, the function, read from the header's phrases. `extract` turns
//! a [`HeaderFact`] into report fields with one match arm each.

use super::trim;
use crate::model::ReportKind;

/// The facts of a header line (unbracketed and trimmed), borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderFact<'a> {
    /// Nothing more than the kind.
    None,
    /// `BUG: sleeping function called from invalid context at FILE:LINE`: the location.
    SleepAt(&'a str),
    /// `WARNING: COMM/PID still has locks held!` (before 4.10 `BUG: ...`): the task.
    StillHasLocks(&'a str),
    /// `BUG: scheduling while atomic: COMM/PID/0xCOUNT` (2.6: `COMM/0xCOUNT/PID`).
    SchedulingWhileAtomic {
        comm: &'a str,
        pid: &'a str,
        count: &'a str,
    },
    /// `BUG: soft lockup - ...`, `BUG: spinlock ...`: the text after `BUG: `, for
    /// [`super::parse_soft_lockup_header`] and [`super::spinlock_bug`].
    Body(&'a str),
    /// `WARNING: CPU: 0 PID: 1 at kernel/foo.c:12 func+0x1/0x2 [mod]`.
    WarningCpu {
        pid: Option<&'a str>,
        location: Option<&'a str>,
        site: Option<&'a str>,
    },
    /// Old kernels: `WARNING: at kernel/foo.c:12 func()` (the function without `()`).
    WarningAt {
        location: Option<&'a str>,
        function: Option<&'a str>,
    },
    /// 6.18+: `WARNING: kernel/foo.c:12 at func+0x1/0x2 kernel/foo.c:12, CPU#1: comm/pid`.
    WarningSite {
        location: &'a str,
        site: &'a str,
        task: Option<&'a str>,
    },
    /// `watchdog: CPU0: Watchdog detected hard LOCKUP on cpu 1`: the stuck CPU, and the one that
    /// noticed (7.x).
    HardLockup { cpu: u32, by: Option<u32> },
    /// `kernel BUG at FILE:LINE!`.
    KernelBugAt(&'a str),
    /// `BUG: KASAN: slab-use-after-free in FUNC+0x1/0x2`: the site.
    KasanIn(&'a str),
}

/// The facts of the header `t` of a report of `kind`.
pub(crate) fn header_fact(kind: ReportKind, t: &str) -> HeaderFact<'_> {
    let after_bug = || t.split_once("BUG: ").map_or(t, |(_, b)| b);
    match kind {
        ReportKind::SleepInAtomic => t
            .split_once(" invalid context at ")
            .map_or(HeaderFact::None, |(_, loc)| HeaderFact::SleepAt(loc)),
        ReportKind::LockHeldAtExit => t
            .strip_prefix("WARNING: ")
            .or_else(|| t.strip_prefix("BUG: "))
            .and_then(|r| r.strip_suffix(" still has locks held!"))
            .map_or(HeaderFact::None, HeaderFact::StillHasLocks),
        ReportKind::SoftLockup | ReportKind::SpinlockBug => HeaderFact::Body(after_bug()),
        ReportKind::SchedulingWhileAtomic => scheduling_while_atomic(t),
        ReportKind::HardLockup => {
            let t = t.strip_prefix("NMI watchdog: ").unwrap_or(t);
            super::parse_hard_lockup_header(t).map_or(HeaderFact::None, |(cpu, by)| {
                HeaderFact::HardLockup { cpu, by }
            })
        }
        ReportKind::Generic => generic(t),
        _ => HeaderFact::None,
    }
}

fn scheduling_while_atomic(t: &str) -> HeaderFact<'_> {
    let Some((_, rest)) = t.split_once("scheduling while atomic: ") else {
        return HeaderFact::None;
    };
    let mut parts = trim(rest).rsplitn(3, '/');
    let (Some(last), Some(mid), Some(comm)) = (parts.next(), parts.next(), parts.next()) else {
        return HeaderFact::None;
    };
    let (count, pid) = if mid.starts_with("0x") {
        (mid, last)
    } else {
        (last, mid)
    };
    HeaderFact::SchedulingWhileAtomic { comm, pid, count }
}

fn generic(t: &str) -> HeaderFact<'_> {
    if let Some(rest) = t.strip_prefix("WARNING: CPU: ") {
        let Some((ids, at)) = rest.split_once(" at ") else {
            return HeaderFact::None;
        };
        let mut parts = at.splitn(2, ' ');
        return HeaderFact::WarningCpu {
            pid: ids.split("PID: ").nth(1).map(trim),
            location: parts.next(),
            site: parts.next(),
        };
    }
    if let Some(rest) = t.strip_prefix("WARNING: at ") {
        let mut parts = rest.splitn(2, ' ');
        let location = parts.next();
        let function = parts
            .next()
            .map(|f| trim(f).trim_end_matches("()"))
            .filter(|f| !f.is_empty() && !f.contains(' '));
        return HeaderFact::WarningAt { location, function };
    }
    if let Some((location, at)) = t
        .strip_prefix("WARNING: ")
        .and_then(|r| r.split_once(" at "))
        .filter(|(loc, _)| !loc.contains(' ') && loc.contains(':'))
    {
        let (site, cpu) = at.split_once(", CPU#").unwrap_or((at, ""));
        let task = cpu.split_once(": ").map(|(_, task)| trim(task));
        return HeaderFact::WarningSite {
            location,
            site,
            task,
        };
    }
    if let Some(rest) = t.strip_prefix("kernel BUG at ") {
        return HeaderFact::KernelBugAt(rest);
    }
    if let Some((_, at)) = t
        .strip_prefix("BUG: KASAN: ")
        .and_then(|rest| rest.split_once(" in "))
    {
        return HeaderFact::KasanIn(at);
    }
    HeaderFact::None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_facts() {
        assert_eq!(
            header_fact(
                ReportKind::SchedulingWhileAtomic,
                "BUG: scheduling while atomic: swapper/0/0x00000002/0"
            ),
            HeaderFact::SchedulingWhileAtomic {
                comm: "swapper/0",
                pid: "0",
                count: "0x00000002"
            }
        );
        assert_eq!(
            header_fact(
                ReportKind::Generic,
                "WARNING: CPU: 0 PID: 1 at kernel/foo.c:12 func+0x1/0x2 [mod]"
            ),
            HeaderFact::WarningCpu {
                pid: Some("1"),
                location: Some("kernel/foo.c:12"),
                site: Some("func+0x1/0x2 [mod]")
            }
        );
        assert_eq!(
            header_fact(
                ReportKind::Generic,
                "WARNING: kernel/foo.c:12 at func+0x1/0x2 kernel/foo.c:12, CPU#1: a/7"
            ),
            HeaderFact::WarningSite {
                location: "kernel/foo.c:12",
                site: "func+0x1/0x2 kernel/foo.c:12",
                task: Some("a/7")
            }
        );
        assert_eq!(
            header_fact(
                ReportKind::LockHeldAtExit,
                "WARNING: insmod/99 still has locks held!"
            ),
            HeaderFact::StillHasLocks("insmod/99")
        );
    }
}
