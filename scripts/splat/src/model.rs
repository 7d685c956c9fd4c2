//! The report data model: what `splat` extracts from a log, and what its JSON output contains.
//!
//! Every type here derives both [`Serialize`] and [`Deserialize`], so that programs that consume
//! `splat --json` (the lab's VM tests, for one) can read the document back into the same types
//! with [`crate::from_json`]. The JSON layout is documented in `SCHEMA.md` next to `Cargo.toml`;
//! field names here are the JSON keys. Fields added after the first version carry
//! `#[serde(default)]`, so documents written by an older `splat` still deserialize.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The value of the top-level `schema` key of the JSON document.
pub const SCHEMA: &str = "splat/1";

/// What kind of kernel report a [`Report`] is.
///
/// Serialized in `snake_case` (`circular_dependency`, `hung_task`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// `WARNING: possible circular locking dependency detected` (an AB-BA style lock-order cycle).
    CircularDependency,
    /// `WARNING: possible recursive locking detected` (a lock class taken while already held).
    RecursiveLocking,
    /// `WARNING: inconsistent lock state` (a lock used both with and without interrupt safety).
    InconsistentLockState,
    /// `WARNING: possible irq lock inversion dependency detected`, and
    /// `WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected` (and its SOFTIRQ variant).
    IrqLockInversion,
    /// `WARNING: bad unlock balance detected!` (releasing a lock that is not held).
    BadUnlockBalance,
    /// `WARNING: held lock freed!` (freeing memory that contains a held lock).
    HeldLockFreed,
    /// `WARNING: lock held when returning to user space!` and
    /// `WARNING: comm/pid still has locks held!` (older kernels: `lock held at task exit`).
    LockHeldAtExit,
    /// `WARNING: suspicious RCU usage`.
    SuspiciousRcuUsage,
    /// `BUG: sleeping function called from invalid context at FILE:LINE`.
    SleepInAtomic,
    /// `INFO: task COMM:PID blocked for more than N seconds.` from the hung-task detector.
    HungTask,
    /// `BUG: soft lockup - CPU#N stuck for Ns! [COMM:PID]` from the soft-lockup detector (a CPU
    /// that ran kernel code without scheduling).
    SoftLockup,
    /// `Watchdog detected hard LOCKUP on cpu N` from the hard-lockup detector (printed as
    /// `watchdog: ...`, 7.x `watchdog: CPUM: ...` naming the CPU that noticed, the perf detector's
    /// `NMI watchdog: ...`): a CPU that took no timer interrupt for a while, so runs with
    /// interrupts disabled.
    HardLockup,
    /// `BUG: scheduling while atomic: COMM/PID/0xPREEMPT_COUNT`: the scheduler was called (the
    /// task slept or blocked) where preemption was disabled.
    SchedulingWhileAtomic,
    /// `BUG: Invalid wait context` (lockdep): a lock taken in a context whose wait type does not
    /// allow it (a `spinlock_t`, which sleeps on PREEMPT_RT, inside a `raw_spinlock_t`).
    InvalidWaitContext,
    /// `BUG: spinlock recursion / lockup suspected / wrong CPU / wrong owner / already unlocked /
    /// bad magic` from `CONFIG_DEBUG_SPINLOCK`.
    SpinlockBug,
    /// Any other `BUG:` / `WARNING:` / `Oops` / `kernel BUG at` / `general protection fault` /
    /// `Kernel panic` report, and lockdep reports without a kind of their own.
    Generic,
}

