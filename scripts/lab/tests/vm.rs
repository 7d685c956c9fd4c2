//! The VM tests: each boots a fresh guest, drives the module from the guest shell (helpers in
//! qemu/lib.sh), and asserts on what the kernel printed, through `splat --json`.
//!
//! A new test is a guest command line and a few assertions on [`Run`].

use lab::{boot, Boot, Report, Run};
use splat::ReportKind as Kind;

fn run(name: &str, cmd: &str) -> Run {
    let run = boot(name, cmd, Boot::for_scenario(lab::DEFAULT_SCENARIO));
    run.assert_ok();
    run
}

fn of_kind(reports: &[Report], kind: Kind) -> Vec<&Report> {
    reports.iter().filter(|r| r.kind == kind).collect()
}

/// Asserts that splat finds no report at all in the run's console (splat's check mode, without
/// a rule).
fn assert_no_reports(run: &Run) {
    run.assert_allowed(&lab::Rules::deny_all());
}

/// Every demangled function name in a report's stack traces.
fn functions(report: &Report) -> Vec<&str> {
    report
        .stacks
        .iter()
        .flat_map(|s| s.frames.iter().map(|f| f.function()))
        .collect()
}

/// Which thread the report's dependency chain shows taking the locks in the earlier order.
#[derive(Clone, Copy)]
enum Earlier {
    /// The other thread: buggy from `insmod`, each thread only ever took its own order, so only
    /// the other one took the two locks the other way round.
    OtherThread,
    /// Either thread: both took `sem_a` then `sem_b` before `buggy` was set, and lockdep keeps
    /// the stack of whichever recorded that order first (a race between the two threads).
    EitherThread,
}

/// A function of the scenario (`AbBa::thread_a`), as 6.12 and 7.3 demangle it.
fn is_abba_fn(name: &str, f: &str) -> bool {
    name.ends_with(&format!("AbBa>::{f}")) || name.ends_with(&format!("AbBa::{f}"))
}

/// Asserts that the circular report is the AB-BA of our two threads and semaphores.
fn assert_abba(run: &Run, report: &Report, earlier: Earlier) {
    let task = &report.tasks[0];
    let (mine, other, held, wanted) = match task.comm.as_str() {
        "deadlock_a" => ("thread_a", "thread_b", "sem_a", "sem_b"),
        "deadlock_b" => ("thread_b", "thread_a", "sem_b", "sem_a"),
        comm => panic!(
            "{}",
            run.failure(&format!("circular report by unexpected task {comm}"))
        ),
    };
    assert_eq!(
        lab::lock_names(report),
        ["sem_a", "sem_b"],
        "{}",
        run.failure("lock classes")
    );
    assert_eq!(
        report.cycle,
        [held, wanted, held],
        "{}",
        run.failure("cycle")
    );
    assert_eq!(report.held_locks.len(), 1, "{}", run.failure("held locks"));
    assert_eq!(
        report.held_locks[0].lock,
        held,
        "{}",
        run.failure("held lock")
    );
    // lockdep names the function that took each lock (the caller's address, as C's _RET_IP_).
    let taken_in = format!("rust_deadlock::abba::AbBa::{mine}");
    assert_eq!(
        report.held_locks[0].at.as_deref(),
        Some(taken_in.as_str()),
        "{}",
        run.failure("held lock's at:")
    );
    assert_eq!(
        report.acquiring.as_ref().and_then(|a| a.at.as_deref()),
        Some(taken_in.as_str()),
        "{}",
        run.failure("acquired lock's at:")
    );
    let funcs = functions(report);
    assert!(
        funcs.iter().any(|name| is_abba_fn(name, mine)),
        "{}",
        run.failure(&format!("no {mine} frame in {funcs:?}"))
    );
    // The chain's oldest entry (the highest `#N`) is the stack that recorded the earlier order.
    let recorders = match earlier {
        Earlier::OtherThread => vec![other],
        Earlier::EitherThread => vec!["thread_a", "thread_b"],
    };
    let oldest = report.chain.iter().max_by_key(|c| c.index);
    let oldest_funcs: Vec<&str> = oldest
        .map(|c| c.stack.iter().map(|f| f.function()).collect())
        .unwrap_or_default();
    assert!(
        oldest_funcs
            .iter()
            .any(|name| recorders.iter().any(|f| is_abba_fn(name, f))),
        "{}",
        run.failure(&format!(
            "the earlier order recorded by none of {recorders:?}: {oldest_funcs:?}"
        ))
    );
}

