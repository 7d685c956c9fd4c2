//! Hung-task blocker lines (Linux 7.3) and the wait-for graph: exact fields on the fixtures.
//!
//! `abba-7.3-demo.log` and `abba-7.3-buggy-load-hung.log` are real lab consoles of a 7.3 guest;
//! the `blocker-*.log` fixtures were written from the formats of `debug_show_blocker()`
//! (kernel/hung_task.c) and `sched_show_task()`.

use splat::{Blocker, HeldLock, Report, ReportKind, WaitCycle, WaitEdge, WaitFor};
mod common;
use common::{fixture_path, kinds, load, task};

fn blocker(r: &Report) -> &Blocker {
    r.hung_task
        .as_ref()
        .and_then(|h| h.blocker.as_ref())
        .unwrap_or_else(|| panic!("no blocker in {:?}", r.hung_task))
}

fn found(kind: &str, holder: (&str, u32), line: &str) -> Blocker {
    Blocker {
        kind: kind.to_string(),
        role: None,
        holder: Some(task(holder.0, holder.1)),
        holder_role: None,
        holder_state: None,
        line: line.to_string(),
    }
}

fn not_found(kind: &str, line: &str) -> Blocker {
    Blocker {
        kind: kind.to_string(),
        role: None,
        holder: None,
        holder_role: None,
        holder_state: None,
        line: line.to_string(),
    }
}

/// An edge with the common defaults (current, not in a cycle, holder hung, no lock).
fn edge(kind: &str, waiter: (&str, u32), holder: (&str, u32), reports: &[usize]) -> WaitEdge {
    WaitEdge {
        waiter: task(waiter.0, waiter.1),
        holder: task(holder.0, holder.1),
        kind: kind.to_string(),
        role: None,
        holder_role: None,
        lock: None,
        lock_report: None,
        reports: reports.to_vec(),
        holder_hung: true,
        holder_state: None,
        current: true,
        in_cycle: false,
    }
}

fn locked(mut e: WaitEdge, lock: &str, report: usize) -> WaitEdge {
    e.lock = Some(lock.to_string());
    e.lock_report = Some(report);
    e
}

fn cyclic(mut e: WaitEdge) -> WaitEdge {
    e.in_cycle = true;
    e
}

/// The explanation lines after the generic hung-task lines, from the first that mentions
/// the blocker (`Real deadlock`, `Wait-for chain`, `It is blocked on a`).
fn blocker_explanation(r: &Report) -> Vec<&str> {
    let lines: Vec<&str> = r.explanation.lines().collect();
    let start = lines
        .iter()
        .position(|l| {
            l.starts_with("Real deadlock")
                || l.starts_with("Wait-for chain")
                || l.starts_with("It is blocked on a")
        })
        .unwrap_or_else(|| panic!("no blocker explanation in {:?}", r.explanation));
    lines[start..].to_vec()
}

const A_WAITS: &str =
    "INFO: task deadlock_a:48 blocked on a semaphore likely last held by task deadlock_b:49";
const B_WAITS: &str =
    "INFO: task deadlock_b:49 blocked on a semaphore likely last held by task deadlock_a:48";

