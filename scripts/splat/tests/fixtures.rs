//! Exact field extraction from the fixture logs in `tests/fixtures/`.
//!
//! The real guest logs: `abba-buggy-hung.log`, `abba-7.3-*.log`, `scenario-*.log`,
//! `hung-comm-newline-interleaved-7.3.log` and `hung-io-wait-7.3.log` (each test says how it was
//! caught); the others were written by hand from the kernel's print formats (lockdep.c,
//! hung_task.c, sched/core.c, dumpstack.c).

use splat::{Frame, HeldLock, LockClass, LockSite, Report, ReportKind, ScenarioRow};
mod common;
use common::{fixture_path, kinds, load, task, titles};

/// The one report of fixture `name`, which must be of kind `kind`.
fn only(name: &str, kind: ReportKind) -> Report {
    let mut reports = load(name);
    assert_eq!(reports.len(), 1, "{name}: {reports:?}");
    let r = reports.remove(0);
    assert_eq!(r.kind, kind, "{name}");
    r
}

const LOCK_FN: &str = "kernel::sync::lock::Lock::lock";

fn class(name: &str, usage: &str, wait: Option<&str>, address: Option<&str>) -> LockClass {
    LockClass {
        name: name.to_string(),
        usage: Some(usage.to_string()),
        wait_type: wait.map(str::to_string),
        address: address.map(str::to_string),
    }
}

fn site(lock: &str, address: Option<&str>, at: &str) -> Option<LockSite> {
    Some(LockSite {
        lock: lock.to_string(),
        address: address.map(str::to_string),
        at: Some(at.to_string()),
    })
}

fn held(task: &str, pid: u32, index: u32, lock: &str, address: Option<&str>, at: &str) -> HeldLock {
    HeldLock {
        task: task.to_string(),
        pid: Some(pid),
        index,
        lock: lock.to_string(),
        address: address.map(str::to_string),
        at: Some(at.to_string()),
    }
}

fn row(cpu0: Option<&str>, cpu1: Option<&str>) -> ScenarioRow {
    ScenarioRow {
        cpu0: cpu0.map(str::to_string),
        cpu1: cpu1.map(str::to_string),
    }
}

fn functions(frames: &[Frame]) -> Vec<&str> {
    frames.iter().map(|f| f.function()).collect()
}

fn reliable(frames: &[Frame]) -> Vec<&str> {
    frames
        .iter()
        .filter(|f| f.reliable)
        .map(|f| f.function())
        .collect()
}

fn stack<'a>(r: &'a Report, context: &str) -> &'a [Frame] {
    &r.stack(context)
        .unwrap_or_else(|| panic!("no stack {context:?} in {:?}", r.stacks))
        .frames
}

fn detail<'a>(r: &'a Report, key: &str) -> &'a str {
    r.details
        .get(key)
        .unwrap_or_else(|| panic!("no detail {key:?} in {:?}", r.details))
}

#[test]
fn abba_buggy_hung_circular() {
    let reports = load("abba-buggy-hung.log");
    use ReportKind::*;
    assert_eq!(
        kinds(&reports),
        [CircularDependency, HungTask, HungTask, HungTask, HungTask]
    );
    let r = &reports[0];
    assert_eq!(
        r.title,
        "possible deadlock in rust_deadlock::abba::lock_in_order"
    );
    assert_eq!(
        r.header,
        "WARNING: possible circular locking dependency detected"
    );
    assert_eq!(r.tasks, [task("deadlock_b", 43)]);
    assert_eq!(
        r.locks,
        [
            class("sem_a", "+.+.", Some("{3:3}"), Some("ff11000000712a60")),
            class("sem_b", "+.+.", Some("{3:3}"), Some("ff11000000712ae8")),
        ]
    );
    assert_eq!(
        r.acquiring,
        site("sem_a", Some("ff11000000712a60"), LOCK_FN)
    );
    assert_eq!(r.holding, site("sem_b", Some("ff11000000712ae8"), LOCK_FN));
    assert_eq!(r.cycle, ["sem_b", "sem_a", "sem_b"]);
    assert_eq!(r.chain.len(), 2);
    assert_eq!((r.chain[0].index, r.chain[0].lock.as_str()), (1, "sem_b"));
    assert_eq!((r.chain[1].index, r.chain[1].lock.as_str()), (0, "sem_a"));
    assert_eq!(
        functions(&r.chain[0].stack),
        [
            LOCK_FN,
            "rust_deadlock::abba::lock_in_order",
            "rust_deadlock::kthread::trampoline",
            "kthread",
            "ret_from_fork",
            "ret_from_fork_asm"
        ]
    );
    assert_eq!(
        functions(&r.chain[1].stack),
        [
            "__lock_acquire",
            "lock_acquire",
            LOCK_FN,
            "rust_deadlock::abba::lock_in_order",
            "rust_deadlock::kthread::trampoline",
            "kthread",
            "ret_from_fork",
            "ret_from_fork_asm"
        ]
    );
    assert_eq!(
        r.held_locks,
        [held(
            "deadlock_b",
            43,
            0,
            "sem_b",
            Some("ff11000000712ae8"),
            LOCK_FN
        )]
    );
    assert_eq!(
        r.scenario,
        [
            row(Some("lock(sem_b);"), None),
            row(None, Some("lock(sem_a);")),
            row(None, Some("lock(sem_b);")),
            row(Some("lock(sem_a);"), None),
        ]
    );
    let bt = stack(r, "backtrace");
    assert_eq!(bt.len(), 20);
    assert_eq!(bt.iter().filter(|f| !f.reliable).count(), 8);
    assert_eq!(
        reliable(bt),
        [
            "dump_stack_lvl",
            "dump_stack",
            "print_circular_bug",
            "check_noncircular",
            "__lock_acquire",
            "lock_acquire",
            LOCK_FN,
            "rust_deadlock::abba::lock_in_order",
            "rust_deadlock::kthread::trampoline",
            "kthread",
            "ret_from_fork",
            "ret_from_fork_asm"
        ]
    );
    let lock_frame = bt
        .iter()
        .find(|f| f.reliable && f.function() == LOCK_FN)
        .unwrap();
    assert_eq!(lock_frame.function(), LOCK_FN);
    assert_eq!(lock_frame.offset(), Some("0x3c/0xd0"));
    assert_eq!(lock_frame.module(), Some("rust_deadlock"));
    assert_eq!(
        lock_frame.demangled(),
        Some("<kernel::sync::lock::Lock<(), rust_deadlock::semaphore::SemaphoreBackend>>::lock")
    );
    assert!(lock_frame.symbol().starts_with("_RNvMs1_"));
    assert_eq!(bt[0].module(), None);
    assert_eq!((r.start_line, r.end_line), (6, 79));
    assert_eq!(r.lines.first(), Some(r.header.as_str()));
    assert_eq!(r.lines.last(), Some(" </TASK>"));
    assert!(!r.truncated);
    assert!(r
        .explanation
        .contains("Lock-order cycle: sem_b -> sem_a -> sem_b"));
    assert!(r.explanation.contains(
        "deadlock_b/43 holds sem_b (taken at kernel::sync::lock::Lock::lock) and is trying to \
         take sem_a in rust_deadlock::abba::lock_in_order."
    ));
    assert!(r.explanation.contains(
        "Earlier, sem_b was taken while holding sem_a in rust_deadlock::abba::lock_in_order"
    ));
    assert!(r.explanation.contains(
        "Fix: take sem_a and sem_b in one global order everywhere (always sem_a before sem_b)"
    ));
}