#[test]
fn fixed_mode_reports_nothing_and_progresses() {
    let run = run(
        "fixed",
        "load; progressed deadlock_a deadlock_b; param status; progressed deadlock_a deadlock_b; param status; timed rmmod rust_deadlock; grep debug_locks /proc/lockdep_stats",
    );
    assert!(
        run.find("rust_deadlock: loaded").is_some(),
        "{}",
        run.failure("no load message")
    );
    assert_no_reports(&run);
    run.assert_progress(&["deadlock_a", "deadlock_b"], 2);
    assert_eq!(run.timing("rmmod rust_deadlock").map(|t| t.0), Some(0));
    // Lockdep is still on: it turns itself off after its first report.
    assert!(
        run.lines()
            .any(|l| l.trim() == "debug_locks:                             1"
                || l.split_whitespace().collect::<Vec<_>>() == ["debug_locks:", "1"]),
        "{}",
        run.failure("lockdep off")
    );
}

#[test]
fn buggy_at_load_reports_the_cycle() {
    let run = run(
        "buggy-load",
        "load buggy=1; wait_log 30 'possible circular locking'; timed rmmod rust_deadlock",
    );
    let reports = run.reports();
    let circular = of_kind(&reports, Kind::CircularDependency);
    assert_eq!(circular.len(), 1, "{}", run.failure("circular reports"));
    assert_abba(&run, circular[0], Earlier::OtherThread);
    assert_eq!(
        circular[0].header,
        "WARNING: possible circular locking dependency detected"
    );
}

#[test]
fn flipping_buggy_at_runtime_brings_the_report() {
    let run = run(
        "flip",
        "load; progressed deadlock_a deadlock_b; param status; progressed deadlock_a deadlock_b; param status; mark flipping; setparam buggy 1; wait_log 30 'possible circular locking'; timed rmmod rust_deadlock",
    );
    run.assert_progress(&["deadlock_a", "deadlock_b"], 2);
    let flip = run.find("lab: flipping").expect("flip marker");
    assert!(
        run.find("mode: buggy").is_some_and(|l| l > flip),
        "{}",
        run.failure("mode change not announced")
    );
    let reports = run.reports();
    assert!(
        reports.iter().all(|r| r.start_line > flip + 1),
        "{}",
        run.failure("a report before the flip")
    );
    assert!(
        reports
            .iter()
            .all(|r| r.kind == Kind::CircularDependency || r.kind == Kind::HungTask),
        "{reports:?}"
    );
    let circular = of_kind(&reports, Kind::CircularDependency);
    assert_eq!(circular.len(), 1, "{}", run.failure("circular reports"));
    // Only deadlock_b changed its order, so only it can close the cycle.
    assert_eq!(
        circular[0].tasks[0].comm,
        "deadlock_b",
        "{}",
        run.failure("reporting task")
    );
    assert_abba(&run, circular[0], Earlier::EitherThread);
}

