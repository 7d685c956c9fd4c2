//! Turning the lines of one report into the fields of a [`Report`].
//!
//! The scan is one pass over the report's lines with a little state: which stack trace the next
//! frames belong to, which lock the next lock line describes ("is trying to acquire lock:" is
//! followed by the lock), which task a held-lock list belongs to, and whether we are inside the
//! "Possible unsafe locking scenario" table. Titles and explanations are added afterwards by
//! `analyze` and `explain`.

use crate::lex::blocker::{is_task_line_of, parse_blocker};
use crate::lex::frame::{demangle, parse_frame};
use crate::lex::header::{header_fact, HeaderFact};
use crate::lex::lockfmt::{
    parse_lock_desc, parse_lock_line, parse_scenario_lock, split_comm_pid, LockLine,
};
use crate::lex::phrase::{
    instruction_pointer, keeps_trace, scenario_line, Phrase, PhraseMatch, ScenarioLine,
};
use crate::lex::{
    hung_header_task, is_old_task_line_of, parse_soft_lockup_header, spinlock_bug, trim, unbracket,
    Family, Needle, Token,
};
use crate::model::{
    ChainEntry, Frame, HeldLock, HungTask, LockClass, LockSite, Report, ReportKind, ScenarioRow,
    Stack, Task, HOLDER_STACK,
};
use crate::segment::Segment;
use std::collections::BTreeMap;

/// What the next lock line describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    None,
    Acquire,
    Holding,
    /// A lock stored under this `details` key.
    Detail(&'static str),
    NewDependency,
    ChainExists,
}

/// Builds the report fields (all but title and explanation) from a segment.
pub(crate) fn build(mut seg: Segment) -> Report {
    let mut b = Builder::new(&seg);
    let tokens = std::mem::take(&mut seg.tokens);
    b.scan(&seg, tokens);
    b.finish(seg)
}

struct Builder {
    kind: ReportKind,
    family: Family,
    tasks: Vec<Task>,
    locks: Vec<LockClass>,
    acquiring: Option<LockSite>,
    holding: Option<LockSite>,
    chain: Vec<ChainEntry>,
    /// For each chain entry, the index of its stack in `stacks`.
    chain_stack: Vec<Option<usize>>,
    held_locks: Vec<HeldLock>,
    stacks: Vec<Stack>,
    scenario_lines: Vec<String>,
    details: BTreeMap<String, String>,
    hung: Option<HungTask>,
    // Scan state.
    pending: Pending,
    active_trace: Option<usize>,
    pending_trace: Option<String>,
    held_ctx: Option<(String, Option<u32>)>,
    in_scenario: bool,
    class_ctx: Option<String>,
}

impl Builder {
    fn new(seg: &Segment) -> Self {
        Builder {
            kind: seg.kind,
            family: seg.family,
            tasks: Vec::new(),
            locks: Vec::new(),
            acquiring: None,
            holding: None,
            chain: Vec::new(),
            chain_stack: Vec::new(),
            held_locks: Vec::new(),
            stacks: Vec::new(),
            scenario_lines: Vec::new(),
            details: BTreeMap::new(),
            hung: None,
            pending: Pending::None,
            active_trace: None,
            pending_trace: None,
            held_ctx: None,
            in_scenario: false,
            class_ctx: None,
        }
    }

    fn add_task(&mut self, comm: &str, pid: Option<u32>) {
        let comm = trim(comm);
        if comm.is_empty() || self.family == Family::LockDump {
            return;
        }
        if let Some(t) = self.tasks.iter_mut().find(|t| t.comm == comm) {
            if t.pid.is_none() {
                t.pid = pid;
                return;
            }
            if pid.is_none() || t.pid == pid {
                return;
            }
        }
        self.tasks.push(Task {
            comm: comm.to_string(),
            pid,
        });
    }

