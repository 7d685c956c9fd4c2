//! The lexer: the kernel's vocabulary, one place for every phrase, prefix and line shape the
//! kernel's report printers produce.
//!
//! `classify_header` recognises report headers, `lex` reads any other line into a token (its
//! `LineClass` and what the class's parser found); [`frame`] parses stack frames, [`lockfmt`]
//! lockdep's lock descriptions and held-lock lists, [`blocker`] the hung-task blocker lines,
//! and [`functions`] holds the kernel function names that later stages skip or recognise
//! (lockdep, scheduler, blocking primitives).
//! Nothing here knows about reports under construction: that is `segment`'s job.

pub mod blocker;
pub mod frame;
pub mod functions;
pub(crate) mod header;
pub mod lockfmt;
pub(crate) mod phrase;

use crate::model::{Frame, ReportKind};
use aho_corasick::{AhoCorasick, StartKind};
use frame::{frame_parts, parse_frame, FrameParts, FrameSpans};
use lockfmt::{
    is_address, is_lock_line, lock_desc_parts, parse_held_entry, parse_held_heading,
    split_held_index, LockLine,
};
use phrase::{PhraseMatch, TaskHint};
use std::sync::OnceLock;

pub(crate) use crate::input::{is_space, trim};

/// The first byte of `s` after ASCII whitespace, for a quick look at what a line starts with
/// before it is trimmed and parsed: `None` when there is none, `Some(0x80..)` for a non-ASCII
/// character (which may be whitespace: the caller then takes the general path).
#[inline]
pub(crate) fn first_byte(s: &str) -> Option<u8> {
    s.bytes().find(|b| !is_space(*b))
}

/// Which print code produced a report, which decides what its body may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// lockdep's own reports (`====` banner, `WARNING: ...`, `stack backtrace:`).
    Lockdep,
    /// `BUG: sleeping function called from invalid context`.
    Sleep,
    /// The hung-task detector.
    Hung,
    /// `debug_show_all_locks()` ("Showing all locks held in the system:"): not a report by
    /// itself; attached to the hung-task reports before it.
    LockDump,
    /// Any other BUG/WARNING/Oops.
    Generic,
}

/// A recognised report header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub kind: ReportKind,
    pub family: Family,
    /// Strong headers always start a report; weak ones (generic BUG/WARNING/Oops) only when no
    /// open report takes the line as part of its body (an `Oops:` line inside a `BUG:` report).
    pub strong: bool,
}

/// The lockdep report titles and their kinds (matched against the header without its
/// `WARNING: ` / `BUG: ` / `INFO: ` prefix and without the old `[ ... ]` brackets).
const LOCKDEP_TITLES: &[(&str, ReportKind)] = &[
    (
        "possible circular locking dependency detected",
        ReportKind::CircularDependency,
    ),
    (
        "possible recursive locking detected",
        ReportKind::RecursiveLocking,
    ),
    ("inconsistent lock state", ReportKind::InconsistentLockState),
    (
        "possible irq lock inversion dependency detected",
        ReportKind::IrqLockInversion,
    ),
    ("bad unlock balance detected", ReportKind::BadUnlockBalance),
    ("held lock freed", ReportKind::HeldLockFreed),
    (
        "lock held when returning to user space",
        ReportKind::LockHeldAtExit,
    ),
    ("lock held at task exit", ReportKind::LockHeldAtExit),
    ("task exiting with locks held", ReportKind::LockHeldAtExit),
    ("suspicious RCU usage", ReportKind::SuspiciousRcuUsage),
    ("suspicious rcu_dereference", ReportKind::SuspiciousRcuUsage),
    ("Invalid wait context", ReportKind::InvalidWaitContext),
    ("Nested lock was not taken", ReportKind::Generic),
    ("bad contention detected", ReportKind::Generic),
    ("chain_key collision", ReportKind::Generic),
];

/// The text of a header without the old-style brackets: `[ INFO: x ]` -> `INFO: x`.
pub(crate) fn unbracket(t: &str) -> &str {
    match t.strip_prefix("[ ") {
        // The closing ` ]` may have been wrapped onto the next line by a mail client.
        Some(inner) => inner.strip_suffix(" ]").unwrap_or(inner).trim(),
        None => t,
    }
}