#[test]
fn real_deadlock_hangs_both_threads_and_rmmod_breaks_it() {
    let run = run(
        "hung",
        &format!(
            "load buggy=1; wait_hung 30 deadlock_a deadlock_b; {}states; param status; timed rmmod rust_deadlock; echo 'lab: after rmmod'; states; lsmod",
            if lab::target().names_blockers() {
                "wait_log 30 'blocked on a semaphore likely last held' 2; "
            } else {
                ""
            }
        ),
    );
    let reports = run.reports();
    let mut hung: Vec<(&str, Option<u32>)> = of_kind(&reports, Kind::HungTask)
        .iter()
        .map(|r| (r.tasks[0].comm.as_str(), r.tasks[0].pid))
        .collect();
    hung.sort_unstable();
    hung.dedup_by_key(|h| h.0);
    assert_eq!(
        hung.iter().map(|h| h.0).collect::<Vec<_>>(),
        ["deadlock_a", "deadlock_b"],
        "{}",
        run.failure("hung tasks")
    );
    if lab::target().names_blockers() {
        // Each thread waits for a semaphore that the other took last: the real wait-for cycle.
        let pid = |comm: &str| hung.iter().find(|h| h.0 == comm).and_then(|h| h.1);
        let (a, b) = (pid("deadlock_a").unwrap(), pid("deadlock_b").unwrap());
        for (waiter, holder) in [
            (("deadlock_a", a), ("deadlock_b", b)),
            (("deadlock_b", b), ("deadlock_a", a)),
        ] {
            let line = format!(
                "INFO: task {}:{} blocked on a semaphore likely last held by task {}:{}",
                waiter.0, waiter.1, holder.0, holder.1
            );
            assert!(
                run.lines().any(|l| l == line),
                "{}",
                run.failure(&format!("no blocker line: {line}"))
            );
        }
        // splat turns those lines into the wait-for graph: one cycle of the two threads.
        let graph = run.wait_for();
        let [cycle] = graph.cycles.as_slice() else {
            panic!(
                "{}",
                run.failure(&format!("wait-for cycles: {:?}", graph.cycles))
            );
        };
        let mut tasks: Vec<(&str, Option<u32>)> = cycle
            .tasks
            .iter()
            .map(|t| (t.comm.as_str(), t.pid))
            .collect();
        tasks.sort_unstable();
        assert_eq!(
            tasks,
            [("deadlock_a", Some(a)), ("deadlock_b", Some(b))],
            "{}",
            run.failure("cycle tasks")
        );
        let mut locks = cycle.locks.clone();
        locks.sort_unstable();
        assert_eq!(locks, ["sem_a", "sem_b"], "{}", run.failure("cycle locks"));
    }
    for r in of_kind(&reports, Kind::HungTask) {
        assert!(
            functions(r).contains(&"down"),
            "{}",
            run.failure("hung task not in down()")
        );
    }
    let lab = run.lab_lines();
    assert!(
        lab.contains(&"state deadlock_a D") && lab.contains(&"state deadlock_b D"),
        "{}",
        run.failure("D state")
    );
    // status says which lock each thread waits on, and who holds it.
    for (thread, lock, holder) in [
        ("deadlock_a", "sem_b", "deadlock_b"),
        ("deadlock_b", "sem_a", "deadlock_a"),
    ] {
        let status = run.status_of(thread).unwrap_or_default();
        assert!(
            status.ends_with(&format!(" state=waiting on={lock} holder={holder}")),
            "{}",
            run.failure(&format!("status of {thread}: '{status}'"))
        );
    }
    let (rc, ms) = run.timing("rmmod rust_deadlock").expect("rmmod timing");
    assert_eq!(rc, 0, "{}", run.failure("rmmod failed"));
    assert!(ms < 2000, "{}", run.failure(&format!("rmmod took {ms} ms")));
    let after = run.find("lab: after rmmod").unwrap();
    assert!(
        run.lines()
            .skip(after)
            .all(|l| !l.starts_with("lab: state")),
        "{}",
        run.failure("threads left")
    );
    assert!(
        run.lines()
            .skip(after)
            .all(|l| !l.starts_with("rust_deadlock ")),
        "{}",
        run.failure("still loaded")
    );
    // Releasing one sleeper may be enough: its thread then finishes and releases the other's.
    assert!(
        ["released 1 sleeping", "released 2 sleeping"]
            .iter()
            .any(|m| run.console.contains(m)),
        "{}",
        run.failure("unloading did not break the deadlock")
    );
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let run = run(
        "bad-input",
        r#"load hold_ms=150
for v in banana 2 -1 '' yess; do setparam buggy "$v"; done
junk=$(head -c 4095 /dev/zero | tr '\0' x)
if echo "$junk" > $PARAMS/buggy; then echo "lab: junk accepted"; else echo "lab: junk refused"; fi
for v in -5 abc 10001 '' 1.5 0x10 99999999999; do setparam hold_ms "$v"; done
echo "lab: buggy=$(param buggy) hold_ms=$(param hold_ms)"
progressed deadlock_a deadlock_b; param status; progressed deadlock_a deadlock_b; param status
rmmod rust_deadlock
for p in buggy=banana hold_ms=10001 status=1 buggy=2; do load $p; echo "lab: insmod $p: exit $?"; [ -d /sys/module/rust_deadlock ] && echo "lab: loaded after insmod $p"; done
true"#,
    );
    let lab = run.lab_lines();
    for v in ["banana", "2", "-1", "", "yess"] {
        let want = format!("set buggy={v}: error: Invalid argument");
        assert!(lab.contains(&want.as_str()), "{}", run.failure(&want));
    }
    for v in ["-5", "abc", "10001", "", "1.5", "0x10", "99999999999"] {
        let want = format!("set hold_ms={v}: error: Invalid argument");
        assert!(lab.contains(&want.as_str()), "{}", run.failure(&want));
    }
    assert!(
        lab.contains(&"junk refused"),
        "{}",
        run.failure("4 KiB of junk")
    );
    assert!(
        lab.contains(&"buggy=N hold_ms=150"),
        "{}",
        run.failure("values changed")
    );
    assert!(run
        .console
        .contains("rust_deadlock: buggy: refused 'banana': not a boolean"));
    run.assert_progress(&["deadlock_a", "deadlock_b"], 2);
    for p in ["buggy=banana", "hold_ms=10001", "status=1", "buggy=2"] {
        assert!(
            lab.iter()
                .any(|l| l.starts_with(&format!("insmod {p}: exit ")) && !l.ends_with("exit 0")),
            "{}",
            run.failure(p)
        );
        assert!(
            !lab.contains(&format!("loaded after insmod {p}").as_str()),
            "{}",
            run.failure(p)
        );
    }
    assert!(
        run.console
            .contains("`banana' invalid for parameter `buggy'"),
        "{}",
        run.failure("kernel refusal")
    );
    assert_no_reports(&run);
}