    fn add_lock(&mut self, class: &LockClass) {
        if let Some(l) = self.locks.iter_mut().find(|l| l.name == class.name) {
            if l.usage.is_none() {
                l.usage.clone_from(&class.usage);
            }
            if l.wait_type.is_none() {
                l.wait_type.clone_from(&class.wait_type);
            }
            if l.address.is_none() {
                l.address.clone_from(&class.address);
            }
        } else {
            self.locks.push(class.clone());
        }
    }

    fn add_lock_name(&mut self, name: &str) {
        self.add_lock(&LockClass {
            name: name.to_string(),
            usage: None,
            wait_type: None,
            address: None,
        });
    }

    fn detail(&mut self, key: &str, value: impl Into<String>) {
        self.details
            .entry(key.to_string())
            .or_insert_with(|| value.into());
    }

    fn push_frame(&mut self, frame: Frame) {
        let idx = match self.active_trace {
            Some(i) => i,
            None => {
                let context = self
                    .pending_trace
                    .take()
                    .unwrap_or_else(|| "frames".to_string());
                self.stacks.push(Stack {
                    context,
                    frames: Vec::new(),
                });
                let i = self.stacks.len() - 1;
                // The first frames after "-> #N" are that chain entry's stack.
                if let Some(pos) = self
                    .chain
                    .iter()
                    .position(|c| format!("chain #{}", c.index) == self.stacks[i].context)
                {
                    if self.chain_stack[pos].is_none() {
                        self.chain_stack[pos] = Some(i);
                    }
                }
                self.active_trace = Some(i);
                i
            }
        };
        self.stacks[idx].frames.push(frame);
    }

    fn start_trace(&mut self, name: impl Into<String>) {
        self.active_trace = None;
        self.pending_trace = Some(name.into());
    }

    fn site(line: &LockLine) -> LockSite {
        LockSite {
            lock: line.class.name.clone(),
            address: line.address.clone(),
            at: line.at.as_ref().map(|f| f.function().to_string()),
        }
    }

    fn scan(&mut self, seg: &Segment, mut tokens: Vec<Token>) {
        self.scan_header(&seg.header);
        let lines = &seg.lines;
        let mut i = 1;
        while let Some(text) = lines.get(i) {
            let next = lines.get(i + 1);
            let mut unlexed = Token::UNLEXED;
            let token = tokens.get_mut(i).unwrap_or(&mut unlexed);
            if self.scan_line(text, token, next) {
                i += 1; // the next line was consumed too
            }
            i += 1;
        }
    }

    /// Facts printed in the header line itself.
    fn scan_header(&mut self, header: &str) {
        let t = unbracket(trim(header));
        match self.kind {
            ReportKind::HungTask => {
                if let Some((comm, pid, seconds)) = hung_header_task(t) {
                    self.add_task(&comm, Some(pid));
                    self.hung = Some(HungTask {
                        comm,
                        pid,
                        seconds,
                        state: None,
                        blocked_in: None,
                        waiting_on: None,
                        called_from: None,
                        summary: Vec::new(),
                        blocker: None,
                    });
                }
            }
            _ => self.header_fact(header_fact(self.kind, t)),
        }
    }

