//! The host side of the rust-deadlock lab.
//!
//! [`boot`] starts a fresh guest through `scripts/guest/vm.sh`, runs a guest command line in it and
//! keeps the whole console log; [`Run::reports`] reads that log with the splat library and
//! returns the kernel reports it found, which tests and the demo assert on. Every run gets a new guest,
//! because lockdep reports only the first problem it finds in a boot: under emulation, a guest
//! restored from the kernel's saved guest (`scripts/guest/guest.sh`), as fresh as a booted one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use splat::check::{Rule, Rules};
pub use splat::{Report, ReportKind};

pub mod diagnose;
pub mod kcidb;
pub mod results;
pub mod scenarios;
pub use scenarios::{scenario, Panic, Scenario, Shows, DEFAULT_SCENARIO, SCENARIOS};
#[cfg(test)]
mod workflow;

/// The repository's top directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The kernel the lab's guests run: a series of `scripts/env.sh`'s `KERNELS` (`$KERNEL`, which
/// `make`, `scripts/guest/vm.sh` and the test runner always set) and maybe a variant of it
/// (`$LAB_VARIANT`: `debug`, `kcsan`). What differs from one series to the next is a method here,
/// answered from the version, so that a new series needs no change in the lab.
///
/// # Invariants
///
/// `version` is the `MAJOR.MINOR` that `series` spells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    series: String,
    version: (u32, u32),
    variant: Option<String>,
}

impl Target {
    /// The target `series` (`7.3`) and `variant` (`kcsan`, or none) name.
    pub fn new(series: &str, variant: Option<&str>) -> Result<Target, String> {
        let version = series
            .split_once('.')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| format!("KERNEL={series}: not a kernel series (MAJOR.MINOR)"))?;
        let variant = variant.filter(|v| !v.is_empty());
        if let Some(v) = variant {
            if !v
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return Err(format!("LAB_VARIANT={v}: not a variant name"));
            }
        }
        Ok(Target {
            series: series.to_string(),
            version,
            variant: variant.map(str::to_string),
        })
    }

    /// The target of this process: `$KERNEL` and `$LAB_VARIANT`.
    pub fn from_env() -> Result<Target, String> {
        let series = std::env::var("KERNEL").map_err(|_| {
            "KERNEL is not set: run the lab through make or scripts/make/test.sh, or set KERNEL=7.3"
                .to_string()
        })?;
        Target::new(&series, std::env::var("LAB_VARIANT").ok().as_deref())
    }

    /// The series: `7.3`.
    pub fn series(&self) -> &str {
        &self.series
    }

    /// The variant, if any: `kcsan`.
    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    /// `7.3`, or `7.3-kcsan` with a variant: how logs and modules are filed.
    pub fn name(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}-{v}", self.series),
            None => self.series.clone(),
        }
    }

    /// Whether the hung-task detector names the task a stuck task waits for ("blocked on a
    /// semaphore likely last held by task ..."): since 6.16.
    pub fn names_blockers(&self) -> bool {
        self.version >= (6, 16)
    }

    /// Whether the kernel crate has `#[kunit_tests]`, so that the module has a KUnit suite:
    /// since 6.15.
    pub fn has_kunit_tests(&self) -> bool {
        self.version >= (6, 15)
    }
}

/// The target of this process (see [`Target::from_env`]), read once.
///
/// # Panics
///
/// When `$KERNEL` or `$LAB_VARIANT` does not name one.
pub fn target() -> &'static Target {
    static TARGET: std::sync::OnceLock<Target> = std::sync::OnceLock::new();
    TARGET.get_or_init(|| Target::from_env().unwrap_or_else(|why| panic!("{why}")))
}

/// The kernel series the guests run: [`target`]'s.
pub fn kernel() -> String {
    target().series().to_string()
}

/// What the lab leaves for people to read: `$LAB_OUT`, which `scripts/env.sh` sets
/// (`scripts/out/`).
///
/// # Panics
///
/// When `$LAB_OUT` is not set: the lab runs through make or the scripts, which set it.
pub fn out_dir() -> PathBuf {
    std::env::var_os("LAB_OUT")
        .map(PathBuf::from)
        .expect("LAB_OUT is not set: run the lab through make or the scripts under scripts/make/")
}

/// Where console logs are kept: `$LAB_OUT/vm-logs/TARGET/NAME.log`.
pub fn log_dir() -> PathBuf {
    out_dir().join("vm-logs").join(target().name())
}

/// One guest run: what it printed and how it ended.
#[derive(Debug)]
pub struct Run {
    /// The name the run was given (its log is `log_dir()/NAME.log`).
    pub name: String,
    /// The guest command's exit status; 124 when the guest timed out, 1 when it did not finish.
    pub status: i32,
    /// The whole serial console, carriage returns removed.
    pub console: String,
    /// Where the console log is kept.
    pub log: PathBuf,
    /// What `scripts/guest/vm.sh` said on standard error (a guest saved again, a guest started
    /// again).
    pub remarks: String,
    /// The kernel the guest ran.
    pub target: Target,
}