/// Recognises a report header line.
pub(crate) fn classify_header(text: &str) -> Option<Header> {
    let t = unbracket(trim(text));
    if !header_start(t) {
        return None;
    }
    let strong = |kind, family| {
        Some(Header {
            kind,
            family,
            strong: true,
        })
    };
    if t == "Showing all locks held in the system:" {
        return strong(ReportKind::Generic, Family::LockDump);
    }
    // "watchdog: BUG: soft lockup", "rcu: INFO: rcu_preempt self-detected stall", and the
    // soft-lockup detector of older kernels, "NMI watchdog: BUG: soft lockup".
    let t = t.strip_prefix("NMI watchdog: ").unwrap_or(t);
    if parse_hard_lockup_header(t).is_some() {
        // The stuck CPU's registers and stack follow (by NMI, from another CPU), like an Oops.
        return strong(ReportKind::HardLockup, Family::Generic);
    }
    // Only whether the word is 1 to 16 bytes long matters: a symbol is not counted to its end.
    let word = t
        .bytes()
        .take(17)
        .take_while(|b| b.is_ascii_lowercase() || *b == b'_')
        .count();
    let t = match t[word..].strip_prefix(": ") {
        Some(rest)
            if (1..=16).contains(&word)
                && (rest.starts_with("BUG:") || rest.starts_with("INFO:")) =>
        {
            rest
        }
        // A line that starts with a lowercase word (a stack frame, most often) can only be one
        // of the other reports' headers (`kernel BUG at`, `general protection fault`...).
        _ if word > 0 => {
            return GENERIC_HEADERS.matches(t).then_some(Header {
                kind: ReportKind::Generic,
                family: Family::Generic,
                strong: false,
            });
        }
        _ => t,
    };
    let body = t
        .strip_prefix("WARNING: ")
        .or_else(|| t.strip_prefix("BUG: "))
        .or_else(|| t.strip_prefix("INFO: "));
    if let Some(body) = body {
        for (title, kind) in LOCKDEP_TITLES {
            if body.starts_with(title) {
                return strong(*kind, Family::Lockdep);
            }
        }
        if t.starts_with("WARNING: ") && is_safe_unsafe_title(body) {
            return strong(ReportKind::IrqLockInversion, Family::Lockdep);
        }
        // `WARNING: comm/pid still has locks held!`, before 4.10 `[ BUG: ... ]`.
        if (t.starts_with("WARNING: ") || t.starts_with("BUG: "))
            && body.ends_with(" still has locks held!")
            && !body.starts_with("CPU: ")
        {
            return strong(ReportKind::LockHeldAtExit, Family::Lockdep);
        }
        if body.starts_with("sleeping function called from invalid context") {
            return strong(ReportKind::SleepInAtomic, Family::Sleep);
        }
        if t.starts_with("BUG: ") && body.starts_with("scheduling while atomic: ") {
            // print_modules(), "Preemption disabled at:", then dump_stack().
            return strong(ReportKind::SchedulingWhileAtomic, Family::Generic);
        }
        if t.starts_with("BUG: ") && spinlock_bug(body).is_some() {
            return strong(ReportKind::SpinlockBug, Family::Generic);
        }
        if t.starts_with("BUG: ") && parse_soft_lockup_header(body).is_some() {
            // Registers and a stack dump follow, like an Oops.
            return strong(ReportKind::SoftLockup, Family::Generic);
        }
        // "blocked for more" alone: the header of a report wrapped by a mail client.
        if t.starts_with("INFO: task ")
            && (body.contains(" blocked for more than ")
                || body.contains(" blocked in I/O wait for more than ")
                || body.ends_with(" blocked for more"))
        {
            return strong(ReportKind::HungTask, Family::Hung);
        }
        if t.starts_with("INFO: task ") && t.contains(" blocked on ") {
            return None; // a hung task's blocker line, part of its report
        }
        if t.starts_with("INFO: ") {
            // "INFO: lockdep is turned off." and friends are not reports; RCU stalls are.
            let stall = body.contains("stall") || body.starts_with("rcu_");
            let lockdep = body.starts_with("trying to register non-static key");
            if !(stall || lockdep) {
                return None;
            }
        }
        return Some(Header {
            kind: ReportKind::Generic,
            family: Family::Generic,
            strong: false,
        });
    }
    if GENERIC_HEADERS.matches(t) {
        return Some(Header {
            kind: ReportKind::Generic,
            family: Family::Generic,
            strong: false,
        });
    }
    None
}

/// The headers of other reports (`BUG:`, `WARNING:` and `INFO:` ones aside).
const GENERIC_STARTS: &[&str] = &[
    "kernel BUG at ",
    "Oops: ",
    "Oops ",
    "general protection fault",
    "Kernel panic - not syncing",
    "Unable to handle kernel ",
    "UBSAN: ",
    "divide error: ",
    "invalid opcode: ",
    "stack segment: ",
    "double fault: ",
    "kernel tried to execute NX-protected page",
];

static GENERIC_HEADERS: Table = Table::prefixes(GENERIC_STARTS);

/// Whether a header (unbracketed, trimmed) may start with `t`'s first byte: every phrase that
/// [`classify_header`] recognises starts with one of these (a lowercase `word: ` prefix, or a
/// lowercase phrase like `kernel BUG at`, included), so that most lines are rejected at once.
fn header_start(t: &str) -> bool {
    matches!(
        t.as_bytes().first(),
        Some(b'a'..=b'z' | b'_' | b'B' | b'I' | b'K' | b'N' | b'O' | b'S' | b'U' | b'W')
    )
}

/// What `spin_bug()` (kernel/locking/spinlock_debug.c) says after `BUG: ` — `spinlock
/// recursion on CPU#0, comm/pid` — as (what, CPU, task): `recursion`, `lockup suspected`,
/// `wrong CPU`, `wrong owner`, `already unlocked`, `bad magic`, `cpu recursion`.
pub(crate) fn spinlock_bug(body: &str) -> Option<(&str, Option<u32>, Option<&str>)> {
    const WHAT: &[&str] = &[
        "recursion",
        "lockup suspected",
        "wrong CPU",
        "wrong owner",
        "already unlocked",
        "bad magic",
        "cpu recursion",
    ];
    let rest = body.strip_prefix("spinlock ")?;
    let what = WHAT.iter().find(|w| {
        rest.strip_prefix(**w)
            .is_some_and(|r| r.is_empty() || r.starts_with(" on CPU#"))
    })?;
    let rest = rest[what.len()..].trim_start();
    let (cpu, task) = match rest.strip_prefix("on CPU#") {
        Some(r) => {
            let (cpu, task) = r.split_once(", ").unwrap_or((r, ""));
            (cpu.parse().ok(), Some(trim(task)).filter(|t| !t.is_empty()))
        }
        None => (None, None),
    };
    Some((what, cpu, task))
}

/// What the soft-lockup detector's header says after `BUG: ` (kernel/watchdog.c):
/// `soft lockup - CPU#%d stuck for %us! [%s:%d]` -> (CPU, seconds, comm, pid).
#[cfg(test)]
pub(crate) fn parse_soft_lockup(body: &str) -> Option<(u32, u64, String, u32)> {
    let (cpu, seconds, task) = parse_soft_lockup_header(body)?;
    let (comm, pid) = task?;
    Some((cpu, seconds, comm, pid))
}

/// Like [`parse_soft_lockup`], also for a header whose `[%s:%d]` was left out (a header
/// quoted in a commit message): (CPU, seconds, the task if printed).
#[allow(clippy::type_complexity)]
pub(crate) fn parse_soft_lockup_header(body: &str) -> Option<(u32, u64, Option<(String, u32)>)> {
    let rest = body.strip_prefix("soft lockup - CPU#")?;
    let (cpu, rest) = rest.split_once(" stuck for ")?;
    let cpu = cpu.parse().ok()?;
    if let Some(seconds) = rest.trim_end().strip_suffix("s!") {
        return Some((cpu, seconds.parse().ok()?, None));
    }
    let (seconds, task) = rest.split_once("s! [")?;
    let (comm, pid) = task.trim_end().strip_suffix(']')?.rsplit_once(':')?;
    if comm.is_empty() {
        return None;
    }
    Some((
        cpu,
        seconds.parse().ok()?,
        Some((comm.to_string(), pid.parse().ok()?)),
    ))
}

