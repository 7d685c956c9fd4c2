//! `make diagnose` and `make gdb` on really deadlocked guests (the debug variant of the kernel):
//! what drgn reads from the host must name, for each stuck thread, its state, the lock it waits
//! on and that lock's holder, with `down` and the scenario's own function in its stack, and the
//! cycle; the same report must come out of a memory dump; gdb's kernel scripts must see the
//! threads.
//!
//! Needs the debug build of `$KERNEL` (`make test` builds it; `$LAB_DEBUG_MODULE`, the module
//! built against it) and drgn (`$DRGN`).

use lab::diagnose::{gdb_command, DebugBuild, Holder, Live, Snapshot, Source, Thread};
use lab::{scenario, Scenario, SCENARIOS};

fn build() -> DebugBuild {
    DebugBuild::find().unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh guest, deadlocked by `scenario`.
fn deadlocked(scenario: &Scenario, build: &DebugBuild, name: &str) -> Live {
    Live::deadlock(scenario, build, name, false).unwrap_or_else(|e| panic!("{e}"))
}

/// The function a task sleeping on each kind of lock has on its stack.
fn primitive(kind: &str) -> &'static str {
    match kind {
        "semaphore" => "down",
        "mutex" => "mutex_lock_nested",
        "rwsem" => "down_write",
        "work" => "flush_work",
        "completion" => "wait_for_completion",
        _ => "do_raw_spin_lock",
    }
}

/// Checks what every stuck thread must show: state D for at least the hung-task detector's 1 s,
/// on the wait list of the lock it sleeps on, that lock kind's function and a function of the
/// scenario's own file on its stack, no mangled name.
fn check_stuck(snapshot: &Snapshot, scenario: &Scenario) -> Result<(), String> {
    for name in scenario.hung {
        let t = snapshot
            .thread(name)
            .ok_or_else(|| format!("no thread {name}"))?;
        if t.state != "D" {
            return Err(format!("{name}: state {}, not D", t.state));
        }
        let wait = t
            .waits_on
            .as_ref()
            .ok_or_else(|| format!("{name}: waits on nothing"))?;
        // A work item has no wait list of its own; its flusher waits on a barrier behind it.
        if wait.kind != "work" && wait.on_wait_list != Some(true) {
            return Err(format!("{name}: not on the wait list of {}", wait.address));
        }
        // The hung-task detector reported it: 1 s in D without a switch (qemu/init).
        match t.waited_ns {
            Some(ns) if ns >= 1_000_000_000 => {}
            other => return Err(format!("{name}: waited {other:?} ns, reported hung")),
        }
        let functions: Vec<String> = t.frames.iter().map(|f| f.name()).collect();
        let primitive = primitive(&wait.kind);
        if !functions.iter().any(|f| f == primitive) {
            return Err(format!("{name}: no {primitive}() in {functions:?}"));
        }
        let own = format!("rust_deadlock::{}::", scenario.name);
        if !functions.iter().any(|f| f.starts_with(&own)) {
            return Err(format!("{name}: no function of {own} in {functions:?}"));
        }
        if let Some(f) = functions.iter().find(|f| f.contains("_RN")) {
            return Err(format!("{name}: a mangled name is left: {f}"));
        }
    }
    Ok(())
}

/// The lock `thread` waits on, its kind and the name of its holder ("exited" for a task that is
/// gone, "none" when nobody can be named; a kworker by its name's prefix, `kworker/`).
fn wait_of(t: &Thread) -> (String, String, String) {
    let wait = t.waits_on.as_ref().expect("a wait");
    let holder = match &wait.holder {
        Some(Holder::Task { name, .. }) if name.starts_with("kworker/") => "kworker/".into(),
        Some(Holder::Task { name, .. }) => name.clone(),
        Some(Holder::Gone { .. }) => "exited".into(),
        None => "none".into(),
    };
    (
        wait.lock.clone().unwrap_or_default(),
        wait.kind.clone(),
        holder,
    )
}

/// A task of the snapshot by name (`kworker/`: the one kworker).
fn task<'a>(snapshot: &'a Snapshot, name: &str) -> Result<&'a Thread, String> {
    snapshot
        .threads
        .iter()
        .find(|t| t.name == name || (name == "kworker/" && t.origin.kind == "kworker"))
        .ok_or_else(|| format!("no task {name}"))
}