#[test]
fn abba_73_demo_blockers() {
    let reports = load("abba-7.3-demo.log");
    use ReportKind::*;
    // The blocker lines are part of the hung-task reports, not reports of their own.
    assert_eq!(
        kinds(&reports),
        [CircularDependency, HungTask, HungTask, HungTask, HungTask]
    );
    let spans: Vec<(usize, usize, bool)> = reports
        .iter()
        .map(|r| (r.start_line, r.end_line, r.truncated))
        .collect();
    assert_eq!(
        spans,
        [
            (43, 113, false),
            (114, 136, false),
            (137, 160, false),
            (175, 197, false),
            (198, 221, false)
        ]
    );
    for (i, (waiter, line, holder)) in [
        (("deadlock_a", 48), A_WAITS, ("deadlock_b", 49)),
        (("deadlock_b", 49), B_WAITS, ("deadlock_a", 48)),
        (("deadlock_a", 48), A_WAITS, ("deadlock_b", 49)),
        (("deadlock_b", 49), B_WAITS, ("deadlock_a", 48)),
    ]
    .into_iter()
    .enumerate()
    {
        let r = &reports[i + 1];
        let h = r.hung_task.as_ref().unwrap();
        assert_eq!((h.comm.as_str(), h.pid), waiter);
        assert_eq!(*blocker(r), found("semaphore", holder, line));
        // The holder is named by the blocker, not added to the report's tasks.
        assert_eq!(r.tasks, [task(waiter.0, waiter.1)]);
        assert_eq!(r.details["blocker"], line.trim_start_matches("INFO: "));
        assert_eq!(
            r.lines
                .iter()
                .rev()
                .find(|l| l.contains("blocked on"))
                .unwrap(),
            line
        );
        // The holder is hung too: the kernel printed no holder stack.
        let contexts: Vec<&str> = r.stacks.iter().map(|s| s.context.as_str()).collect();
        assert_eq!(contexts, ["hung task"]);
        assert_eq!(h.blocked_in.as_deref(), Some("down()"));
    }
    // The 7.x held-lock heading: "locks held by deadlock_b/49: 1, last CPU#1:".
    assert_eq!(
        reports[0].held_locks,
        [HeldLock {
            task: "deadlock_b".to_string(),
            pid: Some(49),
            index: 0,
            lock: "sem_b".to_string(),
            address: Some("ff11000000c420e8".to_string()),
            at: Some("rust_deadlock::kthread::trampoline".to_string()),
        }]
    );
    assert_eq!(reports[0].details["held_lock_count"], "1");
    // The last report of each batch keeps "INFO: lockdep is turned off." after the blocker.
    assert_eq!(
        reports[2].lines.last().unwrap(),
        "INFO: lockdep is turned off."
    );
    assert_eq!(reports[2].details["lockdep"], "off");

    let graph = splat::wait_for(&reports);
    let ab = cyclic(locked(
        edge("semaphore", ("deadlock_a", 48), ("deadlock_b", 49), &[1, 3]),
        "sem_b",
        0,
    ));
    let ba = cyclic(locked(
        edge("semaphore", ("deadlock_b", 49), ("deadlock_a", 48), &[2, 4]),
        "sem_a",
        0,
    ));
    assert_eq!(
        graph,
        WaitFor {
            edges: vec![ab, ba],
            cycles: vec![WaitCycle {
                tasks: vec![task("deadlock_a", 48), task("deadlock_b", 49)],
                edges: vec![0, 1],
                locks: vec!["sem_b".to_string(), "sem_a".to_string()],
            }],
        }
    );
    assert_eq!(
        blocker_explanation(&reports[1]),
        [
            "Real deadlock (it happened, lockdep did not have to predict it): deadlock_a/48 \
             waits for a semaphore last held by deadlock_b/49, which waits for a semaphore last \
             held by deadlock_a/48.",
            "Locks involved (per lockdep, report #1): deadlock_a/48 waits for sem_b, held by \
             deadlock_b/49; deadlock_b/49 waits for sem_a, held by deadlock_a/48.",
            "Fix: the tasks of this cycle take sem_a and sem_b in different orders: take them \
             in one global order everywhere (or release what a task holds before it waits).",
        ]
    );
    // Each report tells the cycle from its own task.
    assert!(reports[4].explanation.contains(
        "deadlock_b/49 waits for a semaphore last held by deadlock_a/48, which waits for a \
         semaphore last held by deadlock_b/49."
    ));
}

#[test]
fn abba_73_buggy_load_hung_blockers() {
    let reports = load("abba-7.3-buggy-load-hung.log");
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
    assert_eq!(r.tasks, [task("deadlock_a", 48)]);
    assert_eq!(r.acquiring.as_ref().map(|s| s.lock.as_str()), Some("sem_b"));
    assert_eq!(r.holding.as_ref().map(|s| s.lock.as_str()), Some("sem_a"));
    let waiters: Vec<(&str, u32, &str)> = reports[1..]
        .iter()
        .map(|r| {
            let h = r.hung_task.as_ref().unwrap();
            let b = blocker(r);
            (
                h.comm.as_str(),
                h.seconds as u32,
                b.holder.as_ref().unwrap().comm.as_str(),
            )
        })
        .collect();
    assert_eq!(
        waiters,
        [
            ("deadlock_a", 2, "deadlock_b"),
            ("deadlock_b", 2, "deadlock_a"),
            ("deadlock_a", 3, "deadlock_b"),
            ("deadlock_b", 3, "deadlock_a"),
            ("deadlock_a", 4, "deadlock_b"),
            ("deadlock_b", 4, "deadlock_a"),
        ]
    );
    assert_eq!(
        *blocker(&reports[5]),
        found("semaphore", ("deadlock_b", 49), A_WAITS)
    );
    assert_eq!((reports[5].start_line, reports[5].end_line), (194, 216));

    // Six blocker lines, two distinct edges. deadlock_a triggered the lockdep report while
    // acquiring sem_b; deadlock_a is the only task lockdep lists holding a lock (sem_a).
    let graph = splat::wait_for(&reports);
    assert_eq!(
        graph.edges,
        [
            cyclic(locked(
                edge(
                    "semaphore",
                    ("deadlock_a", 48),
                    ("deadlock_b", 49),
                    &[1, 3, 5]
                ),
                "sem_b",
                0
            )),
            cyclic(locked(
                edge(
                    "semaphore",
                    ("deadlock_b", 49),
                    ("deadlock_a", 48),
                    &[2, 4, 6]
                ),
                "sem_a",
                0
            )),
        ]
    );
    assert_eq!(
        graph.cycles,
        [WaitCycle {
            tasks: vec![task("deadlock_a", 48), task("deadlock_b", 49)],
            edges: vec![0, 1],
            locks: vec!["sem_b".to_string(), "sem_a".to_string()],
        }]
    );
    assert_eq!(
        blocker_explanation(&reports[2]),
        [
            "Real deadlock (it happened, lockdep did not have to predict it): deadlock_b/49 \
             waits for a semaphore last held by deadlock_a/48, which waits for a semaphore last \
             held by deadlock_b/49.",
            "Locks involved (per lockdep, report #1): deadlock_b/49 waits for sem_a, held by \
             deadlock_a/48; deadlock_a/48 waits for sem_b, held by deadlock_b/49.",
            "Fix: the tasks of this cycle take sem_a and sem_b in different orders: take them \
             in one global order everywhere (or release what a task holds before it waits).",
        ]
    );
    let text = splat::to_text(&reports);
    assert!(text.contains(
        "\nWait-for graph (from hung-task blocker lines): 2 edges, 1 cycle\n    \
         deadlock_a/48 -> deadlock_b/49: semaphore sem_b (reports #2, #4, #6)\n    \
         deadlock_b/49 -> deadlock_a/48: semaphore sem_a (reports #3, #5, #7)\n    \
         Cycle (real deadlock): deadlock_a/48 -> deadlock_b/49 -> deadlock_a/48\n\n\
         7 reports: 1 circular_dependency, 6 hung_task\n"
    ));
}