/// How a guest is started.
#[derive(Clone, Debug)]
pub struct Boot {
    /// Kill the guest after this many seconds (a deadline for a guest that went wrong, not a
    /// measure: with several guests on two cores, a test takes up to twice its time alone).
    pub timeout_s: u32,
    /// Copy the console to our standard output as it comes.
    pub echo: bool,
    /// For a guest that cannot recover: power it off once this many console lines matched this
    /// extended regular expression (`scripts/guest/vm.sh --until`); the run then has status 0.
    pub until: Option<(&'static str, u32)>,
    /// With `until`: power the guest off only at the first line after those that matches this
    /// extended regular expression (`scripts/guest/vm.sh --then`): the end of the report. A guest
    /// that ends itself before that line (a reset after a panic) ended as it should too.
    pub then: Option<&'static str>,
    /// Restore the guest from the kernel's saved guest where the lab can (`LAB_SNAPSHOT`, the
    /// default); `false` boots it.
    pub restore: bool,
    /// More files for the guest's `/lab`: static tools of `scripts/guest/` ([`guest_tool`]).
    pub with: Vec<PathBuf>,
    /// The guest's CPUs (`LAB_CPUS`); `None`: the lab's two.
    pub cpus: Option<u32>,
}

impl Boot {
    /// A guest with the CPUs `scenario` needs ([`Scenario::cpus`]), otherwise as by default: for
    /// its fixed variant, or for a test that drives the module in its default scenario
    /// ([`DEFAULT_SCENARIO`]).
    pub fn for_scenario(scenario: &Scenario) -> Self {
        Self {
            cpus: Some(scenario.cpus),
            ..Self::default()
        }
    }
}

impl Default for Boot {
    fn default() -> Self {
        Self {
            timeout_s: 300,
            echo: false,
            until: None,
            then: None,
            restore: true,
            with: Vec::new(),
            cpus: None,
        }
    }
}

/// Builds the crate `scripts/guest/NAME` as a static binary, which the lab's busybox guest (it
/// has no C library) can run from `/lab/NAME` when a [`Boot`] brings it `with`, and returns its
/// path. It is a crate of its own, outside the workspace (its panics abort), built for the
/// host's target named in full, so that the static flags stay off the host tools' own builds.
pub fn guest_tool(name: &str) -> PathBuf {
    const TARGET: &str = "x86_64-unknown-linux-gnu";
    let scripts = repo_root().join("scripts");
    let status = Command::new("cargo")
        .args(["build", "--quiet", "--release", "--target", TARGET])
        .arg("--manifest-path")
        .arg(scripts.join(format!("guest/{name}/Cargo.toml")))
        .arg("--target-dir")
        .arg(scripts.join("target"))
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .status()
        .unwrap_or_else(|e| panic!("run cargo to build {name}: {e}"));
    assert!(status.success(), "building scripts/guest/{name} failed");
    scripts.join(format!("target/{TARGET}/release/{name}"))
}

/// What ends a guest whose every CPU spins (the `spin` scenario): the soft-lockup detector's
/// third report. Each CPU is reported once, then again: by the third, the first two are complete.
pub const SOFT_LOCKUPS: (&str, u32) = ("BUG: soft lockup - CPU#", 3);

/// What ends a guest with a CPU stuck in an interrupt handler (a scenario with `hard_lockup`): the
/// hard-lockup detector's report, once the stuck CPU's stack that it asks for by NMI is out (it
/// ends with the interrupted task's part, `</TASK>`).
pub const HARD_LOCKUP: (&str, u32) = ("NMI backtrace for cpu", 1);
/// The last line of [`HARD_LOCKUP`]'s report (splat reads the report to the end of the stack).
pub const HARD_LOCKUP_END: &str = "</TASK>";

/// Starts a fresh guest, runs the guest shell command line `cmd` in it (with `qemu/lib.sh`
/// loaded), and returns once the guest has powered off or timed out. (A guest that never prints
/// its first line is ended and started again by `scripts/guest/vm.sh`, which says so.)
pub fn boot(name: &str, cmd: &str, how: Boot) -> Run {
    let dir = log_dir();
    std::fs::create_dir_all(&dir).expect("create the log directory");
    let log = dir.join(format!("{name}.log"));
    let mut vm = Command::new(repo_root().join("scripts/guest/vm.sh"));
    vm.arg("--log")
        .arg(&log)
        .arg("--timeout")
        .arg(how.timeout_s.to_string());
    if how.echo {
        vm.stdout(Stdio::inherit());
    } else {
        vm.arg("--quiet").stdout(Stdio::null());
    }
    if let Some((pattern, count)) = how.until {
        vm.arg("--until")
            .arg(pattern)
            .arg("--count")
            .arg(count.to_string());
    }
    if let Some(pattern) = how.then {
        vm.arg("--then").arg(pattern);
    }
    if !how.restore {
        vm.env("LAB_SNAPSHOT", "0");
    }
    if let Some(cpus) = how.cpus {
        vm.env("LAB_CPUS", cpus.to_string());
    }
    for file in &how.with {
        vm.arg("--with").arg(file);
    }
    // vm.sh's own remarks (a missed deadline) pass through here: printed by this thread, a test
    // harness shows them with the test's failure, not in the middle of its result line.
    let out = vm
        .arg("--")
        .arg(cmd)
        .stderr(Stdio::piped())
        .output()
        .expect("run scripts/guest/vm.sh");
    let remarks = String::from_utf8_lossy(&out.stderr).into_owned();
    eprint!("{remarks}");
    let status = out.status;
    let console = std::fs::read(&log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Run {
        name: name.to_owned(),
        status: status.code().unwrap_or(-1),
        console,
        log,
        remarks,
        target: target().clone(),
    }
}

impl Run {
    /// The reports splat finds in the console (the splat library, in this process).
    pub fn reports(&self) -> Vec<Report> {
        splat::parse(&self.console)
    }

    /// The wait-for graph splat builds from the hung tasks' blocker lines, and its cycles.
    pub fn wait_for(&self) -> splat::WaitFor {
        splat::wait_for(&self.reports())
    }

    /// The console's lines without their printk timestamps. The guest command's output reaches
    /// the console as kernel log records too (see qemu/init), so it has them as well.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.console
            .lines()
            .map(|l| splat::input::strip_prefixes(l).0)
    }

    /// The lines the guest scripts printed with the `lab: ` prefix, without it.
    pub fn lab_lines(&self) -> Vec<&str> {
        self.lines()
            .filter_map(|l| l.strip_prefix("lab: "))
            .collect()
    }

    /// The line number of the first console line containing `needle`.
    pub fn find(&self, needle: &str) -> Option<usize> {
        self.lines().position(|l| l.contains(needle))
    }

    /// Panics, with the log's path and tail, unless the guest command ran to the end with
    /// status 0 and the guest printed something.
    pub fn assert_ok(&self) {
        assert!(
            self.console.contains("lab: exit 0") && self.status == 0,
            "{}",
            self.failure("the guest command failed")
        );
    }

    /// Checks the console against `rules` (splat's check mode, what `splat check` runs): the
    /// error names every report the rules do not allow, with the verdict, and the log.
    pub fn check_reports(&self, rules: &Rules) -> Result<(), String> {
        let reports = self.reports();
        let offending = rules.offending(&reports);
        if offending.is_empty() {
            return Ok(());
        }
        let mut msg = String::from("reports that are not allowed:");
        for (r, verdict) in offending {
            let _ = write!(msg, " '{}' ({}, {verdict});", r.title, r.kind.as_str());
        }
        msg.pop();
        Err(msg)
    }

    /// Panics, with the log's path and tail, when the console holds a report that `rules` do
    /// not allow ([`Run::check_reports`]). `Rules::deny_all()`: no report at all.
    pub fn assert_allowed(&self, rules: &Rules) {
        if let Err(why) = self.check_reports(rules) {
            panic!("{}", self.failure(&why));
        }
    }

    /// A failure message: `what`, the exit status, the log's path and its last lines.
    pub fn failure(&self, what: &str) -> String {
        let mut msg = format!(
            "{what} (kernel {}, run {}, status {}, log {})\n",
            self.target.name(),
            self.name,
            self.status,
            self.log.display()
        );
        let lines: Vec<&str> = self.console.lines().collect();
        for line in &lines[lines.len().saturating_sub(40)..] {
            let _ = writeln!(msg, "  | {line}");
        }
        msg
    }

    /// The values a `status` read printed, as (thread, iterations), in order of appearance.
    pub fn iterations(&self, thread: &str) -> Vec<u64> {
        let prefix = format!("{thread} iterations=");
        self.lines()
            .filter_map(|l| l.strip_prefix(&prefix)?.split(' ').next()?.parse().ok())
            .collect()
    }

    /// The last line a `status` read printed for `thread`, after its name: `iterations=0
    /// state=waiting on=sem_b holder=deadlock_b`.
    pub fn status_of(&self, thread: &str) -> Option<&str> {
        let prefix = format!("{thread} ");
        self.lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .filter(|rest| rest.starts_with("iterations="))
            .last()
    }

    /// Panics, with the log, unless each of `threads` had its iteration count read `reads`
    /// times from `status`, and it was above zero and grew from each read to the next.
    pub fn assert_progress(&self, threads: &[&str], reads: usize) {
        for thread in threads {
            let seen = self.iterations(thread);
            assert_eq!(
                seen.len(),
                reads,
                "{}",
                self.failure(&format!("{thread}: status reads"))
            );
            assert!(
                seen[0] > 0,
                "{}",
                self.failure(&format!("{thread} never iterated"))
            );
            assert!(
                seen.windows(2).all(|w| w[1] > w[0]),
                "{}",
                self.failure(&format!("{thread} stalled: {seen:?}"))
            );
        }
    }

    /// How long the timed guest command `cmd` took, from `timed`'s "lab: CMD: exit N in M ms".
    pub fn timing(&self, cmd: &str) -> Option<(i32, u64)> {
        self.timings(cmd).into_iter().next()
    }

    /// Every `timed` run of the guest command `cmd`, in order, as (exit status, milliseconds).
    pub fn timings(&self, cmd: &str) -> Vec<(i32, u64)> {
        let prefix = format!("{cmd}: exit ");
        self.lab_lines()
            .iter()
            .filter_map(|l| {
                let (rc, ms) = l.strip_prefix(&prefix)?.split_once(" in ")?;
                Some((rc.parse().ok()?, ms.strip_suffix(" ms")?.parse().ok()?))
            })
            .collect()
    }
}

/// The KTAP document KUnit printed to the console, from its first `KTAP version 1` line to the
/// top-level result line, with printk timestamps removed but KTAP's indentation kept; empty when
/// there is none.
pub fn ktap(run: &Run) -> Vec<&str> {
    let lines: Vec<&str> = run
        .console
        .lines()
        .map(|l| stamped(l).map_or(l, |(_, rest)| rest))
        .collect();
    let Some(start) = lines.iter().position(|l| *l == "KTAP version 1") else {
        return Vec::new();
    };
    let end = lines[start..]
        .iter()
        .position(|l| l.starts_with("ok ") || l.starts_with("not ok "))
        .map_or(lines.len(), |i| start + i + 1);
    lines[start..end].to_vec()
}

/// The names of the lock classes a report names, sorted, each once.
pub fn lock_names(report: &Report) -> Vec<&str> {
    let mut locks: Vec<&str> = report.locks.iter().map(|l| l.name.as_str()).collect();
    locks.sort_unstable();
    locks.dedup();
    locks
}

/// What ends a guest whose kernel panicked at a deadlock it was asked to panic at (`make run
/// PANIC=1`): the panic's line, then the end of the panicking CPU's stack that follows it (the
/// lab's kernels have `DEBUG_BUGVERBOSE`). With `panic=-1` the guest would reset itself right
/// after; the lab is quicker.
pub const PANICKED: (&str, u32) = (r"^\[ *[0-9.]+\] Kernel panic - not syncing", 1);

/// The scenarios' names, comma-separated.
fn names() -> String {
    let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
    names.join(", ")
}

/// A demo as `make run` plays it (`qemu/demo.sh`): a scenario, fixed then buggy, and maybe the
/// panic it was asked for.
#[derive(Debug, Clone, Copy)]
pub struct Demo {
    /// The scenario.
    pub scenario: &'static Scenario,
    /// With `make run PANIC=1`: how the kernel panics at the deadlock.
    pub panic: Option<Panic>,
}

impl Demo {
    /// The demo of `scenario`; with `panic`, the kernel panics at its deadlock, which no
    /// detector may find: then an error that says why, for `make run PANIC=1`.
    pub fn new(scenario: &'static Scenario, panic: bool) -> Result<Demo, String> {
        let panic = match (panic, scenario.panic()) {
            (false, _) => None,
            (true, Some(p)) => Some(p),
            (true, None) => {
                let can: Vec<&str> = SCENARIOS
                    .iter()
                    .filter(|s| s.panic().is_some())
                    .map(|s| s.name)
                    .collect();
                return Err(format!(
                    "PANIC=1: scenario {} cannot panic: nothing in it hangs or spins, so no \
                     lockup detector finds it (the kernel reports the bug and goes on); \
                     scenarios that can: {}",
                    scenario.name,
                    can.join(", ")
                ));
            }
        };
        Ok(Demo { scenario, panic })
    }

