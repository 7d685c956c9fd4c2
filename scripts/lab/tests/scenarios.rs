//! Every scenario of the module (`scripts/lab/src/scenarios.rs`), on a fresh guest each time:
//!
//! - `demo`: the demo `make run SCENARIO=name` plays (fixed variant, then buggy); the buggy
//!   variant must produce exactly the expected report, naming the scenario's locks, threads and
//!   functions (through `splat --json`), hang or spin the expected threads, and unload within 2 s
//!   (see `lab::check_buggy`);
//! - `fixed`: the fixed variant alone prints no report at all while its threads make progress, and
//!   unloads within 2 s, both right after `insmod` and while the threads run.
//!
//! A new scenario is a row in the table and a name in the list at the bottom.

use lab::{boot, boot_for, check_buggy, Boot, ReportKind, Rule};

fn demo(name: &str) {
    let scenario = lab::scenario(name).expect("a scenario of the table");
    let run = boot(
        &format!("{name}-demo"),
        &lab::demo(scenario),
        boot_for(scenario, false),
    );
    if let Err(why) = check_buggy(&run, scenario) {
        panic!("{}", run.failure(&why));
    }
}

fn fixed(name: &str) {
    let scenario = lab::scenario(name).expect("a scenario of the table");
    let threads = scenario.progress.join(" ");
    let run = boot(
        &format!("{name}-fixed"),
        &format!(
            "load scenario={name}; timed rmmod rust_deadlock; \
             load scenario={name}; progressed {threads}; param status; progressed {threads}; \
             param status; timed rmmod rust_deadlock"
        ),
        Boot::default(),
    );
    run.assert_ok();
    run.assert_allowed(&lab::Rules::deny_all());
    run.assert_progress(scenario.progress, 2);
    // Right after insmod, and while the threads run.
    let rmmods = run.timings("rmmod rust_deadlock");
    assert!(
        rmmods.len() == 2 && rmmods.iter().all(|&(rc, ms)| rc == 0 && ms < 2000),
        "{}",
        run.failure(&format!("rmmod (exit, ms): {rmmods:?}"))
    );
}

macro_rules! scenarios {
    ($($name:ident),+ $(,)?) => {
        $(mod $name {
            #[test]
            fn demo() {
                super::demo(stringify!($name));
            }
            #[test]
            fn fixed() {
                super::fixed(stringify!($name));
            }
        })+

        /// Every scenario of the table has its tests here.
        #[test]
        fn every_scenario_is_tested() {
            let tested = [$(stringify!($name)),+];
            for s in lab::SCENARIOS {
                assert!(tested.contains(&s.name), "no tests for scenario {}", s.name);
            }
        }
    };
}

scenarios!(
    abba,
    abc,
    recursive,
    irq,
    leak,
    plain,
    spin,
    mutex,
    rwsem,
    workqueue,
    completion,
    atomic,
    hardirq,
    backlog,
    sleep_in_irq
);

/// An unknown scenario is refused at load time: insmod fails with EINVAL, the kernel log lists the
/// valid names, and nothing stays loaded.
#[test]
fn unknown_scenario_is_refused() {
    let run = boot(
        "unknown-scenario",
        "load scenario=abcd; echo \"lab: insmod exit $?\"; \
         echo \"lab: loaded $(lsmod | grep -c rust_deadlock)\"",
        Boot::default(),
    );
    run.assert_ok();
    let lab = run.lab_lines();
    // busybox insmod exits with the errno: EINVAL.
    assert!(
        lab.contains(&"insmod exit 22"),
        "{}",
        run.failure("insmod did not fail with EINVAL")
    );
    assert!(
        lab.contains(&"loaded 0"),
        "{}",
        run.failure("module stayed loaded")
    );
    let names: Vec<&str> = lab::SCENARIOS.iter().map(|s| s.name).collect();
    let refusal = format!(
        "rust_deadlock: scenario: refused 'abcd': unknown name (valid: {})",
        names.join(", ")
    );
    assert!(
        run.lines().any(|l| l == refusal),
        "{}",
        run.failure(&format!("no line '{refusal}'"))
    );
}

