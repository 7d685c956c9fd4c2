//! Diagnosis of a deadlocked guest from the host: `make diagnose` and `make gdb`.
//!
//! [`Live::deadlock`] boots the debug variant of the guest kernel (`qemu/debug.config`: DWARF,
//! the kernel's gdb scripts) with a QMP socket, QEMU's vmcoreinfo device and its gdb stub, and
//! lets a scenario deadlock (`qemu/deadlock.sh`). [`Snapshot::read`] then runs drgn with the
//! project's script (`scripts/lab/drgn/deadlock.py`) on the live guest or on a memory dump of it
//! ([`Live::dump`]), and [`Snapshot::render`] prints a summary, then one block per stuck task
//! (the module's threads, and any kworker or user process caught with them): its state and how
//! long it has waited, the lock it waits on, its kind and who holds it (or why nobody can be
//! named), its stack with demangled Rust names; then the cycle the waits form across lock kinds
//! (or the longest chain when there is none), and lock_stat's numbers for the module's lock
//! classes.

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

    /// Starts the guest that `deadlock` waits on, with the CPUs the scenario needs.
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
            .env("LAB_CPUS", scenario.cpus.to_string())
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

/// Whether `make diagnose` can read `scenario`'s deadlock: threads asleep for good or spinning
/// in process context. Otherwise, why not: the error `lab diagnose` prints, before it starts
/// anything.
pub fn diagnosable(scenario: &Scenario) -> Result<(), String> {
    if !scenario.hung.is_empty() || scenario.spins {
        return Ok(());
    }
    let name = scenario.name;
    Err(match scenario.hard_lockup {
        Some(cpu) => format!(
            "scenario {name}: its deadlock is a hard lockup, CPU {cpu} spinning in an interrupt \
             handler with interrupts off, which make diagnose does not read; \
             make run SCENARIO={name} shows the hard-lockup detector's report and the CPU's stack"
        ),
        None => format!(
            "scenario {name} does not deadlock (no thread stays stuck: the kernel's reports are the \
             whole bug); make diagnose reads a deadlocked guest: make run SCENARIO={name} shows it"
        ),
    })
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
    /// The stuck tasks (asleep in state D, or spinning) and the module's threads, by pid.
    pub threads: Vec<Thread>,
    /// lock_stat's numbers for the module's lock classes (`None`: no lock_stat in the kernel).
    pub classes: Option<Vec<Class>>,
}

/// A task of the report: one of the module's threads, or a task stuck with them.
#[derive(Debug, Deserialize)]
pub struct Thread {
    pub name: String,
    pub pid: u32,
    /// The scheduler's state letter (`D`: uninterruptible sleep).
    pub state: String,
    /// Where it came from.
    pub origin: Origin,
    /// How long it has waited: asleep, since it left the CPU; spinning, since it last got it.
    pub waited_ns: Option<u64>,
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

/// Where a task came from.
#[derive(Debug, Deserialize)]
pub struct Origin {
    /// `module` (one of its kthreads), `kworker`, `user` (a user process) or `kthread`.
    pub kind: String,
    /// A kworker's work item (its lockdep name).
    pub work: Option<String>,
    /// A kworker's work function (a symbol, Rust's mangled).
    pub function: Option<String>,
    /// The module parameter's file a user process is reading.
    pub reads: Option<String>,
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

/// What a task waits on.
#[derive(Debug, Deserialize)]
pub struct Wait {
    /// `semaphore`, `mutex`, `rwsem`, `work` (a work item being flushed), `completion` (the task
    /// sleeps) or `spinlock` (it spins).
    pub kind: String,
    /// How an rwsem's waiter wants it: `reader` or `writer`.
    pub role: Option<String>,
    /// Its name: lockdep's, or the module's record (a semaphore's, a completion's).
    pub lock: Option<String>,
    /// The address of its kernel structure.
    pub address: String,
    /// Whether the lock's own wait list holds the task.
    pub on_wait_list: Option<bool>,
    /// Who holds it (a work item: the kworker running it).
    pub holder: Option<Holder>,
    /// Where the holder was read.
    pub holder_from: Option<String>,
    /// Why no holder can be named.
    pub no_holder: Option<String>,
    /// How an rwsem is held: `reader` or `writer`.
    pub held_as: Option<String>,
    /// How many readers hold an rwsem.
    pub readers: Option<u64>,
    /// A work item's function (a symbol).
    pub function: Option<String>,
    /// The tasks waiting on a completion.
    pub waiters: Option<Vec<Holder>>,
    /// The CPU a spinlock's owner took it on.
    pub owner_cpu: Option<i64>,
}

impl Wait {
    /// The lock's name, or its kind and address.
    pub fn name(&self) -> String {
        self.lock
            .clone()
            .unwrap_or_else(|| format!("{} at {}", self.kind, self.address))
    }