#[test]
fn abba_buggy_hung_tasks() {
    let reports = load("abba-buggy-hung.log");
    let expected = [
        ("deadlock_a", 42, 2),
        ("deadlock_b", 43, 2),
        ("deadlock_a", 42, 4),
        ("deadlock_b", 43, 4),
    ];
    for (r, (comm, pid, secs)) in reports[1..].iter().zip(expected) {
        assert_eq!(r.kind, ReportKind::HungTask);
        assert_eq!(
            r.header,
            format!("INFO: task {comm}:{pid} blocked for more than {secs} seconds.")
        );
        assert_eq!(
            r.title,
            "INFO: task hung in rust_deadlock::abba::lock_in_order"
        );
        assert_eq!(r.tasks, [task(comm, pid)]);
        let h = r.hung_task.as_ref().expect("hung task info");
        assert_eq!((h.comm.as_str(), h.pid, h.seconds), (comm, pid, secs));
        assert_eq!(h.state.as_deref(), Some("D"));
        assert_eq!(h.blocked_in.as_deref(), Some("down()"));
        assert_eq!(h.waiting_on.as_deref(), Some("semaphore"));
        assert_eq!(h.called_from.as_deref(), Some(LOCK_FN));
        assert_eq!(
            h.summary,
            [
                "__down_common",
                "__down",
                "down",
                LOCK_FN,
                "rust_deadlock::abba::lock_in_order",
                "rust_deadlock::kthread::trampoline",
                "kthread",
                "ret_from_fork",
                "ret_from_fork_asm"
            ]
        );
        let frames = stack(r, "hung task");
        assert_eq!(frames.len(), 17);
        assert_eq!(frames[0].function(), "__schedule");
        assert_eq!(detail(r, "tgid"), pid.to_string());
        assert_eq!(detail(r, "ppid"), "2");
        assert!(r.held_locks.is_empty());
        assert!(r.cycle.is_empty());
        assert!(!r.truncated);
        assert!(r.explanation.contains(&format!(
            "Task {comm} (pid {pid}) has been blocked for more than {secs} seconds in state D"
        )));
        assert!(r.explanation.contains(
            "It is blocked in down() on a semaphore, called from kernel::sync::lock::Lock::lock, \
             in rust_deadlock::abba::lock_in_order."
        ));
        assert!(r.explanation.contains("Likely cause: report #1"));
    }
    // "INFO: lockdep is turned off." closes each batch and belongs to its last report.
    assert_eq!(detail(&reports[2], "lockdep"), "off");
    assert_eq!(detail(&reports[4], "lockdep"), "off");
    assert!(!reports[1].details.contains_key("lockdep"));
    assert!(reports[2].explanation.contains("which this task triggered"));
    assert_eq!((reports[1].start_line, reports[1].end_line), (81, 104));
}

#[test]
fn caller_ids_crlf_interleaved() {
    let reports = load("caller-ids-crlf.log");
    use ReportKind::*;
    assert_eq!(
        kinds(&reports),
        [CircularDependency, Generic, HungTask, HungTask]
    );

    let c = &reports[0];
    assert_eq!(
        c.title,
        "possible deadlock in rust_deadlock::abba::AbBa::thread_b"
    );
    assert_eq!(c.tasks, [task("deadlock_b", 43)]);
    assert_eq!(c.cycle, ["sem_b", "sem_a", "sem_b"]);
    assert_eq!(
        functions(&c.chain[0].stack)[..2],
        [LOCK_FN, "rust_deadlock::abba::AbBa::thread_a"]
    );
    assert_eq!(
        functions(&c.chain[1].stack)[..4],
        [
            "__lock_acquire",
            "lock_acquire",
            LOCK_FN,
            "rust_deadlock::abba::AbBa::thread_b"
        ]
    );
    assert_eq!(stack(c, "backtrace").len(), 16);
    // De-interleaved by caller id: none of T44's lines ended up in the lockdep report.
    assert_eq!(c.lines.len(), 71);
    assert!(c
        .lines
        .iter()
        .all(|l| !l.contains("demo") && !l.contains('\r')));
    assert!(!c.truncated);
    assert!(c.explanation.contains(
        "Earlier, sem_b was taken while holding sem_a in rust_deadlock::abba::AbBa::thread_a"
    ));

    let w = &reports[1];
    assert_eq!(w.title, "WARNING in demo_poke");
    assert_eq!(
        w.header,
        "WARNING: CPU: 1 PID: 44 at drivers/misc/demo.c:42 demo_poke+0x1a/0x30 [demo]"
    );
    assert_eq!(w.tasks, [task("poker", 44)]);
    assert_eq!(detail(w, "file"), "drivers/misc/demo.c");
    assert_eq!(detail(w, "line"), "42");
    assert_eq!(detail(w, "rip"), "demo_poke");
    assert_eq!(
        reliable(stack(w, "backtrace")),
        [
            "demo_write",
            "vfs_write",
            "ksys_write",
            "do_syscall_64",
            "entry_SYSCALL_64_after_hwframe"
        ]
    );
    assert_eq!(w.lines.len(), 19);
    assert!(!w.truncated);

    for (r, comm, pid, thread) in [
        (
            &reports[2],
            "deadlock_a",
            42,
            "rust_deadlock::abba::AbBa::thread_a",
        ),
        (
            &reports[3],
            "deadlock_b",
            43,
            "rust_deadlock::abba::AbBa::thread_b",
        ),
    ] {
        assert_eq!(r.title, format!("INFO: task hung in {thread}"));
        assert_eq!(r.tasks, [task(comm, pid)]);
        let h = r.hung_task.as_ref().unwrap();
        assert_eq!((h.seconds, h.blocked_in.as_deref()), (2, Some("down()")));
        let down = stack(r, "hung task")
            .iter()
            .find(|f| f.function() == "down")
            .unwrap();
        assert_eq!(down.location(), Some("kernel/locking/semaphore.c:60"));
        assert_eq!(down.offset(), Some("0x40/0x50"));
    }
}