/// The hard-lockup detector's header (`kernel/watchdog.c`), without the perf detector's `NMI
/// watchdog: ` prefix: `watchdog: Watchdog detected hard LOCKUP on cpu 1` (6.x), `watchdog:
/// CPU0: Watchdog detected hard LOCKUP on cpu 1` (7.x: the CPU that noticed, first), or without
/// `watchdog: ` (the perf detector), as (the stuck CPU, the CPU that noticed).
pub(crate) fn parse_hard_lockup_header(t: &str) -> Option<(u32, Option<u32>)> {
    let t = t.strip_prefix("watchdog: ").unwrap_or(t);
    let (by, t) = match t.strip_prefix("CPU").and_then(|r| r.split_once(": ")) {
        Some((n, rest)) => (Some(n.parse().ok()?), rest),
        None => (None, t),
    };
    let cpu = t.strip_prefix("Watchdog detected hard LOCKUP on cpu ")?;
    Some((cpu.trim_end().parse().ok()?, by))
}

/// `HARDIRQ-safe -> HARDIRQ-unsafe lock order detected` (print_bad_irq_dependency).
fn is_safe_unsafe_title(body: &str) -> bool {
    body.contains("-safe -> ") && body.ends_with("-unsafe lock order detected")
}

/// What one line looks like, independent of the report it may belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineClass {
    Blank,
    Banner,
    Dashes,
    EndTrace,
    CallTrace,
    StackBacktrace,
    MarkerOpen,
    /// `</TASK>`.
    TaskClose,
    MarkerClose,
    LockdepOff,
    DumpInfo,
    Register,
    HeldHeading,
    HeldEntry,
    Frame,
    KernelIdent,
    LockdepBody,
    SleepBody,
    HungBody,
    HungTaskLine,
    /// `irq event stamp:` and `hardirqs last  enabled at (N): ...` (print_irqtrace_events).
    IrqTrace,
    GenericBody,
    Other,
}

/// Fixed phrases of lockdep's reports (trimmed line starts).
const LOCKDEP_PREFIXES: &[&str] = &[
    "but task is already holding lock:",
    "and this task is already holding:",
    "which would create a new lock dependency:",
    "but this new dependency connects a ",
    "... which became ",
    "... key",
    "... acquired at:",
    "but this lock took another, ",
    "but this lock was taken by another, ",
    "and interrupts could create inverse lock ordering between them.",
    "which lock already depends on the new lock.",
    "the existing dependency chain (in reverse order) is:",
    "-> #",
    "-> (",
    "other info that might help us debug this:",
    "Chain exists of:",
    "Possible unsafe locking scenario:",
    "Possible interrupt unsafe locking scenario:",
    "CPU0",
    "lock(",
    "rlock(",
    "sync(",
    "<Interrupt>",
    "local_irq_disable();",
    "*** DEADLOCK ***",
    "May be due to missing lock nesting notation",
    "and the lock comparison function returns",
    "inconsistent {",
    "the dependencies between",
    "the shortest dependencies between",
    "rcu_scheduler_active = ",
    "RCU used illegally from",
    "Possible false positive due to lockdep",
    "but there are no more locks to release!",
    "but there are no locks held!",
    "but this task is not holding:",
    "context-{",
    "lockdep:",
    "turning off the locking correctness validator.",
    "Hash chain already cached",
    "Held locks:",
    "Locks in cached chain:",
    "depth: ",
    "hlock_id:",
    "<RELEASED>",
];

/// Phrases of lockdep's task lines (`COMM/PID` followed by one of these).
const LOCKDEP_TASK_PHRASES: &[&str] = &[
    " is trying to acquire lock:",
    " is trying to acquire:",
    " is trying to lock:",
    " is trying to release lock (",
    " is trying to contend lock (",
    " just changed the state of lock:",
    "] takes:",
    " is freeing memory",
    " is leaving the kernel with locks still held!",
    " is exiting with locks still held!",
];

const REGISTER_PREFIXES: &[&str] = &[
    "RIP:",
    "RSP:",
    "RAX:",
    "RBX:",
    "RCX:",
    "RDX:",
    "RSI:",
    "RDI:",
    "RBP:",
    "R08:",
    "R09:",
    "R10:",
    "R11:",
    "R12:",
    "R13:",
    "R14:",
    "R15:",
    "FS:",
    "GS:",
    "CS:",
    "DS:",
    "ES:",
    "CR0:",
    "CR2:",
    "CR3:",
    "CR4:",
    "DR0:",
    "DR1:",
    "DR2:",
    "DR3:",
    "DR6:",
    "DR7:",
    "PKRU:",
    "Code:",
    "EIP:",
    "EAX:",
    "EBX:",
    "ECX:",
    "EDX:",
    "ESI:",
    "EDI:",
    "EBP:",
    "ESP:",
    "EFLAGS:",
    "ORIG_RAX:",
    "pc :",
    "lr :",
    "sp :",
    "pstate:",
];

const GENERIC_PREFIXES: &[&str] = &[
    "Modules linked in:",
    "#PF: ",
    "PGD ",
    "Oops: ",
    "Oops ",
    "Kernel panic - not syncing",
    "Kernel Offset:",
    "note: ",
    "KASAN: ",
    "Read of size",
    "Write of size",
    "The buggy address",
    "Allocated by task",
    "Freed by task",
    "Memory state around",
    "Dumping ftrace buffer",
    "Rebooting in ",
    "invalid opcode: ",
    "Internal error: ",
    "Mem abort info:",
    "Data abort info:",
    "Sending NMI from CPU",
    "NMI backtrace for cpu",
    "rcu: ",
    "INFO: lockdep is turned off.",
    "preempt_count: ",
];

const DUMP_INFO_PREFIXES: &[&str] = &[
    "Hardware name:",
    "Tainted: [",
    "Workqueue:",
    "Sched_ext:",
    "Stopper:",
    "Pid: ",
];

/// What the parsers of a line's class found in it, kept so that no later stage parses the line
/// again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Payload {
    /// Nothing parsed (or nothing to keep).
    #[default]
    None,
    /// A stack frame, as the ranges of its parts in the line (copied into a [`Frame`] by
    /// `extract`, on the thread that builds the reports).
    Frame(FrameSpans),
    /// A held-lock entry: its index and, when the line has it, the lock.
    HeldEntry(u32, Option<Box<LockLine>>),
    /// A held-lock list heading: the count, comm and pid.
    HeldHeading(Box<(u32, String, Option<u32>)>),
}

