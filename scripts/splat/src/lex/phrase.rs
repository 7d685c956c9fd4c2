//! The phrases of report bodies that `extract` acts on: a line is read once, here, into the
//! [`Phrase`] it says and where its parts are (its argument and its tail), and `extract`
//! `match`es on the phrase. A new phrase of the kernel is a row of [`TASK_PHRASES`] or
//! [`LINE_PHRASES`] and an arm in `extract`.
//!
//! Rows are tried in table order, task phrases first, the first that fits wins; the
//! `usage at:` lines (`IN-HARDIRQ-W at:`), which no fixed text starts, come between the rows
//! before [`Phrase::Backtrace`] and the rest.

use super::{is_rcu_message, Table};

/// What a line of a report body says, for `extract`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phrase {
    /// No phrase of the tables.
    None,
    /// `COMM/PID is trying to acquire lock:` (and `... to lock:`, `... just changed the state
    /// of lock:`, `... takes:`): the task (the argument) takes the lock printed next.
    Acquire,
    /// `COMM/PID is trying to release lock (NAME) at:`: the task (argument), the rest (tail).
    Release,
    /// `COMM/PID is trying to contend lock (NAME) at:`.
    Contend,
    /// `COMM/PID is freeing memory START-END, with a lock still held there!`.
    FreeingMemory,
    /// `COMM/PID is leaving the kernel with locks still held!`, `... is exiting with ...`.
    LeavingWithLocks,
    /// `but task is already holding lock:`: the held lock is printed next.
    AlreadyHolding,
    /// `which would create a new lock dependency:`.
    NewDependency,
    /// `Chain exists of:`.
    ChainExists,
    /// `Possible (interrupt) unsafe locking scenario:`.
    Scenario,
    /// `-> #N (NAME){..}-{..}:` of a dependency chain (tail: after `-> #`).
    ChainEntry,
    /// `-> (NAME){..}-{..} ops: N {` of a class dump (tail: after `-> (`).
    ClassHeader,
    /// `but this lock took another, HARDIRQ-unsafe lock in the past:`.
    TookAnother,
    /// `but this lock was taken by another, HARDIRQ-safe lock in the past:`.
    TakenByAnother,
    /// `but this new dependency connects a HARDIRQ-irq-safe lock:`.
    ConnectsIrqSafe,
    /// `to a HARDIRQ-irq-unsafe lock:`.
    ToIrqUnsafe,
    /// `... which became HARDIRQ-irq-safe at:` (tail: after `... which became `).
    WhichBecame,
    /// `inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage.` (tail: after `inconsistent {`).
    Inconsistent,
    /// `{SOFTIRQ-ON-W} state was registered at:` (argument: the state).
    StateRegistered,
    /// `... acquired at:` of a class dump.
    AcquiredAt,
    /// `IN-HARDIRQ-W at:`, `INITIAL USE at:` (argument: the label).
    UsageAt,
    /// `stack backtrace:`, `NMI backtrace for cpu N`.
    Backtrace,
    /// `rcu: RCU grace-period kthread stack dump:`.
    RcuKthreadStack,
    /// `Call Trace:`, `Call trace:`, `Backtrace:`.
    CallTrace,
    /// `Preemption disabled at:`.
    PreemptionDisabledAt,
    /// `CPU: 0 UID: 0 PID: 43 Comm: ...` (tail: after `CPU: `).
    CpuLine,
    /// `Pid: 1234, comm: ls ...` of old kernels (tail: after `Pid: `).
    PidLine,
    /// `INFO: lockdep is turned off.`
    LockdepOff,
    /// `context-{5:5}` (tail: after `context-`).
    Context,
    /// `lock: NAME, .magic: ..., .owner: ..., .owner_cpu: N` (tail: after `lock: `).
    SpinDump,
    /// `Workqueue: NAME FUNC` (tail).
    Workqueue,
    /// `Modules linked in: ...` (tail).
    Modules,
    /// `in_atomic(): 1, irqs_disabled(): 0, ...` (tail).
    InAtomic,
    /// `preempt_count: 1, expected: 0` (tail).
    PreemptCount,
    /// `RCU nest depth: 0, expected: 0` (tail).
    RcuNestDepth,
    /// `rcu_scheduler_active = 2, debug_locks = 1` (tail).
    RcuSchedulerActive,
    /// `RCU used illegally from extended quiescent state!`.
    RcuIllegal,
    /// `irq event stamp: N` (tail).
    IrqEventStamp,
    /// `hardirqs last  enabled at (N): FRAME`, `softirqs last disabled at ...`.
    IrqLast,
    /// `and the lock comparison function returns N:` (tail).
    CmpFnReturns,
    /// `task:COMM state:D ...` (tail: after `task:`).
    TaskLine,
    /// A hung task's blocker line, `INFO: task A:1 blocked on a mutex ...`.
    Blocker,
    /// `FILE:LINE MESSAGE!` of a suspicious RCU usage.
    RcuMessage,
}