/// Checks the waits of `scenario`'s deadlock: who waits on which lock of which kind, held by
/// whom; the user process caught reading `peek` (every scenario but `spin`, where nothing runs
/// to read it), and the cycle (or, for `completion`, the chain).
fn check_waits(snapshot: &Snapshot, scenario: &Scenario) -> Result<(), String> {
    let expected: &[(&str, &str, &str, &str)] = match scenario.name {
        "abba" => &[
            ("deadlock_a", "sem_b", "semaphore", "deadlock_b"),
            ("deadlock_b", "sem_a", "semaphore", "deadlock_a"),
        ],
        "abc" => &[
            ("abc_a", "sem_b", "semaphore", "abc_b"),
            ("abc_b", "sem_c", "semaphore", "abc_c"),
            ("abc_c", "sem_a", "semaphore", "abc_a"),
        ],
        "recursive" => &[("recursive", "sem_r", "semaphore", "recursive")],
        "leak" => &[("leak_b", "sem_l", "semaphore", "exited")],
        "plain" => &[
            ("plain_a", "sem2", "semaphore", "plain_b"),
            ("plain_b", "sem1", "semaphore", "plain_a"),
        ],
        "spin" => &[
            ("spinner_a", "spin_b", "spinlock", "spinner_b"),
            ("spinner_b", "spin_a", "spinlock", "spinner_a"),
        ],
        "mutex" => &[
            ("mutex_1", "mutex_b", "mutex", "mutex_2"),
            ("mutex_2", "mutex_a", "mutex", "mutex_1"),
        ],
        "rwsem" => &[
            ("rw_reader", "rw_mutex", "mutex", "rw_writer"),
            ("rw_writer", "rw_sem", "rwsem", "rw_reader"),
        ],
        "workqueue" => &[
            (
                "wq_flusher",
                "(work_completion)(wq_job)",
                "work",
                "kworker/",
            ),
            ("kworker/", "wq_lock", "mutex", "wq_flusher"),
        ],
        "backlog" => &[
            ("consumer", "backlog_b", "semaphore", "auditor"),
            ("auditor", "backlog_a", "semaphore", "consumer"),
        ],
        "completion" => &[
            ("waiter", "done", "completion", "none"),
            ("completer", "done_lock", "mutex", "waiter"),
        ],
        other => return Err(format!("no expectations for {other}")),
    };
    // The lock a `peek` read takes, and its holder.
    let peek = match scenario.name {
        "abba" | "abc" => Some(("sem_a", "semaphore", expected[0].0)),
        "backlog" => Some(("backlog_a", "semaphore", "consumer")),
        "recursive" => Some(("sem_r", "semaphore", "recursive")),
        "leak" => Some(("sem_l", "semaphore", "exited")),
        "plain" => Some(("sem1", "semaphore", "plain_a")),
        "mutex" => Some(("mutex_a", "mutex", "mutex_1")),
        "rwsem" => Some(("rw_mutex", "mutex", "rw_writer")),
        "workqueue" => Some(("wq_lock", "mutex", "wq_flusher")),
        "completion" => Some(("done_lock", "mutex", "waiter")),
        _ => None,
    };
    for (thread, lock, kind, holder) in expected {
        let t = task(snapshot, thread)?;
        if t.waits_on.is_none() {
            return Err(format!("{thread} waits on nothing"));
        }
        let seen = wait_of(t);
        if seen != (lock.to_string(), kind.to_string(), holder.to_string()) {
            return Err(format!(
                "{thread}: waits on {} ({}) held by {}, expected {lock} ({kind}) held by {holder}",
                seen.0, seen.1, seen.2
            ));
        }
    }
    if let Some((lock, kind, holder)) = peek {
        let readers: Vec<&Thread> = snapshot
            .threads
            .iter()
            .filter(|t| t.origin.kind == "user")
            .collect();
        let [reader] = readers[..] else {
            return Err(format!(
                "{} user processes, expected the peek reader",
                readers.len()
            ));
        };
        let file = "/sys/module/rust_deadlock/parameters/peek";
        if reader.name != "cat"
            || reader.state != "D"
            || reader.origin.reads.as_deref() != Some(file)
        {
            return Err(format!(
                "the user process is not cat reading {file} in D: {reader:?}"
            ));
        }
        let seen = wait_of(reader);
        if seen != (lock.to_string(), kind.to_string(), holder.to_string()) {
            return Err(format!(
                "cat: waits on {seen:?}, expected {lock} ({kind}) held by {holder}"
            ));
        }
        if reader.waited_ns.unwrap_or(0) == 0 {
            return Err(format!("cat: no wait time: {:?}", reader.waited_ns));
        }
    }
    let names = |tasks: Vec<&Thread>| -> Vec<String> {
        let mut names: Vec<String> = tasks
            .iter()
            .map(|t| match t.origin.kind.as_str() {
                "kworker" => "kworker/".to_owned(),
                _ => t.name.clone(),
            })
            .collect();
        names.sort_unstable();
        names
    };
    let cycle = names(
        snapshot
            .cycle()
            .map(|c| c.iter().map(|(t, _)| *t).collect())
            .unwrap_or_default(),
    );
    let (want, chain): (Vec<&str>, Vec<&str>) = match scenario.name {
        "leak" => (vec![], vec!["leak_b"]),
        "completion" => (vec![], vec!["completer", "waiter"]),
        _ => (expected.iter().map(|(t, ..)| *t).collect(), vec![]),
    };
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort_unstable();
    if cycle != want {
        return Err(format!("cycle {cycle:?}, expected {want:?}"));
    }
    if !chain.is_empty() {
        let longest: Vec<&str> = snapshot
            .longest_chain()
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        if longest != chain {
            return Err(format!("longest chain {longest:?}, expected {chain:?}"));
        }
    }
    Ok(())
}