impl ReportKind {
    /// The `snake_case` name used in JSON and in the human output.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::CircularDependency => "circular_dependency",
            ReportKind::RecursiveLocking => "recursive_locking",
            ReportKind::InconsistentLockState => "inconsistent_lock_state",
            ReportKind::IrqLockInversion => "irq_lock_inversion",
            ReportKind::BadUnlockBalance => "bad_unlock_balance",
            ReportKind::HeldLockFreed => "held_lock_freed",
            ReportKind::LockHeldAtExit => "lock_held_at_exit",
            ReportKind::SuspiciousRcuUsage => "suspicious_rcu_usage",
            ReportKind::SleepInAtomic => "sleep_in_atomic",
            ReportKind::HungTask => "hung_task",
            ReportKind::SoftLockup => "soft_lockup",
            ReportKind::HardLockup => "hard_lockup",
            ReportKind::SchedulingWhileAtomic => "scheduling_while_atomic",
            ReportKind::InvalidWaitContext => "invalid_wait_context",
            ReportKind::SpinlockBug => "spinlock_bug",
            ReportKind::Generic => "generic",
        }
    }
}

impl std::fmt::Display for ReportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task (thread) named by a report: its `comm` and, when printed, its pid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Task {
    /// The task's command name as the kernel printed it (`deadlock_b`, `kworker/0:1`).
    pub comm: String,
    /// The pid, when the report printed one.
    pub pid: Option<u32>,
}

/// A lockdep lock class as printed by `print_lock_name()`: `(NAME){USAGE}-{OUTER:INNER}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockClass {
    /// The class name, including any `#N` version and `/N` subclass suffix (`sem_a`,
    /// `&rq->__lock`, `sb_writers#3`).
    pub name: String,
    /// The usage bits between braces, e.g. `+.+.`; null when the report did not print them.
    pub usage: Option<String>,
    /// The wait types, e.g. `{3:3}`; null when not printed (older kernels).
    pub wait_type: Option<String>,
    /// The address of the lock instance (`%px`), when one was printed next to the class.
    pub address: Option<String>,
}

/// One place where a lock was taken: a lock class, the instance address and the function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockSite {
    /// The lock class name.
    pub lock: String,
    /// The lock instance address, when printed.
    pub address: Option<String>,
    /// The readable demangled function of the `at:` address, when printed.
    pub at: Option<String>,
}

/// One entry of a `N locks held by COMM/PID:` list (`lockdep_print_held_locks()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldLock {
    /// The comm of the task holding the lock.
    pub task: String,
    /// The pid of the task holding the lock.
    pub pid: Option<u32>,
    /// The `#N` index: 0 is the lock taken first.
    pub index: u32,
    /// The lock class name.
    pub lock: String,
    /// The lock instance address, when printed.
    pub address: Option<String>,
    /// The readable demangled function where the lock was taken (`at:`); null if not printed.
    pub at: Option<String>,
}

/// One stack frame, as printed by `%pS`/`%pB` (`func+0x21/0xd0 [module]`).
///
/// Its parts are read with the methods named as its JSON keys (`function`, `offset`,
/// `module`, `raw`, `symbol`, `demangled`, `location`): the frame keeps them in one string, the
/// line as printed followed by the parts that are not pieces of it (a demangled Rust name), so
/// that a frame costs one allocation, not one per part.
///
/// # Invariants
/// Every part's range is a range of `text` on `char` boundaries.
#[derive(Clone)]
pub struct Frame {
    /// `raw`, then the parts that are not pieces of it, back to back.
    text: String,
    function: Part,
    offset: Option<Part>,
    module: Option<Part>,
    raw: Part,
    symbol: Part,
    demangled: Option<Part>,
    location: Option<Part>,
    /// False when the kernel printed the frame with a leading `?` (an unreliable guess).
    pub reliable: bool,
}

/// A part of a [`Frame`]: a byte range of its text.
pub(crate) type Part = (usize, usize);

/// A frame's parts, borrowed: what [`Frame::from_parts`] copies, and what its JSON holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameFields<'a> {
    pub function: &'a str,
    pub offset: Option<&'a str>,
    pub module: Option<&'a str>,
    pub reliable: bool,
    pub raw: &'a str,
    pub symbol: &'a str,
    pub demangled: Option<&'a str>,
    pub location: Option<&'a str>,
}