/// How a row's text must sit in the line.
#[derive(Debug, Clone, Copy)]
enum Fit {
    /// The whole line.
    Exact,
    /// The start of the line (argument and tail: the rest).
    Prefix,
    /// The end of the line (argument: the text before it).
    Suffix,
    /// Anywhere, at its first occurrence (argument: before it; tail: after it).
    Contains,
    /// The start of the line, which also ends with this text (argument: the text between).
    PrefixAndSuffix(&'static str),
    /// The start of the line, which also contains this text (argument and tail: the rest).
    PrefixAndContains(&'static str),
}

/// The lines that name a task, then what it does (the task is the argument).
const TASK_PHRASES: &[(&str, Fit, Phrase)] = &[
    (" is trying to acquire lock:", Fit::Suffix, Phrase::Acquire),
    (" is trying to acquire:", Fit::Suffix, Phrase::Acquire),
    (" is trying to lock:", Fit::Suffix, Phrase::Acquire),
    (
        " just changed the state of lock:",
        Fit::Suffix,
        Phrase::Acquire,
    ),
    (" takes:", Fit::Suffix, Phrase::Acquire),
    (
        " is trying to release lock (",
        Fit::Contains,
        Phrase::Release,
    ),
    (
        " is trying to contend lock (",
        Fit::Contains,
        Phrase::Contend,
    ),
    (" is freeing memory ", Fit::Contains, Phrase::FreeingMemory),
    (
        " is leaving the kernel with locks still held!",
        Fit::Suffix,
        Phrase::LeavingWithLocks,
    ),
    (
        " is exiting with locks still held!",
        Fit::Suffix,
        Phrase::LeavingWithLocks,
    ),
];

/// The lines known by how they start, in the order they are tried.
const LINE_PHRASES: &[(&str, Fit, Phrase)] = &[
    (
        "but task is already holding lock:",
        Fit::Exact,
        Phrase::AlreadyHolding,
    ),
    (
        "and this task is already holding:",
        Fit::Exact,
        Phrase::AlreadyHolding,
    ),
    (
        "which would create a new lock dependency:",
        Fit::Exact,
        Phrase::NewDependency,
    ),
    ("Chain exists of:", Fit::Exact, Phrase::ChainExists),
    (
        "Possible unsafe locking scenario:",
        Fit::Prefix,
        Phrase::Scenario,
    ),
    (
        "Possible interrupt unsafe locking scenario:",
        Fit::Prefix,
        Phrase::Scenario,
    ),
    ("-> #", Fit::Prefix, Phrase::ChainEntry),
    ("-> (", Fit::Prefix, Phrase::ClassHeader),
    (
        "but this lock took another, ",
        Fit::Prefix,
        Phrase::TookAnother,
    ),
    (
        "but this lock was taken by another, ",
        Fit::Prefix,
        Phrase::TakenByAnother,
    ),
    (
        "but this new dependency connects a ",
        Fit::Prefix,
        Phrase::ConnectsIrqSafe,
    ),
    (
        "to a ",
        Fit::PrefixAndSuffix("-irq-unsafe lock:"),
        Phrase::ToIrqUnsafe,
    ),
    ("... which became ", Fit::Prefix, Phrase::WhichBecame),
    ("inconsistent {", Fit::Prefix, Phrase::Inconsistent),
    (
        "{",
        Fit::PrefixAndSuffix("} state was registered at:"),
        Phrase::StateRegistered,
    ),
    ("... acquired at:", Fit::Exact, Phrase::AcquiredAt),
    // The `usage at:` lines come here (see the module doc).
    ("stack backtrace:", Fit::Exact, Phrase::Backtrace),
    ("NMI backtrace for cpu", Fit::Prefix, Phrase::Backtrace),
    (
        "rcu: RCU grace-period kthread stack dump",
        Fit::Prefix,
        Phrase::RcuKthreadStack,
    ),
    ("Call Trace:", Fit::Exact, Phrase::CallTrace),
    ("Call trace:", Fit::Exact, Phrase::CallTrace),
    ("Backtrace:", Fit::Exact, Phrase::CallTrace),
    (
        "Preemption disabled at:",
        Fit::Exact,
        Phrase::PreemptionDisabledAt,
    ),
    // `extract` reads held-lock headings and entries here, from the token's payload.
    ("CPU: ", Fit::Prefix, Phrase::CpuLine),
    ("Pid: ", Fit::Prefix, Phrase::PidLine),
    (
        "INFO: lockdep is turned off.",
        Fit::Exact,
        Phrase::LockdepOff,
    ),
    ("context-", Fit::Prefix, Phrase::Context),
    (
        "lock: ",
        Fit::PrefixAndContains(".magic: "),
        Phrase::SpinDump,
    ),
    ("Workqueue: ", Fit::Prefix, Phrase::Workqueue),
    ("Modules linked in:", Fit::Prefix, Phrase::Modules),
    ("in_atomic(): ", Fit::Prefix, Phrase::InAtomic),
    ("preempt_count: ", Fit::Prefix, Phrase::PreemptCount),
    ("RCU nest depth: ", Fit::Prefix, Phrase::RcuNestDepth),
    (
        "rcu_scheduler_active = ",
        Fit::Prefix,
        Phrase::RcuSchedulerActive,
    ),
    ("RCU used illegally from ", Fit::Prefix, Phrase::RcuIllegal),
    ("irq event stamp: ", Fit::Prefix, Phrase::IrqEventStamp),
    ("hardirqs last", Fit::Prefix, Phrase::IrqLast),
    ("softirqs last", Fit::Prefix, Phrase::IrqLast),
    (
        "and the lock comparison function returns ",
        Fit::Prefix,
        Phrase::CmpFnReturns,
    ),
    ("task:", Fit::Prefix, Phrase::TaskLine),
    (
        "INFO: task ",
        Fit::PrefixAndContains(" blocked on "),
        Phrase::Blocker,
    ),
];

/// The rows of [`LINE_PHRASES`] tried before the `usage at:` lines.
const BEFORE_USAGE_AT: usize = 16;

const TASK_TEXTS: [&str; TASK_PHRASES.len()] = texts(TASK_PHRASES);
const LINE_TEXTS: [&str; LINE_PHRASES.len()] = texts(LINE_PHRASES);

const fn texts<const N: usize>(rows: &[(&'static str, Fit, Phrase)]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = rows[i].0;
        i += 1;
    }
    out
}

static TASK: Table = Table::phrases(&TASK_TEXTS);
static LINE: Table = Table::prefixes(&LINE_TEXTS);

/// A phrase found in a (trimmed) line `t`, with where its parts are: the argument (the task of
/// a task phrase, the label before a suffix, the text between a prefix and a suffix) and the
/// tail (the text after the phrase).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PhraseMatch {
    pub phrase: Phrase,
    arg: (u32, u32),
    tail: u32,
}

impl PhraseMatch {
    const NONE: PhraseMatch = PhraseMatch {
        phrase: Phrase::None,
        arg: (0, 0),
        tail: 0,
    };

    /// The argument of the phrase.
    pub fn arg<'a>(&self, t: &'a str) -> &'a str {
        t.get(self.arg.0 as usize..self.arg.1 as usize)
            .unwrap_or("")
    }