/// A line as the lexer read it: its class, and what the class's parser found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub class: LineClass,
    pub payload: Payload,
    /// The class was decided before the held-lock and frame parsers ran (a marker, a register,
    /// a blank line...): whether the line also parses as one of them is not known.
    early: bool,
}

impl Token {
    /// A token for a line that is not lexed (a header).
    pub(crate) const UNLEXED: Token = Token {
        class: LineClass::Other,
        payload: Payload::None,
        early: true,
    };

    fn early(class: LineClass) -> Self {
        Token {
            class,
            payload: Payload::None,
            early: true,
        }
    }

    fn late(class: LineClass) -> Self {
        Token {
            class,
            payload: Payload::None,
            early: false,
        }
    }

    fn with_payload(class: LineClass, payload: Payload) -> Self {
        Token {
            class,
            payload,
            early: false,
        }
    }

    /// Whether the frame parser read the line (its class is [`LineClass::Frame`], with the
    /// frame's parts).
    pub(crate) fn is_parsed_frame(&self) -> bool {
        matches!(self.payload, Payload::Frame(_))
    }

    /// How well the frame parser read the line, when it read it: 2, or 3 with a source
    /// location (the segmenter's measure of a line, for the joins of wrapped lines).
    pub(crate) fn frame_quality(&self) -> Option<u8> {
        match &self.payload {
            Payload::Frame(f) => Some(2 + u8::from(f.has_location())),
            _ => None,
        }
    }

    /// The phrase of the line `t` (trimmed) this token was lexed from: what it says for
    /// `extract`, read there (on the thread that builds the reports), not by the lexer.
    pub(crate) fn phrase(&self, t: &str) -> PhraseMatch {
        phrase::phrase(t)
    }

    /// The frame of the line `t` (trimmed) this token was lexed from, if it is one; `take`s the
    /// lexed frame.
    pub(crate) fn take_frame(&mut self, t: &str) -> Option<Frame> {
        match std::mem::take(&mut self.payload) {
            Payload::Frame(f) => f
                .to_frame(t)
                .or_else(|| f.parts(t).map(FrameParts::to_frame))
                .or_else(|| parse_frame(t)),
            other => {
                self.payload = other;
                if self.early {
                    parse_frame(t)
                } else {
                    None
                }
            }
        }
    }

    /// The held-lock heading of the line `t`, if it is one.
    pub(crate) fn held_heading(&self, t: &str) -> Option<(u32, String, Option<u32>)> {
        match &self.payload {
            Payload::HeldHeading(h) => Some((h.0, h.1.clone(), h.2)),
            _ if self.early => parse_held_heading(t),
            _ => None,
        }
    }

    /// The held-lock entry of the line `t`, if it is one, borrowed from the token when the lexer
    /// read it.
    pub(crate) fn held_entry_ref(&self, t: &str) -> HeldRef<'_> {
        match &self.payload {
            Payload::HeldEntry(i, l) => HeldRef::Borrowed(*i, l.as_deref()),
            _ if self.early => HeldRef::parse(t),
            _ => HeldRef::None,
        }
    }

    /// The held-lock entry of the line `t`, if it is one.
    pub(crate) fn take_held_entry(&mut self, t: &str) -> Option<(u32, Option<LockLine>)> {
        match std::mem::take(&mut self.payload) {
            Payload::HeldEntry(i, l) => Some((i, l.map(|l| *l))),
            other => {
                self.payload = other;
                if self.early {
                    parse_held_entry(t)
                } else {
                    None
                }
            }
        }
    }
}

/// A line's held-lock entry (index and lock), borrowed from its token or parsed from the line.
pub(crate) enum HeldRef<'a> {
    /// The line is not a held-lock entry.
    None,
    /// The entry the lexer read.
    Borrowed(u32, Option<&'a LockLine>),
    /// The entry parsed from the line.
    Parsed(u32, Option<Box<LockLine>>),
}

impl HeldRef<'_> {
    /// The held-lock entry of the line `t`, parsed.
    pub(crate) fn parse(t: &str) -> Self {
        match parse_held_entry(t) {
            Some((i, l)) => HeldRef::Parsed(i, l.map(Box::new)),
            None => HeldRef::None,
        }
    }

    /// The index and the lock, if the line is an entry.
    pub(crate) fn get(&self) -> Option<(u32, Option<&LockLine>)> {
        match self {
            HeldRef::None => None,
            HeldRef::Borrowed(i, l) => Some((*i, *l)),
            HeldRef::Parsed(i, l) => Some((*i, l.as_deref())),
        }
    }
}

/// Classifies one line (already stripped of prefixes).
pub(crate) fn classify_line(text: &str) -> LineClass {
    lex(text).class
}

/// Reads one line (already stripped of prefixes): its class, what the parser of its class
/// found (the phrase it says is read by `extract`, [`Token::phrase`]).
pub(crate) fn lex(text: &str) -> Token {
    let t = trim(text);
    let mut task = TaskHint::default();
    lex_class(t, &mut task, true)
}

/// [`lex`] for a line that [`lex_common_frame`] did not take: the frame parser skips the
/// common shape, which it would try first (and fail on) again.
pub(crate) fn lex_uncommon(text: &str) -> Token {
    let t = trim(text);
    let mut task = TaskHint::default();
    lex_class(t, &mut task, false)
}

/// [`lex`] for the most common line of a report, a frame of today's kernels
/// (`[? ]sym+0xOFF/0xLEN[ [module]]`, [`frame::common_frame`]), told in one pass; `None` for
/// any other line. Such a line is never a report header, and no earlier class of [`lex`]
/// takes it (each of them needs a space, `:`, `#`, `<` or a first byte a symbol lacks), so a
/// line this returns `None` for is lexed by [`lex_uncommon`].
pub(crate) fn lex_common_frame(text: &str) -> Option<Token> {
    let t = trim(text);
    let parts = frame::common_frame(t)?;
    Some(match parts.spans(t) {
        Some(spans) => Token::with_payload(LineClass::Frame, Payload::Frame(spans)),
        // As `lex` has it (a line of 4 GiB): parsed again by `take_frame`.
        None => Token::early(LineClass::Frame),
    })
}