    /// The arguments of `lab demo`: `[SCENARIO] [--panic=0|1]`, the scenario (default the
    /// first) and whether the kernel is to panic at its deadlock (`make run PANIC=`; `--panic`
    /// alone is `--panic=1`). The error says what is wrong to a person who typed `make run`.
    pub fn parse(args: &[String]) -> Result<Demo, String> {
        let (mut scenario, mut panic) = (None, false);
        for arg in args {
            match arg.as_str() {
                "--panic" | "--panic=1" => panic = true,
                "--panic=0" | "--panic=" => panic = false,
                a if a.starts_with("--panic=") => {
                    return Err(format!(
                        "PANIC={}: not a choice: PANIC=1 makes the kernel panic at the deadlock \
                         (the detector that finds it: hung task, soft or hard lockup), PANIC=0 \
                         (the default) does not",
                        &a["--panic=".len()..]
                    ))
                }
                a if a.starts_with('-') || scenario.is_some() => return Err(Demo::usage()),
                name => {
                    scenario =
                        Some(crate::scenario(name).ok_or_else(|| {
                            format!("unknown scenario '{name}' (valid: {})", names())
                        })?)
                }
            }
        }
        Demo::new(scenario.unwrap_or(DEFAULT_SCENARIO), panic)
    }

    /// How `lab demo` is called.
    pub fn usage() -> String {
        format!(
            "usage: lab demo [SCENARIO] [--panic=0|1]   (SCENARIO: {})",
            names()
        )
    }

    /// The guest command line: the scenario's facts, and with a panic the sysctl that asks for
    /// it, for `qemu/demo.sh`.
    pub fn cmd(&self) -> String {
        let (sysctl, detector) = self.panic.map_or(("", ""), |p| (p.sysctl, p.detector));
        format!(
            "{} PANIC='{sysctl}' PANIC_BY='{detector}' . /lab/demo.sh",
            self.scenario.demo_env()
        )
    }

    /// How the guest is started: with the CPUs the scenario needs, powered off from the host
    /// after the panic; or as [`boot_for`] says, with the CPUs the demo needs
    /// ([`Scenario::demo_cpus`]): a guest where a CPU is left over ends itself when the demo is
    /// done.
    pub fn boot(&self, echo: bool) -> Boot {
        if self.panic.is_some() {
            return Boot {
                echo,
                until: Some(PANICKED),
                then: Some("</TASK>"),
                cpus: Some(self.scenario.cpus),
                ..Boot::default()
            };
        }
        if self.scenario.cpu_left_over() {
            return Boot {
                echo,
                cpus: Some(self.scenario.demo_cpus()),
                ..Boot::default()
            };
        }
        boot_for(self.scenario, echo)
    }

