//! Diagnosis of a deadlocked guest from the host: `make diagnose` and `make gdb`.
//!
//! [`Live::deadlock`] boots the debug variant of the guest kernel (`qemu/debug.config`: DWARF,
//! the kernel's gdb scripts) with a QMP socket, QEMU's vmcoreinfo device and its gdb stub, and
//! lets a scenario deadlock (`qemu/deadlock.sh`). [`Snapshot::read`] then runs drgn with the
//! project's script (`scripts/lab/drgn/deadlock.py`) on the live guest or on a memory dump of it
//! ([`Live::dump`]), and [`Snapshot::render`] prints one block per thread: its state, the lock it
//! waits on and who holds it, its stack with demangled Rust names; then the cycle the waits form,
//! and lock_stat's numbers for the module's lock classes.

use crate::{log_dir, repo_root, Run, Scenario};
use serde::Deserialize;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The debug variant's kernel build and a module built against it.
#[derive(Clone, Debug)]
pub struct DebugBuild {
    /// The kernel build directory (`vmlinux`, `vmlinux-gdb.py`).
    pub kdir: PathBuf,
    /// The module, with its debug info.
    pub module: PathBuf,
}

impl DebugBuild {
    /// The debug build of `$KERNEL`, and the module `$LAB_DEBUG_MODULE` (default: the one in
    /// `src/`, which `make diagnose` builds against it).
    pub fn find() -> Result<Self, String> {
        let out = Command::new(repo_root().join("scripts/setup/build-kernel.sh"))
            .arg("--dir")
            .env("LAB_VARIANT", "debug")
            .output()
            .map_err(|e| format!("scripts/setup/build-kernel.sh: {e}"))?;
        let kdir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if !kdir.join("vmlinux").is_file() {
            return Err(format!(
                "no debug kernel in {}: run 'make diagnose' (or make kernel LAB_VARIANT=debug)",
                kdir.display()
            ));
        }
        let module = std::env::var_os("LAB_DEBUG_MODULE")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("src/rust_deadlock.ko"));
        Ok(Self { kdir, module })
    }

    /// The kernel image with its symbols.
    pub fn vmlinux(&self) -> PathBuf {
        self.kdir.join("vmlinux")
    }
}

/// A guest that runs, deadlocked, until it is dropped (or `vm.sh`'s 15-minute timeout).
#[derive(Debug)]
pub struct Live {
    child: Child,
    /// A private directory (mode 0700, an unpredictable name) for the guest's sockets and dumps:
    /// the QMP socket can make QEMU run host commands, so no other local user may reach it.
    dir: tempfile::TempDir,
    /// The console log (kept under `scripts/out/vm-logs/`).
    pub log: PathBuf,
    /// The QMP socket (drgn attaches here; so do [`Live::dump`] and [`Live::qmp`]).
    pub qmp: PathBuf,
    /// The gdb stub's socket (`target remote` takes its path).
    pub gdb: PathBuf,
}

impl Live {
    /// Starts the debug guest, runs `scenario` until it deadlocks and returns the running guest.
    /// `echo` copies the console to standard output. (A guest that never prints its first line
    /// is ended and started again by `scripts/guest/vm.sh`.)
    pub fn deadlock(
        scenario: &Scenario,
        build: &DebugBuild,
        name: &str,
        echo: bool,
    ) -> Result<Self, String> {
        let mut live = Self::start(scenario, build, name, echo)?;
        live.wait_deadlocked(scenario)?;
        Ok(live)
    }

