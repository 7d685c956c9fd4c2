//! The module's deadlock scenarios on a Linux 7.3 guest: one root cause each, and a `Fix:` that
//! fits it. Exact kinds, tasks, locks and fixes on the lab's real consoles
//! (`scenario-*-7.3.log`, and one of 6.12's).

use splat::{Report, ReportKind, WaitCycle};
mod common;
use common::{fixture_path, kinds, load, task};

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

const LEAK_CAUSE: &str = "Likely cause: report #1 \"WARNING: still has locks held in \
     rust_deadlock::leak::Leak::job\": leak_a/80 exited while holding sem_l (taken at \
     rust_deadlock::leak::Leak::job), and the kernel names no holder of what this task waits \
     for (it cannot name a holder that has exited); nobody will release it.";

const LEAK_FIX: &str = "Fix: leak_a/80 exited without releasing sem_l (taken at \
     rust_deadlock::leak::Leak::job), so this task waits forever: release every lock on every \
     return path, including error paths.";

/// `leak_a` returns from a failed job without releasing `sem_l` and exits: lockdep reports the
/// lock held at exit, then `leak_b` hangs on it. 7.3 prints no blocker line (the last holder is
/// no longer a task); the hung task is explained by the exit report.
#[test]
fn leak_is_a_lock_held_at_exit() {
    let reports = load("scenario-leak-7.3.log");
    use ReportKind::*;
    assert_eq!(kinds(&reports), [LockHeldAtExit, HungTask, HungTask]);

    let r = &reports[0];
    assert_eq!(r.header, "WARNING: leak_a/80 still has locks held!");
    assert_eq!(r.tasks, [task("leak_a", 80)]);
    assert_eq!(locks(r), ["sem_l"]);
    let held: Vec<(&str, Option<u32>, &str, Option<&str>)> = r
        .held_locks
        .iter()
        .map(|h| (h.task.as_str(), h.pid, h.lock.as_str(), h.at.as_deref()))
        .collect();
    assert_eq!(
        held,
        [(
            "leak_a",
            Some(80),
            "sem_l",
            Some("rust_deadlock::leak::Leak::job")
        )]
    );
    assert_eq!(
        r.explanation,
        "leak_a/80 exited while still holding sem_l (taken at rust_deadlock::leak::Leak::job).\n\
         Nothing will release it now: whoever waits for it waits forever.\n\
         Fix: release every lock on every return path, including error paths."
    );

    for (r, seconds) in reports[1..].iter().zip([2, 3]) {
        let h = r.hung_task.as_ref().expect("hung task");
        assert_eq!((h.comm.as_str(), h.pid, h.seconds), ("leak_b", 81, seconds));
        assert_eq!(r.tasks, [task("leak_b", 81)]);
        assert!(locks(r).is_empty(), "lockdep is off: no lock list");
        assert_eq!(h.waiting_on.as_deref(), Some("semaphore"));
        assert_eq!(h.blocker, None, "7.3 cannot name an exited holder");
        assert_eq!(line(r, "Likely cause"), LEAK_CAUSE);
        assert_eq!(fix(r), LEAK_FIX);
    }
    assert_eq!(splat::wait_for(&reports), splat::WaitFor::default());
}

/// The leak log with a blocker line after each hung report, as a kernel prints it when the
/// holder is still a task (it returned with the lock held instead of exiting).
fn leak_with_blocker(holder: &str) -> String {
    let log =
        std::fs::read_to_string(fixture_path("scenario-leak-7.3.log")).expect("fixture exists");
    let blocker =
        format!("INFO: task leak_b:81 blocked on a semaphore likely last held by task {holder}");
    let mut out = String::new();
    for l in log.lines() {
        out.push_str(l);
        out.push('\n');
        if l.ends_with("</TASK>") && !l.starts_with("[   25.") {
            out.push_str(&format!("[   29.000000] {blocker}\n"));
        }
    }
    out
}