    /// What the header says beyond its kind.
    fn header_fact(&mut self, fact: HeaderFact) {
        match fact {
            HeaderFact::None => {}
            HeaderFact::SleepAt(loc) | HeaderFact::KernelBugAt(loc) => self.file_line(loc),
            HeaderFact::StillHasLocks(task) => {
                let (comm, pid) = split_comm_pid(task);
                self.add_task(&comm, pid);
            }
            HeaderFact::SchedulingWhileAtomic { comm, pid, count } => {
                self.add_task(comm, pid.parse().ok());
                self.detail("preempt_count", count);
            }
            HeaderFact::Body(body) if self.kind == ReportKind::SoftLockup => {
                if let Some((cpu, seconds, task)) = parse_soft_lockup_header(body) {
                    self.detail("cpu", cpu.to_string());
                    self.detail("seconds", seconds.to_string());
                    if let Some((comm, pid)) = task {
                        self.add_task(&comm, Some(pid));
                    }
                }
            }
            HeaderFact::HardLockup { cpu, by } => {
                self.detail("cpu", cpu.to_string());
                if let Some(by) = by {
                    self.detail("detected_by", by.to_string());
                }
            }
            HeaderFact::Body(body) => {
                if let Some((what, cpu, task)) = spinlock_bug(body) {
                    self.detail("spinlock_bug", what);
                    if let Some(cpu) = cpu {
                        self.detail("cpu", cpu.to_string());
                    }
                    if let Some(task) = task {
                        let (comm, pid) = split_comm_pid(task);
                        self.add_task(&comm, pid);
                    }
                }
            }
            HeaderFact::WarningCpu {
                pid,
                location,
                site,
            } => {
                if let Some(pid) = pid {
                    self.detail("pid", pid);
                }
                if let Some(loc) = location {
                    self.file_line(loc);
                }
                if let Some(f) = site.and_then(parse_frame) {
                    self.detail("function", f.function());
                }
            }
            HeaderFact::WarningAt { location, function } => {
                if let Some(loc) = location {
                    self.file_line(loc);
                }
                if let Some(func) = function {
                    self.detail("function", demangle(func));
                }
            }
            HeaderFact::WarningSite {
                location,
                site,
                task,
            } => {
                self.file_line(location);
                if let Some(f) = parse_frame(site) {
                    self.detail("function", f.function());
                }
                if let Some(task) = task {
                    let (comm, pid) = split_comm_pid(task);
                    self.add_task(&comm, pid);
                }
            }
            HeaderFact::KasanIn(at) => {
                if let Some(f) = parse_frame(at) {
                    self.detail("function", f.function());
                }
            }
        }
    }