#[test]
fn mutex_chain_with_running_holder_stack() {
    let reports = load("blocker-mutex-chain.log");
    assert_eq!(
        kinds(&reports),
        [ReportKind::HungTask, ReportKind::HungTask]
    );
    let r = &reports[0];
    assert_eq!((r.start_line, r.end_line, r.truncated), (2, 36, false));
    assert_eq!(r.tasks, [task("(udev-worker)", 311)]);
    let mut expected = found(
        "mutex",
        ("kworker/0:1", 12),
        "INFO: task (udev-worker):311 is blocked on a mutex likely owned by task kworker/0:1:12.",
    );
    expected.holder_state = Some("R".to_string());
    assert_eq!(*blocker(r), expected);
    // The holder's stack is attached to the report of the task that waits for it, under its
    // own label; the waiter's own stack and details are untouched.
    let contexts: Vec<&str> = r.stacks.iter().map(|s| s.context.as_str()).collect();
    assert_eq!(contexts, ["hung task", "blocker holder"]);
    let holder: Vec<&str> = r.stacks[1].frames.iter().map(|f| f.function()).collect();
    assert_eq!(
        holder,
        [
            "__schedule",
            "hub_port_reset",
            "hub_port_connect",
            "hub_event",
            "process_one_work",
            "worker_thread",
            "kthread",
            "kthread_affine_node",
            "ret_from_fork",
            "ret_from_fork_asm"
        ]
    );
    assert!(!r.stacks[1].frames[0].reliable);
    let own = &r.stacks[0].frames;
    assert_eq!(
        (own.len(), own[0].function(), own[11].function()),
        (12, "__schedule", "entry_SYSCALL_64_after_hwframe")
    );
    let h = r.hung_task.as_ref().unwrap();
    assert_eq!(h.state.as_deref(), Some("D"));
    assert_eq!(h.called_from.as_deref(), Some("device_driver_attach"));
    assert_eq!(r.title, "INFO: task hung in device_driver_attach");
    assert_eq!(r.details.get("tgid").map(String::as_str), Some("311"));
    assert_eq!(r.details.get("ppid").map(String::as_str), Some("290"));
    assert_eq!(r.details.get("workqueue"), None);

    // The next hung-task report is not disturbed by the holder's dump.
    let r2 = &reports[1];
    assert_eq!((r2.start_line, r2.end_line), (37, 65));
    assert_eq!(r2.tasks, [task("jbd2/sda1-8", 205)]);
    assert_eq!(r2.hung_task.as_ref().unwrap().blocker, None);
    let contexts: Vec<&str> = r2.stacks.iter().map(|s| s.context.as_str()).collect();
    assert_eq!(contexts, ["hung task"]);
    assert_eq!(r2.stacks[0].frames.len(), 12);

    // kworker/0:1 holds (wq_completion)usb_hub_wq (a workqueue annotation) and &dev->mutex.
    let graph = splat::wait_for(&reports);
    let mut e = locked(
        edge("mutex", ("(udev-worker)", 311), ("kworker/0:1", 12), &[0]),
        "&dev->mutex",
        0,
    );
    e.holder_hung = false;
    e.holder_state = Some("R".to_string());
    assert_eq!(
        graph,
        WaitFor {
            edges: vec![e],
            cycles: vec![],
        }
    );
    assert_eq!(
        blocker_explanation(r),
        [
            "Wait-for chain (no cycle): (udev-worker)/311 waits for a mutex owned by \
             kworker/0:1/12, which is not hung (state R: running, in hub_port_reset).",
            "Locks involved (per lockdep, report #1): (udev-worker)/311 waits for &dev->mutex, \
             held by kworker/0:1/12.",
            "Fix: find who holds what this task waits for (a lock-order report above, or \
             SysRq-d \"show all locks\") and fix the ordering or the missing release.",
        ]
    );
    assert!(!r2.explanation.contains("Wait-for"));

    let dot = splat::to_dot(&reports);
    assert!(dot.contains("  subgraph cluster_waitfor {\n"));
    assert!(dot.contains(
        "    \"task kworker/0:1/12\" [label=\"kworker/0:1/12\\nnot hung, state R\", \
         shape=ellipse];\n"
    ));
    assert!(dot.contains(
        "    \"task (udev-worker)/311\" -> \"task kworker/0:1/12\" [style=dashed, \
         label=\"mutex &dev->mutex\"];\n"
    ));
    assert!(dot.ends_with("  }\n}\n"));
}

