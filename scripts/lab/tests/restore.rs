//! The saved guest (`scripts/guest/guest.sh`): every guest of the lab is restored from a guest that
//! booted once to qemu/init's wait for its payload. These tests prove that a restored guest is as
//! fresh as a booted one, and that a saved guest that does not restore is made again.

use lab::{boot, repo_root, Boot, Run};
use splat::ReportKind as Kind;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What each guest here prints before the module is loaded, then the buggy AB-BA: lockdep's state
/// (on, and none of the module's lock classes known yet), and which boot the guest comes from.
const FRESH: &str = "mark \"boot_id $(cat /proc/sys/kernel/random/boot_id)\"; \
    mark \"$(grep -E '^ *(debug_locks|lock-classes):' /proc/lockdep_stats | tr -s ' ' | tr '\\n' ';')\"; \
    mark \"module classes: $(grep -c -E ': sem_(a|b)$' /proc/lockdep)\"; \
    load buggy=1; wait_log 30 'possible circular locking'; timed rmmod rust_deadlock";

/// The guest's boot id, as `FRESH` marked it.
fn boot_id(run: &Run) -> String {
    let line = run
        .lab_lines()
        .into_iter()
        .find_map(|l| l.strip_prefix("boot_id "));
    line.expect("boot_id line").to_owned()
}

/// The number lockdep's statistics gave for `field` (e.g. `lock-classes`), as `FRESH` marked it.
fn lockdep_stat(run: &Run, field: &str) -> u64 {
    let stats = run
        .lab_lines()
        .into_iter()
        .find(|l| l.contains("debug_locks:"))
        .unwrap_or_else(|| panic!("{}", run.failure("no lockdep_stats line")));
    stats
        .split(';')
        .find_map(|f| {
            f.trim()
                .strip_prefix(field)?
                .strip_prefix(':')?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("{}", run.failure(&format!("no {field} in {stats}"))))
}

/// Asserts that the run saw lockdep on, none of the module's classes before `insmod`, and then
/// exactly one circular report, of the module's two semaphores.
fn assert_fresh_and_reported(run: &Run) {
    run.assert_ok();
    assert_eq!(
        lockdep_stat(run, "debug_locks"),
        1,
        "{}",
        run.failure("lockdep is off")
    );
    assert!(
        run.lab_lines().contains(&"module classes: 0"),
        "{}",
        run.failure("the module's lock classes were known before insmod")
    );
    let reports = run.reports();
    let circular: Vec<_> = reports
        .iter()
        .filter(|r| r.kind == Kind::CircularDependency)
        .collect();
    assert_eq!(circular.len(), 1, "{}", run.failure("circular reports"));
    assert_eq!(
        lab::lock_names(circular[0]),
        ["sem_a", "sem_b"],
        "{}",
        run.failure("locks")
    );
}

#[test]
fn restored_guests_are_as_fresh_as_a_booted_one() {
    // The guests of the module's default scenario (AB-BA), as its other tests get them.
    let guest = || Boot::for_scenario(lab::DEFAULT_SCENARIO);
    let booted = boot(
        "fresh-booted",
        FRESH,
        Boot {
            restore: false,
            ..guest()
        },
    );
    assert_fresh_and_reported(&booted);
    // Two restores in a row: each gets lockdep's one report per boot.
    let first = boot("fresh-restored-1", FRESH, guest());
    assert_fresh_and_reported(&first);
    let second = boot("fresh-restored-2", FRESH, guest());
    assert_fresh_and_reported(&second);
    // Both restored guests come from one saved boot; the booted one from a boot of its own.
    assert_eq!(
        boot_id(&first),
        boot_id(&second),
        "{}",
        second.failure("boot ids")
    );
    assert_ne!(
        boot_id(&first),
        boot_id(&booted),
        "{}",
        booted.failure("boot ids")
    );
    // Lockdep knows as many lock classes as in a guest just booted (the few that init's own
    // work adds either way aside).
    let (b, r) = (
        lockdep_stat(&booted, "lock-classes"),
        lockdep_stat(&first, "lock-classes"),
    );
    assert!(
        b.abs_diff(r) * 20 <= b,
        "lock classes: {b} after a boot, {r} after a restore"
    );
}

#[test]
fn a_saved_guest_that_does_not_restore_is_saved_again() {
    // A copy of the saved guest the other tests restore from (made now if it is missing), in a
    // directory of its own, with its state (the machine but its RAM) cut in half: QEMU cannot
    // load it. One boot, to save it again, where saving a guest of its own first took another.
    // The default scenario's CPUs (one): the guest that boots at least cost, and the one most
    // tests restore.
    let vm = |snapshots: Option<&Path>, args: &[&str]| {
        let mut vm = Command::new(repo_root().join("scripts/guest/vm.sh"));
        vm.env("LAB_CPUS", lab::DEFAULT_SCENARIO.cpus.to_string());
        if let Some(dir) = snapshots {
            vm.env("LAB_SNAPSHOTS", dir);
        }
        let out = vm.args(args).output().expect("run scripts/guest/vm.sh");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (status, _, remarks) = vm(None, &["--quiet", "--", "true"]);
    assert_eq!(status, Some(0), "a restored guest: {remarks}");
    let (status, saved, remarks) = vm(None, &["--restores"]);
    assert_eq!(status, Some(0), "vm.sh --restores: {remarks}");
    let saved = PathBuf::from(saved.trim());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let copy = dir
        .path()
        .join(saved.file_name().expect("the saved guest's name"));
    std::fs::create_dir(&copy).expect("the copy's directory");
    for file in ["initramfs.cpio", "state"] {
        std::fs::copy(saved.join(file), copy.join(file))
            .unwrap_or_else(|e| panic!("copy {file} of {}: {e}", saved.display()));
    }
    // The RAM file: 512 MB, mostly holes, which cp keeps.
    let cp = Command::new("cp")
        .arg("--sparse=always")
        .arg(saved.join("ram"))
        .arg(copy.join("ram"))
        .status()
        .expect("run cp");
    assert!(cp.success(), "copy ram of {}: {cp}", saved.display());
    let state = std::fs::OpenOptions::new()
        .write(true)
        .open(copy.join("state"))
        .expect("the copied state");
    let len = state.metadata().expect("the copied state").len();
    state.set_len(len / 2).expect("truncate the state");
    drop(state);

    std::fs::create_dir_all(lab::log_dir()).expect("log directory");
    let log = lab::log_dir().join("resave.log");
    let (status, _, remarks) = vm(
        Some(dir.path()),
        &[
            "--quiet",
            "--timeout",
            "120",
            "--log",
            &log.to_string_lossy(),
            "--",
            "echo restored",
        ],
    );
    let console = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status, Some(0), "{remarks}\n{console}");
    assert!(
        remarks.contains("saving the guest again") && remarks.contains("saved the"),
        "not saved again: {remarks}"
    );
    assert!(console.contains("restored"), "{console}");
    assert!(
        copy.join("state").metadata().expect("the new state").len() > len / 2,
        "the state was not made again"
    );
}