    /// Checks what the guest showed ([`check_buggy`], or [`check_panic`]).
    pub fn check(&self, run: &Run) -> Result<(), String> {
        match &self.panic {
            Some(panic) => check_panic(run, self.scenario, panic),
            None => check_buggy(run, self.scenario),
        }
    }

    /// What the demo showed, once checked, in one sentence.
    pub fn summary(&self) -> String {
        match &self.panic {
            Some(panic) => self.scenario.panic_summary(panic),
            None => self.scenario.summary(),
        }
    }
}

/// How a guest that plays `scenario`'s buggy variant is booted: with the CPUs the scenario
/// needs; a guest whose CPUs all spin is powered off from the host after the soft-lockup
/// reports, one with a CPU stuck in an interrupt after the hard-lockup report.
pub fn boot_for(scenario: &Scenario, echo: bool) -> Boot {
    Boot {
        echo,
        cpus: Some(scenario.cpus),
        until: if scenario.hard_lockup.is_some() {
            Some(HARD_LOCKUP)
        } else {
            scenario.spins.then_some(SOFT_LOCKUPS)
        },
        then: scenario.hard_lockup.and(Some(HARD_LOCKUP_END)),
        ..Boot::default()
    }
}

/// Checks that a guest that ran `scenario`'s buggy variant showed exactly what it should: the
/// expected lockdep report and no other (none at all for a scenario lockdep cannot see), naming
/// the scenario's locks, cycle and functions, and the other reports it must print; a hung-task
/// report and state D for each thread that sleeps forever, and where the kernel names blockers,
/// each owner it must name; a soft-lockup report for each spinning thread; what the demo shows
/// besides ([`Shows`]: [`check_top`], [`check_slab`]); and an `rmmod` that succeeded within 2 s
/// (except where nothing can end the threads). The error is a one-line reason.
pub fn check_buggy(run: &Run, scenario: &Scenario) -> Result<(), String> {
    if run.status != 0 {
        return Err(format!("the guest command failed (status {})", run.status));
    }
    run.check_reports(&expected_reports(scenario))?;
    let reports = run.reports();
    check_lockdep(&reports, scenario)?;
    for r in &reports {
        if scenario.spins && r.kind == ReportKind::SoftLockup && !r.stacks.is_empty() {
            explains(r, scenario)?;
        }
    }
    check_rest(run, scenario, &reports)
}

/// Checks the lockdep report of `scenario`'s buggy variant among `reports` (exactly one, of the
/// scenario's kind, naming its locks, cycle and fix; none where lockdep cannot see the locks),
/// and the other reports it must print (`also`).
fn check_lockdep(reports: &[Report], scenario: &Scenario) -> Result<(), String> {
    let lockdep: Vec<&Report> = reports
        .iter()
        .filter(|r| {
            !matches!(
                r.kind,
                ReportKind::HungTask
                    | ReportKind::SoftLockup
                    | ReportKind::HardLockup
                    | ReportKind::Generic
            ) && !scenario.also.contains(&r.kind)
        })
        .collect();
    for kind in scenario.also {
        if !reports.iter().any(|r| r.kind == *kind) {
            return Err(format!("no {} report", kind.as_str()));
        }
    }
    match scenario.report {
        None if lockdep.is_empty() => {}
        None => return Err(format!("lockdep reported: {}", lockdep[0].title)),
        Some(kind) => {
            let [report] = lockdep.as_slice() else {
                let titles: Vec<&str> = lockdep.iter().map(|r| r.title.as_str()).collect();
                return Err(format!(
                    "expected one {} report, found {titles:?}",
                    kind.as_str()
                ));
            };
            if report.kind != kind {
                return Err(format!(
                    "expected a {} report, found: {}",
                    kind.as_str(),
                    report.title
                ));
            }
            check_report(report, scenario)?;
            explains(report, scenario)?;
        }
    }
    Ok(())
}

/// The rest of [`check_buggy`]: the hung-task reports and states, the user process behind the
/// deadlock, the blockers, what the demo shows besides, and the end (the lockup reports, or an
/// `rmmod` within 2 s).
fn check_rest(run: &Run, scenario: &Scenario, reports: &[Report]) -> Result<(), String> {
    // Plain semaphores: only 7.3's blocker lines let splat see that lockdep missed a cycle, once
    // every thread of it has been reported (the detector may report one a round before the
    // other, and that report shows no cycle yet). One of each thread's reports explains it: not
    // always the last, which `rmmod` may cut (the thread wakes while the detector prints it).
    if scenario.report.is_none() && run.target.names_blockers() {
        for thread in scenario.hung {
            let mut of_thread = reports.iter().filter(|r| {
                r.kind == ReportKind::HungTask && r.tasks.first().is_some_and(|t| t.comm == *thread)
            });
            let Some(last) = of_thread.clone().next_back() else {
                return Err(format!("no hung-task report for {thread}"));
            };
            if !of_thread.any(|r| explains(r, scenario).is_ok()) {
                explains(last, scenario)?;
            }
        }
    }
    names_functions(reports, scenario)?;
    let lab = run.lab_lines();
    for thread in scenario.hung {
        let hung = |r: &&Report| {
            r.kind == ReportKind::HungTask && r.tasks.iter().any(|t| t.comm == *thread)
        };
        if !reports.iter().any(|r| hung(&r)) {
            return Err(format!("no hung-task report for {thread}"));
        }
        if !lab.contains(&format!("state {thread} D").as_str()) {
            return Err(format!("{thread} was not in state D"));
        }
        if !run.lines().any(|l| ps_shows_d(l, thread)) {
            return Err(format!("ps did not show {thread} in state D"));
        }
    }
    // A user process caught behind the deadlock: the demo's `cat` of the `peek` parameter.
    if !scenario.hung.is_empty() && !run.lines().any(|l| ps_shows_d(l, PEEK_READER)) {
        return Err(format!(
            "ps did not show {PEEK_READER} (reading peek) in state D"
        ));
    }
    // ... and let go with the deadlock, when rmmod breaks it: the text of the lock it took.
    let returned = |l: &str| l.contains("/peek returned too: \"took ");
    if !scenario.hung.is_empty() && scenario.unloads && !run.lines().any(returned) {
        return Err(format!(
            "{PEEK_READER} did not return the lock it took after rmmod"
        ));
    }
    if run.target.names_blockers() {
        for (hung, owner) in scenario.owners {
            let names = |r: &Report| {
                let task = r.hung_task.as_ref()?;
                let holder = task.blocker.as_ref()?.holder.as_ref()?;
                let matches = match hung.strip_suffix('/') {
                    Some(prefix) => task.comm.starts_with(prefix),
                    None => task.comm == *hung,
                };
                (matches && holder.comm == *owner).then_some(())
            };
            if !reports.iter().any(|r| names(r).is_some()) {
                return Err(format!(
                    "no hung-task report says that {hung} is blocked by {owner}"
                ));
            }
        }
    }
    match scenario.shows {
        Some(Shows::Top) => check_top(run, scenario.threads)?,
        Some(Shows::Slab { objects, .. }) => check_slab(run, objects)?,
        None => {}
    }
    if let Some(cpu) = scenario.hard_lockup {
        return check_hard_lockup(run, scenario, cpu);
    }
    if scenario.spins {
        for thread in scenario.threads {
            let spun = |r: &&Report| {
                r.kind == ReportKind::SoftLockup && r.tasks.iter().any(|t| t.comm == *thread)
            };
            if !reports.iter().any(|r| spun(&r)) {
                return Err(format!("no soft-lockup report for {thread}"));
            }
        }
        return Ok(());
    }
    if !scenario.unloads {
        return Ok(());
    }
    match run.timing("rmmod rust_deadlock") {
        Some((0, ms)) if ms < 2000 => Ok(()),
        Some((rc, ms)) => Err(format!("rmmod exited {rc} after {ms} ms")),
        None => Err("rmmod did not finish".into()),
    }
}

/// Checks that the reports name each of the scenario's functions (in a stack, or where a lock
/// was taken).
fn names_functions(reports: &[Report], scenario: &Scenario) -> Result<(), String> {
    let named: Vec<&str> = reports.iter().flat_map(functions).collect();
    match scenario
        .functions
        .iter()
        .find(|f| !named.iter().any(|n| n.ends_with(*f)))
    {
        Some(f) => Err(format!("no report names {f}")),
        None => Ok(()),
    }
}

/// Checks a guest that was asked to panic at `scenario`'s deadlock (`make run PANIC=1`): it was
/// powered off after the panic; its lockdep report is the one [`check_buggy`] expects, and no
/// other report but the expected ones and the panic's own; the kernel said `Kernel panic - not
/// syncing: MESSAGE`; and before that, the detector's report of one of the scenario's threads,
/// whose stack is in `panic.at` (where it sleeps or spins), called from the scenario's code.
pub fn check_panic(run: &Run, scenario: &Scenario, panic: &Panic) -> Result<(), String> {
    if run.status != 0 {
        return Err(format!(
            "the guest did not end at a panic (status {})",
            run.status
        ));
    }
    let rules = expected_reports(scenario).allowing(
        Rule::new()
            .name("the panic")
            .kind(ReportKind::Generic)
            .title("Kernel panic*"),
    );
    run.check_reports(&rules)?;
    let reports = run.reports();
    check_lockdep(&reports, scenario)?;
    names_functions(&reports, scenario)?;
    let line = format!("Kernel panic - not syncing: {}", panic.message);
    let Some(at) = run.find(&line) else {
        return Err(format!("no '{line}'"));
    };
    // splat numbers lines from 1, `find` from 0.
    let stuck = reports.iter().any(|r| {
        let named = functions(r);
        r.start_line <= at + 1
            && matches!(
                r.kind,
                ReportKind::HungTask | ReportKind::SoftLockup | ReportKind::HardLockup
            )
            && r.tasks
                .iter()
                .any(|t| scenario.threads.contains(&t.comm.as_str()))
            && named.contains(&panic.at)
            && scenario
                .functions
                .iter()
                .any(|f| named.iter().any(|n| n.ends_with(f)))
    });
    if stuck {
        Ok(())
    } else {
        Err(format!(
            "no {} report before the panic with a thread of the scenario in {}",
            panic.detector, panic.at
        ))
    }
}

/// The rows of the last frame of `top -b` in the console (busybox: PID PPID USER STAT VSZ %VSZ
/// %CPU COMMAND, `[name]` for a kernel thread), each as its columns. Lines that are not rows (a
/// kernel message printed meanwhile) are skipped.
pub fn top_rows(run: &Run) -> Vec<Vec<&str>> {
    let lines: Vec<&str> = run.lines().collect();
    let header = |l: &&str| l.trim_start().starts_with("PID  PPID USER");
    let Some(last) = lines.iter().rposition(header) else {
        return Vec::new();
    };
    let percent = |c: &str| {
        c.strip_suffix('%')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let digits = |c: &str| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit());
    lines[last + 1..]
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| c.len() >= 8 && digits(c[0]) && digits(c[1]) && percent(c[5]) && percent(c[6]))
        .collect()
}

