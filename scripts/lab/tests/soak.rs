//! Statistical VM tests, run by `make soak` (`make test` skips them: they boot 20 guests each).
//! They count, over fresh boots, how often lockdep reports the AB-BA: in every boot when buggy, in
//! none when fixed. Each prints a `soak: ` line with the count for the soak's summary.

use lab::{boot, lock_names, Boot, ReportKind, Run};

/// Fresh boots per test.
const BOOTS: usize = 20;
/// Guests running at once (the machine has 2 cores).
const AT_ONCE: usize = 2;

/// Boots `BOOTS` fresh guests, `AT_ONCE` at a time, each running `cmd`, with the CPUs of the
/// module's default scenario (AB-BA), as `make run` gives it.
fn boots(name: &str, cmd: &str) -> Vec<Run> {
    let mut runs = Vec::new();
    for first in (0..BOOTS).step_by(AT_ONCE) {
        std::thread::scope(|s| {
            let handles: Vec<_> = (first..(first + AT_ONCE).min(BOOTS))
                .map(|i| {
                    let guest = Boot::for_scenario(lab::DEFAULT_SCENARIO);
                    s.spawn(move || boot(&format!("{name}-{i:02}"), cmd, guest))
                })
                .collect();
            runs.extend(handles.into_iter().map(|h| h.join().expect("boot thread")));
        });
    }
    runs
}

#[test]
#[ignore = "statistical: 20 boots, run by make soak"]
fn buggy_abba_is_reported_in_every_boot() {
    let runs = boots(
        "soak-buggy",
        "load buggy=1; wait_log 30 'possible circular locking'; timed rmmod rust_deadlock",
    );
    let reported: Vec<bool> = runs
        .iter()
        .map(|run| {
            let reports = run.reports();
            let circular: Vec<_> = reports
                .iter()
                .filter(|r| r.kind == ReportKind::CircularDependency)
                .collect();
            run.status == 0 && circular.len() == 1 && lock_names(circular[0]) == ["sem_a", "sem_b"]
        })
        .collect();
    let n = reported.iter().filter(|r| **r).count();
    println!(
        "soak: kernel {}: buggy AB-BA reported in {n} of {BOOTS} fresh boots",
        lab::target().name()
    );
    for (run, ok) in runs.iter().zip(&reported) {
        assert!(ok, "{}", run.failure("no AB-BA report in this boot"));
    }
}

#[test]
#[ignore = "statistical: 20 boots, run by make soak"]
fn fixed_abba_is_never_reported() {
    let runs = boots(
        "soak-fixed",
        "load; for i in 1 2 3 4 5; do progressed deadlock_a deadlock_b || exit 1; done; timed rmmod rust_deadlock",
    );
    let n = runs.iter().filter(|run| !run.reports().is_empty()).count();
    println!(
        "soak: kernel {}: fixed AB-BA reported in {n} of {BOOTS} fresh boots",
        lab::target().name()
    );
    for run in &runs {
        run.assert_ok();
        assert!(
            run.reports().is_empty(),
            "{}",
            run.failure("a report in fixed mode")
        );
    }
}