/// The article's last symptom, a panic, asked for per run: with `sysctl_name` set to 1, the
/// buggy `scenario` makes the kernel panic with `message`, right after the report of the stuck
/// thread, whose stack points at `function` (where it sleeps or spins) in a function named `step`... (the
/// scenario's code). The guest ends itself (panic_timeout -1: an immediate reset).
fn panics(scenario: &str, setup: &str, message: &str, function: &str, step: &str) {
    let run = boot(
        &format!("{scenario}-panic"),
        &format!("{setup}; load scenario={scenario} buggy=1; while :; do sleep 60; done"),
        Boot {
            until: Some(("Kernel panic - not syncing", 1)),
            ..Boot::default()
        },
    );
    assert_eq!(run.status, 0, "{}", run.failure("the guest did not panic"));
    let Some(panic) = run.find(&format!("Kernel panic - not syncing: {message}")) else {
        panic!("{}", run.failure(&format!("no panic '{message}'")));
    };
    let stuck = run.reports().into_iter().rev().find(|r| {
        let frames = r.stacks.iter().flat_map(|s| s.frames.iter());
        let names: Vec<&str> = frames.map(|f| f.function.as_str()).collect();
        r.start_line <= panic + 1
            && names.contains(&function)
            && names.iter().any(|f| f.contains(step))
    });
    assert!(
        stuck.is_some(),
        "{}",
        run.failure(&format!(
            "no report before the panic with {function} in {step}'s stack"
        ))
    );
}

/// `hung_task_panic`: the mutex deadlock panics; the hung thread's stack points at schedule().
#[test]
fn a_hung_task_panics_at_schedule() {
    panics(
        "mutex",
        "echo 1 > /proc/sys/kernel/hung_task_panic",
        "hung_task: blocked tasks",
        "schedule",
        "Mutexes::thread_",
    );
}

/// `softlockup_panic`: the spinlock deadlock panics; the spinning CPU's stack points at the
/// spinlock's loop.
#[test]
fn a_soft_lockup_panics_at_spin_lock() {
    panics(
        "spin",
        "soft_lockup_after_2s; echo 1 > /proc/sys/kernel/softlockup_panic",
        "softlockup: hung tasks",
        "do_raw_spin_lock",
        "Spin::thread_",
    );
}

/// High CPU, the article's first symptom, where a CPU is left to show it: in a guest with three
/// CPUs, once the soft-lockup detector has reported both spinning CPUs (flipped to buggy once
/// `insmod` is long done: its deferred freeing of the module's init memory waits for an RCU grace
/// period, which spinning CPUs never let end), `top` (its second frame, over a second) shows both
/// `spin` threads running (`RW`: a kernel thread in state R) and each taking a CPU (a third of
/// three CPUs' time, 20 % at least), at the top of the list (only top itself may come before).
#[test]
fn spinning_threads_top_the_cpu_list() {
    let spin = lab::scenario("spin").expect("a scenario of the table");
    let run = boot(
        "spin-top",
        "soft_lockup_after_2s; load scenario=spin; progressed spinner_a spinner_b; \
         setparam buggy 1; wait_log 60 'soft lockup - CPU#' 2; top -b -d 1 -n 2",
        Boot {
            cpus: Some(3),
            ..Boot::default()
        },
    );
    run.assert_ok();
    // Three CPUs report at once: a soft-lockup header may come cut by another CPU's lines, its
    // task lost.
    let cut = Rule::new()
        .name("a soft-lockup report cut by another CPU's")
        .kind(ReportKind::SoftLockup);
    run.assert_allowed(&lab::expected_reports(spin).allowing(cut));
    // busybox top's rows: PID PPID USER STAT VSZ %VSZ %CPU COMMAND ([name] for a kthread). The
    // second frame's: its %CPU is over the second before it (the first frame's, over a moment).
    let lines: Vec<&str> = run.lines().collect();
    let header = |l: &&str| l.trim_start().starts_with("PID  PPID USER");
    let Some(last) = lines.iter().rposition(header) else {
        panic!("{}", run.failure("no output of top"));
    };
    // Its rows, wherever a CPU's soft-lockup report came in between them.
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let rows: Vec<Vec<&str>> = lines[last + 1..]
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cols| {
            cols.len() >= 8
                && number(cols[0])
                && number(cols[1])
                && cols[5].ends_with('%')
                && cols[6].ends_with('%')
        })
        .collect();
    for (i, thread) in spin.threads.iter().enumerate() {
        let name = format!("[{thread}]");
        let row = rows.iter().position(|cols| cols[7] == name);
        let Some(at) = row else {
            panic!("{}", run.failure(&format!("top does not list {thread}")));
        };
        let cpu: u32 = rows[at][6].trim_end_matches('%').parse().unwrap_or(0);
        // Above it, only the other spinning thread and top itself (busy reading /proc).
        let above_ok = rows[..at].iter().all(|cols| {
            cols[7] == "top" || spin.threads.iter().any(|t| cols[7] == format!("[{t}]"))
        });
        assert!(
            rows[at][3].starts_with('R') && cpu >= 20 && above_ok,
            "{}",
            run.failure(&format!(
                "{thread} (thread {i}) is not running at the top of top's list: {:?}",
                rows[at]
            ))
        );
    }
}