/// Checks that `top`'s last frame (its %CPU over the second before it) shows each of `threads`
/// running (`RW`: a kernel thread in state R) and taking a CPU (a third of three CPUs' time, 20 %
/// at least), at the top of the list: above it only the others of `threads`, or top itself
/// (busy reading /proc).
pub fn check_top(run: &Run, threads: &[&str]) -> Result<(), String> {
    let rows = top_rows(run);
    if rows.is_empty() {
        return Err("no output of top".into());
    }
    let ours = |cols: &Vec<&str>| threads.iter().any(|t| cols[7] == format!("[{t}]"));
    for thread in threads {
        let name = format!("[{thread}]");
        let Some(at) = rows.iter().position(|cols| cols[7] == name) else {
            return Err(format!("top does not list {thread}"));
        };
        let cpu: u32 = rows[at][6].trim_end_matches('%').parse().unwrap_or(0);
        let above_ok = rows[..at].iter().all(|cols| cols[7] == "top" || ours(cols));
        if !(rows[at][3].starts_with('R') && cpu >= 20 && above_ok) {
            return Err(format!(
                "top does not show {thread} running at the top of its list: {:?}",
                rows[at]
            ));
        }
    }
    Ok(())
}

/// The `slab` readings of the guest (`qemu/lib.sh`: "lab: slab KB kmalloc-4k N"), in order, as
/// (`Slab` in kB, `kmalloc-4k` objects in use).
pub fn slab_readings(run: &Run) -> Vec<(i64, i64)> {
    run.lab_lines()
        .iter()
        .filter_map(|l| {
            let mut cols = l.strip_prefix("slab ")?.split(' ');
            let kb = cols.next()?.parse().ok()?;
            let objects = cols.nth(1)?.parse().ok()?;
            Some((kb, objects))
        })
        .collect()
}

/// Checks the `slab` readings of a backlog of `objects` requests of 4 KiB that nothing consumes:
/// the first before the deadlock, the last after `rmmod`, and the highest, once the backlog is
/// full, holding at least 7/8 of it more than the last, in both `Slab`'s kB and `kmalloc-4k`'s
/// objects; the last back within 2 MiB of the first. (Measured from the reading after `rmmod`,
/// when nothing of the module is left: the first already counts the fixed variant's requests in
/// flight. Only within 2 MiB: `/proc/slabinfo` counts a freed object still cached on a CPU as in
/// use, and the kernel's own 4 KiB allocations moved by 15 objects in 1 of about 12 runs on
/// 6.12.)
pub fn check_slab(run: &Run, objects: u32) -> Result<(), String> {
    let slab = slab_readings(run);
    let (Some(&before), Some(&after)) = (slab.first(), slab.last()) else {
        return Err("no slab readings".into());
    };
    let Some(&full) = slab.iter().max_by_key(|r| r.0) else {
        return Err("no slab readings".into());
    };
    let objects = i64::from(objects);
    let ok = slab.len() >= 3
        && full.0 - after.0 >= objects * 4 * 7 / 8
        && full.1 - after.1 >= objects * 7 / 8
        && after.0 - before.0 < 2 * 1024
        && after.1 - before.1 < 2 * 1024 / 4;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "slab (kB, kmalloc-4k objects) before, ..., after rmmod: {slab:?}: not {objects} \
             objects more, then back"
        ))
    }
}

