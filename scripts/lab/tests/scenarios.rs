//! Every scenario of the module (`scripts/lab/src/scenarios.rs`), on a fresh guest each time:
//!
//! - `demo`: the demo `make run SCENARIO=name` plays (fixed variant, then buggy); the buggy
//!   variant must produce exactly the expected report, naming the scenario's locks, threads and
//!   functions (through `splat --json`), hang or spin the expected threads, show what the demo
//!   shows besides (`top`, the slab memory), and unload within 2 s (see `lab::check_buggy`);
//! - `fixed`: the fixed variant alone prints no report at all while its threads make progress, and
//!   unloads within 2 s, both right after `insmod` and while the threads run.
//!
//! A new scenario is a row in the table and a name in the list at the bottom.

use lab::{boot, Boot, Demo};

/// The demo of scenario `name`, as `make run SCENARIO=name` plays it (with `panic`, as `make run
/// SCENARIO=name PANIC=1` does), checked as it checks it.
fn demo(name: &str, panic: bool) {
    let scenario = lab::scenario(name).expect("a scenario of the table");
    let demo = Demo::new(scenario, panic).expect("a scenario that can panic");
    let run = boot(
        &format!("{name}-demo{}", if panic { "-panic" } else { "" }),
        &demo.cmd(),
        demo.boot(false),
    );
    if let Err(why) = demo.check(&run) {
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
        Boot::for_scenario(scenario),
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
                super::demo(stringify!($name), false);
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
        Boot::for_scenario(lab::DEFAULT_SCENARIO),
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

/// The article's last symptom, a panic, asked for per run (`make run SCENARIO=mutex PANIC=1`):
/// with `hung_task_panic` set, the mutex deadlock's first hung-task report panics the kernel
/// (`hung_task: blocked tasks`); the hung thread's stack, printed just before, points at
/// `schedule()`. The guest is ended at the panic (see `lab::check_panic`).
#[test]
fn a_hung_task_panics_at_schedule() {
    demo("mutex", true);
}

/// `make run SCENARIO=spin PANIC=1`: with `softlockup_panic` set, the spinlock deadlock's first
/// soft-lockup report panics the kernel (`softlockup: hung tasks`); the spinning CPU's stack
/// points at the spinlock's loop, `do_raw_spin_lock()`.
#[test]
fn a_soft_lockup_panics_at_spin_lock() {
    demo("spin", true);
}

/// `make run SCENARIO=hardirq PANIC=1`: with `hardlockup_panic` set, the hard-lockup detector
/// panics the kernel (`Hard LOCKUP`) after its report, whose stack of the stuck CPU (by NMI)
/// shows the interrupt's handler spinning in `do_raw_spin_lock()`.
#[test]
fn a_hard_lockup_panics_at_spin_lock() {
    demo("hardirq", true);
}