impl Frame {
    /// A frame of these parts. The parts that are pieces of `raw` (as the lexer reads them:
    /// slices of the same line) are kept as ranges of it; the others are copied after it.
    pub(crate) fn from_parts(f: FrameFields<'_>) -> Frame {
        let base = f.raw.as_ptr() as usize;
        // Where `part` lies in `raw`, when it is a slice of it: a `str` starts and ends on
        // `char` boundaries, which are then boundaries of `raw` too (the same bytes).
        let piece = |part: &str| {
            let start = (part.as_ptr() as usize).checked_sub(base)?;
            let end = start.checked_add(part.len())?;
            (end <= f.raw.len()).then_some((start, end))
        };
        let parts = [
            Some(f.function),
            Some(f.symbol),
            f.offset,
            f.module,
            f.demangled,
            f.location,
        ]
        .map(|p| p.map(|p| (p, piece(p))));
        let extra: usize = parts
            .iter()
            .flatten()
            .filter(|(_, at)| at.is_none())
            .map(|(p, _)| p.len())
            .sum();
        let mut text = String::with_capacity(f.raw.len() + extra);
        text.push_str(f.raw);
        // INVARIANT: a piece of `raw` is a range of `text`, which starts with it; another part
        // is pushed whole, between two char boundaries.
        let [function, symbol, offset, module, demangled, location] = parts.map(|p| {
            p.map(|(p, at)| {
                at.unwrap_or_else(|| {
                    let start = text.len();
                    text.push_str(p);
                    (start, text.len())
                })
            })
        });
        Frame {
            raw: (0, f.raw.len()),
            text,
            function: function.unwrap_or_default(),
            offset,
            module,
            symbol: symbol.unwrap_or_default(),
            demangled,
            location,
            reliable: f.reliable,
        }
    }

    /// A frame of a C symbol (whose function is its name as printed, with no demangled name)
    /// read from `raw`, the line as printed, and the ranges of its parts in it; `None` when a
    /// range is not one of `raw` between two `char` boundaries.
    pub(crate) fn from_line(
        raw: String,
        function: Part,
        symbol: Part,
        [offset, module, location]: [Option<Part>; 3],
        reliable: bool,
    ) -> Option<Frame> {
        let ok = |(start, end): Part| {
            start <= end && raw.is_char_boundary(start) && raw.is_char_boundary(end)
        };
        let all_ok = [Some(function), Some(symbol), offset, module, location]
            .into_iter()
            .flatten()
            .all(ok);
        // INVARIANT: every range was checked above (`raw`'s own is all of it).
        all_ok.then_some(Frame {
            raw: (0, raw.len()),
            text: raw,
            function,
            offset,
            module,
            symbol,
            demangled: None,
            location,
            reliable,
        })
    }

    fn part(&self, (start, end): Part) -> &str {
        self.text.get(start..end).unwrap_or_default()
    }

    /// The readable function name: Rust symbols demangled, with generic arguments and
    /// `<Type as Trait>` qualifications trimmed (`rust_deadlock::abba::AbBa::thread_b`,
    /// `kernel::sync::lock::Lock::lock`); C symbols as printed (`down`, `foo.constprop.0`).
    pub fn function(&self) -> &str {
        self.part(self.function)
    }

    /// The `+0xOFF/0xLEN` part without the `+`, e.g. `0x21/0xd0`; `None` when not printed.
    pub fn offset(&self) -> Option<&str> {
        self.offset.map(|p| self.part(p))
    }

    /// The module in `[module]`, e.g. `rust_deadlock`; `None` for built-in code.
    pub fn module(&self) -> Option<&str> {
        self.module.map(|p| self.part(p))
    }

    /// The line as it appeared (trimmed), including `?`, offset, module and any `file:line`.
    pub fn raw(&self) -> &str {
        self.part(self.raw)
    }

    /// The symbol as printed (mangled for Rust), without offset.
    pub fn symbol(&self) -> &str {
        self.part(self.symbol)
    }

    /// The full demangled name (generic arguments kept, crate hashes dropped); `None` for
    /// symbols that are not Rust-mangled.
    pub fn demangled(&self) -> Option<&str> {
        self.demangled.map(|p| self.part(p))
    }