#[test]
fn three_task_cycle_of_three_lock_kinds() {
    let reports = load("blocker-three-cycle.log");
    assert_eq!(kinds(&reports), [ReportKind::HungTask; 6]);
    let mut rw = found(
        "rw-semaphore",
        ("cache_fill", 502),
        "INFO: task db writer:501 <writer> blocked on an rw-semaphore likely owned by task \
         cache_fill:502 <reader>",
    );
    rw.role = Some("writer".to_string());
    rw.holder_role = Some("reader".to_string());
    assert_eq!(*blocker(&reports[0]), rw);
    assert_eq!(*blocker(&reports[3]), rw);
    assert_eq!(
        *blocker(&reports[1]),
        found(
            "mutex",
            ("kworker/u8:3", 503),
            "INFO: task cache_fill:502 is blocked on a mutex likely owned by task \
             kworker/u8:3:503."
        )
    );
    assert_eq!(
        *blocker(&reports[5]),
        found(
            "semaphore",
            ("db writer", 501),
            "INFO: task kworker/u8:3:503 blocked on a semaphore likely last held by task \
             db writer:501"
        )
    );
    let graph = splat::wait_for(&reports);
    let mut e0 = cyclic(edge(
        "rw-semaphore",
        ("db writer", 501),
        ("cache_fill", 502),
        &[0, 3],
    ));
    e0.role = Some("writer".to_string());
    e0.holder_role = Some("reader".to_string());
    assert_eq!(
        graph,
        WaitFor {
            edges: vec![
                e0,
                cyclic(edge(
                    "mutex",
                    ("cache_fill", 502),
                    ("kworker/u8:3", 503),
                    &[1, 4]
                )),
                cyclic(edge(
                    "semaphore",
                    ("kworker/u8:3", 503),
                    ("db writer", 501),
                    &[2, 5]
                )),
            ],
            cycles: vec![WaitCycle {
                tasks: vec![
                    task("db writer", 501),
                    task("cache_fill", 502),
                    task("kworker/u8:3", 503)
                ],
                edges: vec![0, 1, 2],
                locks: vec![],
            }],
        }
    );
    assert_eq!(
        blocker_explanation(&reports[1]),
        [
            "Real deadlock (it happened, lockdep did not have to predict it): cache_fill/502 \
             waits for a mutex owned by kworker/u8:3/503, which waits for a semaphore last \
             held by db writer/501, which waits as a writer for an rw-semaphore owned by \
             cache_fill/502 (as a reader).",
            "Locks involved: a mutex, an rw-semaphore and a semaphore (no lockdep report in \
             this log names them).",
            "Lockdep printed nothing about this cycle: its semaphore carries no lockdep \
             annotation (plain semaphores are invisible to lockdep), so lockdep cannot see the \
             cycle close, and only the hung-task detector saw it.",
            "Fix: the tasks of this cycle take their locks in different orders: take them in \
             one global order everywhere (or release what a task holds before it waits).",
        ]
    );
    let dot = splat::to_dot(&reports);
    assert!(dot.contains(
        "    \"task db writer/501\" -> \"task cache_fill/502\" [style=dashed, \
         label=\"rw-semaphore (writer waits, reader holds)\", color=red, fontcolor=red, \
         penwidth=2];\n"
    ));
    // No lock-order edges: the lock part of the graph is empty.
    assert!(!dot.contains("  \"sem"));
}

#[test]
fn not_found_forms_and_a_chain_into_one() {
    let reports = load("blocker-not-found.log");
    assert_eq!(kinds(&reports), [ReportKind::HungTask; 4]);
    assert_eq!(
        *blocker(&reports[0]),
        found(
            "mutex",
            ("probe (x)", 102),
            "INFO: task loader:101 is blocked on a mutex likely owned by task probe (x):102."
        )
    );
    assert_eq!(
        *blocker(&reports[1]),
        not_found(
            "semaphore",
            "INFO: task probe (x):102 is blocked on a semaphore, but the last holder is not \
             found."
        )
    );
    assert_eq!(
        *blocker(&reports[2]),
        not_found(
            "mutex",
            "INFO: task sync:1:103 is blocked on a mutex, but the owner is not found."
        )
    );
    assert_eq!(
        *blocker(&reports[3]),
        not_found(
            "rw-semaphore",
            "INFO: task rwreader:104 is blocked on an rw-semaphore, but the owner is not found."
        )
    );
    let h = reports[2].hung_task.as_ref().unwrap();
    assert_eq!((h.comm.as_str(), h.pid), ("sync:1", 103));
    assert_eq!(
        splat::wait_for(&reports),
        WaitFor {
            edges: vec![edge("mutex", ("loader", 101), ("probe (x)", 102), &[0])],
            cycles: vec![],
        }
    );
    assert_eq!(
        blocker_explanation(&reports[0])[0],
        "Wait-for chain (no cycle): loader/101 waits for a mutex owned by probe (x)/102, which \
         is hung too, blocked on a semaphore whose last holder the kernel did not find."
    );
    assert_eq!(
        blocker_explanation(&reports[3])[0],
        "It is blocked on an rw-semaphore, but the kernel did not find its owner (the holder \
         may have exited, or the lock was never owned by a task)."
    );
    assert_eq!(
        blocker_explanation(&reports[1])[0],
        "It is blocked on a semaphore, but the kernel did not find its last holder (the holder \
         may have exited, or the lock was never owned by a task)."
    );
}