    /// Starts the guest that `deadlock` waits on.
    fn start(
        scenario: &Scenario,
        build: &DebugBuild,
        name: &str,
        echo: bool,
    ) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("rust-deadlock-diagnose.")
            .tempdir()
            .map_err(|e| format!("a private directory: {e}"))?;
        std::fs::create_dir_all(log_dir()).map_err(|e| format!("log directory: {e}"))?;
        let log = log_dir().join(format!("{name}.log"));
        let _ = std::fs::remove_file(&log);
        let (qmp, gdb) = (dir.path().join("qmp.sock"), dir.path().join("gdb.sock"));
        let mut vm = Command::new(repo_root().join("scripts/guest/vm.sh"));
        vm.env("LAB_VARIANT", "debug")
            .env("LAB_MODULE", &build.module)
            .arg("--log")
            .arg(&log)
            .arg("--timeout")
            .arg("900")
            .arg("--qmp")
            .arg(&qmp)
            .arg("--gdb")
            .arg(&gdb);
        if !echo {
            vm.arg("--quiet").stdout(Stdio::null());
        }
        // vm.sh's complaints go with the console in an error; its closing remark (the guest
        // command never finished: it was powered off from here) is expected.
        let errors = std::fs::File::create(dir.path().join("vm.err")).map_err(|e| e.to_string())?;
        let child = vm
            .stderr(errors)
            .arg("--")
            .arg(format!("{} . /lab/deadlock.sh", scenario.demo_env()))
            .spawn()
            .map_err(|e| format!("scripts/guest/vm.sh: {e}"))?;
        Ok(Self {
            child,
            dir,
            log,
            qmp,
            gdb,
        })
    }

    /// Waits until the guest says it deadlocked (or, where every CPU spins and nothing can say
    /// anything, until the soft-lockup detector reported both CPUs).
    fn wait_deadlocked(&mut self, scenario: &Scenario) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let console = self.console();
            let done = if scenario.spins {
                console.matches(crate::SOFT_LOCKUPS.0).count() >= 2
            } else {
                console.lines().any(|l| l.ends_with("lab: deadlocked"))
            };
            if done && self.qmp.exists() {
                return Ok(());
            }
            let tail = || {
                let lines: Vec<&str> = console.lines().collect();
                let errors =
                    std::fs::read_to_string(self.dir.path().join("vm.err")).unwrap_or_default();
                format!(
                    "{}\n{errors}",
                    lines[lines.len().saturating_sub(15)..].join("\n")
                )
            };
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the guest ended ({status}) before the deadlock; console ({}), last lines:\n{}",
                    self.log.display(),
                    tail()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no deadlock within 300 s; console ({}), last lines:\n{}",
                    self.log.display(),
                    tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A path in the guest's private directory (for a memory dump: QEMU writes it as this user).
    pub fn private_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The console so far.
    pub fn console(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Sends one QMP command (JSON) and returns QEMU's answer, or its error.
    pub fn qmp(&self, command: &str) -> Result<String, String> {
        let stream = UnixStream::connect(&self.qmp)
            .map_err(|e| format!("QMP {}: {e}", self.qmp.display()))?;
        let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        let mut writer = stream;
        let mut greeting = String::new();
        reader
            .read_line(&mut greeting)
            .map_err(|e| format!("QMP: {e}"))?;
        let mut answer = |send: &str| -> Result<String, String> {
            writeln!(writer, "{send}").map_err(|e| format!("QMP: {e}"))?;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                    return Err("QMP: connection closed".into());
                }
                if line.contains("\"return\"") {
                    return Ok(line);
                }
                if line.contains("\"error\"") {
                    return Err(format!("QMP: {}", line.trim()));
                }
            }
        };
        answer(r#"{"execute": "qmp_capabilities"}"#)?;
        answer(command)
    }

    /// Saves the guest's memory (an ELF dump with QEMU's vmcoreinfo note) to `file`: drgn reads
    /// it as it reads the live guest.
    pub fn dump(&self, file: &Path) -> Result<(), String> {
        let file = std::path::absolute(file).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(&file);
        let command = serde_json::json!({
            "execute": "dump-guest-memory",
            "arguments": {"paging": false, "protocol": format!("file:{}", file.display())},
        });
        self.qmp(&command.to_string()).map(|_| ())
    }

    /// Powers the guest off and returns its run (console, and status: 0 when powered off here).
    pub fn finish(mut self, name: &str) -> Run {
        self.stop();
        Run {
            name: name.to_owned(),
            status: 0,
            console: self.console(),
            log: self.log.clone(),
            remarks: std::fs::read_to_string(self.private_path("vm.err")).unwrap_or_default(),
            target: crate::target().clone(),
        }
    }

    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.qmp(r#"{"execute": "quit"}"#);
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where drgn reads the guest.
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// The live guest, over QMP.
    Live(&'a Live),
    /// A memory dump ([`Live::dump`]).
    Dump(&'a Path),
}

/// drgn: `$DRGN`, as `scripts/setup/setup-host.sh --drgn` installs it.
pub fn drgn() -> Result<PathBuf, String> {
    std::env::var_os("DRGN")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .ok_or_else(|| {
            "drgn is not installed: run scripts/setup/setup-host.sh --drgn, set DRGN".into()
        })
}

/// What drgn found in the guest (the JSON `scripts/lab/drgn/deadlock.py` prints).
#[derive(Debug, Deserialize)]
pub struct Snapshot {
    /// The guest kernel's release.
    pub kernel: String,
    /// Whether the module was loaded.
    pub module_loaded: bool,
    /// Whether lockdep still runs (it turns itself off after its first report).
    pub lockdep_on: bool,
    /// The module's threads, by pid.
    pub threads: Vec<Thread>,
    /// lock_stat's numbers for the module's lock classes (`None`: no lock_stat in the kernel).
    pub classes: Option<Vec<Class>>,
}

/// One of the module's threads.
#[derive(Debug, Deserialize)]
pub struct Thread {
    pub name: String,
    pub pid: u32,
    /// The scheduler's state letter (`D`: uninterruptible sleep).
    pub state: String,
    /// The stack, innermost frame first.
    pub frames: Vec<Frame>,
    /// Why there is no stack, if there is none.
    pub stack_error: Option<String>,
    /// The lock the thread sleeps on or spins on.
    pub waits_on: Option<Wait>,
    /// The CPU it last ran on.
    pub cpu: Option<u32>,
    /// Whether it is running on that CPU now.
    #[serde(default)]
    pub on_cpu: bool,
}

/// A stack frame.
#[derive(Debug, Deserialize)]
pub struct Frame {
    /// The symbol (Rust's mangled) or, for an inlined call, the DWARF name.
    pub function: String,
    pub inline: bool,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// The lock a thread waits on.
#[derive(Debug, Deserialize)]
pub struct Wait {
    /// `semaphore` (the thread sleeps) or `spinlock` (it spins).
    pub kind: String,
    /// Its name: a semaphore's from the module's record, a spinlock's from lockdep's map.
    pub lock: Option<String>,
    /// The address of its `struct semaphore` or `raw_spinlock_t`.
    pub address: String,
    /// Whether the semaphore's own wait list holds the thread.
    pub on_wait_list: Option<bool>,
    /// Who holds it: a semaphore's from the module's record, a spinlock's from its `owner`.
    pub holder: Option<Holder>,
    /// The CPU a spinlock's owner took it on.
    pub owner_cpu: Option<i64>,
}

/// The holder of a lock.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Holder {
    /// A task that exists.
    Task { name: String, pid: u32 },
    /// A task that no longer exists (its `task_struct` address): it exited holding the lock.
    Gone { gone: String },
}

/// lock_stat's numbers for one lock class, summed over CPUs.
#[derive(Debug, Deserialize)]
pub struct Class {
    pub name: String,
    pub contentions: u64,
    pub wait_min_ns: u64,
    pub wait_max_ns: u64,
    pub wait_total_ns: u64,
    pub acquisitions: u64,
}

impl Frame {
    /// The function's name as splat prints it: demangled, without Rust's crate hashes, a
    /// method of a type's own `impl` as `path::Type::method`.
    pub fn name(&self) -> String {
        splat::demangle(&self.function)
    }

    /// `file:line`, the kernel's files relative to its source tree, the module's to the
    /// repository (6.12 records them with the whole path, 7.x relative).
    pub fn location(&self) -> String {
        let Some(file) = &self.file else {
            return String::new();
        };
        let repo = format!("{}/", repo_root().display());
        let file = match file.find("/linux-source-") {
            Some(at) => file[at + 1..]
                .split_once('/')
                .map_or(file.as_str(), |(_, f)| f),
            None => file.strip_prefix(&repo).unwrap_or(file),
        };
        match self.line {
            Some(line) => format!("{file}:{line}"),
            None => file.to_owned(),
        }
    }
}

impl Snapshot {
    /// Runs drgn with `scripts/lab/drgn/deadlock.py` on `source`, with the symbols of `build`.
    pub fn read(source: Source, build: &DebugBuild) -> Result<Self, String> {
        let mut drgn = Command::new(drgn()?);
        match source {
            Source::Live(live) => drgn.arg("--qemu").arg(&live.qmp),
            Source::Dump(file) => drgn.arg("-c").arg(file),
        };
        let out = drgn
            .arg("--quiet")
            .arg("--no-default-symbols")
            .arg("-s")
            .arg(build.vmlinux())
            .arg("-s")
            .arg(&build.module)
            .arg(repo_root().join("scripts/lab/drgn/deadlock.py"))
            .output()
            .map_err(|e| format!("drgn: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "drgn failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("drgn's output: {e}"))
    }

    /// Reads the live guest; where a thread is running (a live guest's running task has no saved
    /// stack: its registers are in the CPU), reads a memory dump of the guest instead, which has
    /// every CPU's registers. The flag says whether it did.
    pub fn read_live(live: &Live, build: &DebugBuild) -> Result<(Self, bool), String> {
        let snapshot = Self::read(Source::Live(live), build)?;
        if !snapshot
            .threads
            .iter()
            .any(|t| t.on_cpu && t.frames.is_empty())
        {
            return Ok((snapshot, false));
        }
        // A CPU caught inside an interrupt (the soft-lockup detector printing its report, which
        // takes long on a serial console) shows the interrupt, not the spin: dump again.
        let dump = live.private_path("running.core");
        let mut tries = 0;
        loop {
            live.dump(&dump)?;
            let snapshot = Self::read(Source::Dump(&dump), build);
            let _ = std::fs::remove_file(&dump);
            let snapshot = snapshot?;
            tries += 1;
            let caught = snapshot
                .threads
                .iter()
                .all(|t| !t.on_cpu || t.waits_on.is_some());
            if caught || tries == 5 {
                return Ok((snapshot, true));
            }
        }
    }

    /// The thread called `name`.
    pub fn thread(&self, name: &str) -> Option<&Thread> {
        self.threads.iter().find(|t| t.name == name)
    }

    /// The cycle the waits form, if they form one: each thread of it with the lock it waits on,
    /// which the next one holds (the last one's lock is held by the first). Found by splat's
    /// cycle finder ([`splat::cycles`]), the one that reads hung-task reports, so that both
    /// name a cycle the same way.
    pub fn cycle(&self) -> Option<Vec<(&Thread, &str)>> {
        let task = |comm: &str, pid: u32| splat::Task {
            comm: comm.to_string(),
            pid: Some(pid),
        };
        let edges: Vec<splat::WaitEdge> = self
            .threads
            .iter()
            .filter_map(|t| {
                let wait = t.waits_on.as_ref()?;
                let Some(Holder::Task { name, pid }) = &wait.holder else {
                    return None;
                };
                Some(splat::WaitEdge {
                    waiter: task(&t.name, t.pid),
                    holder: task(name, *pid),
                    kind: wait.kind.clone(),
                    role: None,
                    holder_role: None,
                    lock: wait.lock.clone(),
                    lock_report: None,
                    reports: Vec::new(),
                    holder_hung: false,
                    holder_state: None,
                    current: true,
                    in_cycle: false,
                })
            })
            .collect();
        let cycle = splat::cycles(&edges).into_iter().next()?;
        cycle
            .edges
            .iter()
            .map(|&i| {
                let pid = edges[i].waiter.pid?;
                let t = self.threads.iter().find(|t| t.pid == pid)?;
                let lock = t.waits_on.as_ref().and_then(|w| w.lock.as_deref());
                Some((t, lock.unwrap_or("?")))
            })
            .collect()
    }

    /// The report: one block per thread, then the cycle, then lock_stat.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "kernel {}; lockdep {}",
            self.kernel,
            if self.lockdep_on {
                "on"
            } else {
                "off (it stops at its first report: its own records of held locks are stale now)"
            }
        );
        if !self.module_loaded {
            out.push_str("the module is not loaded\n");
        }
        for t in &self.threads {
            let on = match (t.on_cpu, t.cpu) {
                (true, Some(cpu)) => format!(" on CPU {cpu}"),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "\n{} (pid {}): state {}{on}",
                t.name,
                t.pid,
                state(&t.state)
            );
            if let Some(w) = &t.waits_on {
                let lock = w
                    .lock
                    .as_deref()
                    .unwrap_or("a lock the module did not record");
                let (verb, how) = match w.on_wait_list {
                    _ if w.kind == "spinlock" => ("spins on", "spinning"),
                    Some(true) => ("waits on", "on its wait list"),
                    _ => ("waits on", "NOT on its wait list"),
                };
                let _ = writeln!(
                    out,
                    "  {verb:<9} {lock} ({} at {}, {how})",
                    w.kind, w.address
                );
                let _ = match &w.holder {
                    Some(Holder::Task { name, pid }) if *pid == t.pid => {
                        writeln!(out, "  held by   {name} (pid {pid}) itself")
                    }
                    Some(Holder::Task { name, pid }) => match w.owner_cpu {
                        Some(cpu) => writeln!(out, "  held by   {name} (pid {pid}), taken on CPU {cpu}"),
                        None => writeln!(out, "  held by   {name} (pid {pid})"),
                    },
                    Some(Holder::Gone { gone }) => writeln!(
                        out,
                        "  held by   a task that has exited (task_struct {gone}): it never released it"
                    ),
                    None => writeln!(out, "  held by   nobody recorded"),
                };
            }
            if let Some(err) = &t.stack_error {
                let _ = writeln!(out, "  no stack: {err}");
            }
            for (i, f) in t.frames.iter().enumerate() {
                let inline = if f.inline { " (inlined)" } else { "" };
                let _ = writeln!(out, "  #{i:<2} {}{inline}  {}", f.name(), f.location());
            }
        }
        match self.cycle() {
            Some(cycle) if cycle.len() == 1 => {
                let (t, lock) = cycle[0];
                let _ = writeln!(
                    out,
                    "\ncycle: {} waits on {lock}, which it holds itself: it can never wake",
                    t.name
                );
            }
            Some(cycle) => {
                let mut prefix = "\ncycle:";
                for (i, (t, lock)) in cycle.iter().enumerate() {
                    let holder = cycle[(i + 1) % cycle.len()].0;
                    let _ = writeln!(
                        out,
                        "{prefix} {} waits on {lock}, held by {}",
                        t.name, holder.name
                    );
                    prefix = "      ";
                }
                let _ = writeln!(out, "       none of them can ever wake");
            }
            None => out.push_str("\nno cycle among the module's threads\n"),
        }
        match &self.classes {
            None => out.push_str("\nno lock_stat in this kernel\n"),
            Some(classes) => {
                let _ = writeln!(
                    out,
                    "\nlock_stat, the module's lock classes{}:",
                    if self.lockdep_on {
                        ""
                    } else {
                        " (counted until lockdep turned off)"
                    }
                );
                let _ = writeln!(
                    out,
                    "  {:<20} {:>11} {:>12} {:>12} {:>12}",
                    "class", "contentions", "wait max", "wait total", "acquisitions"
                );
                for c in classes {
                    let _ = writeln!(
                        out,
                        "  {:<20} {:>11} {:>12} {:>12} {:>12}",
                        c.name,
                        c.contentions,
                        ms(c.wait_max_ns),
                        ms(c.wait_total_ns),
                        c.acquisitions
                    );
                }
            }
        }
        out
    }
}

/// A scheduler state letter, explained.
fn state(letter: &str) -> String {
    let what = match letter {
        "R" => "running",
        "S" => "sleeping, interruptible",
        "D" => "uninterruptible sleep",
        "T" => "stopped",
        "I" => "idle",
        "Z" => "zombie",
        "X" => "dead",
        _ => return letter.to_owned(),
    };
    format!("{letter} ({what})")
}

/// Nanoseconds as milliseconds.
fn ms(ns: u64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

/// gdb for `live`: the kernel's symbols, its gdb scripts (`lx-ps`, `lx-dmesg`, `lx-lsmod`, ...),
/// attached to QEMU's gdb stub, the module's symbols loaded by `lx-symbols`. The guest stops while
/// gdb is attached and runs on when it detaches.
pub fn gdb_command(build: &DebugBuild, live: &Live) -> Command {
    let module_dir = build.module.parent().unwrap_or(Path::new("."));
    let mut gdb = Command::new("gdb");
    gdb.arg("-q")
        .arg("-nx")
        .arg("-iex")
        .arg(format!("add-auto-load-safe-path {}", build.kdir.display()))
        .arg("-ex")
        .arg("set pagination off")
        .arg("-ex")
        .arg(format!(
            "source {}",
            build.kdir.join("vmlinux-gdb.py").display()
        ))
        .arg("-ex")
        .arg(format!("target remote {}", live.gdb.display()))
        .arg("-ex")
        .arg(format!("lx-symbols {}", module_dir.display()))
        .arg(build.vmlinux());
    gdb
}