    /// A `file.c:123` source location after the frame (added by `decode_stacktrace.sh` or
    /// syzbot-style logs), when present.
    pub fn location(&self) -> Option<&str> {
        self.location.map(|p| self.part(p))
    }

    /// The parts, borrowed.
    fn fields(&self) -> FrameFields<'_> {
        FrameFields {
            function: self.function(),
            offset: self.offset(),
            module: self.module(),
            reliable: self.reliable,
            raw: self.raw(),
            symbol: self.symbol(),
            demangled: self.demangled(),
            location: self.location(),
        }
    }
}

/// Two frames are equal when their parts are (however they are laid out in their text).
impl PartialEq for Frame {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.fields(), other.fields());
        (
            a.function,
            a.offset,
            a.module,
            a.reliable,
            a.raw,
            a.symbol,
            a.demangled,
            a.location,
        ) == (
            b.function,
            b.offset,
            b.module,
            b.reliable,
            b.raw,
            b.symbol,
            b.demangled,
            b.location,
        )
    }
}

impl Eq for Frame {}

/// As a struct of its parts (`Frame { function: "down", offset: Some("0x40/0x50"), ... }`).
impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("function", &self.function())
            .field("offset", &self.offset())
            .field("module", &self.module())
            .field("reliable", &self.reliable)
            .field("raw", &self.raw())
            .field("symbol", &self.symbol())
            .field("demangled", &self.demangled())
            .field("location", &self.location())
            .finish()
    }
}

/// The JSON object of a frame: its parts, in this order (`SCHEMA.md`).
impl Serialize for Frame {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Frame", 8)?;
        st.serialize_field("function", self.function())?;
        st.serialize_field("offset", &self.offset())?;
        st.serialize_field("module", &self.module())?;
        st.serialize_field("reliable", &self.reliable)?;
        st.serialize_field("raw", self.raw())?;
        st.serialize_field("symbol", self.symbol())?;
        st.serialize_field("demangled", &self.demangled())?;
        st.serialize_field("location", &self.location())?;
        st.end()
    }
}

/// A frame's JSON object, read back (the keys added after the first version may be missing).
#[derive(Deserialize)]
#[serde(rename = "Frame")]
struct FrameData {
    function: String,
    offset: Option<String>,
    module: Option<String>,
    reliable: bool,
    raw: String,
    #[serde(default)]
    symbol: String,
    #[serde(default)]
    demangled: Option<String>,
    #[serde(default)]
    location: Option<String>,
}

impl<'de> Deserialize<'de> for Frame {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = FrameData::deserialize(d)?;
        Ok(Frame::from_parts(FrameFields {
            function: &f.function,
            offset: f.offset.as_deref(),
            module: f.module.as_deref(),
            reliable: f.reliable,
            raw: &f.raw,
            symbol: &f.symbol,
            demangled: f.demangled.as_deref(),
            location: f.location.as_deref(),
        }))
    }
}

/// Lines of text kept in one string, one after the other: a report's lines ([`Report::lines`]),
/// which cost one allocation for the report rather than one a line. Read like a slice of
/// strings (`lines[i]`, `iter()`, `first()`, `last()`, `len()`); in JSON, an array of strings.
///
/// # Invariants
/// `ends` does not decrease, and each of its items is a `char` boundary of `text`: line `i` is
/// `text[ends[i - 1]..ends[i]]` (from 0 for the first).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Lines {
    text: String,
    ends: Vec<usize>,
}

impl Lines {
    /// No lines.
    pub fn new() -> Self {
        Self::default()
    }

    /// No lines, with room for `lines` lines of `bytes` bytes in all.
    pub fn with_capacity(lines: usize, bytes: usize) -> Self {
        Lines {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(lines),
        }
    }