#[test]
fn crlf_and_prefixes_do_not_change_results() {
    let plain = std::fs::read_to_string(fixture_path("abba-buggy-hung.log")).unwrap();
    let expected = splat::parse(&plain);
    let crlf = plain.replace('\n', "\r\n");
    assert_eq!(splat::parse(&crlf), expected);
    let syslog: String = plain
        .lines()
        .map(|l| format!("Nov 21 10:00:00 guest kernel: {l}\n"))
        .collect();
    assert_eq!(splat::parse(&syslog), expected);
    let caller: String = plain
        .lines()
        .map(|l| match l.find(']') {
            Some(i) if l.starts_with('[') => format!("{}[  T43]{}\n", &l[..=i], &l[i + 1..]),
            _ => format!("{l}\n"),
        })
        .collect();
    let with_caller = splat::parse(&caller);
    assert_eq!(kinds(&with_caller), kinds(&expected));
    assert_eq!(with_caller[0].cycle, expected[0].cycle);
    let bare: String = plain
        .lines()
        .map(|l| {
            let (text, _) = splat::input::strip_prefixes(l);
            format!("{text}\n")
        })
        .collect();
    assert_eq!(splat::parse(&bare), expected);
}

#[test]
fn truncated_circular() {
    let r = &only("truncated.log", ReportKind::CircularDependency);
    assert!(r.truncated);
    assert_eq!(
        r.title,
        "possible deadlock in rust_deadlock::abba::AbBa::thread_b"
    );
    assert_eq!(r.tasks, [task("deadlock_b", 43)]);
    assert_eq!(
        r.acquiring,
        site("sem_a", Some("ff11000000712a60"), LOCK_FN)
    );
    assert_eq!(r.holding, site("sem_b", Some("ff11000000712ae8"), LOCK_FN));
    assert_eq!(r.cycle, ["sem_b", "sem_a", "sem_b"]);
    assert_eq!(r.chain.len(), 2);
    assert_eq!(
        functions(&r.chain[1].stack),
        [
            "__lock_acquire",
            "lock_acquire",
            LOCK_FN,
            "rust_deadlock::abba::AbBa::thread_b"
        ]
    );
    assert!(r.stack("backtrace").is_none());
    assert!(r.held_locks.is_empty() && r.scenario.is_empty());
    assert!(r.explanation.contains("cut off"));
}