const HUNG_A: &str = "\
INFO: task worker a:10 blocked for more than 10 seconds.
task:worker a      state:D stack:0     pid:10    tgid:10    ppid:2      flags:0x00004000
Call Trace:
 <TASK>
 __schedule+0x5f0/0x637
 schedule+0x43/0x5d
 down+0x3f/0x4f
 do_a+0x10/0x20 [m]
 </TASK>
";

#[test]
fn blocker_line_of_another_task_is_not_taken() {
    let log = format!(
        "{HUNG_A}INFO: task other:11 blocked on a semaphore likely last held by task x:12\n"
    );
    let reports = splat::parse(&log);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].hung_task.as_ref().unwrap().blocker, None);
    assert_eq!(reports[0].end_line, 9);
    assert!(splat::wait_for(&reports).edges.is_empty());
    // Alone, a blocker line is no report at all, even with "stall" in a comm.
    let lone = "INFO: task installer:5 is blocked on a mutex likely owned by task stalled:6.\n";
    assert!(splat::parse(lone).is_empty());
}

#[test]
fn blocker_after_a_stack_without_markers() {
    // arm64 prints "Call trace:" without <TASK> markers.
    let log = "\
INFO: task a:10 blocked for more than 10 seconds.
task:a               state:D stack:0     pid:10    tgid:10    ppid:2      flags:0x00000008
Call trace:
 __switch_to+0xf0/0x170
 __schedule+0x5f0/0x637
 schedule+0x43/0x5d
 __mutex_lock+0x3b6/0x8a0
 mutex_lock+0x1b/0x30
 do_a+0x10/0x20
INFO: task a:10 is blocked on a mutex likely owned by task b:11.
task:b               state:S stack:0     pid:11    tgid:11    ppid:2      flags:0x00000008
Call trace:
 __switch_to+0xf0/0x170
 __schedule+0x5f0/0x637
 schedule+0x43/0x5d
 msleep+0x2d/0x40
 do_b+0x1c/0x50
";
    let reports = splat::parse(log);
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.end_line, 17);
    let b = blocker(r);
    assert_eq!(b.holder, Some(task("b", 11)));
    assert_eq!(b.holder_state.as_deref(), Some("S"));
    let own: Vec<&str> = r.stacks[0].frames.iter().map(|f| f.function()).collect();
    assert_eq!(own.last(), Some(&"do_a"));
    assert_eq!(r.stacks[1].context, "blocker holder");
    assert_eq!(r.stacks[1].frames.len(), 5);
    assert_eq!(
        blocker_explanation(r)[0],
        "Wait-for chain (no cycle): a/10 waits for a mutex owned by b/11, which is not hung \
         (state S: sleeping, in do_b)."
    );
}

#[test]
fn a_superseded_edge_makes_no_cycle() {
    // a waits for b; later a waits for c (its current blocker); b waits for a.
    let hung = |comm: &str, pid: u32, blocker: &str| {
        format!(
            "INFO: task {comm}:{pid} blocked for more than 10 seconds.\n\
             task:{comm:<15} state:D stack:0     pid:{pid}\n\
             Call Trace:\n <TASK>\n schedule+0x43/0x5d\n mutex_lock+0x1b/0x30\n </TASK>\n\
             INFO: task {comm}:{pid} is blocked on a mutex likely owned by task {blocker}.\n"
        )
    };
    let log = [
        hung("a", 1, "b:2"),
        hung("b", 2, "a:1"),
        hung("a", 1, "c:3"),
    ]
    .concat();
    let reports = splat::parse(&log);
    assert_eq!(reports.len(), 3);
    let g = splat::wait_for(&reports);
    let current: Vec<(&str, &str, bool)> = g
        .edges
        .iter()
        .map(|e| (e.waiter.comm.as_str(), e.holder.comm.as_str(), e.current))
        .collect();
    assert_eq!(
        current,
        [("a", "b", false), ("b", "a", true), ("a", "c", true)]
    );
    assert!(g.cycles.is_empty());
    assert_eq!(
        blocker_explanation(&reports[1])[0],
        "Wait-for chain (no cycle): b/2 waits for a mutex owned by a/1, which waits for a mutex \
         owned by c/3, which is not reported hung."
    );
}

#[test]
fn json_keys_and_old_documents() {
    let reports = load("abba-7.3-demo.log");
    let json = splat::to_json(&reports);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema"], "splat/1");
    let b = &v["reports"][1]["hung_task"]["blocker"];
    assert_eq!(b["kind"], "semaphore");
    assert_eq!(b["holder"]["comm"], "deadlock_b");
    assert_eq!(b["holder"]["pid"], 49);
    assert_eq!(b["role"], serde_json::Value::Null);
    assert_eq!(v["reports"][0]["hung_task"], serde_json::Value::Null);
    let w = &v["wait_for"];
    assert_eq!(w["edges"][0]["waiter"]["comm"], "deadlock_a");
    assert_eq!(w["edges"][0]["lock"], "sem_b");
    assert_eq!(w["edges"][0]["reports"], serde_json::json!([1, 3]));
    assert_eq!(w["cycles"][0]["tasks"][1]["pid"], 49);
    assert_eq!(w["cycles"][0]["edges"], serde_json::json!([0, 1]));
    let doc = splat::from_json(&json).unwrap();
    assert_eq!(doc.reports, reports);
    assert_eq!(doc.wait_for, splat::wait_for(&reports));

    // A document from before these keys still reads, with empty defaults.
    let mut old = v.clone();
    old.as_object_mut().unwrap().remove("wait_for");
    for r in old["reports"].as_array_mut().unwrap() {
        if let Some(h) = r["hung_task"].as_object_mut() {
            h.remove("blocker");
        }
    }
    let doc = splat::from_json(&old.to_string()).unwrap();
    assert_eq!(doc.wait_for, WaitFor::default());
    assert_eq!(doc.reports.len(), 5);
    assert_eq!(doc.reports[1].hung_task.as_ref().unwrap().blocker, None);
}