#[test]
fn non_root_cannot_write() {
    let run = run(
        "non-root",
        r#"load
su -s /bin/sh nobody -c "id -u; echo 1 > $PARAMS/buggy"; echo "lab: nobody wrote buggy: exit $?"
su -s /bin/sh nobody -c "cat $PARAMS/status >/dev/null"; echo "lab: nobody read status: exit $?"
echo "lab: buggy=$(param buggy)"
rmmod rust_deadlock"#,
    );
    let lab = run.lab_lines();
    assert!(
        run.lines().any(|l| l == "65534"),
        "{}",
        run.failure("su did not switch user")
    );
    assert!(
        run.console.contains("Permission denied"),
        "{}",
        run.failure("EACCES")
    );
    assert!(
        lab.contains(&"nobody wrote buggy: exit 1"),
        "{}",
        run.failure("write not refused")
    );
    assert!(
        lab.contains(&"nobody read status: exit 0"),
        "{}",
        run.failure("status unreadable")
    );
    assert!(lab.contains(&"buggy=N"), "{}", run.failure("value changed"));
    assert_no_reports(&run);
}

/// Twenty rounds of insmod, both threads iterating, rmmod: nothing leaks (kmemleak), lockdep stays
/// on. The threads hold a semaphore 1 ms, not 100: a round waits for the module's work, not for
/// its sleeps.
#[test]
fn twenty_load_unload_cycles_leak_nothing() {
    let run = run(
        "cycles",
        r#"leaks_forget
i=0
while [ $i -lt 20 ]; do
    load hold_ms=1 || exit 1
    wait_for 20 beyond deadlock_a 0 && wait_for 20 beyond deadlock_b 0 || exit 1
    iterations_of deadlock_a; a=$_n; iterations_of deadlock_b
    echo "lab: cycle $i deadlock_a=$a deadlock_b=$_n"
    rmmod rust_deadlock || exit 1
    i=$((i + 1))
done
states
leaks
grep debug_locks /proc/lockdep_stats"#,
    );
    // "cycle I deadlock_a=N deadlock_b=M": the twenty cycles in order, each thread's count read
    // back above zero (the guest went on only once both had iterated).
    let cycles: Vec<(u32, u64, u64)> = run
        .lab_lines()
        .into_iter()
        .filter_map(|l| {
            let (i, counts) = l.strip_prefix("cycle ")?.split_once(" deadlock_a=")?;
            let (a, b) = counts.split_once(" deadlock_b=")?;
            Some((i.parse().ok()?, a.parse().ok()?, b.parse().ok()?))
        })
        .collect();
    assert_eq!(
        cycles.iter().map(|c| c.0).collect::<Vec<_>>(),
        (0..20).collect::<Vec<_>>(),
        "{}",
        run.failure("twenty cycles")
    );
    assert!(
        cycles.iter().all(|&(_, a, b)| a > 0 && b > 0),
        "{}",
        run.failure(&format!("no progress: {cycles:?}"))
    );
    assert!(
        run.lines()
            .any(|l| l.split_whitespace().eq(["debug_locks:", "1"])),
        "{}",
        run.failure("lockdep turned off")
    );
    assert!(
        !run.lab_lines().iter().any(|l| l.starts_with("state ")),
        "{}",
        run.failure("threads left")
    );
    assert!(
        run.lab_lines().contains(&"kmemleak: 0"),
        "{}",
        run.failure("kmemleak found leaks")
    );
    assert_no_reports(&run);
}