#[test]
fn truncation_at_every_line_keeps_what_was_printed() {
    let text = std::fs::read_to_string(fixture_path("abba-buggy-hung.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for n in 0..=lines.len() {
        let cut = lines[..n].join("\n");
        let reports = splat::parse(&cut);
        // The circular report starts at line 6 and ends at line 79.
        if n >= 6 {
            assert_eq!(
                reports[0].kind,
                ReportKind::CircularDependency,
                "cut at {n}"
            );
            assert_eq!(reports[0].truncated, n < 79, "cut at {n}");
        } else {
            assert!(reports.is_empty(), "cut at {n}");
        }
        if n >= 16 {
            assert_eq!(reports[0].holding.as_ref().unwrap().lock, "sem_b");
            assert_eq!(reports[0].cycle, ["sem_b", "sem_a", "sem_b"], "cut at {n}");
        }
    }
}

#[test]
fn syslog_hung_with_lock_dump() {
    let reports = load("syslog-hung-locks.log");
    assert_eq!(
        kinds(&reports),
        [ReportKind::HungTask, ReportKind::HungTask]
    );
    let dump = [
        held(
            "khungtaskd",
            30,
            0,
            "rcu_read_lock",
            Some("ffffffff82f4b4a0"),
            "debug_show_all_locks",
        ),
        held(
            "deadlock_a",
            42,
            0,
            "sem_a",
            Some("ff11000000712a60"),
            LOCK_FN,
        ),
        held(
            "deadlock_b",
            43,
            0,
            "sem_b",
            Some("ff11000000712ae8"),
            LOCK_FN,
        ),
        held(
            "bash",
            201,
            0,
            "&tty->ldisc_sem",
            Some("ffff888003a5e098"),
            "tty_ldisc_ref_wait",
        ),
        held(
            "bash",
            201,
            1,
            "&ldata->atomic_read_lock",
            Some("ffffc900001e32f8"),
            "n_tty_read",
        ),
    ];
    for r in &reports {
        assert_eq!(r.held_locks, dump);
        assert_eq!(r.tasks.len(), 1);
        assert_eq!(r.hung_task.as_ref().unwrap().seconds, 122);
        assert!(!r.truncated);
        assert!(r.lock("sem_a").is_some() && r.lock("rcu_read_lock").is_some());
    }
    assert_eq!(
        reports[0].title,
        "INFO: task hung in rust_deadlock::abba::AbBa::thread_a"
    );
    assert_eq!(
        reports[1].title,
        "INFO: task hung in rust_deadlock::abba::AbBa::thread_b"
    );
    assert!(reports[0]
        .explanation
        .contains("It holds sem_a (taken at kernel::sync::lock::Lock::lock)."));
    assert!(reports[1].explanation.contains("deadlock_a/42 holds sem_a"));
    // The lock list's lines are appended to the last hung report of the batch.
    assert!(reports[1]
        .lines
        .iter()
        .any(|l| l == "Showing all locks held in the system:"));
    assert_eq!(
        reports[1].lines.last(),
        Some("=============================================")
    );
    // The systemd line between report lines is not part of the report.
    assert!(reports[0].lines.iter().all(|l| !l.contains("systemd")));
    assert_eq!(reports[0].lines.len(), 22);
}

#[test]
fn recursive_locking() {
    let r = &only("recursive.log", ReportKind::RecursiveLocking);
    assert_eq!(
        r.title,
        "possible deadlock in rust_deadlock::recursive::relock"
    );
    assert_eq!(r.tasks, [task("recurse", 77)]);
    assert_eq!(
        r.locks,
        [class(
            "sem_a",
            "+.+.",
            Some("{3:3}"),
            Some("ff11000000712a60")
        )]
    );
    assert_eq!(r.acquiring, r.holding);
    assert_eq!(r.cycle, ["sem_a", "sem_a"]);
    assert_eq!(
        r.scenario,
        [
            row(Some("lock(sem_a);"), None),
            row(Some("lock(sem_a);"), None)
        ]
    );
    assert_eq!(r.held_locks.len(), 1);
    assert!(r
        .explanation
        .contains("It is the same lock (address ff11000000712a60)"));
    assert!(!r.truncated);
}

#[test]
fn inconsistent_lock_state() {
    let r = &only("inconsistent.log", ReportKind::InconsistentLockState);
    assert_eq!(r.title, "inconsistent lock state in demo_timer_fn");
    assert_eq!(r.tasks, [task("swapper/0", 0)]);
    assert_eq!(detail(r, "from_usage"), "SOFTIRQ-ON-W");
    assert_eq!(detail(r, "to_usage"), "IN-SOFTIRQ-W");
    assert_eq!(detail(r, "irq_context"), "HC0[0]:SC1[1]:HE1:SE0");
    assert_eq!(detail(r, "irq_event_stamp"), "123456");
    assert_eq!(detail(r, "hardirqs_last_enabled"), "_raw_spin_unlock_irq");
    assert_eq!(detail(r, "softirqs_last_disabled"), "__irq_exit_rcu");
    assert_eq!(
        r.acquiring,
        site("&priv->lock", Some("ff11000003a1c0d8"), "demo_timer_fn")
    );
    assert_eq!(
        r.locks,
        [
            class(
                "&priv->lock",
                "+.?.",
                Some("{2:2}"),
                Some("ff11000003a1c0d8")
            ),
            class(
                "(&priv->timer)",
                "+.-.",
                Some("{0:0}"),
                Some("ffffc90000003e60")
            ),
        ]
    );
    assert_eq!(
        functions(stack(r, "SOFTIRQ-ON-W state registered")),
        [
            "lock_acquire",
            "_raw_spin_lock",
            "demo_ioctl",
            "__x64_sys_ioctl",
            "do_syscall_64",
            "entry_SYSCALL_64_after_hwframe"
        ]
    );
    assert_eq!(
        r.scenario,
        [
            row(Some("lock(&priv->lock);"), None),
            row(Some("<Interrupt>"), None),
            row(Some("lock(&priv->lock);"), None),
        ]
    );
    assert_eq!(
        r.held_locks,
        [held(
            "swapper/0",
            0,
            0,
            "(&priv->timer)",
            Some("ffffc90000003e60"),
            "call_timer_fn"
        )]
    );
    // The backtrace runs through <IRQ>, </IRQ>, <TASK> and the register dump.
    let bt = stack(r, "backtrace");
    assert_eq!(bt.len(), 25);
    assert_eq!(bt.last().unwrap().function(), "common_startup_64");
    assert!(r
        .explanation
        .contains("{SOFTIRQ-ON-W}: taken with softirqs enabled (first seen in demo_ioctl)"));
    assert!(r.explanation.contains("spin_lock_bh()"));
    assert!(!r.truncated);
}

#[test]
fn irq_lock_inversion() {
    let r = &only("irq-inversion.log", ReportKind::IrqLockInversion);
    assert_eq!(r.title, "possible deadlock in demo_rx_softirq");
    assert_eq!(r.tasks, [task("swapper/1", 0)]);
    assert_eq!(
        r.acquiring,
        site(
            "&dev->stats_lock",
            Some("ff11000003a1c118"),
            "demo_rx_softirq"
        )
    );
    assert_eq!(detail(r, "other_lock"), "&dev->cfg_lock");
    assert_eq!(detail(r, "irq_class"), "SOFTIRQ");
    assert_eq!(detail(r, "held_lock_count"), "0");
    assert!(r.held_locks.is_empty());
    assert_eq!(r.scenario.len(), 6);
    assert_eq!(r.scenario[1], row(None, Some("local_irq_disable();")));
    assert_eq!(r.scenario[4], row(Some("<Interrupt>"), None));
    assert_eq!(
        functions(stack(r, "&dev->cfg_lock HARDIRQ-ON-W")),
        [
            "lock_acquire",
            "_raw_spin_lock",
            "demo_configure",
            "demo_probe"
        ]
    );
    assert_eq!(
        functions(stack(r, "&dev->cfg_lock acquired")),
        [
            "lock_acquire",
            "_raw_spin_lock",
            "demo_update_stats",
            "demo_configure"
        ]
    );
    assert_eq!(stack(r, "&dev->stats_lock IN-SOFTIRQ-W").len(), 4);
    assert_eq!(stack(r, "&dev->stats_lock INITIAL USE").len(), 3);
    assert_eq!(stack(r, "backtrace").len(), 12);
    assert!(!r.truncated);
}

#[test]
fn safe_to_unsafe_order() {
    let r = &only("safe-unsafe.log", ReportKind::IrqLockInversion);
    assert_eq!(
        r.header,
        "WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected"
    );
    assert_eq!(r.title, "possible deadlock in demo_add");
    assert_eq!(r.tasks, [task("insmod", 215)]);
    assert_eq!(
        r.acquiring,
        site("&dev->list_lock", Some("ff11000003b2c050"), "demo_add")
    );
    assert_eq!(
        r.holding,
        site("&dev->irq_lock", Some("ff11000003b2c010"), "demo_init")
    );
    assert_eq!(
        detail(r, "new_dependency"),
        "&dev->irq_lock -> &dev->list_lock"
    );
    assert_eq!(detail(r, "irq_safe_lock"), "&dev->irq_lock");
    assert_eq!(detail(r, "irq_unsafe_lock"), "&dev->list_lock");
    assert_eq!(detail(r, "irq_class"), "HARDIRQ");
    assert_eq!(detail(r, "irq_context"), "HC0[0]:SC0[0]:HE0:SE1");
    assert_eq!(
        functions(stack(r, "became HARDIRQ-irq-safe")),
        [
            "lock_acquire",
            "_raw_spin_lock",
            "demo_irq_handler",
            "__handle_irq_event_percpu"
        ]
    );
    assert_eq!(
        functions(stack(r, "became HARDIRQ-irq-unsafe")),
        ["lock_acquire", "_raw_spin_lock", "demo_scan", "demo_init"]
    );
    assert_eq!(
        r.held_locks,
        [held(
            "insmod",
            215,
            0,
            "&dev->irq_lock",
            Some("ff11000003b2c010"),
            "demo_init"
        )]
    );
    assert!(r.explanation.contains("spin_lock_irqsave()"));
    assert!(!r.truncated);
}

#[test]
fn bad_unlock_inside_hung_report() {
    let reports = load("bad-unlock-interleaved.log");
    assert_eq!(
        kinds(&reports),
        [ReportKind::HungTask, ReportKind::BadUnlockBalance]
    );
    let h = &reports[0];
    assert_eq!(stack(h, "hung task").len(), 15);
    assert!(!h.truncated);
    assert!(h
        .lines
        .iter()
        .all(|l| !l.contains("unlocker") && !l.contains("lab:")));
    assert_eq!(
        h.title,
        "INFO: task hung in rust_deadlock::abba::AbBa::thread_a"
    );

    let b = &reports[1];
    assert_eq!(
        b.title,
        "WARNING: bad unlock balance in rust_deadlock::unlock::double_up"
    );
    assert_eq!(b.tasks, [task("unlocker", 88)]);
    assert_eq!(
        b.acquiring,
        Some(LockSite {
            lock: "sem_a".into(),
            address: None,
            at: Some("rust_deadlock::unlock::double_up".into())
        })
    );
    assert_eq!(
        functions(stack(b, "release")),
        ["rust_deadlock::unlock::double_up"]
    );
    assert_eq!(detail(b, "held_lock_count"), "0");
    assert!(!b.truncated);
}

#[test]
fn held_lock_freed() {
    let r = &only("held-lock-freed.log", ReportKind::HeldLockFreed);
    assert_eq!(r.title, "WARNING: held lock freed in demo_release");
    assert_eq!(r.tasks, [task("freer", 91)]);
    assert_eq!(detail(r, "memory"), "ff11000003c4a000-ff11000003c4a0ff");
    assert_eq!(
        r.holding,
        site("&obj->lock", Some("ff11000003c4a040"), "demo_release")
    );
    assert_eq!(r.held_locks.len(), 1);
}

#[test]
fn lock_held_returning_to_user_space() {
    let r = &only("return-to-user.log", ReportKind::LockHeldAtExit);
    assert_eq!(
        r.title,
        "WARNING: lock held when returning to user space in demo_ioctl"
    );
    assert_eq!(r.tasks, [task("leaky", 101)]);
    assert_eq!(
        r.held_locks,
        [held(
            "leaky",
            101,
            0,
            "demo_mutex",
            Some("ffffffffc0203100"),
            "demo_ioctl"
        )]
    );
    assert!(r.stacks.is_empty());
    assert!(!r.truncated);
    assert_eq!((r.start_line, r.end_line), (3, 8));
    assert!(r
        .explanation
        .contains("leaky/101 returned to user space while still holding demo_mutex"));
}

#[test]
fn task_exit_with_locks() {
    let r = &only("task-exit-locks.log", ReportKind::LockHeldAtExit);
    assert_eq!(r.header, "WARNING: leaky/102 still has locks held!");
    assert_eq!(r.title, "WARNING: still has locks held in demo_open");
    assert_eq!(r.tasks, [task("leaky", 102)]);
    assert_eq!(reliable(stack(r, "backtrace"))[2], "do_exit");
}

#[test]
fn suspicious_rcu_usage_journal() {
    let r = &only("rcu-journal.log", ReportKind::SuspiciousRcuUsage);
    assert_eq!(r.title, "WARNING: suspicious RCU usage in demo_lookup");
    assert_eq!(r.tasks, [task("reader", 120)]);
    assert_eq!(detail(r, "file"), "drivers/misc/demo.c");
    assert_eq!(detail(r, "line"), "88");
    assert_eq!(
        detail(r, "message"),
        "suspicious rcu_dereference_check() usage"
    );
    assert_eq!(detail(r, "rcu_scheduler_active"), "2");
    assert_eq!(detail(r, "debug_locks"), "1");
    assert_eq!(
        r.held_locks,
        [held(
            "reader",
            120,
            0,
            "demo_mutex",
            Some("ffffffffc0203200"),
            "demo_read"
        )]
    );
}

#[test]
fn sleeping_in_atomic() {
    let r = &only("sleep-atomic.log", ReportKind::SleepInAtomic);
    assert_eq!(
        r.title,
        "BUG: sleeping function called from invalid context in rust_deadlock::abba::AbBa::init"
    );
    assert_eq!(r.tasks, [task("sleeper", 130)]);
    for (k, v) in [
        ("file", "kernel/locking/semaphore.c"),
        ("line", "60"),
        ("in_atomic", "1"),
        ("irqs_disabled", "0"),
        ("non_block", "0"),
        ("preempt_count", "1"),
        ("expected_preempt_count", "0"),
        ("rcu_nest_depth", "0"),
    ] {
        assert_eq!(detail(r, k), v, "{k}");
    }
    let pre = stack(r, "preemption disabled");
    assert_eq!(functions(pre), ["rust_deadlock::abba::AbBa::init"]);
    assert_eq!(
        pre[0].demangled(),
        Some("<rust_deadlock::abba::AbBa as kernel::Module>::init")
    );
    assert_eq!(
        r.held_locks,
        [held(
            "sleeper",
            130,
            0,
            "demo_spinlock",
            Some("ffffffffc0203300"),
            "rust_deadlock::abba::AbBa::init"
        )]
    );
    assert_eq!(stack(r, "backtrace").len(), 9);
    assert!(!r.truncated);
}

#[test]
fn generic_warn_and_oops() {
    let reports = load("generic.log");
    assert_eq!(kinds(&reports), [ReportKind::Generic, ReportKind::Generic]);
    let w = &reports[0];
    assert_eq!(w.title, "WARNING in demo_poke");
    assert_eq!(w.tasks, [task("poker", 140)]);
    assert_eq!(detail(w, "function"), "demo_poke");
    assert_eq!(detail(w, "hardirqs_last_enabled"), "__up_console_sem");
    assert_eq!(w.lines.last(), Some("---[ end trace 0000000000000000 ]---"));
    assert!(!w.truncated);

    let o = &reports[1];
    assert_eq!(
        o.header,
        "BUG: kernel NULL pointer dereference, address: 0000000000000008"
    );
    assert_eq!(o.title, "BUG: kernel NULL pointer dereference in demo_read");
    assert_eq!(o.tasks, [task("cat", 141)]);
    assert_eq!(detail(o, "rip"), "demo_read");
    assert_eq!(detail(o, "modules"), "demo(O) rust_deadlock(O)");
    assert!(o
        .lines
        .iter()
        .any(|l| l.starts_with("Oops: Oops: 0000 [#1]")));
    assert_eq!(o.lines.last(), Some("---[ end trace 0000000000000000 ]---"));
    assert_eq!(
        reliable(stack(o, "backtrace")),
        [
            "vfs_read",
            "ksys_read",
            "do_syscall_64",
            "entry_SYSCALL_64_after_hwframe"
        ]
    );
    assert!(!o.truncated);
}

#[test]
fn old_bracketed_forms() {
    let reports = load("old-bracketed.log");
    use ReportKind::*;
    assert_eq!(
        kinds(&reports),
        [CircularDependency, LockHeldAtExit, HungTask]
    );

    let c = &reports[0];
    assert_eq!(
        c.header,
        "[ INFO: possible circular locking dependency detected ]"
    );
    assert_eq!(c.title, "possible deadlock in vfs_readdir");
    assert_eq!(c.tasks, [task("ls", 1234)]);
    assert_eq!(
        c.locks,
        [
            class("&mm->mmap_sem", "++++++", None, None),
            class("&sb->s_type->i_mutex_key#9", "+.+.+.", None, None),
        ]
    );
    assert_eq!(c.acquiring, site("&mm->mmap_sem", None, "might_fault"));
    assert_eq!(
        c.holding,
        site("&sb->s_type->i_mutex_key#9", None, "vfs_readdir")
    );
    assert_eq!(
        c.cycle,
        [
            "&sb->s_type->i_mutex_key#9",
            "&mm->mmap_sem",
            "&sb->s_type->i_mutex_key#9"
        ]
    );
    assert_eq!(
        functions(&c.chain[0].stack),
        [
            "lock_acquire",
            "mutex_lock_nested",
            "generic_file_aio_write",
            "do_sync_write",
            "vfs_write",
            "SyS_write",
            "system_call_fastpath"
        ]
    );
    assert_eq!(
        c.held_locks,
        [held(
            "ls",
            1234,
            0,
            "&sb->s_type->i_mutex_key#9",
            None,
            "vfs_readdir"
        )]
    );
    assert_eq!(stack(c, "backtrace").len(), 9);
    assert!(!c.truncated);

    let e = &reports[1];
    assert_eq!(e.header, "[ BUG: lock held at task exit! ]");
    assert_eq!(e.title, "BUG: lock held at task exit in demo_open");
    assert_eq!(e.tasks, [task("leaky", 102)]);
    assert_eq!(e.held_locks[0].lock, "demo_mutex");

    let h = &reports[2];
    assert_eq!(h.title, "INFO: task hung in filldir");
    let info = h.hung_task.as_ref().unwrap();
    assert_eq!(
        (info.comm.as_str(), info.pid, info.seconds),
        ("ls", 1234, 120)
    );
    assert_eq!(info.state.as_deref(), Some("D"));
    assert_eq!(info.blocked_in.as_deref(), Some("down_read()"));
    assert_eq!(info.waiting_on.as_deref(), Some("rw_semaphore (read)"));
    assert_eq!(info.called_from.as_deref(), Some("might_fault"));
}

#[test]
fn three_lock_cycle() {
    let reports = load("circular-three.log");
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.title, "possible deadlock in worker_c");
    assert_eq!(r.tasks, [task("kworker/u8:3", 57)]);
    assert_eq!(r.cycle, ["lock_c", "lock_a", "lock_b", "lock_c"]);
    assert_eq!(detail(r, "chain_exists_of"), "lock_a --> lock_b --> lock_c");
    assert_eq!(detail(r, "workqueue"), "demo_wq worker_c [demo]");
    assert_eq!(
        r.chain
            .iter()
            .map(|c| (c.index, c.lock.as_str()))
            .collect::<Vec<_>>(),
        [(2, "lock_c"), (1, "lock_b"), (0, "lock_a")]
    );
    assert_eq!(r.held_locks.len(), 3);
    assert_eq!(r.held_locks[1].lock, "(work_completion)(&w->work)");
    assert!(r
        .explanation
        .contains("Earlier, lock_b was taken while holding lock_a in worker_a"));
    assert!(r
        .explanation
        .contains("Earlier, lock_c was taken while holding lock_b in worker_b"));
    assert!(r
        .explanation
        .contains("always lock_a before lock_b before lock_c"));
}