/// Runs `f` on a deadlocked guest of `scenario`; on failure, the report and the console's place.
fn diagnose(
    scenario: &Scenario,
    f: impl FnOnce(&Snapshot, &Live, &DebugBuild) -> Result<(), String>,
) {
    let build = build();
    let name = format!("diagnose-{}", scenario.name);
    let live = deadlocked(scenario, &build, &name);
    let snapshot = Snapshot::read_live(&live, &build)
        .unwrap_or_else(|e| panic!("{e}"))
        .0;
    let result = check_stuck(&snapshot, scenario)
        .and_then(|()| check_waits(&snapshot, scenario))
        .and_then(|()| f(&snapshot, &live, &build));
    if let Err(why) = result {
        panic!(
            "{why}\n--- the report ---\n{}--- console: {}",
            snapshot.render(),
            live.log.display()
        );
    }
}

#[test]
fn diagnose_abba_live_and_from_a_memory_dump() {
    diagnose(scenario("abba").unwrap(), |snapshot, live, build| {
        let report = snapshot.render();
        for line in [
            "deadlock_a (pid ",
            "  waits on  sem_b (semaphore at 0x",
            "  held by   deadlock_b (pid ",
            "rust_deadlock::abba::AbBa::thread_a  src/abba.rs:",
            "cycle: deadlock_a waits on sem_b (semaphore), held by deadlock_b",
            "       deadlock_b waits on sem_a (semaphore), held by deadlock_a",
            "behind it: cat waits on sem_a (semaphore), held by deadlock_a",
        ] {
            if !report.contains(line) {
                return Err(format!("the report lacks {line:?}"));
            }
        }
        if snapshot.lockdep_on {
            return Err("lockdep still on after its report".into());
        }
        // The fixed variant ran first: both take sem_a first, so sem_a was contended.
        let classes = snapshot.classes.as_ref().ok_or("no lock_stat")?;
        let sem_a = classes
            .iter()
            .find(|c| c.name == "sem_a")
            .ok_or("no lock_stat class sem_a")?;
        if sem_a.contentions == 0 || sem_a.wait_total_ns == 0 || sem_a.acquisitions == 0 {
            return Err(format!("sem_a never contended: {sem_a:?}"));
        }
        if !classes.iter().any(|c| c.name == "sem_b") {
            return Err("no lock_stat class sem_b".into());
        }
        // The same report, offline, from a dump of the same guest.
        let dump = live.private_path("offline.core");
        live.dump(&dump)?;
        let offline = Snapshot::read(Source::Dump(&dump), build);
        let _ = std::fs::remove_file(&dump);
        let offline = offline?;
        if timeless(&offline.render()) != timeless(&report) {
            return Err(format!("the dump's report differs:\n{}", offline.render()));
        }
        // Taken later, the dump has each task waiting longer.
        for t in &snapshot.threads {
            let later = offline.thread(&t.name).and_then(|o| o.waited_ns);
            if t.waited_ns.is_some() && later < t.waited_ns {
                return Err(format!(
                    "{}: waited {:?} live, {later:?} in the dump",
                    t.name, t.waited_ns
                ));
            }
        }
        Ok(())
    });
}