#[test]
fn older_fixtures_have_no_wait_for_graph() {
    for name in [
        "abba-buggy-hung.log",
        "syslog-hung-locks.log",
        "abba-demo.log",
    ] {
        let reports = load(name);
        assert!(!reports.is_empty(), "{name}");
        assert_eq!(splat::wait_for(&reports), WaitFor::default(), "{name}");
        assert!(!splat::to_text(&reports).contains("Wait-for"), "{name}");
        assert!(
            !splat::to_dot(&reports).contains("cluster_waitfor"),
            "{name}"
        );
    }
}

#[test]
fn long_chains_and_many_repeats_stay_fast() {
    let start = std::time::Instant::now();
    // 3000 tasks, each waiting for the next, each reported twice; the last one closes a cycle.
    let n = 3000u32;
    let mut log = String::new();
    for round in 0..2 {
        for pid in 1..=n {
            let holder = if pid == n { 1 } else { pid + 1 };
            log.push_str(&format!(
                "INFO: task t{pid}:{pid} blocked for more than {} seconds.\n\
                 Call Trace:\n <TASK>\n schedule+0x43/0x5d\n </TASK>\n\
                 INFO: task t{pid}:{pid} is blocked on a mutex likely owned by task t{holder}:{holder}.\n",
                10 + round
            ));
        }
    }
    let reports = splat::parse(&log);
    assert_eq!(reports.len(), 2 * n as usize);
    let g = splat::wait_for(&reports);
    assert_eq!(g.edges.len(), n as usize);
    assert_eq!(g.cycles.len(), 1);
    assert_eq!(g.cycles[0].tasks.len(), n as usize);
    assert_eq!(g.cycles[0].tasks[0], task("t1", 1));
    assert!(g.edges.iter().all(|e| e.in_cycle && e.reports.len() == 2));
    // The explanation tells a bounded part of a long cycle.
    let text = blocker_explanation(&reports[0]);
    assert!(text[0].starts_with(
        "Real deadlock (it happened, lockdep did not have to predict it): t1/1 waits for a \
         mutex owned by t2/2, which waits for a mutex owned by t3/3, which waits"
    ));
    assert!(text[0].ends_with(
        ", which waits for a mutex owned by t33/33, and so on around a cycle of 3000 tasks \
         back to t1/1."
    ));
    assert_eq!(
        text[1],
        "Locks involved: 32 mutexes (no lockdep report in this log names them)."
    );
    let _ = splat::to_dot(&reports);
    let _ = splat::to_text(&reports);
    let _ = splat::to_json(&reports);
    assert!(start.elapsed().as_secs() < 30, "took {:?}", start.elapsed());
}

mod fuzz {
    use proptest::prelude::*;

    const FRAGMENTS: &[&str] = &[
        "INFO: task ",
        "deadlock_a:48",
        "kworker/0:1:12",
        "(udev-worker):311",
        " <reader>",
        " <writer>",
        "<",
        ">",
        ":",
        "x",
        " is blocked on a mutex likely owned by task ",
        " blocked on a semaphore likely last held by task ",
        " blocked on an rw-semaphore likely owned by task ",
        " is blocked on a mutex, but the owner is not found.",
        " is blocked on a semaphore, but the last holder is not found.",
        " is blocked on an rw-semaphore, but the owner is not found.",
        " blocked for more than 2 seconds.",
        "task:kworker/0:1     state:R  running task",
        "task:deadlock_b      state:D",
        "Call Trace:",
        " <TASK>",
        " </TASK>",
        " down+0x3f/0x4f",
        "Workqueue: events x",
        "INFO: lockdep is turned off.",
        ".",
        "99999999999",
        "",
    ];

    fn line() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(FRAGMENTS), 0..8).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn blocker_fragments_never_panic(
            lines in prop::collection::vec(line(), 0..50),
            inserts in prop::collection::vec((any::<prop::sample::Index>(), line()), 0..10),
        ) {
            let fixture = include_str!("fixtures/abba-7.3-demo.log");
            let mut mixed: Vec<String> = fixture.lines().map(str::to_string).collect();
            for (at, l) in inserts {
                let at = at.index(mixed.len() + 1);
                mixed.insert(at, l);
            }
            for text in [lines.join("\n"), mixed.join("\n")] {
                let reports = splat::parse(&text);
                let json = splat::to_json(&reports);
                let doc = splat::from_json(&json).expect("own JSON parses");
                prop_assert_eq!(&doc.reports, &reports);
                prop_assert_eq!(doc.wait_for, splat::wait_for(&reports));
                let _ = splat::to_dot(&reports);
                let _ = splat::to_text(&reports);
                // Streamed: the same reports (explanations aside) and the same graph.
                let (streamed, json) = super::streamed(&text);
                let strip = |rs: &[splat::Report]| -> Vec<splat::Report> {
                    rs.iter().cloned().map(|mut r| { r.explanation.clear(); r }).collect()
                };
                prop_assert_eq!(strip(&streamed), strip(&reports));
                let doc = splat::from_json(&json).expect("streamed JSON parses");
                prop_assert_eq!(doc.wait_for, splat::wait_for(&reports));
            }
        }
    }
}

