//! Finding reports in a stream of log lines.
//!
//! A report starts at a header line (`WARNING: possible circular locking dependency detected`,
//! `INFO: task x:1 blocked for more than 2 seconds.`, `BUG: ...`). Its body is recognised
//! line by line against the shapes the kernel's print code produces (lockdep's fixed phrases,
//! lock descriptions, held-lock lists, stack frames, `dump_stack()` output, registers...).
//! Lines that do not fit are *foreign*: a shell prompt, `lab: ...` lines or other kernel
//! messages printed in between. They are skipped, and the report stays open, so a report that
//! is interleaved with other output is still collected whole.
//!
//! Several reports can be open at once (two CPUs printing concurrently). A line is offered to
//! the most recently started open report first. When lines carry printk caller ids
//! (`[  T43]`), a line is only offered to reports started by the same caller, which separates
//! interleaved reports exactly.
//!
//! A report ends when its natural end is seen (`</TASK>` closing the final stack dump,
//! `---[ end trace ... ]---`, the `=====` after a lock dump), when it has reached a point where
//! it may end (a stack dump without `<TASK>` markers, a held-lock list at the end of
//! "lock held when returning to user space") and foreign lines follow, when a new report
//! starts from the same caller, or when too many foreign lines pass. A report that ends
//! without reaching its natural end is marked truncated.

use crate::frame::parse_frame;
use crate::input::Line;
use crate::lockfmt::{
    is_address, parse_held_entry, parse_held_heading, parse_lock_desc, parse_lock_line,
    split_held_index,
};
use crate::model::ReportKind;