    /// The text after the phrase.
    pub fn tail<'a>(&self, t: &'a str) -> &'a str {
        t.get(self.tail as usize..).unwrap_or("")
    }

    fn new(phrase: Phrase, arg: (usize, usize), tail: usize) -> Self {
        PhraseMatch {
            phrase,
            arg: (arg.0 as u32, arg.1 as u32),
            tail: tail as u32,
        }
    }
}

/// Where the argument and the tail of `t` are when it fits the row `(p, fit)`, if it does.
fn fits(t: &str, p: &str, fit: Fit) -> Option<((usize, usize), usize)> {
    let n = t.len();
    match fit {
        Fit::Exact => (t == p).then_some(((0, 0), n)),
        Fit::Prefix => t.starts_with(p).then_some(((p.len(), n), p.len())),
        Fit::Suffix => t.ends_with(p).then(|| ((0, n - p.len()), n)),
        Fit::Contains => t.find(p).map(|at| ((0, at), at + p.len())),
        Fit::PrefixAndSuffix(s) => {
            let middle = t.strip_prefix(p)?.strip_suffix(s)?;
            Some(((p.len(), p.len() + middle.len()), n))
        }
        Fit::PrefixAndContains(s) => {
            (t.starts_with(p) && t.contains(s)).then_some(((p.len(), n), p.len()))
        }
    }
}