#[test]
fn diagnose_plain_where_lockdep_saw_nothing() {
    diagnose(scenario("plain").unwrap(), |snapshot, _, _| {
        if !snapshot.lockdep_on {
            return Err("lockdep turned off: it saw something".into());
        }
        let classes = snapshot.classes.as_ref().ok_or("no lock_stat")?;
        match classes
            .iter()
            .find(|c| c.name == "sem1" || c.name == "sem2")
        {
            Some(c) => Err(format!("lockdep knows a plain semaphore: {c:?}")),
            None => Ok(()),
        }
    });
}

/// The other scenarios whose threads sleep forever: a three-thread cycle, a thread waiting on
/// itself, a lock whose holder exited, and the other kinds of lock: mutexes, an rwsem, a work
/// item (a kworker caught in the cycle) and a completion (no owner: a chain, not a cycle).
#[test]
fn diagnose_abc() {
    diagnose(scenario("abc").unwrap(), |_, _, _| Ok(()));
}

#[test]
fn diagnose_recursive() {
    diagnose(scenario("recursive").unwrap(), |_, _, _| Ok(()));
}

#[test]
fn diagnose_leak() {
    diagnose(scenario("leak").unwrap(), |_, _, _| Ok(()));
}

/// Requests piling up behind two semaphores taken in opposite orders: the deadlock is abba's.
#[test]
fn diagnose_backlog() {
    diagnose(scenario("backlog").unwrap(), |_, _, _| Ok(()));
}

#[test]
fn diagnose_mutex() {
    diagnose(scenario("mutex").unwrap(), |snapshot, _, _| {
        expect_lines(
            &snapshot.render(),
            &[
                "3 stuck: 2 threads of the module (mutex_1, mutex_2), a user process (cat)",
                "  waits on  mutex_b (mutex at 0x",
                "  held by   mutex_2 (pid ",
                "cycle: mutex_1 waits on mutex_b (mutex), held by mutex_2",
                "       mutex_2 waits on mutex_a (mutex), held by mutex_1",
                "behind it: cat waits on mutex_a (mutex), held by mutex_1",
            ],
        )
    });
}

#[test]
fn diagnose_rwsem() {
    diagnose(scenario("rwsem").unwrap(), |snapshot, _, _| {
        let writer = snapshot.thread("rw_writer").ok_or("no rw_writer")?;
        let wait = writer
            .waits_on
            .as_ref()
            .ok_or("rw_writer waits on nothing")?;
        if (wait.role.as_deref(), wait.held_as.as_deref(), wait.readers)
            != (Some("writer"), Some("reader"), Some(1))
        {
            return Err(format!("rw_writer's wait: {wait:?}"));
        }
        expect_lines(
            &snapshot.render(),
            &[
                "  waits on  rw_sem (rwsem at 0x",
                ", to write, on its wait list)",
                "  held by   rw_reader (pid ",
                " for reading (1 reader): the rwsem's last reader",
                "       rw_writer waits on rw_sem (rwsem), held by rw_reader",
            ],
        )
    });
}

#[test]
fn diagnose_workqueue_with_its_kworker() {
    diagnose(scenario("workqueue").unwrap(), |snapshot, _, _| {
        let kworker = task(snapshot, "kworker/")?;
        if kworker.origin.work.as_deref() != Some("(work_completion)(wq_job)") {
            return Err(format!("the kworker's work: {:?}", kworker.origin));
        }
        expect_lines(
            &snapshot.render(),
            &[
                ", a kworker running (work_completion)(wq_job) (",
                "  waits for (work_completion)(wq_job) (work at 0x",
                "  run by    kworker/",
                " waits on wq_lock (mutex), held by wq_flusher",
                "wq_flusher waits for (work_completion)(wq_job) (work), run by kworker/",
                "behind it: cat waits on wq_lock (mutex), held by wq_flusher",
            ],
        )
    });
}

