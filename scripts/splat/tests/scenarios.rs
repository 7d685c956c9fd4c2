//! The module's deadlock scenarios on a Linux 7.3 guest: one root cause each, and a `Fix:` that
//! fits it. Exact kinds, tasks, locks and fixes on the lab's real consoles
//! (`scenario-*-7.3.log`).

use splat::{Report, ReportKind, Task, WaitCycle};
use std::path::PathBuf;

fn load(name: &str) -> Vec<Report> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    splat::parse_bytes(&std::fs::read(path).expect("fixture exists"))
}

fn task(comm: &str, pid: u32) -> Task {
    Task {
        comm: comm.to_string(),
        pid: Some(pid),
    }
}

fn kinds(reports: &[Report]) -> Vec<ReportKind> {
    reports.iter().map(|r| r.kind).collect()
}

/// The names of the report's lock classes.
fn locks(r: &Report) -> Vec<&str> {
    r.locks.iter().map(|l| l.name.as_str()).collect()
}

/// The report's one `Fix:` line.
fn fix(r: &Report) -> &str {
    let fixes: Vec<&str> = r
        .explanation
        .lines()
        .filter(|l| l.starts_with("Fix:"))
        .collect();
    assert_eq!(fixes.len(), 1, "{}", r.explanation);
    fixes[0]
}

/// The explanation line that starts with `prefix`.
fn line<'a>(r: &'a Report, prefix: &str) -> &'a str {
    r.explanation
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in {}", r.explanation))
}

/// The human output of the whole log, as `splat LOG` prints it.
fn text(name: &str) -> String {
    splat::to_text(&load(name))
}

const RECURSIVE_FIX: &str = "Fix: do not take a lock the task already holds: pass the held lock \
     (its guard) down to the code that needs it instead of taking it again, or release it \
     before the call.";

const RECURSIVE_HUNG_FIX: &str = "Fix: do not take sem_r again while holding it: pass the held \
     lock (its guard) down to the code that needs it instead of taking it again, or release it \
     before the call.";

/// A thread takes a semaphore it already holds: lockdep's recursive-locking report, then the
/// hung-task detector, whose 7.3 blocker line names the task itself as the last holder.
#[test]
fn recursive_is_a_self_wait_not_an_order_problem() {
    let reports = load("scenario-recursive-7.3.log");
    use ReportKind::*;
    assert_eq!(kinds(&reports), [RecursiveLocking, HungTask, HungTask]);
    let me = task("recursive", 49);
    for r in &reports {
        assert_eq!(r.tasks, [task("recursive", 49)]);
    }

    let r = &reports[0];
    assert_eq!(
        r.title,
        "possible deadlock in rust_deadlock::recursive::Recursive::log_update"
    );
    assert_eq!(locks(r), ["sem_r"]);
    assert_eq!(r.cycle, ["sem_r", "sem_r"]);
    assert_eq!(
        r.holding.as_ref().and_then(|s| s.at.as_deref()),
        Some("rust_deadlock::recursive::Recursive::update")
    );
    assert_eq!(
        r.acquiring.as_ref().and_then(|s| s.at.as_deref()),
        Some("rust_deadlock::recursive::Recursive::log_update")
    );
    // The same instance: the subclass advice for two locks of one class does not apply.
    assert_eq!(
        line(r, "It is the same lock"),
        "It is the same lock (address ff11000000b0bba0): the task would wait for itself forever."
    );
    assert_eq!(fix(r), RECURSIVE_FIX);

    for (r, seconds) in reports[1..].iter().zip([2, 3]) {
        let h = r.hung_task.as_ref().expect("hung task");
        assert_eq!(h.seconds, seconds);
        assert_eq!(h.blocked_in.as_deref(), Some("down()"));
        assert_eq!(
            h.blocker.as_ref().and_then(|b| b.holder.clone()),
            Some(me.clone())
        );
        assert!(locks(r).is_empty(), "lockdep is off: no lock list");
        assert_eq!(
            line(r, "Real deadlock"),
            "Real deadlock (it happened, lockdep did not have to predict it): recursive/49 \
             waits for a semaphore it holds itself (recursive locking): it waits for itself \
             forever."
        );
        assert_eq!(
            line(r, "Locks involved"),
            "Locks involved (per lockdep, report #1): recursive/49 waits for sem_r, held by \
             recursive/49."
        );
        assert_eq!(fix(r), RECURSIVE_HUNG_FIX);
    }

    let graph = splat::wait_for(&reports);
    assert_eq!(
        graph.cycles,
        [WaitCycle {
            tasks: vec![me.clone()],
            edges: vec![0],
            locks: vec!["sem_r".to_string()],
        }]
    );
    let out = text("scenario-recursive-7.3.log");
    assert!(out.contains("    Cycle (real deadlock): recursive/49 -> recursive/49\n"));
    assert!(!out.contains("in different orders"), "{out}");
}