    /// The number of lines.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there is no line.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Line `i`, if there are that many.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = i.checked_sub(1).map_or(0, |p| self.ends[p]);
        self.text.get(start..end)
    }

    /// The first line.
    pub fn first(&self) -> Option<&str> {
        self.get(0)
    }

    /// The last line.
    pub fn last(&self) -> Option<&str> {
        self.get(self.len().checked_sub(1)?)
    }

    /// The lines, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// Adds a line after the others.
    pub fn push(&mut self, line: &str) {
        // INVARIANT: the end of a `str` pushed whole is a char boundary, after the last end.
        self.text.push_str(line);
        self.ends.push(self.text.len());
    }

    /// Removes the last line, if any.
    pub fn pop(&mut self) {
        // INVARIANT: the text is cut at the previous line's end, a char boundary.
        if self.ends.pop().is_some() {
            self.text.truncate(self.ends.last().copied().unwrap_or(0));
        }
    }

    /// Keeps the first `n` lines.
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            // INVARIANT: as `pop`, at the end of line `n - 1`.
            self.ends.truncate(n);
            self.text.truncate(self.ends.last().copied().unwrap_or(0));
        }
    }

    /// Replaces the last line with `line` (adds it when there is none).
    pub fn set_last(&mut self, line: &str) {
        self.pop();
        self.push(line);
    }
}

impl std::ops::Index<usize> for Lines {
    type Output = str;

    /// Line `i`.
    ///
    /// # Panics
    ///
    /// When there are not that many lines (as a slice's index).
    fn index(&self, i: usize) -> &str {
        match self.get(i) {
            Some(line) => line,
            None => panic!("line {i} of {} lines", self.len()),
        }
    }
}

impl<'a> Extend<&'a str> for Lines {
    fn extend<I: IntoIterator<Item = &'a str>>(&mut self, lines: I) {
        lines.into_iter().for_each(|l| self.push(l));
    }
}

impl<'a> FromIterator<&'a str> for Lines {
    fn from_iter<I: IntoIterator<Item = &'a str>>(lines: I) -> Self {
        let mut all = Lines::new();
        all.extend(lines);
        all
    }
}

/// As a list of strings (`["WARNING: ...", " lock(&a);"]`).
impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// An array of strings.
impl Serialize for Lines {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Lines {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let lines = Vec::<String>::deserialize(d)?;
        Ok(lines.iter().map(String::as_str).collect())
    }
}

/// A named stack trace inside a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stack {
    /// Which trace this is: `backtrace` (the reporting task's `dump_stack()`), `hung task`,
    /// `chain #N`, `SOFTIRQ-ON-W state registered`, `preemption disabled`, `release`, `rip`, ...
    pub context: String,
    /// The frames, innermost first, as printed.
    pub frames: Vec<Frame>,
}

/// One row of a "Possible unsafe locking scenario" table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioRow {
    /// The text in the CPU0 column (`lock(sem_b);`, `<Interrupt>`), or null.
    pub cpu0: Option<String>,
    /// The text in the CPU1 column, or null.
    pub cpu1: Option<String>,
}

/// One `-> #N (lock){...}:` entry of a circular dependency chain, with its stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainEntry {
    /// The `#N` as printed. The chain is printed in reverse order: `#0` is the lock being
    /// acquired, the highest index the lock already held.
    pub index: u32,
    /// The lock class of this entry.
    pub lock: String,
    /// The stack that recorded this dependency, innermost frame first.
    pub stack: Vec<Frame>,
}

/// What a hung-task report says about the blocked task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HungTask {
    /// The blocked task's comm.
    pub comm: String,
    /// The blocked task's pid.
    pub pid: u32,
    /// The N in "blocked for more than N seconds".
    pub seconds: u64,
    /// The task state letter from the `task:` line (`D` is uninterruptible sleep), if printed.
    pub state: Option<String>,
    /// The blocking primitive the task sleeps in, e.g. `down()` or `mutex_lock()`, if known.
    pub blocked_in: Option<String>,
    /// What that primitive waits on, e.g. `semaphore`, `mutex`, `completion`, if known.
    pub waiting_on: Option<String>,
    /// The readable function that called the blocking primitive, if known.
    pub called_from: Option<String>,
    /// The reliable frames without scheduler frames: the summary stack, innermost first.
    pub summary: Vec<String>,
    /// What the task is blocked on and who holds it, from the blocker line printed after its
    /// report (Linux 6.14+: "INFO: task A:1 blocked on a semaphore likely last held by task
    /// B:2"); null when none was printed.
    #[serde(default)]
    pub blocker: Option<Blocker>,
}

