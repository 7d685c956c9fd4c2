//! Hung-task "blocker" lines (Linux 6.14+, all three forms since 7.x) and the wait-for graph
//! of the blocked tasks.
//!
//! After a hung task's own report, `debug_show_blocker()` (kernel/hung_task.c) names the task
//! that holds what the hung task waits for:
//!
//! ```text
//! INFO: task %s:%d is blocked on a mutex likely owned by task %s:%d.
//! INFO: task %s:%d blocked on a semaphore likely last held by task %s:%d
//! INFO: task %s:%d <%s> blocked on an rw-semaphore likely owned by task %s:%d <%s>
//! INFO: task %s:%d is blocked on a mutex, but the owner is not found.
//! INFO: task %s:%d is blocked on a semaphore, but the last holder is not found.
//! INFO: task %s:%d is blocked on an rw-semaphore, but the owner is not found.
//! ```
//!
//! and, when the holder is not hung itself, prints the holder's stack with `sched_show_task()`
//! (`task:NAME state:X ...`, `Call Trace:`, `<TASK>` ... `</TASK>`). Both belong to the hung-task
//! report just before them: `offer_tail` lets the segmenter take them, the extractor stores
//! the line in [`HungTask::blocker`] and the holder's frames as the stack [`HOLDER_STACK`].
//!
//! [`WaitForBuilder`] builds the graph "waiter -> holder" from the blocker lines one report at
//! a time (deduplicated: the detector repeats its reports), and [`wait_for`] from a list; the
//! graph's cycles are real deadlocks that happened, and its edges name the locks when a lockdep
//! report of the same log does. `annotate` writes that into the hung-task explanations of a
//! whole log, `annotate_with` into a streamed batch of hung-task reports; `text_section` and
//! `dot_section` render the graph at the end of the text and DOT outputs.

use crate::explain::is_boring;
use crate::model::{Frame, HeldLock, HungTask, Report, ReportKind, Task};
use crate::output::quote;
use crate::segment::{hung_header_task, LineClass};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

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

// ---------------------------------------------------------------------------------------------
// Parsing the blocker line.

/// A parsed blocker line: the waiting task (comm, pid) and what it is blocked on.
pub(crate) struct BlockerLine {
    pub comm: String,
    pub pid: u32,
    pub blocker: Blocker,
}

/// `COMM:PID`, parsed from the right (comms may contain `:`); the comm must not be empty.
fn comm_pid(s: &str) -> Option<(String, u32)> {
    let (comm, pid) = s.rsplit_once(':')?;
    if comm.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((comm.to_string(), pid.parse().ok()?))
}

/// `COMM:PID <reader>` -> (`COMM:PID`, `reader`).
fn split_role(s: &str) -> Option<(&str, String)> {
    let (left, role) = s.rsplit_once(" <")?;
    let role = role.strip_suffix('>')?;
    matches!(role, "reader" | "writer").then(|| (left, role.to_string()))
}

/// The "found" forms: the phrase between waiter and holder, the lock kind, and whether both
/// sides carry an rw-semaphore role.
const FOUND: &[(&str, &str, bool)] = &[
    (
        " is blocked on a mutex likely owned by task ",
        "mutex",
        false,
    ),
    (
        " blocked on a semaphore likely last held by task ",
        "semaphore",
        false,
    ),
    (
        " blocked on an rw-semaphore likely owned by task ",
        "rw-semaphore",
        true,
    ),
];

/// The "not found" forms: the suffix after the waiter, and the lock kind.
const NOT_FOUND: &[(&str, &str)] = &[
    (
        " is blocked on a mutex, but the owner is not found",
        "mutex",
    ),
    (
        " is blocked on a semaphore, but the last holder is not found",
        "semaphore",
    ),
    (
        " is blocked on an rw-semaphore, but the owner is not found",
        "rw-semaphore",
    ),
];