#[test]
fn cli_dot_and_json_on_the_73_console() {
    let path = fixture_path("abba-7.3-demo.log");
    let run = |flag: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_splat"))
            .arg(flag)
            .arg(&path)
            .output()
            .expect("run splat");
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let dot = run("--dot");
    // The lock-order graph is still there, the wait-for cluster follows it.
    assert!(dot.contains("  \"sem_b\" -> \"sem_a\" ["));
    let cluster = &dot[dot.find("  subgraph cluster_waitfor {").expect("cluster")..];
    assert_eq!(
        cluster,
        "  subgraph cluster_waitfor {\n    \
         label=\"wait-for (hung-task blocker lines)\";\n    \
         style=dashed;\n    \
         fontname=\"monospace\";\n    \
         \"task deadlock_a/48\" [label=\"deadlock_a/48\", shape=ellipse];\n    \
         \"task deadlock_b/49\" [label=\"deadlock_b/49\", shape=ellipse];\n    \
         \"task deadlock_a/48\" -> \"task deadlock_b/49\" [style=dashed, label=\"semaphore sem_b\", \
         color=red, fontcolor=red, penwidth=2];\n    \
         \"task deadlock_b/49\" -> \"task deadlock_a/48\" [style=dashed, label=\"semaphore sem_a\", \
         color=red, fontcolor=red, penwidth=2];\n  \
         }\n}\n"
    );
    let json = run("--json");
    let doc = splat::from_json(&json).expect("splat JSON");
    assert_eq!(doc.schema, "splat/1");
    assert_eq!(doc.wait_for.cycles.len(), 1);
    assert_eq!(
        doc.wait_for.cycles[0].tasks,
        [task("deadlock_a", 48), task("deadlock_b", 49)]
    );
}

/// The reports streamed by `parse_reader` (what the CLI prints), and the JSON text.
fn streamed(log: &str) -> (Vec<Report>, String) {
    let mut reports = Vec::new();
    let mut json = Vec::new();
    let mut w = splat::JsonWriter::new(&mut json);
    let graph = splat::parse_reader(log.as_bytes(), |r| {
        w.write(&r).expect("write to a Vec");
        reports.push(r);
    })
    .expect("read from a slice");
    // The analysis built the graph once, as the reports went by: the same as from all of them.
    assert_eq!(graph, splat::wait_for(&reports));
    w.finish(&graph).expect("write to a Vec");
    (reports, String::from_utf8(json).expect("utf-8"))
}

#[test]
fn streamed_reports_and_json_match_the_whole_log_on_every_fixture() {
    let dir = fixture_path("");
    let mut with_graph = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let log = String::from_utf8_lossy(&std::fs::read(&path).expect("fixture")).into_owned();
        let name = path.display().to_string();
        let whole = splat::parse(&log);
        let (reports, json) = streamed(&log);
        // On the fixtures, the cycles and chains close inside the batch of hung tasks: the
        // streamed explanations are the whole-log ones.
        assert_eq!(reports, whole, "{name}");
        // The streamed JSON is exactly the serialized Document, wait_for after reports.
        let doc = splat::Document {
            schema: splat::SCHEMA.to_string(),
            reports: whole.clone(),
            wait_for: splat::wait_for(&whole),
        };
        let expected = serde_json::to_string_pretty(&doc).expect("serialize") + "\n";
        assert_eq!(json, expected, "{name}");
        assert_eq!(splat::to_json(&whole), expected, "{name}");
        let back = splat::from_json(&json).expect("own JSON");
        assert_eq!(back, doc, "{name}");
        with_graph += usize::from(!doc.wait_for.edges.is_empty());
    }
    assert_eq!(
        with_graph, 15,
        "the 7.3, blocker, scenario and comm-newline fixtures"
    );
}

#[test]
fn empty_document_has_an_empty_wait_for_graph() {
    let json = splat::to_json(&[]);
    assert_eq!(
        json,
        "{\n  \"schema\": \"splat/1\",\n  \"reports\": [],\n  \"wait_for\": {\n    \
         \"edges\": [],\n    \"cycles\": []\n  }\n}\n"
    );
    assert_eq!(
        splat::from_json(&json).expect("parses").wait_for,
        WaitFor::default()
    );
}