#[test]
fn no_reports() {
    assert!(load("no-reports.log").is_empty());
    assert!(splat::parse("").is_empty());
    assert!(splat::parse("\n\n\r\n").is_empty());
    assert!(splat::parse_bytes(&[0xff, 0xfe, b'\n', 0x80]).is_empty());
}

#[test]
fn json_round_trip_of_every_fixture() {
    let dir = fixture_path("");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    names.sort();
    assert!(names.len() >= 15);
    for name in names {
        let reports = load(&name);
        let json = splat::to_json(&reports);
        let doc = splat::from_json(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc.schema, splat::SCHEMA);
        assert_eq!(doc.reports, reports, "{name}");
        for r in &reports {
            assert!(!r.title.is_empty() && !r.explanation.is_empty(), "{name}");
            assert!(r.start_line >= 1 && r.end_line >= r.start_line, "{name}");
        }
    }
}

/// The console of a whole `make run` demo: guest shell output around the reports, and stack
/// traces that name each thread's own function.
#[test]
fn abba_demo_names_both_threads() {
    let reports = load("abba-demo.log");
    let kinds: Vec<ReportKind> = reports.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            ReportKind::CircularDependency,
            ReportKind::HungTask,
            ReportKind::HungTask
        ]
    );
    let r = &reports[0];
    assert_eq!(r.tasks, [task("deadlock_b", 42)]);
    assert_eq!(r.cycle, ["sem_b", "sem_a", "sem_b"]);
    assert_eq!(
        r.title,
        "possible deadlock in rust_deadlock::abba::AbBa::thread_b"
    );
    assert_eq!(r.chain.len(), 2);
    assert_eq!((r.chain[0].index, r.chain[0].lock.as_str()), (1, "sem_b"));
    assert_eq!(
        reliable(&r.chain[0].stack),
        [
            LOCK_FN,
            "rust_deadlock::abba::AbBa::thread_a",
            "rust_deadlock::kthread::trampoline",
            "kthread",
            "ret_from_fork",
            "ret_from_fork_asm"
        ]
    );
    assert!(reliable(stack(r, "backtrace")).contains(&"rust_deadlock::abba::AbBa::thread_b"));
    let hung: Vec<(&str, Option<u32>)> = reports[1..]
        .iter()
        .map(|r| (r.tasks[0].comm.as_str(), r.tasks[0].pid))
        .collect();
    assert_eq!(hung, [("deadlock_a", Some(41)), ("deadlock_b", Some(42))]);
}

