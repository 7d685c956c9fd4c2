//! What the host knows of each of the module's scenarios (`src/<name>.rs`): its threads and
//! locks, and what the kernel prints for its buggy variant. The demo (`make run SCENARIO=`) and
//! the VM tests (`tests/scenarios.rs`) are both driven by this table.

use splat::ReportKind;

/// One scenario of the module, as the lab sees it from outside.
#[derive(Debug)]
pub struct Scenario {
    /// The value of the module's `scenario` parameter.
    pub name: &'static str,
    /// The module's threads, in order.
    pub threads: &'static [&'static str],
    /// The threads that keep iterating in the fixed variant (the others end by design).
    pub progress: &'static [&'static str],
    /// The lock classes lockdep names in its report of the buggy variant.
    pub locks: &'static [&'static str],
    /// The report lockdep prints for the buggy variant; `None`: lockdep cannot see the locks.
    pub report: Option<ReportKind>,
    /// A line of that report, for the guest to wait for.
    pub report_line: &'static str,
    /// The locks of the cycle lockdep prints (circular reports), starting anywhere.
    pub cycle: &'static [&'static str],
    /// Functions (demangled name endings) that the reports' stack traces or `at:` lines name.
    pub functions: &'static [&'static str],
    /// Words of the fix that splat's explanation of the scenario's report must give (for `plain`,
    /// of the hung-task reports, where the kernel names the blockers; for `spin`, of the
    /// soft-lockup reports too).
    pub fix: &'static str,
    /// The threads that end up asleep in state D, reported by the hung-task detector.
    pub hung: &'static [&'static str],
    /// Whether the demo flips `buggy` at run time; otherwise it loads the module again with
    /// `buggy=1` (unloading makes lockdep forget the module's lock classes and their orders).
    pub flip: bool,
    /// Whether lockdep reports from an interrupt: the report is then printed by whatever task the
    /// interrupt came in on, and may list that task's own held locks besides the scenario's.
    pub in_interrupt: bool,
    /// Whether the buggy variant spins every CPU forever: the guest cannot recover, the soft-lockup
    /// detector reports the CPUs, and the lab powers the guest off from the host.
    pub spins: bool,
    /// The CPU the buggy variant leaves spinning in an interrupt handler with interrupts off, if
    /// it does: the hard-lockup detector reports that CPU, with its stack (by NMI), and the lab
    /// powers the guest off from the host.
    pub hard_lockup: Option<u32>,
    /// Whether `rmmod` ends the buggy variant's threads. A task asleep in `mutex_lock()`,
    /// `down_write()` or `flush_work()` cannot be woken: the demo then leaves the threads stuck
    /// and the guest is ended.
    pub unloads: bool,
    /// The reports the buggy variant prints besides `report`, each at least once (maybe again
    /// and again).
    pub also: &'static [ReportKind],
    /// A line of the `also` report that comes last, for the demo to wait for (empty: none to wait
    /// for).
    pub also_line: &'static str,
    /// On kernels whose hung-task detector names blockers: (hung task, owner) pairs it must
    /// print, as "INFO: task HUNG:pid is blocked on a mutex likely owned by task OWNER:pid". A
    /// hung task's name may end in `/`: any task whose name starts so (`kworker/`).
    pub owners: &'static [(&'static str, &'static str)],
    /// What more the demo shows of the buggy variant, an article's symptom that no report names.
    pub shows: Option<Shows>,
    /// The guest's CPUs the scenario needs: one where its threads take sleeping locks (they
    /// deadlock on one CPU as on many, and each guest costs the host less), more where a thread
    /// is bound to CPU 1 or where the threads spin (the module refuses a CPU that is not online).
    /// The demo may want one more ([`Scenario::demo_cpus`]).
    pub cpus: u32,
}

/// A symptom the demo shows besides the kernel's reports (`qemu/demo.sh`'s `SHOW`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shows {
    /// High CPU: `top`, with the spinning threads at the top of its list in state R, each taking
    /// a CPU. It needs a CPU that does not spin: the guest gets one more than the scenario has
    /// threads ([`Scenario::demo_cpus`]).
    Top,
    /// Kernel memory that no process owns: `/proc/meminfo`'s `Slab` and `/proc/slabinfo`'s
    /// `kmalloc-4k` line before the deadlock, while the backlog grows, once it is full (the
    /// module then prints `full`), and after `rmmod`, which gives it back. When full, the backlog
    /// holds `objects` objects of 4 KiB.
    Slab {
        /// A line the module prints once the backlog is full.
        full: &'static str,
        /// How many 4 KiB objects the full backlog holds.
        objects: u32,
    },
}