/// A hung task, a report of another kind, then the second hung task closing the cycle: the
/// first report was streamed before the cycle existed, the second tells it, and the
/// document-level graph has it whole.
#[test]
fn a_cycle_across_batches_is_told_by_the_report_that_closes_it() {
    let hung = |comm: &str, pid: u32, holder: &str, hpid: u32| {
        format!(
            "INFO: task {comm}:{pid} blocked for more than 10 seconds.\n\
             Call Trace:\n <TASK>\n schedule+0x43/0x5d\n down+0x40/0x50\n </TASK>\n\
             INFO: task {comm}:{pid} blocked on a semaphore likely last held by task {holder}:{hpid}\n"
        )
    };
    let log = format!(
        "{}WARNING: CPU: 0 PID: 7 at lib/foo.c:1 foo+0x1/0x2\n\
         Call Trace:\n foo+0x1/0x2\n ---[ end trace 0000000000000000 ]---\n{}",
        hung("a", 1, "b", 2),
        hung("b", 2, "a", 1)
    );
    let whole = splat::parse(&log);
    assert_eq!(
        kinds(&whole),
        [
            ReportKind::HungTask,
            ReportKind::Generic,
            ReportKind::HungTask
        ]
    );
    let (reports, json) = streamed(&log);
    assert_eq!(kinds(&reports), kinds(&whole));
    // parse() knows the whole log: both hung reports tell the cycle.
    for i in [0, 2] {
        assert!(
            blocker_explanation(&whole[i])[0].starts_with("Real deadlock"),
            "{i}"
        );
    }
    // Streamed: the first one was told as a chain when it was printed, the second closes it.
    assert_eq!(
        blocker_explanation(&reports[0])[0],
        "Wait-for chain (no cycle): a/1 waits for a semaphore last held by b/2, which is not \
         reported hung."
    );
    assert_eq!(
        blocker_explanation(&reports[2])[0],
        "Real deadlock (it happened, lockdep did not have to predict it): b/2 waits for a \
         semaphore last held by a/1, which waits for a semaphore last held by b/2."
    );
    // The document-level graph is the same either way.
    let doc = splat::from_json(&json).expect("own JSON");
    assert_eq!(doc.wait_for, splat::wait_for(&whole));
    assert_eq!(doc.wait_for.cycles.len(), 1);
    assert_eq!(doc.wait_for.cycles[0].tasks, [task("a", 1), task("b", 2)]);
    let text = splat::to_text(&reports);
    let section = text.find("Wait-for graph").expect("section");
    assert!(section < text.find("\n3 reports: ").expect("count line"));
    assert!(text.contains("    Cycle (real deadlock): a/1 -> b/2 -> a/1\n"));
}

#[test]
fn repeated_blockers_keep_the_graph_bounded() {
    let mut b = splat::WaitForBuilder::new();
    let one = splat::parse(include_str!("fixtures/abba-7.3-demo.log"));
    let rounds = 200;
    for _ in 0..rounds {
        for r in &one {
            b.add(r);
        }
    }
    assert_eq!(b.count(), rounds * one.len());
    let g = b.graph();
    assert_eq!(g.edges.len(), 2);
    assert_eq!(g.cycles.len(), 1);
    assert_eq!(g.cycles[0].locks, ["sem_b", "sem_a"]);
    for e in &g.edges {
        assert_eq!(e.reports.len(), splat::waitfor::MAX_EDGE_REPORTS);
        assert!(e.in_cycle && e.current);
    }
}

#[test]
fn cli_text_tells_the_real_deadlock_and_the_graph_before_the_count() {
    let path = fixture_path("abba-7.3-demo.log");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_splat"))
        .arg(&path)
        .output()
        .expect("run splat");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains(
        "    Real deadlock (it happened, lockdep did not have to predict it): deadlock_a/48 \
         waits for a semaphore last held by deadlock_b/49, which waits for a semaphore last \
         held by deadlock_a/48.\n"
    ));
    let log = std::fs::read_to_string(&path).expect("fixture");
    assert_eq!(text, splat::to_text(&splat::parse(&log)));
    let section = text
        .find("\nWait-for graph (from hung-task blocker lines): 2 edges, 1 cycle\n")
        .expect("section");
    assert!(section < text.find("\n5 reports: ").expect("count line"));
}

#[test]
fn summary_has_no_rows_for_blocker_lines() {
    let dir = fixture_path("");
    let mut args = vec!["--summary".to_string(), "--json".to_string()];
    let mut reports = 0;
    for name in [
        "abba-7.3-demo.log",
        "abba-7.3-buggy-load-hung.log",
        "blocker-mutex-chain.log",
        "blocker-not-found.log",
        "blocker-three-cycle.log",
    ] {
        reports += load(name).len();
        args.push(dir.join(name).display().to_string());
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_splat"))
        .args(&args)
        .output()
        .expect("run splat");
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary JSON");
    assert_eq!(doc["reports"].as_u64(), Some(reports as u64));
    let bugs = doc["bugs"].as_array().expect("bugs");
    assert_eq!(bugs.len(), 13);
    for b in bugs {
        let kind = b["kind"].as_str().expect("kind");
        assert!(matches!(kind, "hung_task" | "circular_dependency"), "{b}");
        assert!(
            !b["title"].as_str().expect("title").contains("blocked on"),
            "{b}"
        );
    }
    // One row per hung function of the demo's two threads, across both 7.3 consoles.
    let row = |title: &str| {
        bugs.iter()
            .find(|b| b["title"] == title)
            .unwrap_or_else(|| panic!("no row {title}"))
    };
    for t in ["thread_a", "thread_b"] {
        let b = row(&format!(
            "INFO: task hung in rust_deadlock::abba::AbBa::{t}"
        ));
        assert_eq!(
            (b["count"].as_u64(), b["files"].as_u64()),
            (Some(5), Some(2))
        );
    }
}