    /// How a task relates to it and to its holder: (`waits on`, `held by`), or for a work item
    /// (`waits for`, `run by`).
    fn verbs(&self) -> (&'static str, &'static str) {
        match self.kind.as_str() {
            "spinlock" => ("spins on", "held by"),
            "work" => ("waits for", "run by"),
            "completion" => ("waits for", "done by"),
            _ => ("waits on", "held by"),
        }
    }
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

    /// The task with pid `pid`.
    fn by_pid(&self, pid: u32) -> Option<&Thread> {
        self.threads.iter().find(|t| t.pid == pid)
    }

    /// Where the wait of `t` leads: the task holding what it waits on, if that task is known.
    fn next(&self, t: &Thread) -> Option<&Thread> {
        match &t.waits_on.as_ref()?.holder {
            Some(Holder::Task { pid, .. }) => self.by_pid(*pid),
            _ => None,
        }
    }

    /// The cycle the waits form, if they form one: each task of it with what it waits on, which
    /// the next one holds (the last one's lock is held by the first). Found by splat's cycle
    /// finder ([`splat::cycles`]), the one that reads hung-task reports, so that both name a
    /// cycle the same way. Every kind of wait counts: a work item's edge goes to the kworker that
    /// runs it.
    pub fn cycle(&self) -> Option<Vec<(&Thread, &Wait)>> {
        let task = |comm: &str, pid: u32| splat::Task {
            comm: comm.to_string(),
            pid: Some(pid),
        };
        let edges: Vec<splat::WaitEdge> = self
            .threads
            .iter()
            .filter_map(|t| {
                let wait = t.waits_on.as_ref()?;
                let holder = self.next(t)?;
                Some(splat::WaitEdge {
                    waiter: task(&t.name, t.pid),
                    holder: task(&holder.name, holder.pid),
                    kind: wait.kind.clone(),
                    role: wait.role.clone(),
                    holder_role: wait.held_as.clone(),
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
                let t = self.by_pid(edges[i].waiter.pid?)?;
                Some((t, t.waits_on.as_ref()?))
            })
            .collect()
    }

    /// The chain of waits that starts at `t`: `t`, the holder of what it waits on, and so on, up
    /// to a task whose wait leads to no known task, or back onto the chain.
    fn chain<'a>(&'a self, t: &'a Thread) -> Vec<&'a Thread> {
        let mut chain = vec![t];
        while let Some(next) = self.next(chain[chain.len() - 1]) {
            if chain.iter().any(|c| c.pid == next.pid) {
                break;
            }
            chain.push(next);
        }
        chain
    }

    /// The longest chain of waits, for when they form no cycle (the first by pid of the longest).
    pub fn longest_chain(&self) -> Vec<&Thread> {
        let chains = self
            .threads
            .iter()
            .filter(|t| t.waits_on.is_some())
            .map(|t| self.chain(t));
        chains.fold(Vec::new(), |longest, c| {
            if c.len() > longest.len() {
                c
            } else {
                longest
            }
        })
    }

    /// A line for each task, outside `core` (a cycle or a chain), whose waits lead into it.
    fn behind(&self, core: &[&Thread], line: &dyn Fn(&Thread, &Wait) -> String) -> String {
        let mut out = String::new();
        let inside = |t: &Thread| core.iter().any(|c| c.pid == t.pid);
        for t in self.threads.iter().filter(|t| !inside(t)) {
            if let (Some(w), true) = (&t.waits_on, self.chain(t).iter().any(|c| inside(c))) {
                let _ = writeln!(out, "behind it: {}", line(t, w));
            }
        }
        out
    }

    /// The report: a summary, one block per task, then the cycle (or the longest chain), then
    /// lock_stat.
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
        out.push_str(&self.summary());
        for t in &self.threads {
            out.push_str(&block(t));
        }
        out.push_str(&self.waits());
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
                let width = classes
                    .iter()
                    .map(|c| c.name.len())
                    .max()
                    .unwrap_or(0)
                    .max(20);
                let _ = writeln!(
                    out,
                    "  {:<width$} {:>11} {:>12} {:>12} {:>12}",
                    "class", "contentions", "wait max", "wait total", "acquisitions"
                );
                for c in classes {
                    let _ = writeln!(
                        out,
                        "  {:<width$} {:>11} {:>12} {:>12} {:>12}",
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

    /// One line: how many tasks are stuck, and where they came from.
    fn summary(&self) -> String {
        let stuck: Vec<&Thread> = self
            .threads
            .iter()
            .filter(|t| t.waits_on.is_some() || t.state == "D")
            .collect();
        let mut parts = Vec::new();
        for (kind, one, many) in [
            ("module", "a thread of the module", "threads of the module"),
            ("kworker", "a kworker", "kworkers"),
            ("user", "a user process", "user processes"),
            ("kthread", "another kthread", "other kthreads"),
        ] {
            let names: Vec<&str> = stuck
                .iter()
                .filter(|t| t.origin.kind == kind)
                .map(|t| t.name.as_str())
                .collect();
            match names.len() {
                0 => {}
                1 => parts.push(format!("{one} ({})", names[0])),
                n => parts.push(format!("{n} {many} ({})", names.join(", "))),
            }
        }
        match stuck.len() {
            0 => "nothing is stuck\n".into(),
            n => format!("{n} stuck: {}\n", parts.join(", ")),
        }
    }

    /// The cycle the waits form, the tasks stuck behind it; or the longest chain.
    fn waits(&self) -> String {
        let mut out = String::new();
        let line = |t: &Thread, w: &Wait| {
            let (waits, held) = w.verbs();
            let end = match self.next(t) {
                Some(h) if h.pid == t.pid => "which it holds itself".to_owned(),
                Some(h) => format!("{held} {}", h.name),
                None => match (&w.holder, &w.no_holder) {
                    (Some(Holder::Gone { .. }), _) => format!("{held} a task that has exited"),
                    (_, Some(why)) => format!("{held} nobody that can be named ({why})"),
                    _ => "nobody recorded".to_owned(),
                },
            };
            format!("{} {waits} {} ({}), {end}", t.name, w.name(), w.kind)
        };
        match self.cycle() {
            Some(cycle) => {
                let mut prefix = "\ncycle:";
                for (t, w) in &cycle {
                    let _ = writeln!(out, "{prefix} {}", line(t, w));
                    prefix = "      ";
                }
                let _ = writeln!(
                    out,
                    "       {}",
                    if cycle.len() == 1 {
                        "it can never wake"
                    } else {
                        "none of them can ever wake"
                    }
                );
                let tasks: Vec<&Thread> = cycle.iter().map(|(t, _)| *t).collect();
                out.push_str(&self.behind(&tasks, &line));
            }
            None => {
                let chain = self.longest_chain();
                if chain.is_empty() {
                    out.push_str("\nno task waits on a lock\n");
                    return out;
                }
                out.push_str("\nno cycle; the longest chain of waits:\n");
                for t in &chain {
                    if let Some(w) = &t.waits_on {
                        let _ = writeln!(out, "  {}", line(t, w));
                    }
                }
                out.push_str(&self.behind(&chain, &line));
            }
        }
        out
    }
}

/// One task's block: who it is and how long it has waited, what it waits on and who holds it,
/// its stack (the scheduler's own innermost frames left out).
fn block(t: &Thread) -> String {
    let mut out = String::new();
    let who = match (t.origin.kind.as_str(), &t.origin) {
        ("module", _) => "a thread of the module".to_owned(),
        (
            "kworker",
            Origin {
                work: Some(work),
                function,
                ..
            },
        ) => format!(
            "a kworker running {work}{}",
            function
                .as_deref()
                .map_or(String::new(), |f| format!(" ({})", splat::demangle(f)))
        ),
        ("kworker", _) => "a kworker".to_owned(),
        (
            "user",
            Origin {
                reads: Some(file), ..
            },
        ) => format!("a user process reading {file}"),
        ("user", _) => "a user process".to_owned(),
        (kind, _) => kind.to_owned(),
    };
    let on = match (t.on_cpu, t.cpu) {
        (true, Some(cpu)) => format!(" on CPU {cpu}"),
        _ => String::new(),
    };
    let waited = match (t.waited_ns, &t.waits_on) {
        (Some(ns), Some(w)) if w.kind == "spinlock" => format!(", spinning for {}", secs(ns)),
        (Some(ns), _) => format!(", for {}", secs(ns)),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "\n{} (pid {}), {who}: state {}{on}{waited}",
        t.name,
        t.pid,
        state(&t.state)
    );
    if let Some(w) = &t.waits_on {
        let (verb, held) = w.verbs();
        let mut how = Vec::new();
        if let Some(role) = &w.role {
            how.push(
                if role == "writer" {
                    "to write"
                } else {
                    "to read"
                }
                .to_owned(),
            );
        }
        if let Some(f) = &w.function {
            how.push(format!("function {}", splat::demangle(f)));
        }
        match w.on_wait_list {
            Some(true) => how.push("on its wait list".into()),
            Some(false) => how.push("NOT on its wait list".into()),
            None => {}
        }
        if let Some(waiters) = &w.waiters {
            let names: Vec<String> = waiters
                .iter()
                .map(|h| match h {
                    Holder::Task { name, pid } => format!("{name} (pid {pid})"),
                    Holder::Gone { gone } => gone.clone(),
                })
                .collect();
            how.push(format!("waited for by {}", names.join(", ")));
        }
        let _ = writeln!(
            out,
            "  {verb:<9} {} ({} at {}{})",
            w.name(),
            w.kind,
            w.address,
            how.iter().map(|h| format!(", {h}")).collect::<String>()
        );
        let as_reader = match (&w.held_as, w.readers) {
            (Some(r), Some(n)) if r == "reader" => {
                format!(" for reading ({n} reader{})", if n == 1 { "" } else { "s" })
            }
            _ => String::new(),
        };
        let from = w
            .holder_from
            .as_deref()
            .map_or(String::new(), |f| format!(": {f}"));
        let cpu = w
            .owner_cpu
            .map_or(String::new(), |c| format!(", taken on CPU {c}"));
        let _ = match &w.holder {
            Some(Holder::Task { name, pid }) if *pid == t.pid => {
                writeln!(out, "  {held:<9} {name} (pid {pid}) itself{from}")
            }
            Some(Holder::Task { name, pid }) => {
                writeln!(out, "  {held:<9} {name} (pid {pid}){as_reader}{cpu}{from}")
            }
            Some(Holder::Gone { gone }) => writeln!(
                out,
                "  {held:<9} a task that has exited (task_struct {gone}): it never released it{from}"
            ),
            None => writeln!(
                out,
                "  {held:<9} cannot be named: {}",
                w.no_holder.as_deref().unwrap_or("nothing recorded who holds it")
            ),
        };
    }
    if let Some(err) = &t.stack_error {
        let _ = writeln!(out, "  no stack: {err}");
    }
    out.push_str(&stack(&t.frames));
    out
}

/// A stack, compact: without the scheduler's frames on top of every sleeper's stack and the
/// entry frames under every thread's and system call's, and with a long run of frames in one
/// directory of the kernel (a file system's read path) folded into its first and last.
fn stack(frames: &[Frame]) -> String {
    let first = frames
        .iter()
        .position(|f| !scheduler(&f.function))
        .unwrap_or(frames.len());
    let last = frames
        .iter()
        .rposition(|f| !entry(&f.function))
        .map_or(first, |i| i + 1)
        .max(first);
    let line = |i: usize| {
        let f = &frames[i];
        let inline = if f.inline { " (inlined)" } else { "" };
        format!("  #{i:<2} {}{inline}  {}\n", f.name(), f.location())
    };
    let dir = |i: usize| {
        let location = frames[i].location();
        location.split_once('/').map(|(d, _)| d.to_owned())
    };
    let mut out = String::new();
    let mut i = first;
    while i < last {
        let run = (i..last)
            .take_while(|&j| dir(j).is_some() && dir(j) == dir(i))
            .count();
        if run > 6 && dir(i).as_deref() != Some("src") {
            out.push_str(&line(i));
            let _ = writeln!(
                out,
                "  ... {} more in {}/",
                run - 2,
                dir(i).unwrap_or_default()
            );
            out.push_str(&line(i + run - 1));
            i += run;
        } else {
            out.push_str(&line(i));
            i += 1;
        }
    }
    out
}

/// Whether a function is where a thread or a system call enters the kernel.
fn entry(function: &str) -> bool {
    [
        "kthread",
        "ret_from_fork",
        "entry_SYSCALL",
        "do_syscall_",
        "x64_sys_call",
        "__x64_sys_",
        "__se_sys_",
        "__do_sys_",
    ]
    .iter()
    .any(|p| function.starts_with(p))
}

/// Whether a function is the scheduler's own, on top of every sleeping task's stack.
fn scheduler(function: &str) -> bool {
    ["context_switch", "__switch_to", "__schedule", "schedule"]
        .iter()
        .any(|p| function.starts_with(p))
}

/// Nanoseconds as seconds.
fn secs(ns: u64) -> String {
    format!("{:.1} s", ns as f64 / 1e9)
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

#[cfg(test)]
mod tests {
    use super::diagnosable;
    use crate::scenarios::scenario;

    #[test]
    fn scenarios_that_leave_nothing_stuck_are_refused_with_the_reason() {
        for name in [
            "abba",
            "plain",
            "spin",
            "mutex",
            "workqueue",
            "completion",
            "backlog",
        ] {
            assert_eq!(diagnosable(scenario(name).unwrap()), Ok(()), "{name}");
        }
        let hardirq = diagnosable(scenario("hardirq").unwrap()).unwrap_err();
        assert!(hardirq.contains("hard lockup, CPU 1 spinning"), "{hardirq}");
        for name in ["irq", "atomic", "sleep_in_irq"] {
            let why = diagnosable(scenario(name).unwrap()).unwrap_err();
            assert!(
                why.contains(&format!("scenario {name} does not deadlock")),
                "{why}"
            );
        }
    }
}