    /// `FILE:LINE` into the `file` and `line` details.
    fn file_line(&mut self, loc: &str) {
        let loc = trim(loc).trim_end_matches('!');
        if let Some((file, line)) = loc.rsplit_once(':') {
            if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) {
                self.detail("file", file);
                self.detail("line", line);
            }
        }
    }

    /// Handles one body line; returns true when it also consumed `next`.
    fn scan_line(&mut self, text: &str, token: &mut Token, next: Option<&str>) -> bool {
        let t = trim(text);
        if let Some(frame) = token.take_frame(t) {
            if self.in_scenario {
                return false;
            }
            self.push_frame(frame);
            return false;
        }
        if keeps_trace(t) {
            self.scan_register(t);
            return false;
        }
        if t.is_empty() && self.active_trace.is_some() {
            // A blank line inside a stack dump (another writer's text was cut out of it).
            return false;
        }
        self.active_trace = None;

        if self.in_scenario {
            match scenario_line(t) {
                ScenarioLine::End => self.in_scenario = false,
                ScenarioLine::Frame => {}
                ScenarioLine::Cell => {
                    self.scenario_lines.push(text.to_string());
                    if let Some(name) = parse_scenario_lock(t) {
                        self.add_lock_name(name);
                    }
                }
            }
            return false;
        }

        match self.pending {
            Pending::Acquire | Pending::Holding | Pending::Detail(_) => {
                if let Some(line) = parse_lock_line(t) {
                    self.add_lock(&line.class);
                    match self.pending {
                        Pending::Acquire => self.acquiring = Some(Self::site(&line)),
                        Pending::Holding => self.holding = Some(Self::site(&line)),
                        Pending::Detail(key) => self.detail(key, line.class.name.clone()),
                        _ => {}
                    }
                    self.pending = Pending::None;
                    return false;
                }
            }
            Pending::NewDependency => {
                if let Some((a, rest)) = parse_lock_desc(t) {
                    self.add_lock(&a);
                    let rest = rest.trim_start().trim_start_matches("->");
                    if let Some((b, _)) = parse_lock_desc(rest) {
                        self.add_lock(&b);
                        self.detail("new_dependency", format!("{} -> {}", a.name, b.name));
                    }
                    self.pending = Pending::None;
                    return false;
                }
            }
            Pending::ChainExists => {
                if t.contains(" --> ") {
                    self.detail("chain_exists_of", t);
                    self.pending = Pending::None;
                    return false;
                }
            }
            Pending::None => {}
        }
        if !t.is_empty() {
            self.pending = Pending::None;
        }
        self.scan_phrase(t, token, next)
    }

    /// Registers (`RIP: 0010:func+0x1/0x2`) and stack markers; they do not end a trace.
    fn scan_register(&mut self, t: &str) {
        let Some(sym) = instruction_pointer(t) else {
            return;
        };
        if let Some(frame) = parse_frame(sym) {
            if !self.details.contains_key("rip") {
                self.detail("rip", frame.function().to_string());
                self.stacks.push(Stack {
                    context: "rip".to_string(),
                    frames: vec![frame],
                });
            }
        }
    }

    /// The phrase of the line (read by the lexer) and what it tells; held-lock headings and
    /// entries come after the phrases of the report's own text, as the lexer orders them.
    fn scan_phrase(&mut self, t: &str, token: &mut Token, next: Option<&str>) -> bool {
        let m = token.phrase(t);
        let (arg, tail) = (m.arg(t), m.tail(t));
        match m.phrase {
            Phrase::Acquire => {
                self.task_with_irq_context(arg);
                self.pending = Pending::Acquire;
            }
            Phrase::Release | Phrase::Contend => {
                self.task_with_irq_context(arg);
                let name = tail.strip_suffix(") at:").unwrap_or(tail);
                if !name.is_empty() {
                    self.add_lock_name(name);
                    self.acquiring = Some(LockSite {
                        lock: name.to_string(),
                        address: None,
                        at: None,
                    });
                }
                self.start_trace(if m.phrase == Phrase::Release {
                    "release"
                } else {
                    "contend"
                });
            }
            Phrase::FreeingMemory => {
                self.task_with_irq_context(arg);
                if let Some((range, _)) = tail.split_once(',') {
                    self.detail("memory", range);
                }
                self.pending = Pending::Holding;
            }
            Phrase::LeavingWithLocks => self.task_with_irq_context(arg),
            Phrase::AlreadyHolding => self.pending = Pending::Holding,
            Phrase::NewDependency => self.pending = Pending::NewDependency,
            Phrase::ChainExists => self.pending = Pending::ChainExists,
            Phrase::Scenario => self.in_scenario = true,
            Phrase::ChainEntry => self.chain_entry(tail),
            Phrase::ClassHeader => {
                // print_lock_class_header(): "-> (L){..}-{..} ops: N {"
                if let Some((class, _)) = parse_lock_desc(&format!("({tail}")) {
                    self.add_lock(&class);
                    self.class_ctx = Some(class.name);
                }
            }
            Phrase::TookAnother => {
                self.irq_class(tail, "-unsafe lock in the past:");
                self.detail("direction", "took another lock that is irq-unsafe");
                self.pending = Pending::Detail("other_lock");
            }
            Phrase::TakenByAnother => {
                self.irq_class(tail, "-safe lock in the past:");
                self.detail("direction", "was taken by another lock that is irq-safe");
                self.pending = Pending::Detail("other_lock");
            }
            Phrase::ConnectsIrqSafe => {
                self.irq_class(tail, "-irq-safe lock:");
                self.pending = Pending::Detail("irq_safe_lock");
            }
            Phrase::ToIrqUnsafe => self.pending = Pending::Detail("irq_unsafe_lock"),
            Phrase::WhichBecame => {
                let what = tail.strip_suffix(" at:").unwrap_or(tail);
                self.start_trace(format!("became {what}"));
            }
            Phrase::Inconsistent => {
                // "inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage."
                if let Some((from, to)) = tail.split_once("} -> {") {
                    self.detail("from_usage", from);
                    self.detail(
                        "to_usage",
                        to.trim_end_matches(" usage.").trim_end_matches('}'),
                    );
                }
            }
            Phrase::StateRegistered => self.start_trace(format!("{arg} state registered")),
            Phrase::AcquiredAt => {
                let class = self.class_ctx.clone().unwrap_or_default();
                self.start_trace(format!("{class} acquired").trim().to_string());
            }
            Phrase::UsageAt => {
                let class = self.class_ctx.clone().unwrap_or_default();
                self.start_trace(format!("{class} {arg}").trim().to_string());
            }
            Phrase::Backtrace => self.start_trace("backtrace"),
            Phrase::RcuKthreadStack => self.start_trace("rcu grace-period kthread"),
            Phrase::CallTrace => {
                // "Preemption disabled at:" with no site printed must not take the stack dump.
                let label_only = self.pending_trace.as_deref() == Some("preemption disabled");
                if self.pending_trace.is_none() || label_only {
                    let name = if self.kind == ReportKind::HungTask {
                        "hung task"
                    } else {
                        "backtrace"
                    };
                    self.start_trace(name);
                }
            }
            Phrase::PreemptionDisabledAt => self.start_trace("preemption disabled"),
            _ => return self.scan_held_or_later(t, m, token, next),
        }
        false
    }

    /// Held-lock headings and entries, then the phrases after them.
    fn scan_held_or_later(
        &mut self,
        t: &str,
        m: PhraseMatch,
        token: &mut Token,
        next: Option<&str>,
    ) -> bool {
        if let Some((count, comm, pid)) = token.held_heading(t) {
            self.add_task(&comm, pid);
            self.detail("held_lock_count", count.to_string());
            self.held_ctx = Some((comm, pid));
            return false;
        }
        if let Some((index, lock)) = token.take_held_entry(t) {
            let mut consumed = false;
            let lock = match lock {
                Some(l) => Some(l),
                None if t.ends_with(':') => {
                    // A held-lock line split by an interleaved printk: " #0: " + lock line.
                    let joined = next.and_then(parse_lock_line);
                    consumed = joined.is_some();
                    joined
                }
                None => None,
            };
            if let Some(line) = lock {
                self.add_lock(&line.class);
                let (task, pid) = self.held_ctx.clone().unwrap_or_default();
                self.held_locks.push(HeldLock {
                    task,
                    pid,
                    index,
                    lock: line.class.name.clone(),
                    address: line.address.clone(),
                    at: line.at.as_ref().map(|f| f.function().to_string()),
                });
            }
            return consumed;
        }
        self.scan_kind_specific(t, m);
        false
    }

    /// The single lines of the dump_stack() header and of each kind of report.
    fn scan_kind_specific(&mut self, t: &str, m: PhraseMatch) {
        let tail = m.tail(t);
        match m.phrase {
            Phrase::CpuLine => self.cpu_line(tail),
            Phrase::PidLine => {
                // Old dump_stack(): "Pid: 1234, comm: ls Not tainted 3.2.0 #1"
                if let Some((pid, rest)) = tail.split_once(", comm: ") {
                    let comm = cut_taint(rest);
                    self.add_task(comm, trim(pid).parse().ok());
                }
            }
            Phrase::LockdepOff => self.detail("lockdep", "off"),
            // Invalid wait context: the wait type of the context the lock was taken in.
            Phrase::Context => self.detail("context", tail),
            Phrase::SpinDump => {
                // spin_dump(): "lock: NAME, .magic: dead4ead, .owner: comm/pid, .owner_cpu: N".
                let mut fields = tail.split(", ");
                if let Some(name) = fields.next() {
                    self.detail("lock", name);
                }
                for f in fields {
                    if let Some(owner) = f.strip_prefix(".owner: ") {
                        self.detail("owner", owner);
                    } else if let Some(cpu) = f.strip_prefix(".owner_cpu: ") {
                        self.detail("owner_cpu", cpu);
                    }
                }
            }
            Phrase::Workqueue => self.workqueue(tail),
            Phrase::Modules => self.detail("modules", trim(tail)),
            Phrase::InAtomic => self.in_atomic(tail),
            Phrase::PreemptCount => {
                if let Some((count, expected)) = tail.split_once(", expected: ") {
                    self.detail("preempt_count", count);
                    self.detail("expected_preempt_count", expected);
                }
            }
            Phrase::RcuNestDepth => {
                if let Some((depth, _)) = tail.split_once(", expected: ") {
                    self.detail("rcu_nest_depth", depth);
                }
            }
            Phrase::RcuSchedulerActive => {
                if let Some((active, debug)) = tail.split_once(", debug_locks = ") {
                    self.detail("rcu_scheduler_active", active);
                    self.detail("debug_locks", debug);
                }
            }
            Phrase::RcuIllegal => self.detail("rcu_illegal", t.trim_end_matches('!')),
            Phrase::IrqEventStamp => self.detail("irq_event_stamp", tail),
            Phrase::IrqLast => {
                // "hardirqs last  enabled at (123): [<ffffffff81000000>] func+0x1/0x2"
                let key = t
                    .split(" at (")
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join("_");
                if let Some((_, sym)) = t.split_once("): ") {
                    if let Some(f) = parse_frame(sym) {
                        self.detail(&key, f.function());
                    }
                }
            }
            Phrase::CmpFnReturns => self.detail("cmp_fn_returns", tail.trim_end_matches(':')),
            Phrase::TaskLine => self.task_line(tail),
            Phrase::Blocker => {
                self.detail("blocker", t.trim_start_matches("INFO: "));
                scan_blocker_line(self.hung.as_mut(), t);
            }
            Phrase::RcuMessage if self.kind == ReportKind::SuspiciousRcuUsage => {
                if let Some((loc, msg)) = t.split_once(' ') {
                    self.file_line(loc);
                    self.detail("message", msg.trim_end_matches('!'));
                }
            }
            // (`hung` holds the comm that the header names.)
            _ if self.kind == ReportKind::HungTask
                && self
                    .hung
                    .as_ref()
                    .is_some_and(|h| is_old_task_line_of(&h.comm, t)) =>
            {
                // Old kernels: "COMM  D ffff88007fc13780     0  1234   1200 0x00000000".
                if let Some(h) = self.hung.as_mut() {
                    if h.state.is_none() {
                        let rest = t.strip_prefix(h.comm.as_str()).unwrap_or(t);
                        h.state = rest.split_whitespace().next().map(str::to_string);
                    }
                }
            }
            _ => {}
        }
    }

    /// `Workqueue: NAME FUNC`, unless it is the workqueue of a blocker's holder, printed with
    /// its stack.
    fn workqueue(&mut self, rest: &str) {
        if self.pending_trace.as_deref() != Some(HOLDER_STACK) {
            self.detail("workqueue", rest);
        }
    }

    /// "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 42, name: deadlock_a"
    fn in_atomic(&mut self, rest: &str) {
        let (fields, name) = match rest.split_once(", name: ") {
            Some((f, n)) => (f, Some(n)),
            None => (rest, None),
        };
        let mut pid = None;
        for (i, field) in fields.split(", ").enumerate() {
            let (key, value) = if i == 0 {
                ("in_atomic()", field)
            } else {
                match field.split_once(": ") {
                    Some(kv) => kv,
                    None => continue,
                }
            };
            match key {
                "in_atomic()" => self.detail("in_atomic", value),
                "irqs_disabled()" => self.detail("irqs_disabled", value),
                "non_block" => self.detail("non_block", value),
                "pid" => pid = trim(value).parse().ok(),
                _ => {}
            }
        }
        if let Some(name) = name {
            self.add_task(name, pid);
        }
    }

    /// `COMM/PID` possibly followed by ` [HC0[0]:SC1[1]:HE1:SE0]`.
    fn task_with_irq_context(&mut self, task: &str) {
        let (task, ctx) = match task.split_once(" [HC") {
            Some((task, ctx)) => (task, Some(ctx)),
            None => (task, None),
        };
        if let Some(ctx) = ctx {
            let ctx = ctx.strip_suffix(']').unwrap_or(ctx);
            self.detail("irq_context", format!("HC{ctx}"));
        }
        let (comm, pid) = split_comm_pid(task);
        self.add_task(&comm, pid);
    }

    /// `HARDIRQ-unsafe lock in the past:` -> irq_class `HARDIRQ`.
    fn irq_class(&mut self, rest: &str, suffix: &str) {
        if let Some(class) = rest.strip_suffix(suffix) {
            let class = class.trim_end_matches("-irq");
            self.detail("irq_class", class);
        }
    }

    /// `#N (L){..}-{..}:` of the circular dependency chain.
    fn chain_entry(&mut self, rest: &str) {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(index) = digits.parse::<u32>() else {
            return;
        };
        let desc = rest[digits.len()..].trim_start();
        if let Some((class, _)) = parse_lock_desc(desc) {
            self.add_lock(&class);
            self.chain.push(ChainEntry {
                index,
                lock: class.name,
                stack: Vec::new(),
            });
            self.chain_stack.push(None);
            self.start_trace(format!("chain #{index}"));
        }
    }

    /// `CPU: 0 UID: 0 PID: 43 Comm: deadlock_b Tainted: ...` (dump_stack header).
    fn cpu_line(&mut self, rest: &str) {
        let Some((_, after_pid)) = rest.split_once("PID: ") else {
            return;
        };
        let (pid, after) = after_pid.split_once(' ').unwrap_or((after_pid, ""));
        let pid = pid.trim_end_matches(',').parse().ok();
        if let Some((_, comm)) = after.split_once("Comm: ") {
            self.add_task(cut_taint(comm), pid);
        }
    }

    /// `task:deadlock_a      state:D stack:0     pid:42    tgid:42    ppid:2      flags:0x00004000`
    fn task_line(&mut self, rest: &str) {
        if scan_holder_task_line(self.hung.as_mut(), rest) {
            self.start_trace(HOLDER_STACK);
            return;
        }
        let Some((_comm, after)) = rest.split_once(" state:") else {
            return;
        };
        let state = after.chars().next().map(|c| c.to_string());
        let mut pairs = BTreeMap::new();
        for tok in after.split_whitespace() {
            if let Some((k, v)) = tok.split_once(':') {
                pairs.insert(k.to_string(), v.to_string());
            }
        }
        for key in ["tgid", "ppid", "flags"] {
            if let Some(v) = pairs.get(key) {
                self.detail(key, v.clone());
            }
        }
        if let Some(h) = self.hung.as_mut() {
            if h.state.is_none() {
                h.state = state;
            }
        }
    }

    fn finish(mut self, seg: Segment) -> Report {
        for (pos, stack) in self.chain_stack.iter().enumerate() {
            if let Some(i) = stack {
                self.chain[pos].stack = self.stacks[*i].frames.clone();
            }
        }
        // "is trying to release lock (L) at:" names the site on the next line, a frame.
        if let Some(a) = self.acquiring.as_mut() {
            if a.at.is_none() {
                a.at = self
                    .stacks
                    .iter()
                    .find(|s| s.context == "release" || s.context == "contend")
                    .and_then(|s| s.frames.first())
                    .map(|f| f.function().to_string());
            }
        }
        let scenario = scenario_rows(&self.scenario_lines);
        let cycle = self.cycle();
        // Blank lines taken after the report's last real line are not part of it.
        let kept = seg
            .lines
            .iter()
            .rposition(|l| !l.trim().is_empty())
            .map_or(seg.lines.len(), |i| i + 1);
        let truncated = seg.abandoned || !seg.complete();
        let mut lines = seg.lines;
        lines.truncate(kept);
        let numbers = &seg.numbers[..kept.min(seg.numbers.len())];
        let start_line = numbers.first().copied().unwrap_or(0);
        let end_line = numbers.last().copied().unwrap_or(0);
        Report {
            kind: self.kind,
            title: String::new(),
            alt_titles: Vec::new(),
            header: seg.header,
            tasks: self.tasks,
            locks: self.locks,
            acquiring: self.acquiring,
            holding: self.holding,
            chain: self.chain,
            held_locks: self.held_locks,
            stacks: self.stacks,
            scenario,
            cycle,
            hung_task: self.hung,
            details: self.details,
            explanation: String::new(),
            lines,
            start_line,
            end_line,
            truncated,
        }
    }

    /// The lock cycle, held lock first (see [`Report::cycle`]).
    ///
    /// The chain is printed from `#N` (the held lock) down to `#0` (the lock being acquired);
    /// entry `#k` was taken while holding entry `#k-1`. So the locks in acquisition order are
    /// held, #0, #1, ..., #N (= held).
    fn cycle(&self) -> Vec<String> {
        match self.kind {
            ReportKind::CircularDependency => {
                let held = self.holding.as_ref().map(|s| s.lock.clone()).or_else(|| {
                    self.chain
                        .iter()
                        .max_by_key(|c| c.index)
                        .map(|c| c.lock.clone())
                });
                let Some(held) = held else {
                    return Vec::new();
                };
                let mut entries: Vec<&ChainEntry> = self.chain.iter().collect();
                entries.sort_by_key(|c| c.index);
                let mut cycle = vec![held.clone()];
                // #0 is the lock being acquired; if the chain was cut off before it, the
                // "is trying to acquire lock:" line names it.
                match entries.first() {
                    Some(first) if first.index == 0 => {}
                    _ => {
                        if let Some(acq) = &self.acquiring {
                            cycle.push(acq.lock.clone());
                        }
                    }
                }
                cycle.extend(entries.iter().map(|c| c.lock.clone()));
                if cycle.last() != Some(&held) {
                    cycle.push(held);
                }
                if cycle.len() < 2 {
                    return Vec::new();
                }
                cycle
            }
            ReportKind::RecursiveLocking => match (&self.holding, &self.acquiring) {
                (Some(h), Some(a)) => vec![h.lock.clone(), a.lock.clone()],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}

/// Cuts ` Tainted: ...` / ` Not tainted ...` off a comm.
fn cut_taint(s: &str) -> &str {
    static KDUMP: Needle = Needle::new(" Kdump: loaded");
    static TAINTED: Needle = Needle::new(" Tainted:");
    static NOT_TAINTED: Needle = Needle::new(" Not tainted");
    // Each phrase is ASCII: where it starts is a char boundary.
    fn before<'s>(s: &'s str, p: &Needle) -> &'s str {
        p.find(s).map_or(s, |at| &s[..at])
    }
    let s = before(s, &KDUMP);
    let s = before(s, &TAINTED);
    let s = before(s, &NOT_TAINTED);
    trim(s)
}