/// A real lab console where the guest shell's output landed in the middle of kernel lines
/// (`deadlock_a itera[    7.308483]  down+0x40/0x50`): every report keeps all its frames.
#[test]
fn shell_output_inside_kernel_lines() {
    let reports = load("hung-shell-interleaved.log");
    assert_eq!(reports.len(), 7);
    assert_eq!(reports[0].kind, ReportKind::CircularDependency);
    for r in &reports[1..] {
        assert_eq!(r.kind, ReportKind::HungTask);
        assert!(!r.truncated);
        let h = r.hung_task.as_ref().unwrap();
        assert_eq!(h.blocked_in.as_deref(), Some("down()"));
        let thread = format!("rust_deadlock::abba::AbBa::thread_{}", &h.comm[9..]);
        assert_eq!(
            reliable(stack(r, "hung task")),
            [
                "__schedule",
                "schedule",
                "schedule_timeout",
                "__down_common",
                "__down",
                "down",
                LOCK_FN,
                thread.as_str(),
                "rust_deadlock::kthread::trampoline",
                "kthread",
                "ret_from_fork",
                "ret_from_fork_asm"
            ]
        );
    }
    let last = &reports[5];
    assert_eq!(last.tasks, [task("deadlock_a", 43)]);
    assert_eq!(last.hung_task.as_ref().unwrap().seconds, 4);
}