/// The class of a trimmed line, and what the parser of its class found.
/// `common` is false when [`frame::common_frame`] is known not to take the line.
fn lex_class(t: &str, task: &mut TaskHint, common: bool) -> Token {
    if t.is_empty() {
        return Token::early(LineClass::Blank);
    }
    if t.len() >= 5 && t.bytes().all(|b| b == b'=') {
        return Token::early(LineClass::Banner);
    }
    if t.len() >= 4 && t.bytes().all(|b| b == b'-' || b == b' ') {
        return Token::early(LineClass::Dashes);
    }
    if t.starts_with("---[ end ") {
        return Token::early(LineClass::EndTrace);
    }
    if t == "Call Trace:" || t == "Call trace:" || t == "Backtrace:" {
        return Token::early(LineClass::CallTrace);
    }
    if t == "stack backtrace:" {
        return Token::early(LineClass::StackBacktrace);
    }
    if is_bare_address(t) {
        return Token::early(LineClass::Frame);
    }
    if let Some(marker) = is_marker(t) {
        return Token::early(match marker {
            Marker::Open => LineClass::MarkerOpen,
            Marker::TaskClose => LineClass::TaskClose,
            Marker::Close => LineClass::MarkerClose,
        });
    }
    if t == "INFO: lockdep is turned off." {
        return Token::early(LineClass::LockdepOff);
    }
    if (t.starts_with("CPU: ") && t.contains("PID: ")) || DUMP_INFO.matches(t) {
        return Token::early(LineClass::DumpInfo);
    }
    if REGISTERS.matches(t) {
        return Token::early(LineClass::Register);
    }
    if let Some((n, comm, pid)) = parse_held_heading(t) {
        return Token::with_payload(
            LineClass::HeldHeading,
            Payload::HeldHeading(Box::new((n, comm, pid))),
        );
    }
    if let Some((i, lock)) = parse_held_entry(t) {
        return Token::with_payload(
            LineClass::HeldEntry,
            Payload::HeldEntry(i, lock.map(Box::new)),
        );
    }
    let parts = if common {
        frame_parts(t)
    } else {
        frame::uncommon_frame_parts(t)
    };
    if let Some(f) = parts {
        return match f.spans(t) {
            Some(spans) => Token::with_payload(LineClass::Frame, Payload::Frame(spans)),
            // Not expected (the parts are ranges of the line): parsed again by `take_frame`.
            None => Token::early(LineClass::Frame),
        };
    }
    if has_taint(t) {
        return Token::late(LineClass::KernelIdent);
    }
    if t.starts_with("task:") && t.contains(" state:") {
        return Token::late(LineClass::HungTaskLine);
    }
    if t.starts_with("\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\"")
        || t.starts_with("Future hung task reports are suppressed")
        || t == "Blocked by coredump."
        || (t.starts_with("INFO: task ") && t.contains(" blocked on "))
    {
        return Token::late(LineClass::HungBody);
    }
    if t.starts_with("in_atomic(): ")
        || t.starts_with("preempt_count: ")
        || t.starts_with("RCU nest depth: ")
        || t.starts_with("Preemption disabled at:")
        || t.starts_with("Thread overran stack")
    {
        return Token::late(LineClass::SleepBody);
    }
    if t.starts_with("irq event stamp:")
        || t.starts_with("hardirqs last")
        || t.starts_with("softirqs last")
    {
        return Token::late(LineClass::IrqTrace);
    }
    if is_lockdep_body(t, task) || cut_lock_line(t) {
        return Token::late(LineClass::LockdepBody);
    }
    if GENERIC.matches(t) || (t.starts_with("lock: ") && t.contains(".magic: ")) {
        return Token::late(LineClass::GenericBody);
    }
    Token::late(LineClass::Other)
}

/// A phrase searched for in many lines, its searcher built once.
pub(crate) struct Needle(&'static str, OnceLock<memchr::memmem::Finder<'static>>);

impl Needle {
    /// The phrase `text`, its searcher built on first use.
    pub(crate) const fn new(text: &'static str) -> Self {
        Needle(text, OnceLock::new())
    }

    /// The phrase.
    pub(crate) fn text(&self) -> &'static str {
        self.0
    }

    /// Where the phrase starts in `t`, at each of its occurrences that do not overlap, from
    /// the left (as `t.match_indices(phrase)`).
    pub(crate) fn find_all<'t>(&'static self, t: &'t str) -> impl Iterator<Item = usize> + 't {
        let finder = self.1.get_or_init(|| memchr::memmem::Finder::new(self.0));
        finder.find_iter(t.as_bytes())
    }

    /// Where the phrase starts in `t`.
    pub(crate) fn find(&self, t: &str) -> Option<usize> {
        let finder = self.1.get_or_init(|| memchr::memmem::Finder::new(self.0));
        finder.find(t.as_bytes())
    }
}

/// ` --> ` (lockdep's chain of lock names).
static ARROW: Needle = Needle::new(" --> ");

/// The hung-task header's phrases after the task.
static BLOCKED: Needle = Needle::new(" blocked for more than ");
static BLOCKED_IO: Needle = Needle::new(" blocked in I/O wait for more than ");

/// `t.split_once(phrase)`, with the phrase's searcher built once.
fn split_at_phrase<'a>(t: &'a str, p: &Needle) -> Option<(&'a str, &'a str)> {
    let at = p.find(t)?;
    // The phrase is ASCII: both ends are char boundaries.
    Some((&t[..at], &t[at + p.0.len()..]))
}

/// Whether `t` contains the phrase.
fn has_phrase(t: &str, p: &Needle) -> bool {
    p.find(t).is_some()
}

/// `Tainted: ` or `Not tainted` in a line (the kernel's identification after a report's header
/// or in a `CPU:` line): both have `ainted` in them, looked for once.
fn has_taint(t: &str) -> bool {
    static AINTED: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    let finder = AINTED.get_or_init(|| memchr::memmem::Finder::new("ainted"));
    finder.find(t.as_bytes()).is_some() && (t.contains("Tainted: ") || t.contains("Not tainted"))
}

/// A table of phrases, searched without a comparison per row: a table of prefixes by the
/// rows that start with the text's first byte (most lines have none), a table of phrases found
/// anywhere with one automaton. Both are built on first use; the lexer runs every table on
/// every line of every report.
pub(crate) struct Table {
    rows: &'static [&'static str],
    /// Anchored: the rows match at the start of the text only.
    prefix: bool,
    matcher: OnceLock<Matcher>,
}