/// How the kernel panics at the deadlock of a scenario, when asked to (`make run PANIC=1`): the
/// detector that finds it panics instead of reporting and going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panic {
    /// The sysctl under `/proc/sys/kernel/` that turns the detector's report into a panic.
    pub sysctl: &'static str,
    /// The detector, in words.
    pub detector: &'static str,
    /// What the kernel then says: `Kernel panic - not syncing: MESSAGE`.
    pub message: &'static str,
    /// The function the stuck thread's stack shows it in, in the report before the panic: where
    /// it sleeps (`schedule`) or spins (`do_raw_spin_lock`).
    pub at: &'static str,
}

const CIRCULAR: &str = "possible circular locking dependency detected";

/// What most scenarios share; each row of [`SCENARIOS`] says what differs.
const ROW: Scenario = Scenario {
    name: "",
    threads: &[],
    progress: &[],
    locks: &[],
    report: None,
    report_line: "",
    cycle: &[],
    functions: &[],
    fix: "",
    hung: &[],
    flip: true,
    in_interrupt: false,
    spins: false,
    hard_lockup: None,
    unloads: true,
    also: &[],
    also_line: "",
    owners: &[],
    shows: None,
    cpus: 1,
};

/// Every scenario; the first is the module's default ([`DEFAULT_SCENARIO`]).
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "abba",
        threads: &["deadlock_a", "deadlock_b"],
        progress: &["deadlock_a", "deadlock_b"],
        locks: &["sem_a", "sem_b"],
        report: Some(ReportKind::CircularDependency),
        report_line: CIRCULAR,
        cycle: &["sem_a", "sem_b"],
        functions: &["AbBa::thread_a", "AbBa::thread_b"],
        fix: "in one global order",
        hung: &["deadlock_a", "deadlock_b"],
        ..ROW
    },
    Scenario {
        name: "abc",
        threads: &["abc_a", "abc_b", "abc_c"],
        progress: &["abc_a", "abc_b", "abc_c"],
        locks: &["sem_a", "sem_b", "sem_c"],
        report: Some(ReportKind::CircularDependency),
        report_line: CIRCULAR,
        cycle: &["sem_a", "sem_b", "sem_c"],
        functions: &["Abc::thread_a", "Abc::thread_b", "Abc::thread_c"],
        fix: "in one global order",
        hung: &["abc_a", "abc_b", "abc_c"],
        // The fixed variant records sem_a -> sem_c: flipped after it, abc_c's sem_c -> sem_a
        // closes a two-lock cycle with that order before the three-lock one.
        flip: false,
        ..ROW
    },
    Scenario {
        name: "recursive",
        threads: &["recursive"],
        progress: &["recursive"],
        locks: &["sem_r"],
        report: Some(ReportKind::RecursiveLocking),
        report_line: "possible recursive locking detected",
        functions: &["Recursive::update", "Recursive::log_update"],
        fix: "do not take a lock the task already holds",
        hung: &["recursive"],
        ..ROW
    },
    Scenario {
        name: "irq",
        threads: &["irq_thread", "irq_timer"],
        progress: &["irq_thread", "irq_timer"],
        locks: &["irq_lock"],
        report: Some(ReportKind::InconsistentLockState),
        report_line: "inconsistent lock state",
        functions: &["Irq::thread", "Irq::fire"],
        fix: "with interrupts disabled",
        in_interrupt: true,
        cpus: 2,
        ..ROW
    },
    Scenario {
        name: "leak",
        threads: &["leak_a", "leak_b"],
        progress: &["leak_b"],
        locks: &["sem_l"],
        report: Some(ReportKind::LockHeldAtExit),
        report_line: "still has locks held",
        functions: &["Leak::job"],
        fix: "release every lock on every return path",
        hung: &["leak_b"],
        flip: false,
        ..ROW
    },
    Scenario {
        name: "plain",
        threads: &["plain_a", "plain_b"],
        progress: &["plain_a", "plain_b"],
        locks: &[],
        report: None,
        report_line: "",
        functions: &["Plain::thread_a", "Plain::thread_b"],
        fix: "no lockdep annotation",
        hung: &["plain_a", "plain_b"],
        ..ROW
    },
    Scenario {
        name: "spin",
        threads: &["spinner_a", "spinner_b"],
        progress: &["spinner_a", "spinner_b"],
        locks: &["spin_a", "spin_b"],
        report: Some(ReportKind::CircularDependency),
        report_line: CIRCULAR,
        cycle: &["spin_a", "spin_b"],
        functions: &["Spin::thread_a", "Spin::thread_b"],
        fix: "in one global order",
        spins: true,
        unloads: false,
        shows: Some(Shows::Top),
        cpus: 2,
        ..ROW
    },
    Scenario {
        name: "mutex",
        threads: &["mutex_1", "mutex_2"],
        progress: &["mutex_1", "mutex_2"],
        locks: &["mutex_a", "mutex_b"],
        report: Some(ReportKind::CircularDependency),
        report_line: CIRCULAR,
        cycle: &["mutex_a", "mutex_b"],
        functions: &["Mutexes::thread_a", "Mutexes::thread_b"],
        fix: "in one global order",
        hung: &["mutex_1", "mutex_2"],
        unloads: false,
        owners: &[("mutex_1", "mutex_2"), ("mutex_2", "mutex_1")],
        ..ROW
    },
    Scenario {
        name: "rwsem",
        threads: &["rw_reader", "rw_writer"],
        progress: &["rw_reader", "rw_writer"],
        locks: &["rw_mutex", "rw_sem"],
        report: Some(ReportKind::CircularDependency),
        report_line: CIRCULAR,
        cycle: &["rw_mutex", "rw_sem"],
        functions: &["RwSem::reader", "RwSem::writer"],
        fix: "in one global order",
        hung: &["rw_reader", "rw_writer"],
        unloads: false,
        owners: &[("rw_reader", "rw_writer"), ("rw_writer", "rw_reader")],
        ..ROW
    },
    Scenario {
        name: "workqueue",
        threads: &["wq_flusher"],
        progress: &["wq_flusher"],
        // The flusher holds rcu_read_lock inside flush_work when it "acquires" the job: the
        // report's list of held locks shows it.
        locks: &["(work_completion)(wq_job)", "rcu_read_lock", "wq_lock"],
        report: Some(ReportKind::CircularDependency),
        report_line: CIRCULAR,
        cycle: &["(work_completion)(wq_job)", "wq_lock"],
        functions: &["WorkQueue::flusher", "WorkQueue::run"],
        fix: "flush",
        hung: &["wq_flusher"],
        unloads: false,
        owners: &[("kworker/", "wq_flusher")],
        ..ROW
    },
    Scenario {
        name: "completion",
        threads: &["waiter", "completer"],
        progress: &["waiter", "completer"],
        locks: &[],
        report: None,
        report_line: "",
        functions: &["Completions::waiter", "Completions::completer"],
        fix: "completion",
        hung: &["waiter", "completer"],
        owners: &[("completer", "waiter")],
        ..ROW
    },
    Scenario {
        name: "atomic",
        threads: &["atomic_1", "atomic_2"],
        progress: &["atomic_1", "atomic_2"],
        locks: &["atomic_mutex", "atomic_spin"],
        report: Some(ReportKind::InvalidWaitContext),
        report_line: "Invalid wait context",
        functions: &["Atomic::thread"],
        fix: "before atomic_spin",
        also: &[ReportKind::SleepInAtomic, ReportKind::SchedulingWhileAtomic],
        also_line: "BUG: scheduling while atomic: atomic_1/",
        ..ROW
    },
    Scenario {
        name: "hardirq",
        threads: &["hardirq_thread"],
        progress: &["hardirq_thread"],
        locks: &["hardirq_lock"],
        report: Some(ReportKind::InconsistentLockState),
        report_line: "inconsistent lock state",
        functions: &["HardIrq::thread", "HardIrq::fire"],
        fix: "with interrupts disabled",
        hard_lockup: Some(1),
        unloads: false,
        cpus: 2,
        ..ROW
    },
    Scenario {
        name: "backlog",
        threads: &["producer", "consumer", "auditor"],
        progress: &["producer", "consumer", "auditor"],
        locks: &["backlog_a", "backlog_b"],
        report: Some(ReportKind::CircularDependency),
        report_line: CIRCULAR,
        cycle: &["backlog_a", "backlog_b"],
        functions: &["Backlog::consumer", "Backlog::auditor"],
        fix: "in one global order",
        hung: &["consumer", "auditor"],
        shows: Some(Shows::Slab {
            full: "none consumed: queueing no more",
            objects: 2048,
        }),
        ..ROW
    },
    Scenario {
        name: "sleep_in_irq",
        threads: &["irq_raiser"],
        progress: &["irq_raiser"],
        locks: &["irq_mutex"],
        report: Some(ReportKind::InvalidWaitContext),
        report_line: "Invalid wait context",
        functions: &["SleepInIrq::fire", "SleepInIrq::thread"],
        fix: "move the sleeping work out of the interrupt handler",
        // The interrupt always comes in on top of irq_raiser (it raises it with interrupts off):
        // both reports are by that thread, which holds no lock.
        also: &[ReportKind::SleepInAtomic],
        ..ROW
    },
];