/// The first row of `rows` that `t` fits, from `from` on.
fn first_fit(t: &str, rows: &[(&str, Fit, Phrase)], from: usize) -> Option<(usize, PhraseMatch)> {
    let first = t.as_bytes().first();
    rows.iter()
        .enumerate()
        .skip(from)
        .find_map(|(i, (p, fit, phrase))| {
            // A row the line must start with cannot fit a line that starts with another byte.
            let anchored = !matches!(fit, Fit::Suffix | Fit::Contains);
            if anchored && p.as_bytes().first() != first {
                return None;
            }
            let (arg, tail) = fits(t, p, *fit)?;
            Some((i, PhraseMatch::new(*phrase, arg, tail)))
        })
}

/// `LABEL at:` where the label is one word (`IN-HARDIRQ-W`) or starts `INITIAL `.
fn usage_at(t: &str) -> Option<PhraseMatch> {
    let label = t.strip_suffix(" at:")?;
    (!label.contains(' ') || label.starts_with("INITIAL "))
        .then(|| PhraseMatch::new(Phrase::UsageAt, (0, label.len()), t.len()))
}

/// Whether `t` may hold a task phrase: each has ` is `, ` just ` or ` takes:` in it (a look at
/// the word after each space, cheaper than the automaton on lines that have none).
pub(crate) fn may_name_task(t: &str) -> bool {
    // A plain scan: the lines are short and have many spaces, each of which a `memchr_iter`
    // step would cost a call.
    let b = t.as_bytes();
    (0..b.len()).any(|at| {
        b[at] == b' ' && {
            let next = &b[at..];
            next.starts_with(b" is ") || next.starts_with(b" just ") || next.starts_with(b" takes:")
        }
    })
}

/// The register lines that a stack dump goes on after (x86 `__show_regs()` prints them between
/// the frames of an exception's dump; the others end the trace).
const TRACE_REGISTERS: &[&str] = &[
    "RIP:", "RSP:", "RAX:", "RDX:", "RBP:", "R10:", "R13:", "Code:", "EIP:", "pc :",
];

/// The registers that hold the instruction pointer (`RIP: 0010:func+0x1/0x2`, `pc : func+...`).
const INSTRUCTION_POINTERS: &[&str] = &["RIP: ", "EIP: ", "pc : "];

/// True for stack markers (`<TASK>`, `</IRQ>`) and the register lines of [`TRACE_REGISTERS`],
/// which do not end a stack trace.
pub(crate) fn keeps_trace(t: &str) -> bool {
    let marker = t
        .strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .map(|n| n.trim_start_matches('/'))
        .is_some_and(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'#' || b == b'_')
        });
    marker || TRACE_REGISTERS.iter().any(|p| t.starts_with(p))
}

/// The symbol of an instruction-pointer line: `RIP: 0010:func+0x1/0x2` -> `func+0x1/0x2`.
pub(crate) fn instruction_pointer(t: &str) -> Option<&str> {
    let ip = INSTRUCTION_POINTERS
        .iter()
        .find_map(|p| t.strip_prefix(p))?;
    // "0010:func+0x1/0x2" -> "func+0x1/0x2"
    Some(match ip.split_once(':') {
        Some((seg, rest)) if seg.bytes().all(|b| b.is_ascii_hexdigit()) => rest,
        _ => ip,
    })
}