enum Matcher {
    /// For each first byte, the rows that start with it, each with its first eight bytes
    /// ([`Head`]).
    ByFirstByte(Vec<Vec<(Head, &'static str)>>),
    Automaton(AhoCorasick),
    /// The plain search (an automaton that could not be built: never for these tables).
    Plain,
}

/// The first eight bytes of a text (zeros after a shorter one) as a number, and the mask of
/// those it has: a row is compared with a text's head in one step, and byte by byte only
/// beyond it (many rows of a bucket share their first bytes: `__raw_`, `__mutex_`).
#[derive(Clone, Copy)]
struct Head {
    bytes: u64,
    mask: u64,
}

impl Head {
    fn of(b: &[u8]) -> Head {
        if let Some(&word) = b.first_chunk::<8>() {
            return Head {
                bytes: u64::from_le_bytes(word),
                mask: u64::MAX,
            };
        }
        // Shorter than eight bytes: the others are zeros, and out of the mask.
        let bytes = b
            .iter()
            .rev()
            .fold(0u64, |word, &byte| (word << 8) | u64::from(byte));
        Head {
            bytes,
            mask: u64::MAX.checked_shr(64 - 8 * b.len() as u32).unwrap_or(0),
        }
    }

    /// Whether a text of head `text` (`Head::of` its bytes) starts with this head's bytes.
    fn starts(&self, text: u64) -> bool {
        text & self.mask == self.bytes
    }
}

impl Table {
    pub(crate) const fn prefixes(rows: &'static [&'static str]) -> Self {
        Table {
            rows,
            prefix: true,
            matcher: OnceLock::new(),
        }
    }

    pub(crate) const fn phrases(rows: &'static [&'static str]) -> Self {
        Table {
            rows,
            prefix: false,
            matcher: OnceLock::new(),
        }
    }

    fn build(&self) -> Matcher {
        if self.prefix {
            let mut by_byte = vec![Vec::new(); 256];
            for row in self.rows {
                let head = Head::of(row.as_bytes());
                if let Some(&b) = row.as_bytes().first() {
                    by_byte[usize::from(b)].push((head, *row));
                } else {
                    // An empty prefix matches everything: every bucket gets it.
                    by_byte.iter_mut().for_each(|rows| rows.push((head, *row)));
                }
            }
            return Matcher::ByFirstByte(by_byte);
        }
        AhoCorasick::builder()
            .start_kind(StartKind::Unanchored)
            .build(self.rows)
            .map_or(Matcher::Plain, Matcher::Automaton)
    }

    /// Whether `t` starts with (prefixes) or contains (phrases) a row.
    pub(crate) fn matches(&self, t: &str) -> bool {
        match self.matcher.get_or_init(|| self.build()) {
            Matcher::ByFirstByte(by_byte) => {
                let Some(&first) = t.as_bytes().first() else {
                    return self.rows.contains(&"");
                };
                // The first eight bytes at once: a bucket's rows often share the first ones.
                let rows = &by_byte[usize::from(first)];
                if rows.is_empty() {
                    return false; // most lines
                }
                let b = t.as_bytes();
                let text = Head::of(b).bytes;
                rows.iter().any(|(head, p)| {
                    let p = p.as_bytes();
                    p.len() <= b.len() && head.starts(text) && (p.len() <= 8 || b.starts_with(p))
                })
            }
            Matcher::Automaton(ac) => ac.is_match(t),
            Matcher::Plain if self.prefix => self.rows.iter().any(|p| t.starts_with(p)),
            Matcher::Plain => self.rows.iter().any(|p| t.contains(p)),
        }
    }
}

static DUMP_INFO: Table = Table::prefixes(DUMP_INFO_PREFIXES);
static REGISTERS: Table = Table::prefixes(REGISTER_PREFIXES);
static GENERIC: Table = Table::prefixes(GENERIC_PREFIXES);
static LOCKDEP: Table = Table::prefixes(LOCKDEP_PREFIXES);
static LOCKDEP_TASK: Table = Table::phrases(LOCKDEP_TASK_PHRASES);
/// A stack marker line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    /// `<TASK>`, `<IRQ>`, `<NMI>`, `<#DF>`, ...
    Open,
    /// `</TASK>`: the end of an x86 stack dump.
    TaskClose,
    /// `</IRQ>` and other closing markers.
    Close,
}

/// Recognises stack markers; `<Interrupt>` (scenario tables) is not one.
fn is_marker(t: &str) -> Option<Marker> {
    let inner = t.strip_prefix('<')?.strip_suffix('>')?;
    let (closing, name) = match inner.strip_prefix('/') {
        Some(n) => (true, n),
        None => (false, inner),
    };
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'#' || b == b'_');
    match (ok, closing) {
        (false, _) => None,
        (true, false) => Some(Marker::Open),
        (true, true) if name == "TASK" => Some(Marker::TaskClose),
        (true, true) => Some(Marker::Close),
    }
}

/// True for the fixed lines and lock lines that lockdep's report bodies consist of.
fn is_lockdep_body(t: &str, task: &mut TaskHint) -> bool {
    if LOCKDEP.matches(t) {
        return true;
    }
    if task.get(t) && LOCKDEP_TASK.matches(t) {
        return true;
    }
    if t == "..." || t == "}" || has_phrase(t, &ARROW) {
        return true;
    }
    if is_lock_line(t) || lock_desc_parts(t).is_some() {
        return true;
    }
    // "{SOFTIRQ-ON-W} state was registered at:", "IN-HARDIRQ-W at:", "to a HARDIRQ-irq-unsafe
    // lock:", " and HARDIRQ-irq-unsafe lock:".
    if t.ends_with(" state was registered at:") {
        return true;
    }
    if t.ends_with(" at:") && is_usage_label(&t[..t.len() - 4]) {
        return true;
    }
    if (t.starts_with("to a ") || t.starts_with("and ")) && t.ends_with("lock:") {
        return true;
    }
    // Suspicious RCU usage: "include/linux/rcupdate.h:409 Illegal context switch ...!".
    is_rcu_message(t)
}

/// `IN-HARDIRQ-W`, `HARDIRQ-ON-R`, `INITIAL USE`, `INITIAL READ USE`.
fn is_usage_label(s: &str) -> bool {
    s.starts_with("INITIAL ")
        || (s.contains('-')
            && s.len() <= 24
            && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'-'))
}