/// The user process the demo catches behind a deadlock (`qemu/demo.sh`): a `cat` of the module's
/// `peek` parameter, whose read takes the scenario's first sleeping lock.
const PEEK_READER: &str = "cat";

/// Whether `line` is a row of busybox `ps -o pid,stat,comm` that shows `thread` in state D
/// (uninterruptible sleep; `DW`: a kernel thread).
fn ps_shows_d(line: &str, thread: &str) -> bool {
    let mut cols = line.split_whitespace();
    let (Some(pid), Some(stat), Some(comm), None) =
        (cols.next(), cols.next(), cols.next(), cols.next())
    else {
        return false;
    };
    pid.bytes().all(|b| b.is_ascii_digit()) && stat.starts_with('D') && comm == thread
}

/// Checks the hard-lockup detector's report of `cpu`: "Watchdog detected hard LOCKUP on cpu N"
/// (7.x: "CPUM: Watchdog detected ..."), with the stuck CPU's stack that it asks for by NMI: the
/// scenario's thread as the task, and the spinlock's loop (`do_raw_spin_lock`) in every function
/// of the scenario (the interrupt's handler, on top of the thread's step it interrupted); splat's
/// explanation gives the scenario's fix.
fn check_hard_lockup(run: &Run, scenario: &Scenario, cpu: u32) -> Result<(), String> {
    let header = format!("Watchdog detected hard LOCKUP on cpu {cpu}");
    let reports = run.reports();
    let stuck = cpu.to_string();
    let Some(report) = reports
        .iter()
        .find(|r| r.kind == ReportKind::HardLockup && r.details.get("cpu") == Some(&stuck))
    else {
        return Err(format!("no hard-lockup report '{header}'"));
    };
    let named = functions(report);
    for f in std::iter::once(&"do_raw_spin_lock").chain(scenario.functions) {
        if !named.iter().any(|n| n.ends_with(f)) {
            return Err(format!(
                "the stuck CPU's stack does not name {f}: {named:?}"
            ));
        }
    }
    if !report
        .tasks
        .iter()
        .any(|t| scenario.threads.contains(&t.comm.as_str()))
    {
        return Err(format!(
            "the hard lockup is not reported for {:?}: {:?}",
            scenario.threads, report.tasks
        ));
    }
    explains(report, scenario)
}

/// Allows the hard-lockup detector's report about one of `threads`.
fn allowing_hard_lockups(mut rules: Rules, why: &str, threads: &[&str]) -> Rules {
    for thread in threads {
        rules = rules.allowing(
            Rule::new()
                .name(why)
                .kind(ReportKind::HardLockup)
                .task(thread),
        );
    }
    rules
}

/// The reports `scenario`'s buggy variant may print, as splat's check mode rules: its lockdep
/// report by one of its threads (by any task for a report from an interrupt, which comes in on
/// whatever task runs), the hung-task reports of the threads that sleep forever, and the
/// soft-lockup reports of spinning threads. Any other report fails [`check_buggy`].
pub fn expected_reports(scenario: &Scenario) -> Rules {
    let mut rules = Rules::deny_all();
    if let Some(kind) = scenario.report {
        if scenario.in_interrupt {
            rules = rules.allowing(Rule::new().name("from an interrupt").kind(kind));
        } else {
            for thread in scenario.threads {
                rules = rules.allowing(Rule::new().kind(kind).task(thread));
            }
        }
    }
    for thread in scenario.hung {
        rules = rules.allowing(Rule::new().kind(ReportKind::HungTask).task(thread));
    }
    // The demo's reader of `peek`, asleep behind the deadlock: the detector reports it too when
    // the demo lasts 1 s more.
    if !scenario.hung.is_empty() {
        rules = rules.allowing(
            Rule::new()
                .name("the user process reading peek")
                .kind(ReportKind::HungTask)
                .task(PEEK_READER),
        );
    }
    // The tasks the hung-task detector finds blocked on the scenario's threads, which it did not
    // start: a kworker runs the work item (`kworker/` stands for any of them).
    for (waiter, _) in scenario.owners {
        let glob = format!("{waiter}{}", if waiter.ends_with('/') { "*" } else { "" });
        rules = rules.allowing(Rule::new().kind(ReportKind::HungTask).task(&glob));
    }
    // The other reports the scenario prints, about its own threads.
    for &kind in scenario.also {
        for thread in scenario.threads {
            rules = rules.allowing(Rule::new().kind(kind).task(thread));
        }
    }
    if scenario.spins {
        for thread in scenario.threads {
            rules = rules.allowing(Rule::new().kind(ReportKind::SoftLockup).task(thread));
        }
    }
    if scenario.cpu_left_over() {
        // Where a CPU is left over, all of them report at once: a soft-lockup header may come
        // cut by another CPU's lines, its task lost.
        rules = rules.allowing(
            Rule::new()
                .name("a soft-lockup report cut by another CPU's")
                .kind(ReportKind::SoftLockup),
        );
    }
    if scenario.spins {
        // A vCPU that spins and that the host does not run for a while (the lab's guests share
        // the host's CPUs) misses its own timer interrupts too.
        rules = allowing_hard_lockups(rules, "a spinning vCPU the host starved", scenario.threads);
    }
    if scenario.hard_lockup.is_some() {
        rules = allowing_hard_lockups(rules, "the CPU stuck in the interrupt", scenario.threads);
        // The other CPU, whatever task it runs, may wait forever for the stuck one (an IPI that
        // is never answered: a TLB flush), without scheduling.
        rules = rules.allowing(
            Rule::new()
                .name("a CPU waiting for the stuck one")
                .kind(ReportKind::SoftLockup),
        );
    }
    rules
}

/// Checks that splat's explanation of `report` gives the scenario's fix.
fn explains(report: &Report, scenario: &Scenario) -> Result<(), String> {
    if report.explanation.contains(scenario.fix) {
        Ok(())
    } else {
        Err(format!(
            "splat's explanation of '{}' does not say '{}': {}",
            report.title, scenario.fix, report.explanation
        ))
    }
}