/// The module's KUnit suite runs when it is loaded (7.3) and every case passes; its KTAP output
/// is kept as `kunit.ktap` beside the logs for `make test`'s KTAP file. 6.12's kernel crate has no
/// `#[kunit_tests]`: there the suite is reported as skipped, and the module must print none.
/// The suite's lockdep cases check lockdep's records only while lockdep is on (a report turns it
/// off for the rest of the boot): this guest is fresh, and lockdep must still be on after the
/// suite, so that here they checked.
#[test]
fn kunit_suite_passes() {
    let run = run(
        "kunit",
        // Scripted guests skip the suite (qemu/init): every suite and case again.
        "printf '*.*' > /sys/module/kunit/parameters/filter_glob
load; rmmod rust_deadlock; grep debug_locks /proc/lockdep_stats",
    );
    assert!(
        run.lines()
            .any(|l| l.split_whitespace().eq(["debug_locks:", "1"])),
        "{}",
        run.failure("lockdep was off: the suite's lockdep cases checked nothing")
    );
    let ktap = lab::ktap(&run);
    let file = lab::log_dir().join("kunit.ktap");
    if !lab::target().has_kunit_tests() {
        assert!(ktap.is_empty(), "{}", run.failure("a KUnit suite on 6.12"));
        let skipped = "KTAP version 1\n1..1\nok 1 rust_deadlock # SKIP 6.12's kernel crate has no #[kunit_tests]\n";
        std::fs::write(&file, skipped).expect("write kunit.ktap");
        return;
    }
    std::fs::write(&file, ktap.join("\n") + "\n").expect("write kunit.ktap");
    let cases: Vec<&str> = ktap
        .iter()
        .filter_map(|l| l.strip_prefix("    "))
        .filter(|l| l.starts_with("ok ") || l.starts_with("not ok "))
        .collect();
    assert!(
        ktap.contains(&"    # Subtest: rust_deadlock"),
        "{}",
        run.failure("no rust_deadlock suite")
    );
    assert!(
        ktap.contains(&"    1..7") && cases.len() == 7,
        "{}",
        run.failure(&format!("expected 7 cases, got {cases:?}"))
    );
    assert!(
        cases.iter().all(|c| c.starts_with("ok ")),
        "{}",
        run.failure(&format!("failed cases: {cases:?}"))
    );
    assert_eq!(
        ktap.last(),
        Some(&"ok 1 rust_deadlock"),
        "{}",
        run.failure("suite result")
    );
    assert!(
        run.console
            .contains("# rust_deadlock: pass:7 fail:0 skip:0 total:7"),
        "{}",
        run.failure("KUnit totals")
    );
}