/// Parses a blocker line (already stripped of timestamps; surrounding blanks are ignored).
pub(crate) fn parse_blocker(line: &str) -> Option<BlockerLine> {
    let t = line.trim();
    let rest = t.strip_prefix("INFO: task ")?;
    let body = rest.strip_suffix('.').unwrap_or(rest);
    for (suffix, kind) in NOT_FOUND {
        if let Some(waiter) = body.strip_suffix(suffix) {
            let (comm, pid) = comm_pid(waiter)?;
            return Some(BlockerLine {
                comm,
                pid,
                blocker: Blocker {
                    kind: kind.to_string(),
                    role: None,
                    holder: None,
                    holder_role: None,
                    holder_state: None,
                    line: t.to_string(),
                },
            });
        }
    }
    for (phrase, kind, roles) in FOUND {
        // Comms may contain the phrase: try every occurrence, the first that parses wins.
        for (i, _) in rest.match_indices(phrase) {
            let (left, right) = (&rest[..i], &rest[i + phrase.len()..]);
            let parsed = if *roles {
                split_role(left).zip(split_role(right)).and_then(
                    |((waiter, role), (holder, holder_role))| {
                        Some((
                            comm_pid(waiter)?,
                            Some(role),
                            comm_pid(holder)?,
                            Some(holder_role),
                        ))
                    },
                )
            } else {
                // The mutex form ends with '.', the semaphore form does not.
                let holder = if *kind == "mutex" {
                    right.strip_suffix('.').unwrap_or(right)
                } else {
                    right
                };
                comm_pid(left)
                    .zip(comm_pid(holder))
                    .map(|(w, h)| (w, None, h, None))
            };
            if let Some(((comm, pid), role, (hcomm, hpid), holder_role)) = parsed {
                return Some(BlockerLine {
                    comm,
                    pid,
                    blocker: Blocker {
                        kind: kind.to_string(),
                        role,
                        holder: Some(Task {
                            comm: hcomm,
                            pid: Some(hpid),
                        }),
                        holder_role,
                        holder_state: None,
                        line: t.to_string(),
                    },
                });
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Segmenting: the lines after a hung task's own stack.

/// Where a hung-task report is in the lines that may follow its own stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Nothing after the stack yet: a blocker line of this task may follow.
    #[default]
    Start,
    /// A blocker line naming this holder was taken: its `task:` line may follow.
    AwaitHolder(String),
    /// The holder's `task:` line was taken: its `Call Trace:` follows.
    HolderTask,
    /// In the holder's stack.
    HolderDump,
    /// Nothing more of ours can follow.
    Done,
}

/// True when `rest` (a `task:` line without `task:`) is the `sched_show_task()` line of `comm`
/// (printed with `%-15.15s`).
fn is_task_line_of(rest: &str, comm: &str) -> bool {
    let shown = comm.get(..15).unwrap_or(comm);
    rest.strip_prefix(shown)
        .is_some_and(|after| after.starts_with(' '))
}

/// Offers a line that follows the hung task's own stack to its report: the task's blocker
/// line, then the holder's `sched_show_task()` dump. Returns true when the line is taken.
pub(crate) fn offer_tail(tail: &mut Tail, header: &str, class: LineClass, text: &str) -> bool {
    match (&*tail, class) {
        (Tail::Start, LineClass::HungBody) => {
            let Some(b) = parse_blocker(text) else {
                return false;
            };
            // The blocker line belongs to the report of the task it names.
            let ours = hung_header_task(header).is_some_and(|(c, p, _)| c == b.comm && p == b.pid);
            if !ours {
                return false;
            }
            *tail = match b.blocker.holder {
                Some(h) => Tail::AwaitHolder(h.comm),
                None => Tail::Done,
            };
            true
        }
        (Tail::AwaitHolder(comm), LineClass::HungTaskLine) => {
            let rest = text.trim().strip_prefix("task:").unwrap_or("");
            if !is_task_line_of(rest, comm) {
                return false;
            }
            *tail = Tail::HolderTask;
            true
        }
        (Tail::HolderTask, LineClass::DumpInfo) => true,
        (Tail::HolderTask, LineClass::CallTrace) => {
            *tail = Tail::HolderDump;
            true
        }
        (
            Tail::HolderDump,
            LineClass::Frame | LineClass::MarkerOpen | LineClass::MarkerClose | LineClass::Register,
        ) => true,
        (Tail::HolderDump, LineClass::TaskClose) => {
            *tail = Tail::Done;
            true
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Extracting.

/// Stores a blocker line in the hung task (the first one wins).
pub(crate) fn scan_blocker_line(hung: Option<&mut HungTask>, t: &str) {
    let (Some(h), Some(b)) = (hung, parse_blocker(t)) else {
        return;
    };
    if h.blocker.is_none() && b.comm == h.comm && b.pid == h.pid {
        h.blocker = Some(b.blocker);
    }
}

/// A `task:` line after the blocker line is the holder's: records its state and returns true
/// (the caller then starts the [`HOLDER_STACK`] trace).
pub(crate) fn scan_holder_task_line(hung: Option<&mut HungTask>, rest: &str) -> bool {
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

// ---------------------------------------------------------------------------------------------
// The graph.

type Key = (String, u32);

/// What identifies an edge: waiter, holder, lock kind and the two rw-semaphore roles.
type EdgeKey = (Key, Key, String, Option<String>, Option<String>);

/// Report indices kept per edge ([`WaitEdge::reports`]): the detector repeats its reports, and
/// a long log must not grow the graph.
pub const MAX_EDGE_REPORTS: usize = 64;

fn key(t: &Task) -> Option<Key> {
    Some((t.comm.clone(), t.pid?))
}

fn task(k: &Key) -> Task {
    Task {
        comm: k.0.clone(),
        pid: Some(k.1),
    }
}

fn name(t: &Task) -> String {
    match t.pid {
        Some(p) => format!("{}/{}", t.comm, p),
        None => t.comm.clone(),
    }
}

/// The edge key of a hung task's blocker, or None when it names no holder (with a pid).
fn edge_key(h: &HungTask, b: &Blocker) -> Option<EdgeKey> {
    let holder = b.holder.as_ref().and_then(key)?;
    Some((
        (h.comm.clone(), h.pid),
        holder,
        b.kind.clone(),
        b.role.clone(),
        b.holder_role.clone(),
    ))
}

fn is_lockdep_cycle(r: &Report) -> bool {
    matches!(
        r.kind,
        ReportKind::CircularDependency | ReportKind::RecursiveLocking
    )
}

fn same(t: Option<&Task>, k: &Key) -> bool {
    t.is_some_and(|t| t.comm == k.0 && t.pid == Some(k.1))
}

/// lockdep maps that are not locks a task can be blocked on: workqueue flush annotations and
/// RCU read-side sections.
fn is_pseudo_lock(name: &str) -> bool {
    name.starts_with("(wq_completion)")
        || name.starts_with("(work_completion)")
        || name.starts_with("rcu_read_lock")
}

/// What lockdep reports say about the tasks' locks, to name the lock of an edge.
#[derive(Debug, Clone, Default)]
struct LockIndex {
    /// The lock each task was acquiring in the last lockdep report it triggered.
    acquiring: BTreeMap<Key, (String, usize)>,
    /// The locks each task is listed as holding, with the first report that lists each.
    held: BTreeMap<Key, BTreeMap<String, usize>>,
}

impl LockIndex {
    fn add(&mut self, i: usize, r: &Report) {
        let first = r.tasks.first().and_then(key);
        if let (true, Some(k)) = (is_lockdep_cycle(r), first) {
            if let Some(a) = &r.acquiring {
                self.acquiring.insert(k.clone(), (a.lock.clone(), i));
            }
            if let Some(h) = &r.holding {
                self.held
                    .entry(k)
                    .or_default()
                    .entry(h.lock.clone())
                    .or_insert(i);
            }
        }
        for h in &r.held_locks {
            if let (Some(pid), false) = (h.pid, is_pseudo_lock(&h.lock)) {
                let locks = self.held.entry((h.task.clone(), pid)).or_default();
                if !locks.contains_key(&h.lock) {
                    locks.insert(h.lock.clone(), i);
                }
            }
        }
    }

    /// The lock `waiter` waits for and the report naming it (see [`WaitEdge::lock`]): the lock
    /// it was acquiring in a lockdep report it triggered, or else the only lock `holder` is
    /// listed as holding.
    fn lock(&self, waiter: &Key, holder: &Key) -> Option<(String, usize)> {
        if let Some(a) = self.acquiring.get(waiter) {
            return Some(a.clone());
        }
        match self.held.get(holder) {
            Some(held) if held.len() == 1 => held.iter().next().map(|(l, i)| (l.clone(), *i)),
            _ => None,
        }
    }
}

/// What the explanations need to know about the last hung-task report of a task at the end
/// of a wait-for chain.
#[derive(Debug, Clone, Default)]
struct HungEnd {
    /// The lock kind, when its blocker line said the holder was not found.
    not_found: Option<String>,
    /// Where it is blocked (`HungTask::blocked_in`).
    blocked_in: Option<String>,
}

/// The wait-for graph built one report at a time, in log order: what [`wait_for`] computes
/// for a whole list, without holding the reports. Its size grows with the distinct tasks,
/// edges and locks of the log, not with the number of reports.
///
/// ```
/// let reports = splat::parse(include_str!("../tests/fixtures/abba-7.3-demo.log"));
/// let mut b = splat::WaitForBuilder::new();
/// for r in &reports {
///     b.add(r);
/// }
/// assert_eq!(b.graph(), splat::wait_for(&reports));
/// assert_eq!(b.graph().cycles.len(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct WaitForBuilder {
    /// Reports added so far: the index of the next one.
    count: usize,
    /// The edges, without what only the whole graph tells (`lock`, `current`, `in_cycle`,
    /// `holder_hung`).
    edges: Vec<WaitEdge>,
    known: BTreeMap<EdgeKey, usize>,
    /// The latest blocker of every waiter: the edge index, or None for "not found".
    latest: BTreeMap<Key, Option<usize>>,
    /// The tasks with a hung-task report.
    hung: BTreeSet<Key>,
    locks: LockIndex,
    /// The last hung-task report of every task.
    last_hung: BTreeMap<Key, HungEnd>,
    /// Where the latest printed stack of a holder shows it.
    place: BTreeMap<Key, String>,
    /// The index of the first report that turned lockdep off (or said it was off).
    lockdep_off_at: Option<usize>,
}

impl WaitForBuilder {
    /// An empty graph, before the first report.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of reports added (the index the next one gets in `reports` fields).
    pub fn count(&self) -> usize {
        self.count
    }

    /// True when no blocker line named a holder so far.
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    /// Adds the next report of the log (every report, not only hung tasks: lockdep reports
    /// name the locks).
    pub fn add(&mut self, r: &Report) {
        let i = self.count;
        self.count += 1;
        self.locks.add(i, r);
        if self.lockdep_off_at.is_none() && crate::explain::lockdep_off(r) {
            self.lockdep_off_at = Some(i);
        }
        let Some(h) = &r.hung_task else {
            return;
        };
        let waiter: Key = (h.comm.clone(), h.pid);
        self.hung.insert(waiter.clone());
        self.last_hung.insert(
            waiter.clone(),
            HungEnd {
                not_found: h
                    .blocker
                    .as_ref()
                    .filter(|b| b.holder.is_none())
                    .map(|b| b.kind.clone()),
                blocked_in: h.blocked_in.clone(),
            },
        );
        let Some(b) = &h.blocker else {
            return;
        };
        if let Some((holder, at)) = b
            .holder
            .as_ref()
            .and_then(key)
            .zip(r.stack(HOLDER_STACK).and_then(|s| holder_place(&s.frames)))
        {
            self.place.insert(holder, at.to_string());
        }
        let Some(ek) = edge_key(h, b) else {
            self.latest.insert(waiter, None);
            return;
        };
        let holder = task(&ek.1);
        let edges = &mut self.edges;
        let pos = *self.known.entry(ek).or_insert_with(|| {
            edges.push(WaitEdge {
                waiter: task(&waiter),
                holder,
                kind: b.kind.clone(),
                role: b.role.clone(),
                holder_role: b.holder_role.clone(),
                lock: None,
                lock_report: None,
                reports: Vec::new(),
                holder_hung: false,
                holder_state: None,
                current: false,
                in_cycle: false,
            });
            edges.len() - 1
        });
        let e = &mut edges[pos];
        if e.reports.len() < MAX_EDGE_REPORTS {
            e.reports.push(i);
        }
        if b.holder_state.is_some() {
            e.holder_state.clone_from(&b.holder_state);
        }
        self.latest.insert(waiter, Some(pos));
    }

    /// The current edge of every waiter.
    fn next(&self) -> BTreeMap<Key, usize> {
        self.latest
            .iter()
            .filter_map(|(k, e)| Some((k.clone(), (*e)?)))
            .collect()
    }

    /// The edge a hung-task report printed, if its blocker named a holder.
    fn edge_of(&self, h: &HungTask) -> Option<usize> {
        let ek = edge_key(h, h.blocker.as_ref()?)?;
        self.known.get(&ek).copied()
    }

    /// The graph of the reports added so far: lock names, current edges and cycles.
    pub fn graph(&self) -> WaitFor {
        let mut edges = self.edges.clone();
        for e in &mut edges {
            if let (Some(w), Some(h)) = (key(&e.waiter), key(&e.holder)) {
                if let Some((lock, i)) = self.locks.lock(&w, &h) {
                    e.lock = Some(lock);
                    e.lock_report = Some(i);
                }
                e.holder_hung = self.hung.contains(&h);
            }
        }
        let next = self.next();
        for &i in next.values() {
            edges[i].current = true;
        }
        let mut cycles = find_cycles(&edges, &next);
        for c in &mut cycles {
            for &i in &c.edges {
                edges[i].in_cycle = true;
                if let Some(l) = &edges[i].lock {
                    if !c.locks.contains(l) {
                        c.locks.push(l.clone());
                    }
                }
            }
        }
        WaitFor { edges, cycles }
    }
}

/// Builds the wait-for graph of all blocker lines in `reports` (deduplicated edges, each
/// listing at most the first [`MAX_EDGE_REPORTS`] reports that printed it).
pub fn wait_for(reports: &[Report]) -> WaitFor {
    let mut b = WaitForBuilder::new();
    for r in reports {
        b.add(r);
    }
    b.graph()
}

/// The cycles of the graph where every task has at most one (current) out-edge.
fn find_cycles(edges: &[WaitEdge], next: &BTreeMap<Key, usize>) -> Vec<WaitCycle> {
    // 0: not visited, 1: on the current walk, 2: done.
    let mut state: BTreeMap<Key, u8> = BTreeMap::new();
    let mut cycles = Vec::new();
    for start in next.keys() {
        let mut walk: Vec<Key> = Vec::new();
        let mut on_walk: BTreeMap<Key, usize> = BTreeMap::new();
        let mut k = start.clone();
        loop {
            match state.get(&k).copied().unwrap_or(0) {
                2 => break,
                1 => {
                    let from = on_walk.get(&k).copied().unwrap_or(0);
                    cycles.push(make_cycle(next, &walk[from..]));
                    break;
                }
                _ => {
                    state.insert(k.clone(), 1);
                    on_walk.insert(k.clone(), walk.len());
                    walk.push(k.clone());
                    match next.get(&k).and_then(|&i| key(&edges[i].holder)) {
                        Some(h) => k = h,
                        None => break,
                    }
                }
            }
        }
        for k in walk {
            state.insert(k, 2);
        }
    }
    cycles.sort_by_key(|c| c.tasks.first().map(|t| (t.pid, t.comm.clone())));
    cycles
}

/// A cycle from the keys on it, rotated to start at the smallest (pid, comm).
fn make_cycle(next: &BTreeMap<Key, usize>, keys: &[Key]) -> WaitCycle {
    let start = keys
        .iter()
        .enumerate()
        .min_by(|(_, a), (_, b)| (a.1, &a.0).cmp(&(b.1, &b.0)))
        .map_or(0, |(i, _)| i);
    let mut rotated: Vec<Key> = keys[start..].to_vec();
    rotated.extend_from_slice(&keys[..start]);
    WaitCycle {
        tasks: rotated.iter().map(task).collect(),
        edges: rotated
            .iter()
            .filter_map(|k| next.get(k).copied())
            .collect(),
        locks: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Explaining.

/// "waits for a semaphore last held by deadlock_b/49".
fn waits_for(e: &WaitEdge) -> String {
    let holder = name(&e.holder);
    let as_role = |r: &Option<String>| r.as_ref().map(|r| format!(" as a {r}")).unwrap_or_default();
    match e.kind.as_str() {
        "semaphore" => format!("waits for a semaphore last held by {holder}"),
        "rw-semaphore" => format!(
            "waits{} for an rw-semaphore owned by {holder}{}",
            as_role(&e.role),
            match &e.holder_role {
                Some(r) => format!(" (as a {r})"),
                None => String::new(),
            }
        ),
        kind => format!("waits for a {kind} owned by {holder}"),
    }
}

/// "a mutex", "2 semaphores", ...
fn count_kinds(edges: &[&WaitEdge]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in edges {
        *counts.entry(e.kind.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(k, n)| match (*k, *n) {
            ("rw-semaphore", 1) => "an rw-semaphore".to_string(),
            (k, 1) => format!("a {k}"),
            ("mutex", n) => format!("{n} mutexes"),
            (k, n) => format!("{n} {k}s"),
        })
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    item_list(&parts)
}

/// "Locks involved: ..." for a list of edges, or None when no lock name and `always` is false.
fn locks_line(edges: &[&WaitEdge], always: bool) -> Option<String> {
    let sources: BTreeSet<usize> = edges.iter().filter_map(|e| e.lock_report).collect();
    if sources.is_empty() {
        return always.then(|| {
            format!(
                "Locks involved: {} (no lockdep report in this log names them).",
                count_kinds(edges)
            )
        });
    }
    let parts: Vec<String> = edges
        .iter()
        .map(|e| {
            let lock = match &e.lock {
                Some(l) => l.clone(),
                None => format!("a {} not named by lockdep", e.kind),
            };
            format!(
                "{} waits for {lock}, held by {}",
                name(&e.waiter),
                name(&e.holder)
            )
        })
        .collect();
    let refs: Vec<String> = sources.iter().map(|i| format!("#{}", i + 1)).collect();
    Some(format!(
        "Locks involved (per lockdep, report{} {}): {}.",
        if refs.len() == 1 { "" } else { "s" },
        refs.join(", "),
        parts.join("; ")
    ))
}

/// Longest wait-for chain told in an explanation.
const MAX_CHAIN: usize = 32;

/// Everything the explanations need, computed once from the graph.
struct Ctx<'a> {
    b: &'a WaitForBuilder,
    graph: WaitFor,
    /// The current edge of every waiter.
    next: BTreeMap<Key, usize>,
}

impl<'a> Ctx<'a> {
    fn new(b: &'a WaitForBuilder) -> Self {
        Ctx {
            b,
            graph: b.graph(),
            next: b.next(),
        }
    }

    /// What is known about a task at the end of a wait-for chain.
    fn chain_end(&self, k: &Key) -> String {
        if let Some(end) = self.b.last_hung.get(k) {
            if let Some(kind) = &end.not_found {
                return format!(
                    "which is hung too, blocked on a {kind} whose {} the kernel did not find",
                    holder_word(kind)
                );
            }
            return match &end.blocked_in {
                Some(p) => format!("which is hung too, in {p} (not a lock the kernel tracks)"),
                None => "which is hung too".to_string(),
            };
        }
        let state = self
            .graph
            .edges
            .iter()
            .filter(|e| same(Some(&e.holder), k))
            .find_map(|e| e.holder_state.clone());
        let place = self
            .b
            .place
            .get(k)
            .map(|f| format!(", in {f}"))
            .unwrap_or_default();
        match state {
            Some(s) => format!("which is not hung (state {s}: {}{place})", state_word(&s)),
            None => "which is not reported hung".to_string(),
        }
    }
}

/// "owner", or "last holder" for a semaphore (the kernel's words).
fn holder_word(kind: &str) -> &'static str {
    if kind == "semaphore" {
        "last holder"
    } else {
        "owner"
    }
}

/// Where a holder's stack shows it: the first interesting frame that is not a context switch
/// or a sleep helper.
fn holder_place(frames: &[Frame]) -> Option<&str> {
    const SLEEP: &[&str] = &["__switch_to", "__cond_resched", "msleep", "usleep"];
    frames
        .iter()
        .filter(|f| f.reliable && !is_boring(&f.function))
        .find(|f| !SLEEP.iter().any(|p| f.function.starts_with(p)))
        .map(|f| f.function.as_str())
}

fn state_word(s: &str) -> &'static str {
    match s {
        "R" => "running",
        "S" => "sleeping",
        "D" => "uninterruptible sleep",
        "I" => "idle",
        "T" => "stopped",
        _ => "other state",
    }
}

/// The lines about the blocker of a report (nothing when it printed none), and the fix that
/// replaces the report's own when the task is in a cycle.
fn blocker_lines(cx: &Ctx, r: &Report) -> (Vec<String>, Option<String>) {
    let Some(h) = r.hung_task.as_ref() else {
        return (Vec::new(), None);
    };
    let Some(b) = h.blocker.as_ref() else {
        return (Vec::new(), None);
    };
    let me: Key = (h.comm.clone(), h.pid);
    let Some(edge) = cx.b.edge_of(h) else {
        let article = if b.kind == "rw-semaphore" { "an" } else { "a" };
        return (
            vec![format!(
                "It is blocked on {article} {}, but the kernel did not find its {} (the \
                 holder may have exited, or the lock was never owned by a task).",
                b.kind,
                holder_word(&b.kind)
            )],
            None,
        );
    };
    let graph = &cx.graph;
    // Follow the current edges from this report's edge: a cycle or a chain.
    let next = &cx.next;
    let mut path = vec![edge];
    let mut seen: BTreeSet<Key> = BTreeSet::from([me.clone()]);
    let mut k = key(&graph.edges[edge].holder);
    let mut closed = false;
    while let Some(cur) = k.clone() {
        if cur == me {
            closed = true;
            break;
        }
        if !seen.insert(cur.clone()) || path.len() >= MAX_CHAIN {
            break; // runs into a cycle without this task, or goes on too long to tell
        }
        match next.get(&cur) {
            Some(&j) => {
                path.push(j);
                k = key(&graph.edges[j].holder);
            }
            None => break,
        }
    }
    let steps: Vec<&WaitEdge> = path.iter().map(|&j| &graph.edges[j]).collect();
    if let [only] = steps[..] {
        if closed {
            return self_wait(only);
        }
    }
    let mut sentence = format!("{} {}", name(&steps[0].waiter), waits_for(steps[0]));
    for e in &steps[1..] {
        let _ = write!(sentence, ", which {}", waits_for(e));
    }
    let mut lines = Vec::new();
    if graph.edges[edge].in_cycle {
        if !closed {
            // Cut at MAX_CHAIN: a current edge on a cycle leads back to this task.
            let n = graph
                .cycles
                .iter()
                .find(|c| c.edges.contains(&edge))
                .map_or(0, |c| c.tasks.len());
            let _ = write!(
                sentence,
                ", and so on around a cycle of {n} tasks back to {}",
                name(&steps[0].waiter)
            );
        }
        lines.push(format!(
            "Real deadlock (it happened, lockdep did not have to predict it): {sentence}."
        ));
        lines.extend(locks_line(&steps, true));
        if steps.iter().all(|e| e.lock.is_none()) {
            lines.push(unseen_by_lockdep(cx, r, &steps));
        }
        let locks: Vec<&str> = steps.iter().filter_map(|e| e.lock.as_deref()).collect();
        let fix = if locks.len() == steps.len() {
            let mut distinct = locks.clone();
            distinct.sort_unstable();
            distinct.dedup();
            format!(
                "Fix: the tasks of this cycle take {} in different orders: take them in one \
                 global order everywhere (or release what a task holds before it waits).",
                item_list(&distinct)
            )
        } else {
            "Fix: the tasks of this cycle take their locks in different orders: take them in \
             one global order everywhere (or release what a task holds before it waits)."
                .to_string()
        };
        return (lines, Some(fix));
    }
    if !closed {
        match k.filter(|end| !next.contains_key(end)) {
            Some(end) => {
                let _ = write!(sentence, ", {}", cx.chain_end(&end));
            }
            None if path.len() >= MAX_CHAIN => sentence.push_str(", and so on"),
            None => sentence.push_str(", which is part of a wait-for cycle of other tasks"),
        }
    }
    lines.push(format!("Wait-for chain (no cycle): {sentence}."));
    lines.extend(locks_line(&steps, false));
    (lines, None)
}

/// Why lockdep printed no report about the locks of a cycle that no lockdep report names: it
/// was off, or the locks carry no lockdep annotation (plain semaphores); `r`'s list of all
/// held locks, when the kernel printed one, shows that lockdep is on.
fn unseen_by_lockdep(cx: &Ctx, r: &Report, steps: &[&WaitEdge]) -> String {
    let first = steps.iter().filter_map(|e| e.reports.first()).max();
    if let (Some(off), Some(&first)) = (cx.b.lockdep_off_at, first) {
        if off <= first {
            return "Lockdep printed nothing about these locks: an earlier report had turned \
                    it off, so only the hung-task detector saw them."
                .to_string();
        }
    }
    let in_cycle = |h: &HeldLock| {
        steps
            .iter()
            .any(|e| e.waiter.comm == h.task && e.waiter.pid == h.pid)
    };
    let listed = !r.held_locks.is_empty() && !r.held_locks.iter().any(in_cycle);
    let on = if listed {
        " although it is on (its list of all held locks shows none of them)"
    } else {
        ""
    };
    let semaphores = steps.iter().filter(|e| e.kind == "semaphore").count();
    if semaphores == steps.len() {
        format!(
            "Lockdep printed nothing about these semaphores{on}: they carry no lockdep \
             annotation (plain semaphores are invisible to lockdep), so only the hung-task \
             detector saw them."
        )
    } else if semaphores > 0 {
        let its = if semaphores == 1 {
            "its semaphore carries"
        } else {
            "its semaphores carry"
        };
        format!(
            "Lockdep printed nothing about this cycle{on}: {its} no lockdep annotation (plain \
             semaphores are invisible to lockdep), so lockdep cannot see the cycle close, and \
             only the hung-task detector saw it."
        )
    } else {
        format!(
            "Lockdep printed nothing about these locks{on}: they carry no lockdep annotation, \
             or the kernel runs without lockdep, so only the hung-task detector saw them."
        )
    }
}

/// The lines and the fix for a task that waits for a lock it holds itself: a cycle of one
/// task, recursive locking (the kernel names the waiter as the lock's holder).
fn self_wait(e: &WaitEdge) -> (Vec<String>, Option<String>) {
    let me = name(&e.waiter);
    let article = if e.kind == "rw-semaphore" { "an" } else { "a" };
    let mut lines = vec![format!(
        "Real deadlock (it happened, lockdep did not have to predict it): {me} waits for \
         {article} {} it holds itself (recursive locking): it waits for itself forever.",
        e.kind
    )];
    lines.extend(locks_line(&[e], false));
    let lock = e.lock.as_deref().unwrap_or("a lock the task already holds");
    let fix = format!(
        "Fix: do not take {lock} again while holding it: pass the held lock (its guard) down \
         to the code that needs it instead of taking it again, or release it before the call."
    );
    (lines, Some(fix))
}

fn item_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [a] => (*a).to_string(),
        [a, b] => format!("{a} and {b}"),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Adds what the blocker lines say to the explanations of the hung-task reports: the cycle
/// (a real deadlock) or chain the task is in, and the locks involved. The lines go before the
/// report's `Fix:` line; in a cycle, that line is replaced by the cycle's fix.
pub(crate) fn annotate(reports: &mut [Report]) {
    let mut b = WaitForBuilder::new();
    for r in reports.iter() {
        b.add(r);
    }
    annotate_with(&b, reports);
}

/// Like [`annotate`] for the last reports added to `b` (a streamed batch of hung-task reports),
/// told with the graph of the log so far.
pub(crate) fn annotate_with(b: &WaitForBuilder, reports: &mut [Report]) {
    let has_blocker = |r: &Report| r.hung_task.as_ref().is_some_and(|h| h.blocker.is_some());
    if !reports.iter().any(has_blocker) {
        return;
    }
    let cx = Ctx::new(b);
    for r in reports.iter_mut() {
        let (lines, fix) = blocker_lines(&cx, r);
        if lines.is_empty() {
            continue;
        }
        let mut text: Vec<String> = r.explanation.lines().map(str::to_string).collect();
        let at = text
            .iter()
            .rposition(|l| l.starts_with("Fix:"))
            .unwrap_or(text.len());
        if let Some(fix) = fix {
            if at < text.len() {
                text[at] = fix;
            } else {
                text.push(fix);
            }
        }
        text.splice(at..at, lines);
        r.explanation = text.join("\n");
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering.

fn edge_label(e: &WaitEdge) -> String {
    let mut s = e.kind.clone();
    if let (Some(r), Some(h)) = (&e.role, &e.holder_role) {
        let _ = write!(s, " ({r} waits, {h} holds)");
    }
    if let Some(l) = &e.lock {
        let _ = write!(s, " {l}");
    }
    s
}

/// The wait-for graph as text for `to_text` (empty when no blocker line named a holder).
pub(crate) fn text_section(g: &WaitFor) -> String {
    if g.edges.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\nWait-for graph (from hung-task blocker lines): {} edge{}, {} cycle{}\n",
        g.edges.len(),
        if g.edges.len() == 1 { "" } else { "s" },
        g.cycles.len(),
        if g.cycles.len() == 1 { "" } else { "s" },
    );
    for e in &g.edges {
        let mut refs: Vec<String> = e.reports.iter().map(|i| format!("#{}", i + 1)).collect();
        if refs.len() >= MAX_EDGE_REPORTS {
            refs.push("...".to_string());
        }
        let _ = writeln!(
            out,
            "    {} -> {}: {} (report{} {}){}",
            name(&e.waiter),
            name(&e.holder),
            edge_label(e),
            if refs.len() == 1 { "" } else { "s" },
            refs.join(", "),
            if e.current { "" } else { " (earlier)" }
        );
    }
    for c in &g.cycles {
        let mut names: Vec<String> = c.tasks.iter().map(name).collect();
        if let Some(first) = names.first().cloned() {
            names.push(first);
        }
        let _ = writeln!(out, "    Cycle (real deadlock): {}", names.join(" -> "));
    }
    out
}

/// The wait-for graph as a DOT cluster for `to_dot` (empty when there is no edge): task nodes,
/// dashed "waits for" edges labelled with the lock kind (and class when known), cycle edges
/// red and bold.
pub(crate) fn dot_section(g: &WaitFor) -> String {
    if g.edges.is_empty() {
        return String::new();
    }
    let id = |t: &Task| quote(&format!("task {}", name(t)));
    let mut out = String::new();
    out.push_str(
        "  // Wait-for graph of hung tasks: an edge T1 -> T2 means T1 waits for a lock T2 holds.\n",
    );
    out.push_str("  subgraph cluster_waitfor {\n");
    out.push_str("    label=\"wait-for (hung-task blocker lines)\";\n");
    out.push_str("    style=dashed;\n");
    out.push_str("    fontname=\"monospace\";\n");
    let mut nodes: Vec<&Task> = Vec::new();
    for e in &g.edges {
        for t in [&e.waiter, &e.holder] {
            if !nodes.contains(&t) {
                nodes.push(t);
            }
        }
    }
    for t in nodes {
        // A holder that is not hung: say so, with its state when the kernel printed it.
        let free = g
            .edges
            .iter()
            .find(|e| e.holder == *t && !e.holder_hung)
            .map(|e| match &e.holder_state {
                Some(s) => format!("\nnot hung, state {s}"),
                None => "\nnot hung".to_string(),
            })
            .filter(|_| !g.edges.iter().any(|e| e.waiter == *t));
        let _ = writeln!(
            out,
            "    {} [label={}, shape=ellipse];",
            id(t),
            quote(&format!("{}{}", name(t), free.unwrap_or_default()))
        );
    }
    for e in &g.edges {
        let mut attrs = vec![
            "style=dashed".to_string(),
            format!("label={}", quote(&edge_label(e))),
        ];
        if e.in_cycle {
            attrs.push("color=red".to_string());
            attrs.push("fontcolor=red".to_string());
            attrs.push("penwidth=2".to_string());
        } else if !e.current {
            attrs.push("color=gray".to_string());
        }
        let _ = writeln!(
            out,
            "    {} -> {} [{}];",
            id(&e.waiter),
            id(&e.holder),
            attrs.join(", ")
        );
    }
    out.push_str("  }\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(b: &BlockerLine) -> Option<(&str, Option<u32>)> {
        b.blocker.holder.as_ref().map(|h| (h.comm.as_str(), h.pid))
    }

    #[test]
    fn semaphore_found() {
        let b = parse_blocker(
            "INFO: task deadlock_a:48 blocked on a semaphore likely last held by task deadlock_b:49",
        )
        .unwrap();
        assert_eq!((b.comm.as_str(), b.pid), ("deadlock_a", 48));
        assert_eq!(b.blocker.kind, "semaphore");
        assert_eq!(holder(&b), Some(("deadlock_b", Some(49))));
        assert_eq!((b.blocker.role, b.blocker.holder_role), (None, None));
    }

    #[test]
    fn mutex_found_with_odd_comms() {
        let b = parse_blocker(
            "INFO: task (udev-worker):311 is blocked on a mutex likely owned by task kworker/0:1:12.",
        )
        .unwrap();
        assert_eq!((b.comm.as_str(), b.pid), ("(udev-worker)", 311));
        assert_eq!(b.blocker.kind, "mutex");
        assert_eq!(holder(&b), Some(("kworker/0:1", Some(12))));
        // A comm containing the phrase itself.
        let b = parse_blocker(
            "INFO: task a is blocked on a mutex likely owned by task x:1 is blocked on a mutex likely owned by task b c:2.",
        )
        .unwrap();
        assert_eq!(
            (b.comm.as_str(), b.pid),
            ("a is blocked on a mutex likely owned by task x", 1)
        );
        assert_eq!(holder(&b), Some(("b c", Some(2))));
    }

    #[test]
    fn rwsem_found() {
        let b = parse_blocker(
            "INFO: task my writer:7 <writer> blocked on an rw-semaphore likely owned by task rd:8 <reader>",
        )
        .unwrap();
        assert_eq!((b.comm.as_str(), b.pid), ("my writer", 7));
        assert_eq!(b.blocker.kind, "rw-semaphore");
        assert_eq!(b.blocker.role.as_deref(), Some("writer"));
        assert_eq!(b.blocker.holder_role.as_deref(), Some("reader"));
        assert_eq!(holder(&b), Some(("rd", Some(8))));
    }

    #[test]
    fn not_found_forms() {
        for (line, kind) in [
            (
                "INFO: task a:1 is blocked on a mutex, but the owner is not found.",
                "mutex",
            ),
            (
                "INFO: task b c:2 is blocked on a semaphore, but the last holder is not found.",
                "semaphore",
            ),
            (
                "INFO: task d:3 is blocked on an rw-semaphore, but the owner is not found.",
                "rw-semaphore",
            ),
        ] {
            let b = parse_blocker(line).unwrap();
            assert_eq!(b.blocker.kind, kind, "{line}");
            assert_eq!(b.blocker.holder, None, "{line}");
            assert_eq!(b.blocker.line, line);
        }
    }

    #[test]
    fn not_blocker_lines() {
        for line in [
            "INFO: task a:1 blocked for more than 2 seconds.",
            "INFO: task a:x blocked on a semaphore likely last held by task b:2",
            "INFO: task a:1 blocked on a semaphore likely last held by task b",
            "INFO: task :1 is blocked on a mutex, but the owner is not found.",
            "INFO: task a:1 <sleeper> blocked on an rw-semaphore likely owned by task b:2 <reader>",
            "INFO: task a:1 blocked on a semaphore likely last held by task b:99999999999",
            "task a:1 blocked on a semaphore likely last held by task b:2",
        ] {
            assert!(parse_blocker(line).is_none(), "{line}");
        }
    }
}