/// `FILE:LINE MESSAGE!` as printed by `lockdep_rcu_suspicious()`.
pub(crate) fn is_rcu_message(t: &str) -> bool {
    if !t.ends_with('!') {
        return false;
    }
    let Some((loc, msg)) = t.split_once(' ') else {
        return false;
    };
    let Some((file, line)) = loc.rsplit_once(':') else {
        return false;
    };
    file.contains('.')
        && !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
        && msg.ends_with('!')
}

/// The comm of a hung-task header `INFO: task COMM:PID blocked for more than N seconds.`.
pub(crate) fn hung_header_task(header: &str) -> Option<(String, u32, u64)> {
    let t = unbracket(trim(header));
    let rest = t.strip_prefix("INFO: task ")?;
    // Newer kernels tell a task waiting for I/O apart: `blocked in I/O wait for more than`.
    let (task, rest) =
        split_at_phrase(rest, &BLOCKED).or_else(|| split_at_phrase(rest, &BLOCKED_IO))?;
    let (comm, pid) = task.rsplit_once(':')?;
    let pid = pid.parse().ok()?;
    let secs = rest.split(' ').next()?.parse().ok()?;
    Some((comm.to_string(), pid, secs))
}

/// The kernel lines that print a task's comm first in the line or after a fixed phrase (the
/// hung-task header and blocker line, `sched_show_task()`'s `task:` line, a held-lock list's
/// heading), when `t` (trimmed) may be the first half of one cut by a newline in the comm: the
/// console prints each line of a record on a line of its own (`INFO: task worker` /
/// `2:288 blocked for more than 122 seconds.` for the comm `worker\n2`).
pub(crate) fn may_start_split_comm(t: &str) -> bool {
    let heading = |t: &str| {
        let count = t.bytes().take_while(u8::is_ascii_digit).count();
        let rest = &t[count..];
        let prefix = if count == 0 {
            "locks held by "
        } else if rest.starts_with(" locks ") {
            " locks held by "
        } else {
            " lock held by "
        };
        rest.starts_with(prefix) && parse_held_heading(t).is_none()
    };
    match t.as_bytes().first() {
        Some(b'I') => t.starts_with("INFO: task ") && !t.contains(" blocked"),
        Some(b't') => t.starts_with("task:") && !t.contains(" state:"),
        Some(b'l' | b'0'..=b'9') => heading(t),
        _ => false,
    }
}

/// The line that `first` ([`may_start_split_comm`]) and `next` make when `next` finishes it:
/// the two halves of the comm joined by `\x0a`, the way the kernel escapes a newline in a record
/// (`/dev/kmsg`, so that `dmesg` shows the same comm), when the joined line reads as the line
/// `first` began; `None` otherwise.
pub(crate) fn join_split_comm(first: &str, next: &str) -> Option<String> {
    let first = first.trim_start();
    let next = next.trim_end();
    if next.is_empty() {
        return None;
    }
    let joined = format!("{first}\\x0a{next}");
    let t = trim(&joined);
    let ok = hung_header_task(t).is_some()
        || blocker::parse_blocker(t).is_some()
        || (t.starts_with("task:") && t.contains(" state:"))
        || parse_held_heading(t).is_some();
    ok.then_some(joined)
}

/// Old kernels' `sched_show_task()` line: `COMM  D ffff88003fc13780     0   123      2 0x0`.
pub(crate) fn is_old_task_line(header: &str, line: &str) -> bool {
    hung_header_task(header).is_some_and(|(comm, _, _)| is_old_task_line_of(&comm, line))
}

/// [`is_old_task_line`] for the task `comm` of the header.
pub(crate) fn is_old_task_line_of(comm: &str, line: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix(comm) else {
        return false;
    };
    let mut tokens = rest.split_whitespace();
    let state_ok = tokens
        .next()
        .is_some_and(|s| s.len() == 1 && "RSDTtXZPIWK".contains(s));
    state_ok
        && rest.starts_with(' ')
        && tokens.all(|t| t.bytes().all(|b| b.is_ascii_hexdigit() || b == b'x'))
}

/// `[<c013ca52>]` (or `? [<...>]`) alone: the address of a frame whose symbol was wrapped.
pub(crate) fn is_bare_address(t: &str) -> bool {
    if !matches!(first_byte(t), Some(b'?' | b'[' | 0x80..)) {
        return false;
    }
    let t = trim(t);
    let t = t.strip_prefix("? ").unwrap_or(t);
    t.strip_prefix("[<")
        .and_then(|r| r.strip_suffix(">]"))
        .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// How far a `print_lock()` line got. Lockdep prints it in `KERN_CONT` pieces (`ADDR`, ` (`,
/// the name, `){USAGE}-{O:I}`, `, at: SITE`; a held lock has ` #I: ` first), and a message from
/// another CPU can cut it after any of them: the rest then comes on a later line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LockLineStage {
    /// `ADDR` alone.
    Address,
    /// `ADDR (`, `ADDR (NAME`: the name may still go on.
    Name,
    /// `ADDR (NAME){USAGE}-{O:I}`: the `at:` site is missing.
    Usage,
    /// The whole line.
    Site,
}

/// The [`LockLineStage`] of a line that starts like a `print_lock()` line with an address (as
/// every kernel since 4.15 prints it), or `None` for any other line.
pub(crate) fn lock_line_stage(t: &str) -> Option<LockLineStage> {
    // A held lock's `#`, or the address's first hex digit (most lines are rejected here).
    if !matches!(
        first_byte(t),
        Some(b'#' | b'0'..=b'9' | b'a'..=b'f' | 0x80..)
    ) {
        return None;
    }
    let t = trim(split_held_index(t).map_or(t, |(_, rest)| rest));
    // The address: lowercase hex up to the first space (checked before the space is sought).
    let hex = t
        .bytes()
        .take(17)
        .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        .count();
    if !(8..=16).contains(&hex) || !matches!(t.as_bytes().get(hex), None | Some(b' ')) {
        return None;
    }
    let (address, rest) = t.split_once(' ').unwrap_or((t, ""));
    if !is_address(address) {
        return None;
    }
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Some(LockLineStage::Address);
    }
    let name = rest.strip_prefix('(')?;
    match lock_desc_parts(rest) {
        None => (!name.contains("){")).then_some(LockLineStage::Name),
        Some(parts) => match trim(parts.rest) {
            "" | ", at:" => Some(LockLineStage::Usage),
            a if a.starts_with(", at: ") => Some(LockLineStage::Site),
            _ => None,
        },
    }
}