/// The console lines after `lines[start]`, a line of one of `diag`'s steps, up to its next step
/// (`lab: diag: ...`). A kernel report may come in between: it is read as part of the step.
fn diag_step<'a>(lines: &'a [&'a str], start: usize) -> impl Iterator<Item = &'a str> + 'a {
    lines[start + 1..]
        .iter()
        .copied()
        .take_while(|l| !l.starts_with("lab: diag:"))
}

/// `diag` (qemu/lib.sh) on a really deadlocked `abba`: status names the lock each thread waits
/// on and its holder (the module's own record); each thread is in state D with its kernel stack
/// in its thread function; SysRq w lists both in `down()`; SysRq d says that lockdep is off
/// (after its report, held-lock records are no longer kept); /proc/lockdep lists both classes and
/// /proc/lock_stat counts the contention of the fixed phase before the flip.
#[test]
fn diag_shows_a_live_deadlock_from_inside() {
    let run = run(
        "diag",
        "load; progressed deadlock_a deadlock_b; progressed deadlock_a deadlock_b; setparam buggy 1; \
         wait_for 30 blocked deadlock_a deadlock_b; diag; timed rmmod rust_deadlock",
    );
    let lines: Vec<&str> = run.lines().collect();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    for (me, lock, other) in [
        ("deadlock_a", "sem_b", "deadlock_b"),
        ("deadlock_b", "sem_a", "deadlock_a"),
    ] {
        let waiting = format!("state=waiting on={lock} holder={other}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("{me} iterations=")) && l.ends_with(&waiting)),
            "{}",
            run.failure(&format!("status: {me} {waiting}"))
        );
        let header = lines
            .iter()
            .position(|l| l.starts_with(&format!("lab: diag: thread {me} pid ")))
            .unwrap_or_else(|| panic!("{}", run.failure(&format!("no stack of {me}"))));
        assert!(
            lines[header].ends_with(" state D"),
            "{}",
            run.failure(&format!("{me} not in D: {}", lines[header]))
        );
        let function = if me == "deadlock_a" {
            "AbBa8thread_a"
        } else {
            "AbBa8thread_b"
        };
        assert!(
            diag_step(&lines, header)
                .filter(|l| l.starts_with("[<"))
                .any(|l| l.contains(function)),
            "{}",
            run.failure(&format!("{me}'s stack lacks {function}"))
        );
        assert!(
            has(&format!("task:{me} ")),
            "{}",
            run.failure(&format!("SysRq w did not list {me}"))
        );
    }
    assert!(
        has("sysrq: Show Blocked State") && has(" down+0x"),
        "{}",
        run.failure("SysRq w")
    );
    let held = lines
        .iter()
        .position(|l| l.contains("sysrq: Show Locks Held"))
        .unwrap_or_else(|| panic!("{}", run.failure("no SysRq d")));
    assert!(
        diag_step(&lines, held).any(|l| l.contains("INFO: lockdep is turned off.")),
        "{}",
        run.failure("SysRq d after the report")
    );
    for class in ["sem_a", "sem_b"] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(" FD: ") && l.ends_with(&format!(": {class}"))),
            "{}",
            run.failure(&format!("/proc/lockdep lacks {class}"))
        );
    }
    // lock_stat's columns: class name, con-bounces, contentions, ...
    let contentions: u64 = lines
        .iter()
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            let class = cols.next()?;
            ["sem_a:", "sem_b:"].contains(&class).then_some(())?;
            cols.nth(1)?.parse::<u64>().ok()
        })
        .sum();
    assert!(
        contentions > 0,
        "{}",
        run.failure("lock_stat counted no contention")
    );
    assert!(
        has("lab: diag: /proc/interrupts") && has("CPU0"),
        "{}",
        run.failure("/proc/interrupts")
    );
}