/// Checks one lockdep report against the scenario: its locks, its task, its cycle.
fn check_report(report: &Report, scenario: &Scenario) -> Result<(), String> {
    let mut want: Vec<&str> = scenario.locks.to_vec();
    want.sort_unstable();
    let mut locks = lock_names(report);
    if scenario.in_interrupt {
        // The interrupted task's own locks may be listed too.
        locks.retain(|l| want.contains(l));
    }
    if locks != want {
        return Err(format!("the report names locks {locks:?}, not {want:?}"));
    }
    let task = report.tasks.first().map(|t| t.comm.as_str()).unwrap_or("");
    if !scenario.in_interrupt && !scenario.threads.contains(&task) {
        return Err(format!(
            "the report is by task '{task}', not a thread of the scenario"
        ));
    }
    if !scenario.cycle.is_empty() {
        // The cycle as printed: each lock once, the first repeated at the end.
        let cycle = &report.cycle;
        let mut inner: Vec<&str> = cycle.iter().skip(1).map(String::as_str).collect();
        inner.sort_unstable();
        let mut expected: Vec<&str> = scenario.cycle.to_vec();
        expected.sort_unstable();
        if cycle.first() != cycle.last() || inner != expected {
            return Err(format!("the cycle is {cycle:?}, not one of {expected:?}"));
        }
    }
    Ok(())
}

/// Every function a report names: its stack frames, and where its held and wanted locks were
/// taken (`at:`).
pub fn functions(report: &Report) -> Vec<&str> {
    let frames = report.stacks.iter().flat_map(|s| s.frames.iter());
    let at = report
        .held_locks
        .iter()
        .filter_map(|h| h.at.as_deref())
        .chain(report.acquiring.iter().filter_map(|a| a.at.as_deref()));
    frames.map(|f| f.function()).chain(at).collect()
}

/// A console line's printk timestamp (`[   12.345678] ...`), in seconds, and the rest of it.
pub fn stamped(line: &str) -> Option<(f64, &str)> {
    let (stamp, rest) = line.strip_prefix('[')?.split_once("] ")?;
    Some((stamp.trim().parse().ok()?, rest))
}

/// The guest command line that makes `scenario`'s buggy variant report, for [`time_to_report`]:
/// it marks the `insmod`, then waits for the first report.
pub fn report_cmd(scenario: &Scenario) -> String {
    let wait = if scenario.spins {
        "while :; do sleep 60; done".to_string()
    } else if scenario.report.is_some() {
        format!("wait_log 60 '{}'", scenario.report_line)
    } else {
        format!("wait_hung 60 {}", scenario.hung.join(" "))
    };
    // The lockup detectors' reports come within seconds (the lab's guests otherwise keep the
    // default threshold, 10 s).
    let spin = if scenario.spins || scenario.hard_lockup.is_some() {
        "soft_lockup_after_2s; "
    } else {
        ""
    };
    format!(
        "{spin}mark insmod; load scenario={} buggy=1; {wait}",
        scenario.name
    )
}