/// A lock line cut in the middle ([`LockLineStage`]): its rest may come on a later line.
pub(crate) fn cut_lock_line(t: &str) -> bool {
    lock_line_stage(t).is_some_and(|s| s < LockLineStage::Site)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_tables_match_as_starts_with() {
        static ROWS: &[&str] = &[
            "__raw_spin_",
            "__raw_",
            "__up",
            "_",
            "ab",
            "abcdefgh",
            "abcdefghij",
            "é",
        ];
        static TABLE: Table = Table::prefixes(ROWS);
        static EMPTY: Table = Table::prefixes(&["", "x"]);
        let texts = [
            "",
            "_",
            "__",
            "__up",
            "__upx",
            "__raw",
            "__raw_spin_lock",
            "a",
            "ab",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "abcdefghij",
            "abcdefghijk",
            "é",
            "éa",
            "e",
            "\0",
        ];
        for t in texts {
            let want = ROWS.iter().any(|r| t.starts_with(r));
            assert_eq!(TABLE.matches(t), want, "{t:?}");
            assert!(EMPTY.matches(t), "{t:?}");
        }
    }

    #[test]
    fn headers() {
        let h = classify_header("WARNING: possible circular locking dependency detected").unwrap();
        assert_eq!(h.kind, ReportKind::CircularDependency);
        let h = classify_header("[ INFO: possible circular locking dependency detected ]").unwrap();
        assert_eq!(h.kind, ReportKind::CircularDependency);
        let h =
            classify_header("INFO: task deadlock_a:42 blocked for more than 2 seconds.").unwrap();
        assert_eq!(h.kind, ReportKind::HungTask);
        let h =
            classify_header("WARNING: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected").unwrap();
        assert_eq!(h.kind, ReportKind::IrqLockInversion);
        let h = classify_header("WARNING: insmod/99 still has locks held!").unwrap();
        assert_eq!(h.kind, ReportKind::LockHeldAtExit);
        let h = classify_header("BUG: kernel NULL pointer dereference, address: 0").unwrap();
        assert_eq!((h.kind, h.strong), (ReportKind::Generic, false));
        let h = classify_header("watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [a:1]").unwrap();
        assert_eq!((h.kind, h.strong), (ReportKind::SoftLockup, true));
        let h = classify_header("NMI watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [a:1]");
        assert_eq!(h.map(|h| h.kind), Some(ReportKind::SoftLockup));
        for (line, cpu, by) in [
            ("watchdog: Watchdog detected hard LOCKUP on cpu 1", 1, None),
            (
                "watchdog: CPU0: Watchdog detected hard LOCKUP on cpu 1",
                1,
                Some(0),
            ),
            (
                "NMI watchdog: Watchdog detected hard LOCKUP on cpu 27",
                27,
                None,
            ),
        ] {
            let h = classify_header(line).unwrap();
            assert_eq!((h.kind, h.strong), (ReportKind::HardLockup, true), "{line}");
            let t = line.strip_prefix("NMI watchdog: ").unwrap_or(line);
            assert_eq!(parse_hard_lockup_header(t), Some((cpu, by)), "{line}");
        }
        // A panic that quotes it stays a panic.
        let panic = "Kernel panic - not syncing: Watchdog detected hard LOCKUP on cpu 0";
        assert_eq!(classify_header(panic).unwrap().kind, ReportKind::Generic);
        // Without its `[comm:pid]` (a header quoted in a commit message): still a soft lockup.
        let h = classify_header("BUG: soft lockup - CPU#0 stuck for 22s!").unwrap();
        assert_eq!((h.kind, h.strong), (ReportKind::SoftLockup, true));
        // Newer kernels: a task in I/O wait (the header as a public report quotes it).
        let io = "INFO: task virtme-ng-init:1 blocked in I/O wait for more than 122 seconds.";
        assert_eq!(
            classify_header(io).map(|h| h.kind),
            Some(ReportKind::HungTask)
        );
        assert_eq!(
            hung_header_task(io),
            Some(("virtme-ng-init".to_string(), 1, 122))
        );
        assert!(classify_header("INFO: lockdep is turned off.").is_none());
        assert!(classify_header("lab: exit 0").is_none());
    }

    #[test]
    fn soft_lockup_header() {
        assert_eq!(
            parse_soft_lockup("soft lockup - CPU#1 stuck for 3s! [spinner_b:51]"),
            Some((1, 3, "spinner_b".to_string(), 51))
        );
        assert_eq!(
            parse_soft_lockup("soft lockup - CPU#1 stuck for 34s! [kworker/1:3:3315742]"),
            Some((1, 34, "kworker/1:3".to_string(), 3315742))
        );
        assert_eq!(
            parse_soft_lockup("soft lockup - CPU#1 stuck for 3s! [:51]"),
            None
        );
        assert_eq!(
            parse_soft_lockup("soft lockup - CPU#x stuck for 3s! [a:1]"),
            None
        );
    }

    #[test]
    fn line_classes() {
        assert_eq!(classify_line(" <TASK>"), LineClass::MarkerOpen);
        assert_eq!(classify_line(" </TASK>"), LineClass::TaskClose);
        assert_eq!(classify_line(" </IRQ>"), LineClass::MarkerClose);
        assert_eq!(classify_line("  <Interrupt>"), LineClass::LockdepBody);
        assert_eq!(
            classify_line("       CPU0                    CPU1"),
            LineClass::LockdepBody
        );
        assert_eq!(
            classify_line("       ----                    ----"),
            LineClass::Dashes
        );
        assert_eq!(
            classify_line("input: ImExPS/2 Generic Explorer Mouse as /devices"),
            LineClass::Other
        );
        assert_eq!(classify_line("lab: state deadlock_a D"), LineClass::Other);
        assert_eq!(
            classify_line("include/linux/rcupdate.h:409 Illegal context switch in RCU read-side critical section!"),
            LineClass::LockdepBody
        );
        assert_eq!(classify_line("IN-SOFTIRQ-W at:"), LineClass::LockdepBody);
    }
}