/// 7.3 runs the module's KUnit suite at `insmod`, beside the module's threads: KUnit lines from
/// the other CPU came between the `KERN_CONT` pieces of lockdep's line for the lock being
/// acquired (real lab consoles): after the lock's name (`ADDR (sem_a` / KUnit /
/// `){+.+.}-{4:4}, at: ...`), after its usage (`ADDR (sem_b){+.+.}-{4:4}` / KUnit /
/// `, at: ...`), and before its name (`ADDR (` / KUnit / `sem_b){+.+.}-{4:4}, at: ...`, caught
/// by the soak), and twice (`ADDR (` / KUnit / `sem_b` / KUnit / `){+.+.}-{4:4}, at: ...`).
/// Each line is put back together, and the KUnit lines stay out of the report.
#[test]
fn lock_lines_cut_by_another_cpu() {
    for (name, thread, acquiring, holding) in [
        (
            "abba-7.3-kunit-cut-lock-line.log",
            "thread_b",
            ("sem_a", "ff11000000894468"),
            ("sem_b", "ff11000000894508"),
        ),
        (
            "abba-7.3-kunit-cut-before-at.log",
            "thread_a",
            ("sem_b", "ff11000000784508"),
            ("sem_a", "ff11000000784468"),
        ),
        (
            "abba-7.3-kunit-cut-after-paren.log",
            "thread_a",
            ("sem_b", "ff11000000804b08"),
            ("sem_a", "ff11000000804a68"),
        ),
        (
            "abba-7.3-kunit-cut-twice.log",
            "thread_a",
            ("sem_b", "ff11000000828908"),
            ("sem_a", "ff11000000828868"),
        ),
    ] {
        let reports = load(name);
        let r = &reports[0];
        assert_eq!(r.kind, ReportKind::CircularDependency, "{name}");
        let at = format!("rust_deadlock::abba::AbBa::{thread}");
        assert_eq!(
            r.acquiring,
            site(acquiring.0, Some(acquiring.1), &at),
            "{name}"
        );
        assert_eq!(r.holding, site(holding.0, Some(holding.1), &at), "{name}");
        assert!(
            r.lines.iter().all(|l| !l.contains("# ")),
            "{name}: {:?}",
            r.lines
        );
        if name.contains("cut-lock-line") {
            // With the acquired lock known, the blocker lines close the cycle over both.
            let graph = splat::wait_for(&reports);
            let [cycle] = graph.cycles.as_slice() else {
                panic!("{:?}", graph.cycles);
            };
            let mut locks = cycle.locks.clone();
            locks.sort_unstable();
            assert_eq!(locks, ["sem_a", "sem_b"]);
        }
    }
}

/// The reports below were written from the format strings of Linux 7.3 (`kernel/hung_task.c`,
/// `sched_show_task()` in `kernel/sched/core.c`, `lockdep_print_held_locks()`, and the console's
/// `record_print_text()`, which prints each line of a record on a line of its own): no public
/// report of these formats was found. The last two tests of this file read the same formats in
/// real guest logs (`hung-comm-newline-interleaved-7.3.log`, `hung-io-wait-7.3.log`).
#[test]
fn hung_task_in_io_wait() {
    let reports = load("hung-io-wait-7.3-format.log");
    assert!(reports.iter().all(|r| r.kind == ReportKind::HungTask));
    assert_eq!(reports.len(), 2);
    let jbd2 = reports[0].hung_task.as_ref().unwrap();
    assert_eq!(
        (
            jbd2.comm.as_str(),
            jbd2.pid,
            jbd2.seconds,
            jbd2.state.as_deref()
        ),
        ("jbd2/vda-8", 112, 122, Some("D"))
    );
    assert_eq!(
        reports[0].title,
        "INFO: task hung in jbd2_journal_commit_transaction"
    );
    assert_eq!(
        reports[0].header,
        "INFO: task jbd2/vda-8:112 blocked in I/O wait for more than 122 seconds."
    );
    assert_eq!((reports[0].start_line, reports[0].end_line), (2, 19));
    // The second task's report has the `Blocked by coredump.` line of a task whose process
    // dumps core, and ends with the registers of its user-space entry.
    let dd = &reports[1];
    assert_eq!(
        dd.header,
        "INFO: task dd:431 blocked in I/O wait for more than 122 seconds."
    );
    assert!(
        dd.lines.iter().any(|l| l.trim() == "Blocked by coredump."),
        "{:?}",
        dd.lines
    );
    assert_eq!((dd.start_line, dd.end_line), (20, 46));
    assert_eq!(dd.hung_task.as_ref().unwrap().pid, 431);
    assert!(!dd.truncated);
}

#[test]
fn comm_with_a_newline() {
    // The comm `worker\n2`: the console prints the header, the blocker line, the `task:` line
    // and the held-lock heading in two lines each; splat joins them, the newline written as the
    // kernel escapes it in `/dev/kmsg` (`\x0a`).
    let reports = load("comm-newline-7.3-format.log");
    assert_eq!(kinds(&reports), [ReportKind::HungTask]);
    let r = &reports[0];
    assert_eq!(
        r.header,
        r"INFO: task worker\x0a2:288 blocked for more than 122 seconds."
    );
    assert_eq!(r.title, "INFO: task hung in demo_ioctl");
    let h = r.hung_task.as_ref().unwrap();
    assert_eq!(
        (h.comm.as_str(), h.pid, h.seconds, h.state.as_deref()),
        (r"worker\x0a2", 288, 122, Some("D"))
    );
    let b = h.blocker.as_ref().unwrap();
    assert_eq!(b.kind, "mutex");
    assert_eq!(
        b.line,
        r"INFO: task worker\x0a2:288 is blocked on a mutex likely owned by task holder:287."
    );
    assert_eq!(
        b.holder.as_ref().map(|t| (t.comm.as_str(), t.pid)),
        Some(("holder", Some(287)))
    );
    let graph = splat::wait_for(&reports);
    assert_eq!(graph.edges.len(), 1);
    assert_eq!(graph.edges[0].waiter.comm, r"worker\x0a2");
    assert_eq!(graph.edges[0].lock.as_deref(), Some("&demo->lock"));
    // The heading of the task's (empty) held-lock list, also cut, is read whole: the list
    // names the other tasks' locks only.
    assert_eq!(
        r.held_locks,
        [
            held(
                "khungtaskd",
                31,
                0,
                "rcu_read_lock",
                Some("ffffffff9a3b8d20"),
                "debug_show_all_locks"
            ),
            held(
                "holder",
                287,
                0,
                "&demo->lock",
                Some("ff110000058e2a38"),
                "demo_ioctl"
            ),
        ]
    );
    assert!(r
        .lines
        .iter()
        .any(|l| l.contains(r"locks held by worker\x0a2/288: 0")));
}

#[test]
fn held_lock_list_interleaved_with_other_messages() {
    // Another CPU's `usb` and `audit` messages come between the lines of the lock list.
    let r = only("held-list-interleaved-7.3-format.log", ReportKind::HungTask);
    assert_eq!(r.title, "INFO: task hung in demo_work_fn");
    let lock = |task: &str, pid, index, lock: &str, address: &str, at: &str| {
        held(task, pid, index, lock, Some(address), at)
    };
    assert_eq!(
        r.held_locks,
        [
            lock(
                "khungtaskd",
                31,
                0,
                "rcu_read_lock",
                "ffffffff9a3b8d20",
                "debug_show_all_locks"
            ),
            lock(
                "kworker/u8:3",
                97,
                0,
                "(wq_completion)events_unbound",
                "ff1100000103c948",
                "process_one_work"
            ),
            lock(
                "kworker/u8:3",
                97,
                1,
                "(work_completion)(&demo->work)",
                "ffa0000000537e58",
                "process_one_work"
            ),
            lock(
                "kworker/u8:3",
                97,
                2,
                "&demo->lock",
                "ff110000058e2a38",
                "demo_work_fn"
            ),
            lock(
                "demo-cli",
                412,
                0,
                "&demo->lock",
                "ff110000058e2a38",
                "demo_ioctl"
            ),
        ]
    );
    // The other CPU's lines are not the report's.
    assert!(!r
        .lines
        .iter()
        .any(|l| l.contains("usb 1-1") || l.contains("audit:")));
    assert!(!r.truncated);
}