#[test]
fn leak_named_by_a_blocker_line() {
    let reports = splat::parse(&leak_with_blocker("leak_a:80"));
    use ReportKind::*;
    assert_eq!(kinds(&reports), [LockHeldAtExit, HungTask, HungTask]);
    for r in &reports[1..] {
        let b = r.hung_task.as_ref().and_then(|h| h.blocker.as_ref());
        assert_eq!(b.and_then(|b| b.holder.clone()), Some(task("leak_a", 80)));
        assert_eq!(
            line(r, "Likely cause"),
            "Likely cause: report #1 \"WARNING: still has locks held in \
             rust_deadlock::leak::Leak::job\": leak_a/80, the last holder of what this task \
             waits for, exited while holding sem_l (taken at rust_deadlock::leak::Leak::job); \
             nobody will release it."
        );
        assert_eq!(
            line(r, "Wait-for chain"),
            "Wait-for chain (no cycle): leak_b/81 waits for a semaphore last held by leak_a/80, \
             which is not reported hung."
        );
        assert_eq!(fix(r), LEAK_FIX);
    }
    // Another holder: the exit report is not the cause.
    let reports = splat::parse(&leak_with_blocker("other:90"));
    for r in &reports[1..] {
        assert!(!r.explanation.contains("Likely cause"), "{}", r.explanation);
        assert_eq!(
            fix(r),
            "Fix: find who holds what this task waits for (a lock-order report above, or \
             SysRq-d \"show all locks\") and fix the ordering or the missing release."
        );
    }
}

const SPIN_CAUSE: &str = "the CPUs spin on each other's spinlocks (an AB-BA deadlock on \
     spinlocks), and a spinning CPU never schedules: no lock of the cycle is ever released.";

const SPIN_FIX: &str =
    "Fix: take spin_a and spin_b in one global order everywhere (always spin_a before spin_b).";

/// AB-BA on two spinlocks: lockdep's lock-order report, then the soft-lockup detector reports
/// each CPU, spinning in queued_spin_lock_slowpath for the lock the other one holds, until the
/// lab powers the guest off (the last report is cut off).
#[test]
fn spin_soft_lockups_are_an_ab_ba_on_spinlocks() {
    let reports = load("scenario-spin-7.3.log");
    use ReportKind::*;
    assert_eq!(
        kinds(&reports),
        [
            CircularDependency,
            SoftLockup,
            SoftLockup,
            SoftLockup,
            SoftLockup
        ]
    );

    let r = &reports[0];
    assert_eq!(
        r.title,
        "possible deadlock in rust_deadlock::spin::Spin::thread_b"
    );
    assert_eq!(r.tasks, [task("spinner_b", 49)]);
    assert_eq!(locks(r), ["spin_a", "spin_b"]);
    assert_eq!(r.cycle, ["spin_b", "spin_a", "spin_b"]);
    assert_eq!(
        fix(r),
        "Fix: take spin_a and spin_b in one global order everywhere (always spin_a before \
         spin_b); rust_deadlock::spin::Spin::thread_b (spinner_b/49) must not take spin_a while \
         holding spin_b."
    );

    let expected = [
        (
            ("spinner_b", 49),
            "1",
            "3",
            Some("thread_b"),
            (126, 161, false),
        ),
        (
            ("spinner_a", 48),
            "0",
            "3",
            Some("thread_a"),
            (162, 197, false),
        ),
        (
            ("spinner_b", 49),
            "1",
            "6",
            Some("thread_b"),
            (198, 233, false),
        ),
        (("spinner_a", 48), "0", "6", None, (234, 240, true)),
    ];
    for (r, (who, cpu, seconds, thread, span)) in reports[1..].iter().zip(expected) {
        assert_eq!(
            r.header,
            format!(
                "watchdog: BUG: soft lockup - CPU#{cpu} stuck for {seconds}s! [{}:{}]",
                who.0, who.1
            )
        );
        assert_eq!(r.tasks, [task(who.0, who.1)]);
        assert!(locks(r).is_empty(), "the report names no lock");
        assert_eq!(
            (r.details["cpu"].as_str(), r.details["seconds"].as_str()),
            (cpu, seconds)
        );
        assert_eq!((r.start_line, r.end_line, r.truncated), span);
        let function = thread.map(|t| format!("rust_deadlock::spin::Spin::{t}"));
        match &function {
            Some(f) => {
                assert_eq!(r.title, format!("BUG: soft lockup in {f}"));
                assert_eq!(r.details["rip"], "queued_spin_lock_slowpath");
                assert_eq!(
                    r.explanation.lines().next(),
                    Some(
                        format!(
                            "CPU#{cpu} has spun in kernel code without scheduling for {seconds} \
                             seconds (task {}/{}, in {f}).",
                            who.0, who.1
                        )
                        .as_str()
                    )
                );
                assert_eq!(
                    line(r, "It spins"),
                    "It spins for a spinlock (in queued_spin_lock_slowpath) that its holder does \
                     not release."
                );
            }
            // Cut off before its registers and stack.
            None => assert_eq!(r.title, "BUG: soft lockup"),
        }
        let triggered = if who.0 == "spinner_b" {
            ", which this task triggered"
        } else {
            ""
        };
        assert_eq!(
            line(r, "Likely cause"),
            format!(
                "Likely cause: report #1 \"possible deadlock in \
                 rust_deadlock::spin::Spin::thread_b\" (spin_b -> spin_a -> spin_b){triggered}: \
                 {SPIN_CAUSE}"
            )
        );
        assert_eq!(fix(r), SPIN_FIX);
    }

    // The JSON kind.
    let json = splat::to_json(&reports[1..2]);
    assert!(json.contains("\"kind\": \"soft_lockup\""), "{json}");
}