/// The scenario the module runs when `scenario=` is not given (AB-BA): the one `make run`, and
/// the tests that drive the module itself, play.
pub const DEFAULT_SCENARIO: &Scenario = &SCENARIOS[0];

/// The scenario named `name`.
pub fn scenario(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

impl Scenario {
    /// What the buggy variant showed, in one sentence, once the lab has checked it.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        match self.report {
            Some(kind) => parts.push(format!(
                "lockdep reported {} ({})",
                kind.as_str(),
                self.locks.join(", ")
            )),
            None => parts.push("lockdep saw nothing".to_string()),
        }
        if !self.hung.is_empty() {
            parts.push(format!(
                "the hung-task detector reported {}",
                self.hung.join(", ")
            ));
        }
        for kind in self.also {
            parts.push(format!("the kernel reported {}", kind.as_str()));
        }
        match self.shows {
            Some(Shows::Top) => parts.push(format!(
                "top showed {} running at the top of its list, a CPU each",
                self.threads.join(" and ")
            )),
            Some(Shows::Slab { objects, .. }) => parts.push(format!(
                "Slab grew by the {objects} requests of the backlog (kmalloc-4k), owned by no process"
            )),
            None => {}
        }
        if let Some(cpu) = self.hard_lockup {
            parts.push(format!("the hard-lockup detector reported CPU {cpu}, stuck in the interrupt, and the lab powered the guest off"));
        } else if self.cpu_left_over() {
            parts.push("the soft-lockup detector reported both spinning CPUs; nothing can stop them (the lab ended the guest)".into());
        } else if self.spins {
            parts.push("the soft-lockup detector reported both CPUs, and the lab powered the frozen guest off".into());
        } else if self.unloads && matches!(self.shows, Some(Shows::Slab { .. })) {
            parts.push("rmmod ended the threads within 2 s and gave the memory back".into());
        } else if self.unloads {
            parts.push("rmmod ended the threads within 2 s".into());
        } else {
            parts.push("nothing can wake the threads (rmmod would hang with them)".into());
        }
        parts.join("; ") + "."
    }

    /// What the demo says once the kernel has panicked at the deadlock, in one sentence.
    pub fn panic_summary(&self, panic: &Panic) -> String {
        let lockdep = match self.report {
            Some(kind) => format!("lockdep reported {}", kind.as_str()),
            None => "lockdep saw nothing".into(),
        };
        format!(
            "{lockdep}; with {}=1 the {} detector panicked the kernel ('{}'), the stuck thread's stack in {}.",
            panic.sysctl, panic.detector, panic.message, panic.at
        )
    }

    /// The guest's CPUs for the buggy variant's demo: [`Scenario::cpus`], and with
    /// [`Shows::Top`] one more than the threads, which all spin, so that one is left to run `top`.
    pub fn demo_cpus(&self) -> u32 {
        match self.shows {
            Some(Shows::Top) => self.threads.len() as u32 + 1,
            _ => self.cpus,
        }
    }

    /// Whether the demo's guest has a CPU that no thread spins on (the guest then ends itself).
    pub fn cpu_left_over(&self) -> bool {
        self.spins && self.demo_cpus() > self.cpus
    }

    /// How the kernel panics at the buggy variant's deadlock when asked to (`make run PANIC=1`),
    /// by the detector that finds it: the hard-lockup detector for a CPU stuck in an interrupt,
    /// the soft-lockup detector for spinning CPUs, the hung-task detector for threads asleep in
    /// state D. `None`: no detector finds the scenario's bug (nothing hangs or spins; the kernel
    /// reports it and goes on).
    pub fn panic(&self) -> Option<Panic> {
        if self.hard_lockup.is_some() {
            Some(Panic {
                sysctl: "hardlockup_panic",
                detector: "hard-lockup",
                message: "Hard LOCKUP",
                at: "do_raw_spin_lock",
            })
        } else if self.spins {
            Some(Panic {
                sysctl: "softlockup_panic",
                detector: "soft-lockup",
                message: "softlockup: hung tasks",
                at: "do_raw_spin_lock",
            })
        } else if !self.hung.is_empty() {
            Some(Panic {
                sysctl: "hung_task_panic",
                detector: "hung-task",
                message: "hung_task: blocked tasks",
                at: "schedule",
            })
        } else {
            None
        }
    }

    /// The shell assignments that tell `qemu/demo.sh` which scenario to play.
    pub fn demo_env(&self) -> String {
        let (show, full) = match self.shows {
            Some(Shows::Top) => ("top", ""),
            Some(Shows::Slab { full, .. }) => ("slab", full),
            None => ("", ""),
        };
        format!(
            "SCENARIO={} PROGRESS='{}' REPORT='{}' ALSO='{}' HUNG='{}' FLIP={} SPINS={} HARD={} UNLOADS={} SHOW='{show}' FULL='{full}'",
            self.name,
            self.progress.join(" "),
            self.report_line,
            self.also_line,
            self.hung.join(" "),
            u8::from(self.flip),
            u8::from(self.spins),
            u8::from(self.hard_lockup.is_some()),
            u8::from(self.unloads),
        )
    }
}
