//! The host side of the rust-deadlock lab.
//!
//! [`boot`] starts a fresh guest through `scripts/vm.sh`, runs a guest command line in it and
//! keeps the whole console log; [`Run::reports`] hands that log to `splat --json` and returns the
//! kernel reports it found, which tests and the demo assert on. Every run boots a new guest,
//! because lockdep reports only the first problem it finds in a boot.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use splat::Report;

/// The repository's top directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// Where console logs are kept: `scripts/target/vm-logs/NAME.log`.
pub fn log_dir() -> PathBuf {
    repo_root().join("scripts/target/vm-logs")
}

/// One guest boot: what it printed and how it ended.
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
}

/// How a guest is booted.
#[derive(Clone, Copy, Debug)]
pub struct Boot {
    /// Kill the guest after this many seconds.
    pub timeout_s: u32,
    /// Copy the console to our standard output as it comes.
    pub echo: bool,
}

impl Default for Boot {
    fn default() -> Self {
        Self {
            timeout_s: 120,
            echo: false,
        }
    }
}

/// Boots a fresh guest, runs the guest shell command line `cmd` in it (with `qemu/lib.sh`
/// loaded), and returns once the guest has powered off or timed out.
pub fn boot(name: &str, cmd: &str, how: Boot) -> Run {
    let dir = log_dir();
    std::fs::create_dir_all(&dir).expect("create the log directory");
    let log = dir.join(format!("{name}.log"));
    let mut vm = Command::new(repo_root().join("scripts/vm.sh"));
    vm.arg("--log")
        .arg(&log)
        .arg("--timeout")
        .arg(how.timeout_s.to_string());
    if !how.echo {
        vm.arg("--quiet").stdout(Stdio::null());
    }
    let status = vm.arg("--").arg(cmd).status().expect("run scripts/vm.sh");
    let console = std::fs::read(&log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Run {
        name: name.to_owned(),
        status: status.code().unwrap_or(-1),
        console,
        log,
    }
}

/// The `splat` binary: `$SPLAT`, or the newest build under `scripts/target`.
pub fn splat_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SPLAT") {
        return PathBuf::from(path);
    }
    let target = repo_root().join("scripts/target");
    ["release", "debug"]
        .iter()
        .map(|profile| target.join(profile).join("splat"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
        .expect("no splat binary: run `make host` (or `cargo build` in scripts/)")
}

impl Run {
    /// The reports `splat --json` finds in the console log.
    pub fn reports(&self) -> Vec<Report> {
        let out = Command::new(splat_binary())
            .arg("--json")
            .arg(&self.log)
            .output()
            .expect("run splat");
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "splat failed on {}: {}",
            self.log.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: splat::Document =
            serde_json::from_slice(&out.stdout).expect("splat --json output");
        doc.reports
    }

    /// The lines the guest scripts printed with the `lab: ` prefix, without it.
    pub fn lab_lines(&self) -> Vec<&str> {
        self.console
            .lines()
            .filter_map(|l| l.strip_prefix("lab: "))
            .collect()
    }

    /// The line number of the first console line containing `needle`.
    pub fn find(&self, needle: &str) -> Option<usize> {
        self.console.lines().position(|l| l.contains(needle))
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

    /// A failure message: `what`, the exit status, the log's path and its last lines.
    pub fn failure(&self, what: &str) -> String {
        let mut msg = format!(
            "{what} (run {}, status {}, log {})\n",
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
        self.console
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix)?.split(' ').next()?.parse().ok())
            .collect()
    }

    /// How long the timed guest command `cmd` took, from `timed`'s "lab: CMD: exit N in M ms".
    pub fn timing(&self, cmd: &str) -> Option<(i32, u64)> {
        let prefix = format!("{cmd}: exit ");
        self.lab_lines().iter().find_map(|l| {
            let (rc, ms) = l.strip_prefix(&prefix)?.split_once(" in ")?;
            Some((rc.parse().ok()?, ms.strip_suffix(" ms")?.parse().ok()?))
        })
    }
}