/// The same AB-BA on spinlocks on 6.12, where the detector's third report found CPU#1 running
/// softirqs at the end of a timer interrupt that came on top of the spin: the report's `RIP:` and
/// first frames are the interrupt's (`handle_softirqs`, `__do_softirq`), the spin is below
/// `asm_sysvec_apic_timer_interrupt`. It is still the task's spin, with the same cause and fix.
#[test]
fn a_soft_lockup_caught_in_a_softirq_is_still_the_tasks_spin() {
    let reports = load("scenario-spin-softirq-6.12.log");
    let lockups: Vec<&Report> = reports
        .iter()
        .filter(|r| r.kind == ReportKind::SoftLockup)
        .collect();
    assert_eq!(lockups.len(), 3);
    let r = lockups[2];
    assert_eq!(
        r.header,
        "watchdog: BUG: soft lockup - CPU#1 stuck for 6s! [spinner_a:47]"
    );
    assert_eq!(r.details["rip"], "handle_softirqs");
    assert_eq!(
        r.title,
        "BUG: soft lockup in rust_deadlock::spin::Spin::thread_a"
    );
    assert_eq!(
        r.explanation.lines().next(),
        Some(
            "CPU#1 has spun in kernel code without scheduling for 6 seconds (task spinner_a/47, \
             in rust_deadlock::spin::Spin::thread_a)."
        )
    );
    assert_eq!(
        line(r, "It spins"),
        "It spins for a spinlock (in do_raw_spin_lock) that its holder does not release."
    );
    assert!(
        line(r, "Likely cause").ends_with(SPIN_CAUSE),
        "{}",
        r.explanation
    );
    assert_eq!(fix(r), SPIN_FIX);
}

/// The soft lockups without the lock-order report before them: a CPU spinning for a spinlock,
/// with no known cause.
#[test]
fn a_soft_lockup_without_a_lock_order_report() {
    let path = fixture_path("scenario-spin-7.3.log");
    let log = std::fs::read_to_string(path).expect("fixture exists");
    let tail: String = log.lines().skip(124).map(|l| format!("{l}\n")).collect();
    let reports = splat::parse(&tail);
    assert_eq!(kinds(&reports), [ReportKind::SoftLockup; 4]);
    let r = &reports[0];
    assert!(!r.explanation.contains("Likely cause"), "{}", r.explanation);
    assert_eq!(
        fix(r),
        "Fix: find the spinlock's holder (another CPU's soft-lockup report or backtrace) and \
         why it does not release it: it spins itself for a lock this CPU holds (take the locks \
         in one global order), or it returned without unlocking."
    );
}

const CYCLE_FIX: &str = "Fix: the tasks of this cycle take their locks in different orders: \
     take them in one global order everywhere (or release what a task holds before it waits).";

const PLAIN_UNSEEN: &str = "Lockdep printed nothing about these semaphores although it is on \
     (its list of all held locks shows none of them): they carry no lockdep annotation (plain \
     semaphores are invisible to lockdep), so only the hung-task detector saw them.";