/// A line of a "Possible unsafe locking scenario" table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScenarioLine {
    /// `*** DEADLOCK ***`: the table is over.
    End,
    /// A blank line, the `CPU0  CPU1` heading or its `----` rule.
    Frame,
    /// A cell row (`lock(A);`, `<Interrupt>`, `local_irq_disable();`).
    Cell,
}

/// What a (trimmed) line of a scenario table is.
pub(crate) fn scenario_line(t: &str) -> ScenarioLine {
    if t.starts_with("*** DEADLOCK ***") {
        ScenarioLine::End
    } else if t.is_empty() || t.starts_with("CPU0") || t.bytes().all(|b| b == b'-' || b == b' ') {
        ScenarioLine::Frame
    } else {
        ScenarioLine::Cell
    }
}

/// The phrase of a trimmed line. Each table is searched once with its automaton; only a line
/// that holds a row's text is fitted row by row.
pub(crate) fn phrase(t: &str) -> PhraseMatch {
    phrase_with(t, &mut TaskHint::default())
}

/// Whether a line may name a task ([`may_name_task`]), worked out once for the lexer's tables.
#[derive(Debug, Default)]
pub(crate) struct TaskHint(Option<bool>);

impl TaskHint {
    pub(crate) fn get(&mut self, t: &str) -> bool {
        *self.0.get_or_insert_with(|| may_name_task(t))
    }
}

/// [`phrase`], with the task hint the lexer already worked out.
pub(crate) fn phrase_with(t: &str, task: &mut TaskHint) -> PhraseMatch {
    if task.get(t) && TASK.matches(t) {
        if let Some((_, m)) = first_fit(t, TASK_PHRASES, 0) {
            return m;
        }
    }
    let line = if LINE.matches(t) {
        first_fit(t, LINE_PHRASES, 0)
    } else {
        None
    };
    match line {
        Some((i, m)) if i < BEFORE_USAGE_AT => m,
        _ => usage_at(t)
            .or(line.map(|(_, m)| m))
            .or_else(|| {
                is_rcu_message(t).then_some(PhraseMatch::new(Phrase::RcuMessage, (0, 0), 0))
            })
            .unwrap_or(PhraseMatch::NONE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_and_their_parts() {
        let t = "deadlock_b/43 is trying to acquire lock:";
        let m = phrase(t);
        assert_eq!((m.phrase, m.arg(t)), (Phrase::Acquire, "deadlock_b/43"));
        let t = "insmod/1 is trying to release lock (sem_a) at:";
        let m = phrase(t);
        assert_eq!(
            (m.phrase, m.arg(t), m.tail(t)),
            (Phrase::Release, "insmod/1", "sem_a) at:")
        );
        let t = "{SOFTIRQ-ON-W} state was registered at:";
        let m = phrase(t);
        assert_eq!(
            (m.phrase, m.arg(t)),
            (Phrase::StateRegistered, "SOFTIRQ-ON-W")
        );
        let t = "IN-HARDIRQ-W at:";
        assert_eq!(phrase(t).arg(t), "IN-HARDIRQ-W");
        assert_eq!(
            phrase("Preemption disabled at:").phrase,
            Phrase::PreemptionDisabledAt
        );
        assert_eq!(phrase("Call Trace:").phrase, Phrase::CallTrace);
        assert_eq!(phrase("Call Trace: x").phrase, Phrase::None);
        let t = "lock: a, .magic: dead4ead, .owner: x/1, .owner_cpu: 0";
        assert_eq!(
            phrase(t).tail(t),
            "a, .magic: dead4ead, .owner: x/1, .owner_cpu: 0"
        );
        assert_eq!(phrase("lock: a").phrase, Phrase::None);
        assert_eq!(phrase("down+0x40/0x50").phrase, Phrase::None);
    }

    #[test]
    fn usage_at_lines_come_before_the_backtrace_row() {
        assert_eq!(LINE_PHRASES[BEFORE_USAGE_AT].2, Phrase::Backtrace);
        assert_eq!(LINE_PHRASES[BEFORE_USAGE_AT - 1].2, Phrase::AcquiredAt);
    }
}