/// Kernel memory growing with no user-space cause: while `backlog`'s consumer is deadlocked, the
/// requests its producer queues pile up in the slab allocator, up to the scenario's bound (2048
/// requests of 4 KiB): `Slab` in `/proc/meminfo` holds at least 7 MiB more than once it is
/// unloaded, and `kmalloc-4k` 1900 objects more, and `rmmod`, which breaks the deadlock, gives it
/// all back.
#[test]
fn requests_pile_up_in_slab_behind_a_deadlocked_consumer() {
    let backlog = lab::scenario("backlog").expect("a scenario of the table");
    let run = boot(
        "backlog-slab",
        "load scenario=backlog; progressed producer consumer auditor; slab; setparam buggy 1; \
         wait_log 60 'queueing no more'; slab; timed rmmod rust_deadlock; slab",
        Boot::default(),
    );
    run.assert_ok();
    run.assert_allowed(&lab::expected_reports(backlog));
    let full = "rust_deadlock: backlog: 2048 requests queued (8192 KiB), none consumed: \
                queueing no more";
    assert!(
        run.lines().any(|l| l == full),
        "{}",
        run.failure(&format!("no line '{full}'"))
    );
    let slab: Vec<(i64, i64)> = run
        .lab_lines()
        .iter()
        .filter_map(|l| {
            let mut cols = l.strip_prefix("slab ")?.split(' ');
            let kb = cols.next()?.parse().ok()?;
            let objects = cols.nth(1)?.parse().ok()?;
            Some((kb, objects))
        })
        .collect();
    let [before, deadlocked, unloaded] = slab[..] else {
        panic!("{}", run.failure(&format!("slab readings: {slab:?}")));
    };
    // Measured from the reading after rmmod, when nothing of the module is left (the one before
    // already counts the fixed variant's requests in flight). What comes back is compared with
    // the first reading within the same 2 MiB for both figures: /proc/slabinfo counts a freed
    // object still cached on a CPU as in use, and the kernel's own 4 KiB allocations moved by 15
    // objects in 1 of about 12 runs (6.12).
    assert!(
        deadlocked.0 - unloaded.0 >= 7 * 1024
            && deadlocked.1 - unloaded.1 >= 1900
            && unloaded.0 - before.0 < 2 * 1024
            && unloaded.1 - before.1 < 2 * 1024 / 4,
        "{}",
        run.failure(&format!(
            "slab (kB, kmalloc-4k objects) before, deadlocked, unloaded: {slab:?}"
        ))
    );
    match run.timing("rmmod rust_deadlock") {
        Some((0, ms)) if ms < 2000 => {}
        other => panic!("{}", run.failure(&format!("rmmod: {other:?}"))),
    }
}