/// AB-BA on two plain semaphores (no lockdep class): lockdep prints nothing, the hung-task
/// detector reports both threads, and its blocker lines form the cycle.
#[test]
fn plain_semaphores_are_invisible_to_lockdep() {
    let reports = load("scenario-plain-7.3.log");
    assert_eq!(kinds(&reports), [ReportKind::HungTask; 6]);
    let (a, b) = (task("plain_a", 49), task("plain_b", 50));
    for (i, r) in reports.iter().enumerate() {
        let (me, other) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        assert_eq!(r.tasks, std::slice::from_ref(me));
        let h = r.hung_task.as_ref().expect("hung task");
        assert_eq!(h.seconds, [2, 3, 4][i / 2]);
        assert_eq!(
            h.blocker.as_ref().and_then(|b| b.holder.as_ref()),
            Some(other)
        );
        // Lockdep is on: the kernel listed every held lock, and none is a plain semaphore.
        assert!(r
            .held_locks
            .iter()
            .all(|l| l.task != "plain_a" && l.task != "plain_b"));
        assert!(locks(r).contains(&"rcu_read_lock"), "{:?}", locks(r));
        assert!(!locks(r).iter().any(|l| l.starts_with("sem")));
        assert_eq!(
            line(r, "Real deadlock"),
            format!(
                "Real deadlock (it happened, lockdep did not have to predict it): {}/{} waits \
                 for a semaphore last held by {}/{}, which waits for a semaphore last held by \
                 {}/{}.",
                me.comm,
                me.pid.unwrap(),
                other.comm,
                other.pid.unwrap(),
                me.comm,
                me.pid.unwrap()
            )
        );
        assert_eq!(
            line(r, "Locks involved"),
            "Locks involved: 2 semaphores (no lockdep report in this log names them)."
        );
        assert_eq!(line(r, "Lockdep printed nothing"), PLAIN_UNSEEN);
        assert_eq!(fix(r), CYCLE_FIX);
    }
    let graph = splat::wait_for(&reports);
    assert_eq!(
        graph.cycles,
        [WaitCycle {
            tasks: vec![a, b],
            edges: vec![0, 1],
            locks: vec![],
        }]
    );
}

/// The same hung tasks after a lockdep report that turned lockdep off: lockdep printed nothing
/// about them because it was off.
#[test]
fn plain_semaphores_after_lockdep_was_turned_off() {
    let dir = fixture_path("");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("fixture exists");
    // The leak scenario's "still has locks held" report, then the plain scenario.
    let exit_report: String = read("scenario-leak-7.3.log")
        .lines()
        .skip(69)
        .take(24)
        .map(|l| format!("{l}\n"))
        .collect();
    let reports = splat::parse(&(exit_report + &read("scenario-plain-7.3.log")));
    assert_eq!(reports[0].kind, ReportKind::LockHeldAtExit);
    for r in &reports[1..] {
        assert_eq!(
            line(r, "Lockdep printed nothing"),
            "Lockdep printed nothing about these locks: an earlier report had turned it off, \
             so only the hung-task detector saw them."
        );
        // The blocker lines name the holders: the exit report is not their cause.
        assert!(!r.explanation.contains("Likely cause"), "{}", r.explanation);
        assert_eq!(fix(r), CYCLE_FIX);
    }
}