/// One kernel report found in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The kind of report.
    pub kind: ReportKind,
    /// A syzbot-style one-line title, e.g. `possible deadlock in rust_deadlock::abba::AbBa::thread_b`
    /// or `INFO: task hung in rust_deadlock::abba::AbBa::thread_a`.
    pub title: String,
    /// The same title naming each other function it could name (the backtrace's when the
    /// title names a lock's `at:` site, where a soft-locked CPU spins when the title names the
    /// loop's entry, ...), as syzbot's alternative titles: `--summary` merges reports whose
    /// titles or alternatives name the same function.
    #[serde(default)]
    pub alt_titles: Vec<String>,
    /// The kernel's header line as printed, e.g.
    /// `WARNING: possible circular locking dependency detected`.
    pub header: String,
    /// The tasks the report is about (the task that triggered it first), without duplicates.
    pub tasks: Vec<Task>,
    /// Every lock class the report names, in order of first appearance, without duplicates.
    pub locks: Vec<LockClass>,
    /// The lock being acquired ("is trying to acquire lock:", "takes:", "just changed the state
    /// of lock:", the lock of "is trying to release lock"), when the report has one.
    #[serde(default)]
    pub acquiring: Option<LockSite>,
    /// The lock already held ("but task is already holding lock:", the lock in freed memory).
    #[serde(default)]
    pub holding: Option<LockSite>,
    /// For `circular_dependency`: the dependency chain in the printed (reverse) order.
    pub chain: Vec<ChainEntry>,
    /// All held-lock lists of the report (including a "Showing all locks held in the system"
    /// list that followed a batch of hung-task reports).
    pub held_locks: Vec<HeldLock>,
    /// The named stack traces of the report.
    pub stacks: Vec<Stack>,
    /// The "Possible unsafe locking scenario" table, one row per printed line.
    pub scenario: Vec<ScenarioRow>,
    /// For `circular_dependency` (and `recursive_locking`): the lock cycle in acquisition order,
    /// starting with the lock already held, then the one requested, ..., and the first lock
    /// repeated at the end: `["sem_b", "sem_a", "sem_b"]`. Each lock is taken while holding
    /// the one before it.
    pub cycle: Vec<String>,
    /// For `hung_task`: the blocked task.
    #[serde(default)]
    pub hung_task: Option<HungTask>,
    /// Kind-specific facts as strings (see SCHEMA.md), e.g. `file`, `line`, `message` for
    /// suspicious RCU usage, `from_usage`/`to_usage` for inconsistent lock state.
    #[serde(default)]
    pub details: BTreeMap<String, String>,
    /// The human explanation: what happened, who took what where, and the fix.
    pub explanation: String,
    /// The lines the report was built from, prefixes (timestamp, caller id, syslog) stripped.
    pub lines: Lines,
    /// The 1-based line number in the input of the report's header line.
    #[serde(default)]
    pub start_line: usize,
    /// The 1-based line number in the input of the report's last line.
    #[serde(default)]
    pub end_line: usize,
    /// True when the report was cut off: the input ended (or the report was abandoned)
    /// before the report's natural end.
    pub truncated: bool,
}

/// The whole JSON document: `{"schema": "splat/1", "reports": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Always [`SCHEMA`] for this version of the layout.
    pub schema: String,
    /// The reports in the order their headers appear in the log.
    pub reports: Vec<Report>,
    /// The wait-for graph of the hung tasks' blocker lines (see [`crate::wait_for`]).
    #[serde(default)]
    pub wait_for: WaitFor,
}

impl Report {
    /// Finds a stack by its context name.
    pub fn stack(&self, context: &str) -> Option<&Stack> {
        self.stacks.iter().find(|s| s.context == context)
    }