#[test]
fn diagnose_completion_without_an_owner() {
    diagnose(scenario("completion").unwrap(), |snapshot, _, _| {
        expect_lines(
            &snapshot.render(),
            &[
                "  waits for done (completion at 0x",
                ", on its wait list, waited for by waiter (pid ",
                "  done by   cannot be named: a completion has no owner",
                "no cycle; the longest chain of waits:",
                "  completer waits on done_lock (mutex), held by waiter",
                "  waiter waits for done (completion), done by nobody that can be named",
                "behind it: cat waits on done_lock (mutex), held by waiter",
            ],
        )
    });
}

/// A report without its wait times (", for 4.1 s" at the end of a task's first line), which grow
/// from one reading to the next.
fn timeless(report: &str) -> String {
    report
        .lines()
        .map(|l| match l.rfind(", for ") {
            Some(at) if l.ends_with(" s") => &l[..at],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks that `report` has each of `lines` (a part of a line each).
fn expect_lines(report: &str, lines: &[&str]) -> Result<(), String> {
    match lines.iter().find(|l| !report.contains(**l)) {
        Some(line) => Err(format!("the report lacks {line:?}")),
        None => Ok(()),
    }
}

/// Every CPU spins: a live guest has no stack of a running task, so the report comes from a
/// memory dump (each CPU's registers); the spinlocks' owners come from the kernel's own record.
#[test]
fn diagnose_spin_from_the_cpus() {
    diagnose(scenario("spin").unwrap(), |snapshot, _, _| {
        for t in snapshot
            .threads
            .iter()
            .filter(|t| t.origin.kind == "module")
        {
            let names: Vec<String> = t.frames.iter().map(|f| f.name()).collect();
            if !t.on_cpu || !names.iter().any(|f| f == "do_raw_spin_lock") {
                return Err(format!("{} is not spinning: {names:?}", t.name));
            }
        }
        Ok(())
    });
}

/// Every scenario that deadlocks is diagnosed by one of the tests above.
#[test]
fn every_deadlocking_scenario_is_diagnosed() {
    let tested = [
        "abba",
        "plain",
        "abc",
        "recursive",
        "leak",
        "spin",
        "mutex",
        "rwsem",
        "workqueue",
        "completion",
        "backlog",
    ];
    for s in SCENARIOS {
        if !s.hung.is_empty() || s.spins {
            assert!(
                tested.contains(&s.name),
                "scenario {} has no diagnose test",
                s.name
            );
        }
    }
}

#[test]
fn gdb_sees_the_threads_with_the_kernel_scripts() {
    let build = build();
    let live = deadlocked(scenario("abba").unwrap(), &build, "gdb-abba");
    let out = gdb_command(&build, &live)
        .args([
            "--batch", "-ex", "lx-ps", "-ex", "lx-lsmod", "-ex", "lx-dmesg",
        ])
        .output()
        .expect("run gdb");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let fail = |why: &str| {
        panic!(
            "{why}\n--- gdb ---\n{text}--- console: {}",
            live.log.display()
        )
    };
    if !out.status.success() {
        fail(&format!("gdb: {}", out.status));
    }
    let ko = build.module.display().to_string();
    if !text
        .lines()
        .any(|l| l.contains("loading @0x") && l.contains(&ko))
    {
        fail("lx-symbols did not load the module's symbols");
    }
    for thread in ["deadlock_a", "deadlock_b"] {
        if !text
            .lines()
            .any(|l| l.split_whitespace().any(|w| w == thread))
        {
            fail(&format!("lx-ps does not list {thread}"));
        }
    }
    if !text
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("rust_deadlock"))
    {
        fail("lx-lsmod does not list rust_deadlock");
    }
    if !text.contains("possible circular locking dependency detected") {
        fail("lx-dmesg lacks lockdep's report");
    }
}