/// Three threads, three semaphores, each thread takes its own then the next one's: lockdep's
/// three-lock cycle, then a wait-for cycle of the three hung threads.
#[test]
fn abc_is_a_three_lock_cycle() {
    let reports = load("scenario-abc-7.3.log");
    use ReportKind::*;
    assert_eq!(
        kinds(&reports),
        [
            CircularDependency,
            HungTask,
            HungTask,
            HungTask,
            HungTask,
            HungTask,
            HungTask
        ]
    );
    let r = &reports[0];
    assert_eq!(
        r.title,
        "possible deadlock in rust_deadlock::abc::Abc::thread_c"
    );
    assert_eq!(r.tasks, [task("abc_c", 105)]);
    assert_eq!(locks(r), ["sem_a", "sem_c", "sem_b"]);
    assert_eq!(r.cycle, ["sem_c", "sem_a", "sem_b", "sem_c"]);
    assert_eq!(
        fix(r),
        "Fix: take sem_a, sem_b, and sem_c in one global order everywhere (always sem_a before \
         sem_b before sem_c); rust_deadlock::abc::Abc::thread_c (abc_c/105) must not take sem_a \
         while holding sem_c."
    );

    let threads = [("abc_a", 103), ("abc_b", 104), ("abc_c", 105)];
    for (i, r) in reports[1..].iter().enumerate() {
        let (me, next) = (threads[i % 3], threads[(i + 1) % 3]);
        assert_eq!(r.tasks, [task(me.0, me.1)]);
        let h = r.hung_task.as_ref().expect("hung task");
        assert_eq!(h.seconds, [2, 3][i / 3]);
        assert_eq!(
            h.blocker.as_ref().and_then(|b| b.holder.clone()),
            Some(task(next.0, next.1))
        );
        assert!(locks(r).is_empty(), "lockdep is off: no lock list");
        assert!(line(r, "Real deadlock").contains("which waits for a semaphore last held by"));
        assert!(!r.explanation.contains("Lockdep printed nothing"));
        assert_eq!(fix(r), CYCLE_FIX);
    }
    assert_eq!(
        line(&reports[1], "Locks involved"),
        "Locks involved (per lockdep, report #1): abc_a/103 waits for a semaphore not named by \
         lockdep, held by abc_b/104; abc_b/104 waits for sem_c, held by abc_c/105; abc_c/105 \
         waits for sem_a, held by abc_a/103."
    );
    let graph = splat::wait_for(&reports);
    assert_eq!(
        graph.cycles,
        [WaitCycle {
            tasks: threads.iter().map(|t| task(t.0, t.1)).collect(),
            edges: vec![0, 1, 2],
            locks: vec!["sem_c".to_string(), "sem_a".to_string()],
        }]
    );
}

/// The scenarios of the lock kinds beyond semaphores and spinlocks (7.3's consoles, each the
/// demo of `make run SCENARIO=name`): the first report's kind, locks and fix.
#[test]
fn every_lock_kind_has_its_own_fix() {
    use ReportKind::*;
    let cases: [(&str, ReportKind, &[&str], &str); 4] = [
        (
            "scenario-mutex-7.3.log",
            CircularDependency,
            &["mutex_a", "mutex_b"],
            "Fix: take mutex_a and mutex_b in one global order everywhere",
        ),
        (
            "scenario-rwsem-7.3.log",
            CircularDependency,
            &["rw_mutex", "rw_sem"],
            "Fix: take rw_sem and rw_mutex in one global order everywhere",
        ),
        (
            "scenario-workqueue-7.3.log",
            CircularDependency,
            &["(work_completion)(wq_job)", "rcu_read_lock", "wq_lock"],
            "Fix: do not flush or cancel-and-wait for the work while holding wq_lock",
        ),
        (
            "scenario-atomic-7.3.log",
            SleepInAtomic,
            &["atomic_spin"],
            "Fix: do not sleep in atomic context",
        ),
    ];
    for (log, kind, want, fixed) in cases {
        let reports = load(log);
        let r = &reports[0];
        assert_eq!(r.kind, kind, "{log}");
        let mut names = locks(r);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names, want, "{log}");
        assert!(fix(r).starts_with(fixed), "{log}: {}", fix(r));
    }
    // The sleeping lock under a spinlock: lockdep's report names the spinlock to take it before,
    // whichever numbering of wait types the kernel has (6.12's mutex is {3:3}, 7.3's {4:4}).
    for log in ["scenario-atomic-7.3.log", "scenario-atomic-6.12.log"] {
        let atomic = load(log);
        assert_eq!(
            kinds(&atomic)[..2],
            [SleepInAtomic, InvalidWaitContext],
            "{log}"
        );
        assert_eq!(
            fix(&atomic[1]),
            "Fix: take atomic_mutex before atomic_spin (or after releasing it): move what may \
             sleep out of the atomic section.",
            "{log}"
        );
        assert!(
            line(&atomic[1], "atomic_1/").contains("(wait type {"),
            "{log}"
        );
        assert!(
            atomic[1]
                .explanation
                .contains("sleeping: mutex, rw_semaphore"),
            "{log}: {}",
            atomic[1].explanation
        );
    }
}