/// The first report the kernel printed in a [`report_cmd`] run, and the seconds from the
/// `insmod` to its first line, by the guest's printk clock.
pub fn time_to_report(run: &Run) -> Option<(f64, Report)> {
    let lines: Vec<&str> = run.console.lines().collect();
    let start = lines
        .iter()
        .find(|l| l.ends_with("lab: insmod"))
        .and_then(|l| stamped(l))?
        .0;
    let first = run.reports().into_iter().min_by_key(|r| r.start_line)?;
    // splat numbers lines from 1; the nearest stamped line at or after the report's first one.
    let at = lines
        .iter()
        .skip(first.start_line.saturating_sub(1))
        .find_map(|l| stamped(l))?
        .0;
    Some((at - start, first))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_target_answers_what_differs_from_its_version() {
        let old = Target::new("6.12", None).unwrap();
        let new = Target::new("7.3", Some("kcsan")).unwrap();
        assert_eq!(
            (old.name(), new.name()),
            ("6.12".into(), "7.3-kcsan".into())
        );
        assert!(!old.names_blockers() && !old.has_kunit_tests());
        assert!(new.names_blockers() && new.has_kunit_tests());
        assert_eq!(Target::new("7.3", Some("")).unwrap().variant(), None);
        assert!(Target::new("seven", None)
            .unwrap_err()
            .contains("KERNEL=seven"));
        assert!(Target::new("7.3", Some("../x")).is_err());
    }

    use super::*;

    fn run(console: &str) -> Run {
        Run {
            name: "t".into(),
            status: 0,
            console: console.into(),
            log: PathBuf::from("/dev/null"),
            remarks: String::new(),
            target: Target::new("7.3", None).unwrap(),
        }
    }

    #[test]
    fn reads_status_iterations_in_order() {
        let r = run("mode=fixed hold_ms=100\ndeadlock_a iterations=10 state=running\n\
                     deadlock_b iterations=9 state=waiting on=sem_a\n[ 1.0] x\ndeadlock_a iterations=15 state=running\n");
        assert_eq!(r.iterations("deadlock_a"), [10, 15]);
        assert_eq!(r.iterations("deadlock_b"), [9]);
        assert_eq!(r.iterations("deadlock_c"), [] as [u64; 0]);
        assert_eq!(
            r.status_of("deadlock_a"),
            Some("iterations=15 state=running")
        );
        assert_eq!(
            r.status_of("deadlock_b"),
            Some("iterations=9 state=waiting on=sem_a")
        );
        assert_eq!(r.status_of("deadlock_c"), None);
    }

    #[test]
    fn reads_timed_commands_and_lab_lines() {
        let r = run("[    3.325000] lab: set buggy=1: ok\n\
                     lab: rmmod rust_deadlock: exit 0 in 140 ms\n[    4.100000] lab: exit 0\n");
        assert_eq!(r.timing("rmmod rust_deadlock"), Some((0, 140)));
        assert_eq!(r.timing("insmod"), None);
        assert_eq!(
            r.lab_lines(),
            [
                "set buggy=1: ok",
                "rmmod rust_deadlock: exit 0 in 140 ms",
                "exit 0"
            ]
        );
        assert_eq!(r.find("exit 0"), Some(1));
    }

    #[test]
    fn splits_printk_timestamps() {
        assert_eq!(
            stamped("[   12.345678] lab: insmod"),
            Some((12.345678, "lab: insmod"))
        );
        assert_eq!(
            stamped("[    9.100000]     ok 1 x"),
            Some((9.1, "    ok 1 x"))
        );
        assert_eq!(stamped("lab: insmod"), None);
        assert_eq!(stamped("[abc] x"), None);
    }

    #[test]
    fn an_empty_console_is_not_ok() {
        let r = run("");
        assert!(std::panic::catch_unwind(|| r.assert_ok()).is_err());
        for scenario in SCENARIOS {
            assert!(check_buggy(
                &Run {
                    status: 0,
                    ..run("lab: exit 0\n")
                },
                scenario
            )
            .is_err());
        }
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_demo_is_asked_for_as_make_run_says() {
        let abba = Demo::parse(&args(&[])).unwrap();
        assert_eq!((abba.scenario.name, abba.panic), ("abba", None));
        let sysctl = |a: &[&str]| Demo::parse(&args(a)).unwrap().panic.map(|p| p.sysctl);
        assert_eq!(sysctl(&["mutex", "--panic=1"]), Some("hung_task_panic"));
        assert_eq!(sysctl(&["spin", "--panic"]), Some("softlockup_panic"));
        assert_eq!(sysctl(&["hardirq", "--panic=1"]), Some("hardlockup_panic"));
        assert_eq!(sysctl(&["spin", "--panic=0"]), None);
        assert_eq!(sysctl(&["spin", "--panic="]), None);
        let err = Demo::parse(&args(&["mutex", "--panic=yes"])).unwrap_err();
        assert!(err.starts_with("PANIC=yes: not a choice: PANIC=1"), "{err}");
        // No detector finds these: they report and go on.
        for name in ["irq", "atomic", "sleep_in_irq"] {
            let err = Demo::parse(&args(&[name, "--panic=1"])).unwrap_err();
            let why =
                format!("PANIC=1: scenario {name} cannot panic: nothing in it hangs or spins");
            assert!(err.starts_with(&why), "{err}");
            assert!(
                err.ends_with(
                    "scenarios that can: abba, abc, recursive, leak, plain, spin, \
                                   mutex, rwsem, workqueue, completion, hardirq, backlog"
                ),
                "{err}"
            );
            assert!(Demo::parse(&args(&[name])).is_ok());
        }
        let err = Demo::parse(&args(&["abcd"])).unwrap_err();
        assert!(
            err.starts_with("unknown scenario 'abcd' (valid: abba, abc,"),
            "{err}"
        );
        for bad in [&["abba", "spin"][..], &["--cpus=3"]] {
            assert!(Demo::parse(&args(bad))
                .unwrap_err()
                .starts_with("usage: lab demo"));
        }
        // The spin demo: top, from a CPU left over; the guest ends itself.
        let spin = Demo::parse(&args(&["spin"])).unwrap();
        assert!(spin
            .cmd()
            .ends_with("SHOW='top' FULL='' PANIC='' PANIC_BY='' . /lab/demo.sh"));
        let boot = spin.boot(false);
        assert_eq!((boot.cpus, boot.until), (Some(3), None));
        // Asked to panic: the guest is told the sysctl, and powered off after the panic.
        let panic = Demo::parse(&args(&["spin", "--panic"])).unwrap();
        assert!(panic
            .cmd()
            .ends_with("PANIC='softlockup_panic' PANIC_BY='soft-lockup' . /lab/demo.sh"));
        let boot = panic.boot(false);
        assert_eq!((boot.cpus, boot.until), (Some(2), Some(PANICKED)));
        let backlog = Demo::parse(&args(&["backlog"])).unwrap();
        assert!(backlog
            .cmd()
            .contains("SHOW='slab' FULL='none consumed: queueing no more'"));
        assert_eq!(backlog.boot(false).cpus, Some(1));
    }

    #[test]
    fn top_shows_the_spinners_first_and_running() {
        let threads = ["spinner_a", "spinner_b"];
        // A kernel message between the rows is not a row.
        let top =
            "[   12.188320] Mem: 26228K used, 456624K free, 2440K shrd, 0K buff, 2440K cached\n\
                   [   12.208771]   PID  PPID USER     STAT   VSZ %VSZ %CPU COMMAND\n\
                   [   12.214730]    62     2 root     RW       0   0%  35% [spinner_b]\n\
                   [   12.215000] watchdog: BUG: soft lockup - CPU#0 stuck for 3s! [spinner_a:61]\n\
                   [   12.219632]    61     2 root     RW       0   0%  28% [spinner_a]\n\
                   [   12.225354]   100    59 root     R     2268   0%   2% top -b -d 1 -n 2\n\
                   [   12.227394]    14     2 root     IW       0   0%   1% [rcu_sched]\n";
        assert_eq!(check_top(&run(top), &threads), Ok(()));
        assert_eq!(top_rows(&run(top)).len(), 4);
        for (from, to) in [
            // Asleep, idle, or below another task.
            (
                "RW       0   0%  28% [spinner_a]",
                "SW       0   0%  28% [spinner_a]",
            ),
            (
                "RW       0   0%  28% [spinner_a]",
                "RW       0   0%   3% [spinner_a]",
            ),
            (
                "   62     2 root     RW",
                "   14     2 root     RW       0   0%  40% [rcu_sched]\n   62     2 root     RW",
            ),
        ] {
            let err = check_top(&run(&top.replace(from, to)), &threads).unwrap_err();
            assert!(err.contains("not show spinner_"), "{err}");
        }
        let gone = top.replace("[spinner_a]", "[kworker/1:1]");
        assert_eq!(
            check_top(&run(&gone), &threads),
            Err("top does not list spinner_a".into())
        );
        assert_eq!(
            check_top(&run("[ 1.0] lab: exit 0\n"), &threads),
            Err("no output of top".into())
        );
    }

    #[test]
    fn slab_grows_by_the_backlog_and_comes_back() {
        let readings = |r: &[(u32, u32)]| {
            let lines: Vec<String> = r
                .iter()
                .map(|(kb, n)| format!("[   11.769788] lab: slab {kb} kmalloc-4k {n}\n"))
                .collect();
            run(&lines.concat())
        };
        let ok = [(10084, 436), (11480, 804), (17724, 2244), (9704, 240)];
        assert_eq!(slab_readings(&readings(&ok)).len(), 4);
        assert_eq!(check_slab(&readings(&ok), 2048), Ok(()));
        for bad in [
            // Not back after rmmod, never full, or no reading after rmmod.
            &[(10084, 436), (17724, 2244), (17500, 2200)][..],
            &[(10084, 436), (12000, 900), (9704, 240)],
            &[(10084, 436), (17724, 2244)],
        ] {
            assert!(check_slab(&readings(bad), 2048).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_scenarios_expected_reports_pass_and_any_other_fails() {
        let fixture = |name: &str| {
            let path = repo_root().join("scripts/splat/tests/fixtures").join(name);
            run(&std::fs::read_to_string(&path).unwrap())
        };
        let abba = scenario("abba").unwrap();
        let rules = expected_reports(abba);
        for log in [
            "abba-7.3-demo.log",
            "abba-7.3-buggy-load-hung.log",
            "abba-buggy-hung.log",
        ] {
            assert_eq!(fixture(log).check_reports(&rules), Ok(()), "{log}");
        }
        // Another scenario's report, and AB-BA's by a task that is not one of its threads.
        let err = fixture("recursive.log").check_reports(&rules).unwrap_err();
        assert!(
            err.starts_with(
                "reports that are not allowed: 'possible deadlock in rust_deadlock::recursive::relock' \
                 (recursive_locking, not allowed: no allow rule names it)"
            ),
            "{err}"
        );
        let other = fixture("abba-7.3-demo.log")
            .console
            .replace("deadlock_b", "kworker_b");
        assert!(run(&other).check_reports(&rules).is_err());
        // A report from an interrupt may come in on any task.
        let irq = expected_reports(scenario("irq").unwrap());
        assert_eq!(
            irq.allow()[0].to_string(),
            "allow rule 1 (from an interrupt): kind = inconsistent_lock_state"
        );
    }
}