/// Foreign lines tolerated by a report that may already have ended.
const SOFT_END_TOLERANCE: usize = 3;
/// Foreign lines tolerated by a report in the middle of its body.
const BODY_TOLERANCE: usize = 200;
/// Reports open at once; the oldest is closed (truncated) beyond this.
const MAX_OPEN: usize = 16;
/// Lines in one report; further lines close it (protects against pathological input).
const MAX_LINES: usize = 20_000;
/// Foreign lines that may come between a lock line cut in the middle of its name and its rest.
const CUT_TOLERANCE: usize = 8;

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
    ("Invalid wait context", ReportKind::Generic),
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
    let t = unbracket(text.trim());
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
    let t = match t.split_once(": ") {
        Some((word, rest))
            if !word.is_empty()
                && word.len() <= 16
                && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                && (rest.starts_with("BUG:") || rest.starts_with("INFO:")) =>
        {
            rest
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
        if t.starts_with("WARNING: ")
            && body.ends_with(" still has locks held!")
            && !body.starts_with("CPU: ")
        {
            return strong(ReportKind::LockHeldAtExit, Family::Lockdep);
        }
        if body.starts_with("sleeping function called from invalid context") {
            return strong(ReportKind::SleepInAtomic, Family::Sleep);
        }
        if t.starts_with("BUG: ") && parse_soft_lockup(body).is_some() {
            // Registers and a stack dump follow, like an Oops.
            return strong(ReportKind::SoftLockup, Family::Generic);
        }
        // "blocked for more" alone: the header of a report wrapped by a mail client.
        if t.starts_with("INFO: task ")
            && (body.contains(" blocked for more than ") || body.ends_with(" blocked for more"))
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
    if GENERIC_STARTS.iter().any(|p| t.starts_with(p)) {
        return Some(Header {
            kind: ReportKind::Generic,
            family: Family::Generic,
            strong: false,
        });
    }
    None
}

/// What the soft-lockup detector's header says after `BUG: ` (kernel/watchdog.c):
/// `soft lockup - CPU#%d stuck for %us! [%s:%d]` -> (CPU, seconds, comm, pid).
pub(crate) fn parse_soft_lockup(body: &str) -> Option<(u32, u64, String, u32)> {
    let rest = body.strip_prefix("soft lockup - CPU#")?;
    let (cpu, rest) = rest.split_once(" stuck for ")?;
    let (seconds, task) = rest.split_once("s! [")?;
    let (comm, pid) = task.trim_end().strip_suffix(']')?.rsplit_once(':')?;
    if comm.is_empty() {
        return None;
    }
    Some((
        cpu.parse().ok()?,
        seconds.parse().ok()?,
        comm.to_string(),
        pid.parse().ok()?,
    ))
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

/// Classifies one line (already stripped of prefixes).
pub(crate) fn classify_line(text: &str) -> LineClass {
    let t = text.trim();
    if t.is_empty() {
        return LineClass::Blank;
    }
    if t.len() >= 5 && t.bytes().all(|b| b == b'=') {
        return LineClass::Banner;
    }
    if t.len() >= 4 && t.bytes().all(|b| b == b'-' || b == b' ') {
        return LineClass::Dashes;
    }
    if t.starts_with("---[ end ") {
        return LineClass::EndTrace;
    }
    if t == "Call Trace:" || t == "Call trace:" || t == "Backtrace:" {
        return LineClass::CallTrace;
    }
    if t == "stack backtrace:" {
        return LineClass::StackBacktrace;
    }
    if is_bare_address(t) {
        return LineClass::Frame;
    }
    if let Some(marker) = is_marker(t) {
        return match marker {
            Marker::Open => LineClass::MarkerOpen,
            Marker::TaskClose => LineClass::TaskClose,
            Marker::Close => LineClass::MarkerClose,
        };
    }
    if t == "INFO: lockdep is turned off." {
        return LineClass::LockdepOff;
    }
    if (t.starts_with("CPU: ") && t.contains("PID: ")) || starts_with_any(t, DUMP_INFO_PREFIXES) {
        return LineClass::DumpInfo;
    }
    if starts_with_any(t, REGISTER_PREFIXES) {
        return LineClass::Register;
    }
    if parse_held_heading(t).is_some() {
        return LineClass::HeldHeading;
    }
    if parse_held_entry(t).is_some() {
        return LineClass::HeldEntry;
    }
    if parse_frame(t).is_some() {
        return LineClass::Frame;
    }
    if t.contains("Tainted: ") || t.contains("Not tainted") {
        return LineClass::KernelIdent;
    }
    if t.starts_with("task:") && t.contains(" state:") {
        return LineClass::HungTaskLine;
    }
    if t.starts_with("\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\"")
        || t.starts_with("Future hung task reports are suppressed")
        || (t.starts_with("INFO: task ") && t.contains(" blocked on "))
    {
        return LineClass::HungBody;
    }
    if t.starts_with("in_atomic(): ")
        || t.starts_with("preempt_count: ")
        || t.starts_with("RCU nest depth: ")
        || t.starts_with("Preemption disabled at:")
        || t.starts_with("Thread overran stack")
    {
        return LineClass::SleepBody;
    }
    if t.starts_with("irq event stamp:")
        || t.starts_with("hardirqs last")
        || t.starts_with("softirqs last")
    {
        return LineClass::IrqTrace;
    }
    if is_lockdep_body(t) || cut_lock_line(t) {
        return LineClass::LockdepBody;
    }
    if starts_with_any(t, GENERIC_PREFIXES) {
        return LineClass::GenericBody;
    }
    LineClass::Other
}

fn starts_with_any(t: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| t.starts_with(p))
}

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
fn is_lockdep_body(t: &str) -> bool {
    if starts_with_any(t, LOCKDEP_PREFIXES) {
        return true;
    }
    if LOCKDEP_TASK_PHRASES.iter().any(|p| t.contains(p)) {
        return true;
    }
    if t == "..." || t == "}" || t.contains(" --> ") {
        return true;
    }
    if parse_lock_line(t).is_some() || parse_lock_desc(t).is_some() {
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

/// A report under construction.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub kind: ReportKind,
    pub family: Family,
    pub header: String,
    pub caller: Option<String>,
    /// (1-based line number, text) of every line taken, header first.
    pub lines: Vec<(usize, String)>,
    /// The natural end was seen: nothing more belongs to this report.
    pub terminated: bool,
    /// The report may end here (later whitelisted lines are still taken).
    pub soft_end: bool,
    /// Consecutive foreign lines seen since the last line taken.
    foreign_run: usize,
    /// In the final stack dump (after `stack backtrace:` / `Call Trace:`).
    in_dump: bool,
    /// Frames seen in the final stack dump.
    dump_frames: usize,
    /// `</TASK>` seen.
    task_closed: bool,
    /// A stack marker (`<TASK>`, `<IRQ>`) was seen in the final dump: the dump then ends at
    /// `</TASK>`, not at its last frame.
    markers: bool,
    /// An `Oops:` line was taken.
    seen_oops: bool,
    /// The report was closed before its natural end for a reason other than end of input.
    pub abandoned: bool,
    /// Hung-task reports: the blocker line and holder stack after the task's own stack.
    tail: crate::waitfor::Tail,
}

impl Segment {
    fn new(header: &Header, line: &Line) -> Self {
        Segment {
            kind: header.kind,
            family: header.family,
            header: line.text.trim().to_string(),
            caller: line.caller.map(str::to_string),
            lines: vec![(line.number, line.text.to_string())],
            terminated: false,
            soft_end: false,
            foreign_run: 0,
            in_dump: false,
            dump_frames: 0,
            task_closed: false,
            markers: false,
            seen_oops: line.text.trim_start().starts_with("Oops"),
            abandoned: false,
            tail: crate::waitfor::Tail::default(),
        }
    }

    /// True when the report reached a point where it can end.
    pub fn complete(&self) -> bool {
        self.terminated || self.soft_end
    }

    fn compatible(&self, caller: Option<&str>) -> bool {
        match (&self.caller, caller) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }

    /// Offers a line to the report; returns true when it was taken.
    fn offer(&mut self, line: &Line, class: LineClass) -> bool {
        if self.lines.len() >= MAX_LINES {
            self.abandoned = !self.complete();
            self.terminated = true;
            return false;
        }
        let take = match self.family {
            Family::LockDump => self.offer_lockdump(class),
            Family::Hung => self.offer_hung(class, line.text),
            Family::Lockdep | Family::Sleep | Family::Generic => self.offer_report(class, line),
        };
        if take {
            self.lines.push((line.number, line.text.to_string()));
            // A blank line neither proves nor disproves that the report goes on.
            if class != LineClass::Blank {
                self.foreign_run = 0;
            }
        }
        take
    }

    fn offer_lockdump(&mut self, class: LineClass) -> bool {
        match class {
            LineClass::Blank | LineClass::HeldEntry => true,
            LineClass::LockdepBody => true,
            LineClass::HeldHeading => {
                self.soft_end = true;
                true
            }
            LineClass::Banner => {
                self.terminated = true;
                true
            }
            _ => false,
        }
    }

    fn offer_hung(&mut self, class: LineClass, text: &str) -> bool {
        // After the task's own stack (`</TASK>`, or frames without markers): its blocker line
        // and the holder's stack.
        if (self.task_closed || (self.dump_frames > 0 && !self.markers))
            && crate::waitfor::offer_tail(&mut self.tail, &self.header, class, text)
        {
            self.task_closed = true;
            self.soft_end = true;
            return true;
        }
        if self.task_closed {
            // After the stack: only "INFO: lockdep is turned off." belongs to us.
            if class == LineClass::LockdepOff {
                self.terminated = true;
                return true;
            }
            return false;
        }
        match class {
            LineClass::KernelIdent | LineClass::HungBody | LineClass::DumpInfo => {
                !self.in_dump || self.dump_frames == 0
            }
            LineClass::HungTaskLine => !self.in_dump,
            LineClass::CallTrace => {
                if self.in_dump {
                    return false;
                }
                self.in_dump = true;
                true
            }
            LineClass::Frame => {
                if self.in_dump {
                    self.dump_frames += 1;
                    self.soft_end |= !self.markers;
                }
                self.in_dump
            }
            LineClass::MarkerOpen => {
                self.markers |= self.in_dump;
                self.in_dump
            }
            LineClass::MarkerClose | LineClass::Register => self.in_dump,
            LineClass::TaskClose => {
                self.task_closed = true;
                self.soft_end = true;
                self.in_dump
            }
            LineClass::LockdepOff => {
                self.terminated = true;
                true
            }
            LineClass::Other => {
                // Old kernels: "comm            D ffff88003fc13780     0   123      2 0x0".
                !self.in_dump && self.lines.len() <= 4 && is_old_task_line(&self.header, text)
            }
            _ => false,
        }
    }

    fn offer_report(&mut self, class: LineClass, line: &Line) -> bool {
        let generic = self.family == Family::Generic;
        if generic && !self.task_closed && same_warning_site(&self.header, line.text) {
            // 6.18+ prints one WARNING line per inlined frame of the same site.
            return true;
        }
        if self.task_closed {
            // After "</TASK>": lockdep and sleep reports are over; an Oops goes on with
            // "Modules linked in:", registers and "---[ end trace ]---".
            if !generic {
                return false;
            }
            return match class {
                LineClass::EndTrace => {
                    self.terminated = true;
                    true
                }
                LineClass::Register | LineClass::Blank | LineClass::IrqTrace => true,
                LineClass::GenericBody => !line.text.trim_start().starts_with("Oops"),
                _ => false,
            };
        }
        match class {
            LineClass::Blank
            | LineClass::Banner
            | LineClass::Dashes
            | LineClass::KernelIdent
            | LineClass::LockdepOff
            | LineClass::HeldEntry
            | LineClass::LockdepBody
            | LineClass::IrqTrace
            | LineClass::SleepBody => true,
            LineClass::HeldHeading => {
                if self.kind == ReportKind::LockHeldAtExit
                    && self.header.contains("returning to user space")
                {
                    self.soft_end = true;
                }
                true
            }
            LineClass::StackBacktrace => {
                if self.in_dump && self.dump_frames > 0 {
                    return false;
                }
                self.in_dump = true;
                true
            }
            LineClass::CallTrace => {
                if self.in_dump && self.dump_frames > 0 {
                    return false;
                }
                self.in_dump = true;
                true
            }
            LineClass::DumpInfo => !(self.in_dump && self.dump_frames > 0),
            LineClass::Frame => {
                if self.in_dump {
                    self.dump_frames += 1;
                    self.soft_end |= !self.markers;
                }
                true
            }
            LineClass::MarkerOpen => {
                self.markers |= self.in_dump;
                true
            }
            LineClass::MarkerClose | LineClass::Register => true,
            LineClass::TaskClose => {
                self.task_closed = true;
                if generic {
                    self.soft_end = true;
                } else {
                    self.terminated = true;
                }
                true
            }
            LineClass::EndTrace => {
                self.terminated = true;
                generic
            }
            LineClass::GenericBody => {
                if !generic {
                    return false;
                }
                if line.text.trim_start().starts_with("Oops") {
                    if self.seen_oops {
                        return false;
                    }
                    self.seen_oops = true;
                }
                true
            }
            LineClass::HungBody | LineClass::HungTaskLine | LineClass::Other => false,
        }
    }
}

/// `WARNING: FILE:LINE at ...` lines of the same FILE:LINE (the 6.18+ format).
fn same_warning_site(header: &str, line: &str) -> bool {
    let site = |t: &str| {
        t.trim()
            .strip_prefix("WARNING: ")
            .and_then(|r| r.split_once(" at "))
            .map(|(loc, _)| loc.to_string())
            .filter(|loc| !loc.contains(' ') && loc.contains(':'))
    };
    matches!((site(header), site(line)), (Some(a), Some(b)) if a == b)
}

/// The comm of a hung-task header `INFO: task COMM:PID blocked for more than N seconds.`.
pub(crate) fn hung_header_task(header: &str) -> Option<(String, u32, u64)> {
    let t = unbracket(header.trim());
    let rest = t.strip_prefix("INFO: task ")?;
    let (task, rest) = rest.split_once(" blocked for more than ")?;
    let (comm, pid) = task.rsplit_once(':')?;
    let pid = pid.parse().ok()?;
    let secs = rest.split(' ').next()?.parse().ok()?;
    Some((comm.to_string(), pid, secs))
}

/// Old kernels' `sched_show_task()` line: `COMM  D ffff88003fc13780     0   123      2 0x0`.
pub(crate) fn is_old_task_line(header: &str, line: &str) -> bool {
    let Some((comm, _, _)) = hung_header_task(header) else {
        return false;
    };
    let Some(rest) = line.trim_start().strip_prefix(comm.as_str()) else {
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

/// The streaming form of the segmentation: lines go in one at a time ([`Segmenter::push`]),
/// finished segments come out in header order ([`Segmenter::pop_ready`]). At most
/// [`MAX_OPEN`] reports are open at once and each holds at most [`MAX_LINES`] lines, so the
/// memory it holds is bounded whatever the length of the log.
#[derive(Default)]
pub(crate) struct Segmenter {
    open: Vec<Segment>,
    /// Finished segments not yet handed out, sorted by header line.
    done: Vec<Segment>,
    /// The previous line and the index (in `open`) of the report that took it, for joining a
    /// line that a mail client wrapped.
    prev: Option<(String, Option<usize>)>,
    /// Foreign lines seen since `prev`, a lock line cut in the middle ([`cut_lock_line`]).
    cut_skipped: usize,
    /// `finish` was called: everything in `done` is ready.
    finished: bool,
}

impl Segmenter {
    /// Feeds one line.
    pub fn push(&mut self, line: &Line) {
        let prev = self.prev.take();
        if let Some((prev_text, Some(idx))) = &prev {
            if self.try_join(prev_text, *idx, line, self.cut_skipped > 0) {
                self.cut_skipped = 0;
                return;
            }
        }
        // Only a line that a report took can be continued.
        if let Some(taker) = self.push_line(line) {
            self.prev = Some((line.text.to_string(), Some(taker)));
            self.cut_skipped = 0;
        } else if let Some((text, Some(idx))) = prev {
            // A lock line cut by another CPU's message: its rest may still come.
            if cut_lock_line(&text) && self.cut_skipped < CUT_TOLERANCE {
                self.cut_skipped += 1;
                self.prev = Some((text, Some(idx)));
            }
        }
    }

    /// A line that continues the previous one (a mail client wrapped a long kernel line):
    /// appended to it when the report took the previous line and the joined line reads as a
    /// kernel line where the second half alone does not. After other lines came in between
    /// (`after_foreign`), only the rest of a cut lock line is joined.
    fn try_join(&mut self, prev: &str, idx: usize, line: &Line, after_foreign: bool) -> bool {
        let Some(seg) = self.open.get_mut(idx) else {
            return false;
        };
        if seg.terminated || !seg.compatible(line.caller) {
            return false;
        }
        let joined = if after_foreign {
            rejoin_cut_lock_line(prev, line.text)
        } else {
            wrapped_join(prev, line.text)
        };
        let Some(joined) = joined else {
            return false;
        };
        let first = seg.lines.len() == 1;
        if let Some(last) = seg.lines.last_mut() {
            if last.1 == prev {
                last.1.clone_from(&joined);
                if first {
                    seg.header = joined.trim().to_string();
                }
                self.prev = Some((joined, Some(idx)));
                return true;
            }
        }
        false
    }

    /// Offers a line to the open reports or starts one; returns the index of the report that
    /// took the line.
    fn push_line(&mut self, line: &Line) -> Option<usize> {
        let text = line.text;
        let header = if may_be_header(text) {
            classify_header(text)
        } else {
            None
        };
        if let Some(h) = header.as_ref().filter(|h| h.strong) {
            return Some(self.start(h, line));
        }
        if self.open.is_empty() {
            return header.map(|h| self.start(&h, line));
        }
        let class = classify_line(text);
        let mut taken = None;
        for (i, seg) in self.open.iter_mut().enumerate().rev() {
            if seg.terminated || !seg.compatible(line.caller) {
                continue;
            }
            if seg.offer(line, class) {
                taken = Some(i);
                break;
            }
        }
        if taken.is_none() {
            if let Some(h) = header.as_ref() {
                return Some(self.start(h, line));
            }
            for seg in self.open.iter_mut() {
                if seg.compatible(line.caller) {
                    seg.foreign_run += 1;
                    let limit = if seg.complete() {
                        SOFT_END_TOLERANCE
                    } else {
                        BODY_TOLERANCE
                    };
                    if seg.foreign_run > limit {
                        seg.abandoned = !seg.complete();
                        seg.terminated = true;
                    }
                }
            }
        }
        if self.open.iter().any(|s| s.terminated) {
            // Indices shift: the report that took the line is found again by identity.
            let key = taken.map(|i| self.open[i].lines[0].0);
            self.retire();
            return key.and_then(|k| self.open.iter().position(|s| s.lines[0].0 == k));
        }
        taken
    }

    /// Starts a report at a header line, closing reports that it ends; returns its index.
    fn start(&mut self, h: &Header, line: &Line) -> usize {
        for seg in self.open.iter_mut() {
            if seg.complete() && seg.compatible(line.caller) {
                seg.terminated = true;
            } else if seg.caller.is_some() && seg.caller.as_deref() == line.caller {
                // The same context started a new report: the old one was cut off.
                seg.abandoned = true;
                seg.terminated = true;
            }
        }
        self.retire();
        if self.open.len() >= MAX_OPEN {
            let mut oldest = self.open.remove(0);
            oldest.abandoned = !oldest.complete();
            self.insert_done(oldest);
        }
        self.open.push(Segment::new(h, line));
        self.open.len() - 1
    }

    fn retire(&mut self) {
        let mut i = 0;
        while i < self.open.len() {
            if self.open[i].terminated {
                let seg = self.open.remove(i);
                self.insert_done(seg);
            } else {
                i += 1;
            }
        }
    }

    fn insert_done(&mut self, seg: Segment) {
        let key = seg.lines.first().map(|l| l.0).unwrap_or(0);
        let at = self
            .done
            .partition_point(|s| s.lines.first().map(|l| l.0).unwrap_or(0) <= key);
        self.done.insert(at, seg);
    }

    /// Ends the input: every open report is finished.
    pub fn finish(&mut self) {
        for seg in std::mem::take(&mut self.open) {
            self.insert_done(seg);
        }
        self.finished = true;
    }

    /// The next finished segment, in header order, once no open report started before it.
    pub fn pop_ready(&mut self) -> Option<Segment> {
        let first = self.done.first()?.lines.first().map(|l| l.0).unwrap_or(0);
        let blocked = !self.finished
            && self
                .open
                .iter()
                .any(|s| s.lines.first().map(|l| l.0).unwrap_or(0) < first);
        if blocked {
            None
        } else {
            Some(self.done.remove(0))
        }
    }
}

/// Cheap test run on every line before the full header classification: every header
/// contains one of these words.
fn may_be_header(t: &str) -> bool {
    const WORDS: &[&str] = &[
        "BUG",
        "WARNING",
        "INFO:",
        "Oops",
        "protection fault",
        "panic",
        "Unable to handle",
        "UBSAN",
        "error:",
        "opcode",
        "segment",
        "fault",
        "NX-protected",
        "Showing all locks",
    ];
    WORDS.iter().any(|w| t.contains(w))
}

/// The line that `prev` and `next` make when `next` is the continuation of a kernel line
/// that a mail client (or a terminal) wrapped, or `None` when `next` stands on its own.
///
/// Wrapping happens at a space, which the client drops; the joined line puts one back.
/// `next` continues `prev` when `prev` ends in the middle of a lock description (`..., at:`),
/// or when `next` alone is not a kernel line but `prev + next` parses better than `prev`
/// alone (a frame gains its source location, a lock line its `at:` site).
pub(crate) fn wrapped_join(prev: &str, next: &str) -> Option<String> {
    let n = next.trim();
    if n.is_empty() || prev.trim().is_empty() || classify_header(n).is_some() {
        return None;
    }
    if let Some(joined) = join_held_fragments(prev, next) {
        return Some(joined);
    }
    if let Some(joined) = rejoin_cut_lock_line(prev, next) {
        return Some(joined);
    }
    let p = prev.trim_end();
    let joined = format!("{p} {n}");
    if is_bare_address(p) {
        // `[<c013ca52>]` + `generic_file_buffered_write+0x15a/0x53d`
        return Some(joined);
    }
    if p.ends_with(" is freeing memory") {
        // `comm/pid is freeing memory` + `START-END, with a lock still held there!`
        return Some(joined);
    }
    if hung_header_task(p).is_none() && hung_header_task(&joined).is_some() {
        // `INFO: task x:1 blocked for more` + `than 120 seconds.`
        return Some(joined);
    }
    if lock_site_missing(p) {
        // `ADDR (class){..}-{..}, at:` (or `at: [<ADDR>]`) with the site on the next line.
        return Some(joined);
    }
    // ` #0: ADDR` + `(class){..}, at: ...`: a held lock wrapped after its address.
    let held_address_only = matches!(parse_held_entry(p), Some((_, None))) && !p.ends_with(':');
    if classify_line(n) != LineClass::Other && !looks_like_location(n) && !held_address_only {
        return None;
    }
    if parse_quality(&joined) > parse_quality(p) {
        Some(joined)
    } else {
        None
    }
}

/// `[<c013ca52>]` (or `? [<...>]`) alone: the address of a frame whose symbol was wrapped.
pub(crate) fn is_bare_address(t: &str) -> bool {
    let t = t.trim();
    let t = t.strip_prefix("? ").unwrap_or(t);
    t.strip_prefix("[<")
        .and_then(|r| r.strip_suffix(">]"))
        .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A held-lock entry printed in `KERN_CONT` pieces that the console put on separate lines
/// (` #0: ` / `ffffffff8e333e60` / ` (` / `rcu_read_lock` / `){....}-{1:2}` / `, at: ...`),
/// or wrapped by a mail client after its address: the pieces are put back together, without
/// a separator (each piece carries its own spaces) except between an address and `(`.
fn join_held_fragments(prev: &str, next: &str) -> Option<String> {
    let (_, lock) = parse_held_entry(prev.trim())?;
    let after_index = prev.trim().split_once(':').map_or("", |(_, r)| r.trim());
    let n = next.trim();
    let incomplete = match &lock {
        None => {
            !after_index.contains('<')
                && (after_index.is_empty()
                    || is_address(after_index)
                    || after_index.ends_with('(')
                    || (after_index.contains('(') && !after_index.contains("){")))
        }
        Some(l) => l.at.is_none() && l.rest.is_empty() && n.starts_with(", at:"),
    };
    // `#2` alone is the version suffix of a class name (`&of->mutex` `#2`), not an entry.
    let new_record = n.is_empty()
        || (n.starts_with('#') && n.contains(':'))
        || parse_held_heading(n).is_some()
        || classify_header(n).is_some()
        || matches!(
            classify_line(n),
            LineClass::Banner | LineClass::CallTrace | LineClass::StackBacktrace
        );
    if !incomplete || new_record {
        return None;
    }
    let ends_hex = prev.ends_with(|c: char| c.is_ascii_hexdigit());
    let sep = if ends_hex && next.starts_with('(') {
        " "
    } else {
        ""
    };
    Some(format!("{prev}{sep}{next}"))
}

/// A `print_lock()` line (alone or in a held-lock list) whose `at:` site is cut off: it ends
/// in `, at:`, `, at: [<ADDR>]` or, wrapped before the `at:`, in `},`.
fn lock_site_missing(t: &str) -> bool {
    let t = t.trim();
    let cut =
        t.ends_with(", at:") || t.ends_with("},") || (t.ends_with(">]") && t.contains(", at: [<"));
    if !cut {
        return false;
    }
    let line = match parse_held_entry(t) {
        Some((_, l)) => l,
        None => parse_lock_line(t),
    };
    line.is_some_and(|l| l.at.is_none())
}

/// How far a `print_lock()` line got. Lockdep prints it in `KERN_CONT` pieces (`ADDR`, ` (`,
/// the name, `){USAGE}-{O:I}`, `, at: SITE`; a held lock has ` #I: ` first), and a message from
/// another CPU can cut it after any of them: the rest then comes on a later line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum LockLineStage {
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
fn lock_line_stage(t: &str) -> Option<LockLineStage> {
    let t = split_held_index(t).map_or(t, |(_, rest)| rest).trim();
    let (address, rest) = t.split_once(' ').unwrap_or((t, ""));
    if !is_address(address) {
        return None;
    }
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Some(LockLineStage::Address);
    }
    let name = rest.strip_prefix('(')?;
    match parse_lock_desc(rest) {
        None => (!name.contains("){")).then_some(LockLineStage::Name),
        Some((_, after)) => match after.trim() {
            "" | ", at:" => Some(LockLineStage::Usage),
            a if a.starts_with(", at: ") => Some(LockLineStage::Site),
            _ => None,
        },
    }
}

/// A lock line cut in the middle ([`LockLineStage`]): its rest may come on a later line.
fn cut_lock_line(t: &str) -> bool {
    lock_line_stage(t).is_some_and(|s| s < LockLineStage::Site)
}

/// `prev`, a lock line cut in the middle, and `next`, a piece that takes it further: `ADDR (` +
/// `sem_b){+.+.}-{4:4}, at: ...`, `ADDR (sem_a` + `){+.+.}-{4:4}, at: ...`, `ADDR
/// (sem_a){+.+.}-{4:4}` + `, at: ...`, `ADDR` + `(sem_a){...`. The pieces carry their own spacing
/// but for the one between the address and `(`, which the console's line start took. The joined
/// line must reach the usage at least, so that another CPU's message is never glued to it.
fn rejoin_cut_lock_line(prev: &str, next: &str) -> Option<String> {
    let p = prev.trim_end();
    let n = next.trim();
    let before = lock_line_stage(p).filter(|s| *s < LockLineStage::Site)?;
    let sep = if before == LockLineStage::Address && n.starts_with('(') {
        " "
    } else {
        ""
    };
    let joined = format!("{p}{sep}{n}");
    let after = lock_line_stage(&joined)?;
    // The name alone (`ADDR (` + `sem_b`, its usage still to come): one word, as class names are.
    let name_piece = p.ends_with('(')
        && after == LockLineStage::Name
        && !n.contains(char::is_whitespace)
        && !n.starts_with('#');
    ((after > before && after >= LockLineStage::Usage) || name_piece).then_some(joined)
}

/// `kernel/foo.c:12` or `kernel/foo.c:12 [inline]`: the tail of a wrapped frame line (which
/// on its own reads as nothing, or as a frame without offset).
fn looks_like_location(t: &str) -> bool {
    let first = t.split(' ').next().unwrap_or("");
    first.contains(':')
        && first.contains('.')
        && first
            .rsplit(':')
            .next()
            .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
}

/// How much of a line the strict parsers understand: 0 for nothing.
fn parse_quality(t: &str) -> u8 {
    let t = t.trim();
    let lock_score = |l: &crate::lockfmt::LockLine| {
        if !l.rest.is_empty() && l.at.is_none() {
            return 1;
        }
        match &l.at {
            Some(f) => 2 + u8::from(f.location.is_some()),
            None => 1,
        }
    };
    if let Some(f) = parse_frame(t) {
        return 2 + u8::from(f.location.is_some());
    }
    if let Some((_, Some(l))) = parse_held_entry(t) {
        return lock_score(&l);
    }
    if let Some(l) = parse_lock_line(t) {
        return lock_score(&l);
    }
    if classify_line(t) != LineClass::Other {
        return 1;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let h = classify_header("BUG: soft lockup - CPU#0 stuck for 22s!").unwrap();
        assert_eq!((h.kind, h.strong), (ReportKind::Generic, false));
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

    #[test]
    fn lock_lines_cut_after_any_piece_are_joined() {
        let whole = "ff11000000804b08 (sem_b){+.+.}-{4:4}, at: thread_a+0x50/0xdd [rust_deadlock]";
        // Every place where one `KERN_CONT` piece ends and the next begins.
        for cut in [
            "ff11000000804b08",
            "ff11000000804b08 (",
            "ff11000000804b08 (sem_b",
        ] {
            let rest = whole[cut.len()..].trim();
            assert!(cut_lock_line(cut), "{cut}");
            assert_eq!(
                rejoin_cut_lock_line(cut, rest).as_deref(),
                Some(whole),
                "{cut}"
            );
            assert_eq!(wrapped_join(cut, rest).as_deref(), Some(whole), "{cut}");
        }
        let usage = "ff11000000804b08 (sem_b){+.+.}-{4:4}";
        assert!(cut_lock_line(usage));
        assert_eq!(
            rejoin_cut_lock_line(usage, &whole[usage.len()..]).as_deref(),
            Some(whole)
        );
        assert!(!cut_lock_line(whole));
        assert_eq!(lock_line_stage(whole), Some(LockLineStage::Site));
        // A held lock, cut after its name's version.
        assert_eq!(
            rejoin_cut_lock_line(
                " #0: ffffffff8e333e60 (&of->mutex#2",
                "){+.+.}-{4:4}, at: f+0x1/0x2"
            )
            .as_deref(),
            Some(" #0: ffffffff8e333e60 (&of->mutex#2){+.+.}-{4:4}, at: f+0x1/0x2")
        );
        // Cut twice: the name alone, then its usage and site.
        let name = rejoin_cut_lock_line("ff11000000804b08 (", "sem_b").unwrap();
        assert_eq!(name, "ff11000000804b08 (sem_b");
        assert_eq!(
            rejoin_cut_lock_line(&name, &whole[name.len()..]).as_deref(),
            Some(whole)
        );
        // Another CPU's message is not glued on, wherever the lock line was cut.
        for cut in [
            "ff11000000804b08",
            "ff11000000804b08 (",
            "ff11000000804b08 (sem_b",
            usage,
        ] {
            for other in [
                "# hold_ms_accepts_decimal_numbers_in_range.speed: normal",
                "ok 6 buggy",
                "(x) y",
            ] {
                assert_eq!(rejoin_cut_lock_line(cut, other), None, "{cut} + {other}");
            }
        }
        // Lines that only end in an address are not lock lines.
        assert!(!cut_lock_line(
            "RBP: ffffc90000003e58 R08: 0000000000000001"
        ));
        assert!(!cut_lock_line("ok 6 buggy"));
    }
}