/// Waiting for a completion with a lock held that the completer needs: lockdep sees nothing, the
/// hung-task reports tell it. The waiter's last report says not to wait with the lock held; the
/// completer's, whose wait-for chain ends at the waiter, says the same about the waiter.
#[test]
fn a_completion_wait_with_a_lock_held_is_explained() {
    let reports = load("scenario-completion-7.3.log");
    assert!(reports.iter().all(|r| r.kind == ReportKind::HungTask));
    let last = |comm: &str| {
        reports
            .iter()
            .rev()
            .find(|r| r.tasks[0].comm == comm)
            .unwrap_or_else(|| panic!("no report of {comm}"))
    };
    assert!(fix(last("waiter"))
        .starts_with("Fix: do not wait for a completion while holding done_lock"));
    let completer = fix(last("completer"));
    assert!(
        completer.contains("waits in wait_for_completion() while it holds done_lock"),
        "{completer}"
    );
}

/// `atomic` when `atomic_1` really sleeps under its spinlock (the demo's console, both kernels):
/// after might_sleep's and lockdep's reports, the scheduler's, about the thread and its step, with
/// the spinlock's level in the preemption count.
#[test]
fn atomic_sleeping_under_a_spinlock_is_scheduling_while_atomic() {
    use ReportKind::*;
    for log in [
        "scenario-atomic-sleeps-7.3.log",
        "scenario-atomic-sleeps-6.12.log",
    ] {
        let reports = load(log);
        assert_eq!(
            kinds(&reports)[..2],
            [SleepInAtomic, InvalidWaitContext],
            "{log}"
        );
        let r = reports
            .iter()
            .find(|r| r.kind == SchedulingWhileAtomic)
            .unwrap_or_else(|| panic!("{log}: no scheduling while atomic"));
        assert_eq!(r.tasks[0].comm, "atomic_1", "{log}");
        assert_eq!(
            r.header,
            format!(
                "BUG: scheduling while atomic: atomic_1/{}/0x00000002",
                r.tasks[0].pid.unwrap()
            ),
            "{log}"
        );
        assert!(
            line(r, "atomic_1/").contains(
                "while atomic (preempt_count 0x00000002), in \
                 rust_deadlock::atomic::Atomic::thread"
            ),
            "{log}: {}",
            r.explanation
        );
        assert!(
            fix(r).starts_with("Fix: do not sleep in atomic context"),
            "{log}"
        );
    }
}

/// `hardirq`: an interrupt on the CPU of the thread that holds the lock (the demo's console, both
/// kernels). Lockdep's inconsistent lock state about `hardirq_lock`, then the hard-lockup
/// detector's report (each kernel's spelling): its own kind, titled by the interrupt's handler
/// that spins, the interrupted thread's step as the alternative, and explained with the earlier
/// report as the likely cause and its fix.
#[test]
fn hardirq_is_an_inconsistent_lock_state_then_a_hard_lockup() {
    use ReportKind::*;
    for (log, header, by) in [
        (
            "scenario-hardirq-7.3.log",
            "watchdog: CPU0: Watchdog detected hard LOCKUP on cpu 1",
            Some("0"),
        ),
        (
            "scenario-hardirq-6.12.log",
            "watchdog: Watchdog detected hard LOCKUP on cpu 1",
            None,
        ),
    ] {
        let reports = load(log);
        let first = &reports[0];
        assert_eq!(first.kind, InconsistentLockState, "{log}");
        let mut names = locks(first);
        names.dedup();
        assert_eq!(names, ["hardirq_lock"], "{log}");
        assert!(fix(first).starts_with("Fix: take hardirq_lock with interrupts disabled"));
        let [_, hard] = reports.as_slice() else {
            panic!("{log}: expected two reports, found {}", reports.len());
        };
        assert_eq!(hard.header, header, "{log}");
        assert_eq!(hard.kind, HardLockup, "{log}");
        assert_eq!(
            hard.title, "hard lockup in rust_deadlock::hardirq::HardIrq::fire",
            "{log}"
        );
        assert_eq!(
            hard.alt_titles,
            ["hard lockup in rust_deadlock::hardirq::HardIrq::thread"],
            "{log}"
        );
        assert_eq!(hard.tasks[0].comm, "hardirq_thread", "{log}");
        // The stuck CPU's stack: the irq_work's interrupt on top of the thread that queued it.
        let frames: Vec<&str> = hard
            .stacks
            .iter()
            .flat_map(|s| &s.frames)
            .filter(|f| f.reliable)
            .map(|f| f.function())
            .collect();
        let at = |f: &str| {
            frames
                .iter()
                .position(|g| *g == f)
                .unwrap_or_else(|| panic!("{log}: no {f} in {frames:?}"))
        };
        assert!(
            at("rust_deadlock::hardirq::HardIrq::fire") < at("irq_work_run")
                && at("irq_work_run") < at("irq_work_queue")
                && at("irq_work_queue") < at("rust_deadlock::hardirq::HardIrq::thread"),
            "{log}: {frames:?}"
        );
        assert_eq!(hard.details.get("cpu").map(String::as_str), Some("1"));
        assert_eq!(hard.details.get("detected_by").map(String::as_str), by);
        assert!(
            line(hard, "An interrupt handler")
                .contains("(rust_deadlock::hardirq::HardIrq::fire) spins for a spinlock"),
            "{log}: {}",
            hard.explanation
        );
        assert!(
            line(hard, "Likely cause:").starts_with(
                "Likely cause: report #1 \"inconsistent lock state in \
                 rust_deadlock::hardirq::HardIrq::thread\": hardirq_lock"
            ),
            "{log}: {}",
            hard.explanation
        );
        assert!(
            fix(hard).starts_with("Fix: take hardirq_lock with interrupts disabled"),
            "{log}"
        );
    }
}