    /// Finds a lock class by name.
    pub fn lock(&self, name: &str) -> Option<&LockClass> {
        self.locks.iter().find(|l| l.name == name)
    }

    /// The first task of the report (the one that triggered it), if any.
    pub fn task(&self) -> Option<&Task> {
        self.tasks.first()
    }
}

/// The context name of the holder's stack printed after a blocker line.
pub const HOLDER_STACK: &str = "blocker holder";

/// What a hung task is blocked on, from its blocker line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    /// The kind of lock: `mutex`, `semaphore` or `rw-semaphore`.
    pub kind: String,
    /// For `rw-semaphore`: how the hung task waits for it, `reader` or `writer`.
    #[serde(default)]
    pub role: Option<String>,
    /// The task that (likely) owns the lock, or for a semaphore last took it; null when the
    /// kernel printed "but the owner is not found" / "but the last holder is not found".
    #[serde(default)]
    pub holder: Option<Task>,
    /// For `rw-semaphore`: how the holder owns it, `reader` or `writer`.
    #[serde(default)]
    pub holder_role: Option<String>,
    /// The holder's state letter from its `task:` line, when the kernel printed the holder's
    /// stack (it does when the holder is not hung itself).
    #[serde(default)]
    pub holder_state: Option<String>,
    /// The blocker line as printed.
    #[serde(default)]
    pub line: String,
}

/// The wait-for graph of the blocked tasks of a whole log (the JSON key `wait_for`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitFor {
    /// One edge per distinct blocker line (waiter, holder, lock kind and roles), in order of
    /// first appearance.
    #[serde(default)]
    pub edges: Vec<WaitEdge>,
    /// The cycles of the graph of current edges: tasks that wait for each other.
    #[serde(default)]
    pub cycles: Vec<WaitCycle>,
}

/// "`waiter` waits for a lock that `holder` holds", from a blocker line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitEdge {
    /// The blocked (hung) task.
    pub waiter: Task,
    /// The task holding what it waits for.
    pub holder: Task,
    /// `mutex`, `semaphore` or `rw-semaphore`.
    pub kind: String,
    /// For `rw-semaphore`: how the waiter waits, `reader` or `writer`.
    #[serde(default)]
    pub role: Option<String>,
    /// For `rw-semaphore`: how the holder owns it, `reader` or `writer`.
    #[serde(default)]
    pub holder_role: Option<String>,
    /// The lock class, when a lockdep report of the same log names it: the lock the waiter was
    /// trying to acquire in a lockdep report it triggered, or else the only lock the holder is
    /// listed as holding.
    #[serde(default)]
    pub lock: Option<String>,
    /// Index (0-based, into `reports`) of the report `lock` was taken from.
    #[serde(default)]
    pub lock_report: Option<usize>,
    /// Indices (0-based, into `reports`) of the hung-task reports that printed this blocker.
    #[serde(default)]
    pub reports: Vec<usize>,
    /// True when the holder has a hung-task report of its own in the log.
    #[serde(default)]
    pub holder_hung: bool,
    /// The holder's state letter, when the kernel printed its stack after the blocker line.
    #[serde(default)]
    pub holder_state: Option<String>,
    /// True when this is the waiter's latest blocker (a task waits for one lock at a time;
    /// older edges of the same waiter are history).
    #[serde(default)]
    pub current: bool,
    /// True when the edge is part of a cycle.
    #[serde(default)]
    pub in_cycle: bool,
}

/// A cycle of the wait-for graph: each task waits for the next, the last for the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitCycle {
    /// The tasks in wait-for order, starting with the one with the smallest pid (then comm);
    /// the first task is not repeated at the end.
    pub tasks: Vec<Task>,
    /// Indices into `edges`: `edges[k]` goes from `tasks[k]` to `tasks[(k + 1) % n]`.
    pub edges: Vec<usize>,
    /// The distinct lock classes of the cycle's edges that are known, in cycle order.
    #[serde(default)]
    pub locks: Vec<String>,
}