/// A console taken over in the middle of a record prints the record again after a line of its
/// own, `** replaying previous printk message **` (the lab's 7.3 `atomic` demo, in a soak): the
/// cut first try (`... invalid context at kernel/`) is no report of its own.
#[test]
fn a_replayed_record_is_read_once() {
    use ReportKind::*;
    let reports = load("scenario-atomic-replayed-7.3.log");
    assert_eq!(
        kinds(&reports),
        [
            SleepInAtomic,
            InvalidWaitContext,
            SleepInAtomic,
            SchedulingWhileAtomic,
            SleepInAtomic
        ]
    );
    assert!(
        reports[0]
            .header
            .ends_with("invalid context at kernel/locking/mutex.c:623"),
        "{}",
        reports[0].header
    );
    for r in &reports {
        assert_eq!(
            r.tasks.first().map(|t| t.comm.as_str()),
            Some("atomic_1"),
            "{}",
            r.header
        );
        assert!(
            r.title.ends_with("rust_deadlock::atomic::Atomic::thread"),
            "{}",
            r.title
        );
    }
}

/// The same two formats in a real 7.3 guest log: the `plain` scenario deadlocked (semaphores
/// lockdep does not see, so lockdep stays on and lists every held lock), a shell that renamed
/// itself `worker\n2` (`/proc/self/comm`) blocked reading the module's `peek` parameter, and a
/// loop on the other CPU writing to `/dev/kmsg` while the hung-task detector printed (its
/// `lab: another CPU's message N` lines land inside the stacks and the held-lock list). The
/// log's first 9 lines, then its lines 1598-1735.
#[test]
fn real_comm_newline_and_interleaved_lock_list() {
    let reports = load("hung-comm-newline-interleaved-7.3.log");
    assert_eq!(kinds(&reports), [ReportKind::HungTask; 3]);
    assert_eq!(
        titles(&reports),
        [
            "INFO: task hung in rust_deadlock::plain::Plain::thread_a",
            "INFO: task hung in rust_deadlock::plain::Plain::thread_b",
            "INFO: task hung in rust_deadlock::plain::Plain::peek",
        ]
    );
    let r = &reports[2];
    assert_eq!(
        r.header,
        r"INFO: task worker\x0a2:61 blocked for more than 1 seconds."
    );
    let h = r.hung_task.as_ref().unwrap();
    assert_eq!(
        (h.comm.as_str(), h.pid, h.seconds, h.state.as_deref()),
        (r"worker\x0a2", 61, 1, Some("D"))
    );
    let b = h.blocker.as_ref().unwrap();
    assert_eq!(b.kind, "semaphore");
    assert_eq!(
        b.line,
        r"INFO: task worker\x0a2:61 blocked on a semaphore likely last held by task plain_a:57"
    );
    assert_eq!(
        b.holder.as_ref().map(|t| (t.comm.as_str(), t.pid)),
        Some(("plain_a", Some(57)))
    );
    // The reader holds the sysfs read's locks and the module's parameter lock; another CPU's
    // messages came between the heading and the first lock, and between the first two locks.
    let lock = |index, lock: &str, address: &str, at: &str| {
        held(r"worker\x0a2", 61, index, lock, Some(address), at)
    };
    assert_eq!(
        r.held_locks,
        [
            held(
                "khungtaskd",
                27,
                0,
                "rcu_read_lock",
                Some("ffffffff81938a00"),
                "rcu_lock_acquire.constprop.0"
            ),
            lock(0, "&p->lock", "ff11000000e71820", "seq_read_iter"),
            lock(1, "&of->mutex", "ff11000000b96c88", "kernfs_seq_start"),
            lock(
                2,
                "kn->active#2",
                "ff11000000e05a18",
                "kernfs_get_active_of"
            ),
            lock(
                3,
                "&mod->param_lock",
                "ffffffffa0201d60",
                "kernel_param_lock"
            ),
        ]
    );
    assert_eq!((r.start_line, r.end_line), (68, 137));
    for r in &reports {
        assert!(
            !r.lines.iter().any(|l| l.contains("another CPU's message")),
            "{:?}",
            r.lines
        );
        assert!(!r.truncated);
    }
    // The two threads wait for each other; the reader waits behind them.
    let graph = splat::wait_for(&reports);
    let edges: Vec<(&str, &str)> = graph
        .edges
        .iter()
        .map(|e| (e.waiter.comm.as_str(), e.holder.comm.as_str()))
        .collect();
    assert_eq!(
        edges,
        [
            ("plain_a", "plain_b"),
            ("plain_b", "plain_a"),
            (r"worker\x0a2", "plain_a")
        ]
    );
    assert_eq!(graph.cycles.len(), 1);
}

/// A real hung task in I/O wait, from a 7.3 guest built with a virtio disk (`CONFIG_BLOCK`,
/// `CONFIG_VIRTIO_BLK`) that QEMU throttled to 256 bytes a second: a direct read took the
/// budget, then `dd conv=fsync` waited for its pages' writeback. (A direct read alone is never
/// reported: the block layer waits for a bio in slices of half the hung-task timeout.)
#[test]
fn real_hung_task_in_io_wait() {
    let r = only("hung-io-wait-7.3.log", ReportKind::HungTask);
    assert_eq!(
        r.header,
        "INFO: task dd:58 blocked in I/O wait for more than 1 seconds."
    );
    let h = r.hung_task.as_ref().unwrap();
    assert_eq!(
        (h.comm.as_str(), h.pid, h.seconds, h.state.as_deref()),
        ("dd", 58, 1, Some("D"))
    );
    assert_eq!(h.waiting_on.as_deref(), Some("page writeback"));
    assert_eq!(
        &h.summary[..4],
        [
            "folio_wait_bit_common",
            "folio_wait_bit",
            "folio_wait_writeback",
            "__filemap_fdatawait_range"
        ]
    );
    assert_eq!(h.blocker, None);
    assert_eq!((r.start_line, r.end_line), (9, 46));
    assert_eq!(
        r.held_locks,
        [held(
            "khungtaskd",
            28,
            0,
            "rcu_read_lock",
            Some("ffffffff81938a00"),
            "rcu_lock_acquire.constprop.0"
        )]
    );
    assert!(!r.truncated);
}