/// Splits the scenario table lines into CPU0/CPU1 cells by indentation.
fn scenario_rows(lines: &[String]) -> Vec<ScenarioRow> {
    let indent = |s: &str| s.len() - s.trim_start().len();
    let min = lines.iter().map(|l| indent(l)).min().unwrap_or(0);
    lines
        .iter()
        .map(|l| {
            let cell = Some(trim(l).to_string());
            if indent(l) >= min + 8 {
                ScenarioRow {
                    cpu0: None,
                    cpu1: cell,
                }
            } else {
                ScenarioRow {
                    cpu0: cell,
                    cpu1: None,
                }
            }
        })
        .collect()
}

/// Stores a blocker line in the hung task (the first one wins).
fn scan_blocker_line(hung: Option<&mut HungTask>, t: &str) {
    let (Some(h), Some(b)) = (hung, parse_blocker(t)) else {
        return;
    };
    if h.blocker.is_none() && b.comm == h.comm && b.pid == h.pid {
        h.blocker = Some(b.blocker);
    }
}

/// A `task:` line after the blocker line is the holder's: records its state and returns true
/// (the caller then starts the [`HOLDER_STACK`] trace).
fn scan_holder_task_line(hung: Option<&mut HungTask>, rest: &str) -> bool {
    let Some(b) = hung.and_then(|h| h.blocker.as_mut()) else {
        return false;
    };
    let Some(holder) = &b.holder else {
        return false;
    };
    if b.holder_state.is_some() || !is_task_line_of(rest, &holder.comm) {
        return false;
    }
    b.holder_state = rest
        .split_once(" state:")
        .and_then(|(_, s)| s.chars().next())
        .map(|c| c.to_string());
    true
}
