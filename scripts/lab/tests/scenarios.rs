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

use lab::{boot, boot_for, check_buggy, Boot};

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
    let reports = run.reports();
    let titles: Vec<&str> = reports.iter().map(|r| r.title.as_str()).collect();
    assert!(
        reports.is_empty(),
        "{}",
        run.failure(&format!("reports: {titles:?}"))
    );
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
    abba, abc, recursive, irq, leak, plain, spin, mutex, rwsem, workqueue, completion, atomic
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