/// `sleep_in_irq`: a mutex taken in an interrupt handler (an `irq_work`'s, on top of the thread
/// that raised it; the demo's console, both kernels). might_sleep's report and lockdep's invalid
/// wait context, both titled by the handler, both explained as interrupt code that may not sleep,
/// with the fix that moves the sleeping work out of the handler. The numbering of the wait types
/// differs (7.3: the mutex {4:4} in context {3:3}; 6.12: {3:3} in {2:2}), the explanation does
/// not.
#[test]
fn a_mutex_in_an_interrupt_handler_is_sleeping_in_interrupt_code() {
    use ReportKind::*;
    const HANDLER: &str = "rust_deadlock::sleep_in_irq::SleepInIrq::fire";
    const FIX: &str = "Fix: move the sleeping work out of the interrupt handler, e.g. to a work \
         item (queue_work) or a threaded interrupt handler, which run in process context and may \
         sleep; in the handler itself take only spinlocks.";
    for (log, line_no, count, mutex, context) in [
        (
            "scenario-sleep_in_irq-7.3.log",
            623,
            "1000000",
            "{4:4}",
            "{3:3}",
        ),
        (
            "scenario-sleep_in_irq-6.12.log",
            586,
            "10000",
            "{3:3}",
            "{2:2}",
        ),
    ] {
        let reports = load(log);
        assert_eq!(
            kinds(&reports),
            [SleepInAtomic, InvalidWaitContext],
            "{log}"
        );
        let [sleep, wait] = reports.as_slice() else {
            unreachable!()
        };
        for r in [sleep, wait] {
            assert_eq!(r.tasks[0].comm, "irq_raiser", "{log}");
            assert!(
                r.title.ends_with(&format!(" in {HANDLER}")),
                "{log}: {}",
                r.title
            );
            assert_eq!(fix(r), FIX, "{log}");
        }
        assert_eq!(
            sleep.header,
            format!(
                "BUG: sleeping function called from invalid context at \
                 kernel/locking/mutex.c:{line_no}"
            ),
            "{log}"
        );
        assert_eq!(sleep.details["irqs_disabled"], "1", "{log}");
        assert_eq!(
            line(sleep, "It ran in"),
            format!(
                "It ran in a hard interrupt (preempt_count {count}): {HANDLER} is interrupt \
                 code, which runs on top of the task it interrupted (irq_raiser/{}) and can \
                 never sleep, whatever locks are held.",
                sleep.tasks[0].pid.unwrap()
            ),
            "{log}"
        );
        assert_eq!(locks(wait), ["irq_mutex"], "{log}");
        assert!(
            line(wait, "irq_raiser/").contains(&format!(
                "tries to take irq_mutex (wait type {mutex}: sleeping: mutex, rw_semaphore)"
            )),
            "{log}: {}",
            wait.explanation
        );
        assert!(
            line(wait, "It takes it in").starts_with(&format!(
                "It takes it in a hard interrupt (lockdep's wait context there is {context}, \
                 below a task's): {HANDLER} is interrupt code"
            )),
            "{log}: {}",
            wait.explanation
        );
    }
}
