//! The wait-for graph of the blocked tasks, from the hung-task blocker lines.
//!
//! [`WaitForBuilder`] builds the graph "waiter -> holder" one report at a time (deduplicated:
//! the detector repeats its reports), and [`wait_for`] from a list; the graph's cycles are real
//! deadlocks that happened, and its edges name the locks when a lockdep report of the same log
//! does.

use crate::analyze::lockdep_off;
use crate::lex::functions::is_boring;
use crate::model::{
    Blocker, Frame, HungTask, Report, ReportKind, Task, WaitCycle, WaitEdge, WaitFor, HOLDER_STACK,
};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) type Key = (String, u32);

/// What identifies an edge: waiter, holder, lock kind and the two rw-semaphore roles.
type EdgeKey = (Key, Key, String, Option<String>, Option<String>);

/// Report indices kept per edge ([`WaitEdge::reports`]): the detector repeats its reports, and
/// a long log must not grow the graph.
pub const MAX_EDGE_REPORTS: usize = 64;

pub(crate) fn key(t: &Task) -> Option<Key> {
    Some((t.comm.clone(), t.pid?))
}

fn task(k: &Key) -> Task {
    Task {
        comm: k.0.clone(),
        pid: Some(k.1),
    }
}

pub(crate) fn name(t: &Task) -> String {
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

pub(crate) fn same(t: Option<&Task>, k: &Key) -> bool {
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
pub(crate) struct HungEnd {
    /// The lock kind, when its blocker line said the holder was not found.
    pub not_found: Option<String>,
    /// Where it is blocked (`HungTask::blocked_in`).
    pub blocked_in: Option<String>,
}

/// The wait-for graph built one report at a time, in log order: what [`wait_for`] computes
/// for a whole list, without holding the reports. Its size grows with the distinct tasks,
/// edges and locks of the log, not with the number of reports.
///
/// ```
/// let reports = splat::parse(include_str!("../../tests/fixtures/abba-7.3-demo.log"));
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
        if self.lockdep_off_at.is_none() && lockdep_off(r) {
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
    pub(crate) fn next(&self) -> BTreeMap<Key, usize> {
        self.latest
            .iter()
            .filter_map(|(k, e)| Some((k.clone(), (*e)?)))
            .collect()
    }

    /// The edge a hung-task report printed, if its blocker named a holder.
    pub(crate) fn edge_of(&self, h: &HungTask) -> Option<usize> {
        let ek = edge_key(h, h.blocker.as_ref()?)?;
        self.known.get(&ek).copied()
    }

    /// What the last hung-task report of `k` said, if `k` had one.
    pub(crate) fn last_hung(&self, k: &Key) -> Option<&HungEnd> {
        self.last_hung.get(k)
    }

    /// Where the latest printed stack of holder `k` shows it.
    pub(crate) fn place(&self, k: &Key) -> Option<&str> {
        self.place.get(k).map(String::as_str)
    }

    /// The index of the first report that turned lockdep off (or said it was off).
    pub(crate) fn lockdep_off_at(&self) -> Option<usize> {
        self.lockdep_off_at
    }

    /// The edges as added, without what only the whole graph tells (see [`Self::edge`]).
    pub(crate) fn edges(&self) -> &[WaitEdge] {
        &self.edges
    }

    /// An edge with what the reports so far tell about it: the lock it is for, and whether its
    /// holder is hung.
    fn complete(&self, e: &mut WaitEdge) {
        if let (Some(w), Some(h)) = (key(&e.waiter), key(&e.holder)) {
            if let Some((lock, i)) = self.locks.lock(&w, &h) {
                e.lock = Some(lock);
                e.lock_report = Some(i);
            }
            e.holder_hung = self.hung.contains(&h);
        }
    }

    /// Edge `j` as [`Self::graph`] has it but for `in_cycle` (left false: see
    /// [`Self::cycle_lengths`]), without building the whole graph: the explanations read the
    /// few edges of one chain. `next` is [`Self::next`].
    pub(crate) fn edge(&self, j: usize, next: &BTreeMap<Key, usize>) -> Option<WaitEdge> {
        let mut e = self.edges.get(j)?.clone();
        self.complete(&mut e);
        e.current = key(&e.waiter).and_then(|w| next.get(&w).copied()) == Some(j);
        Some(e)
    }

    /// The edges on the cycles of the graph ([`Self::graph`]'s `in_cycle` ones), each with the
    /// number of tasks on its cycle. `next` is [`Self::next`].
    pub(crate) fn cycle_lengths(&self, next: &BTreeMap<Key, usize>) -> BTreeMap<usize, usize> {
        find_cycles(&self.edges, next)
            .iter()
            .flat_map(|c| c.edges.iter().map(|&e| (e, c.tasks.len())))
            .collect()
    }

    /// The graph of the reports added so far: lock names, current edges and cycles.
    pub fn graph(&self) -> WaitFor {
        let mut edges = self.edges.clone();
        for e in &mut edges {
            self.complete(e);
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
/// The cycles of a wait-for graph given as its edges, a waiter's last edge being the lock it
/// waits on now: the cycle finder of [`wait_for`], for graphs built elsewhere (`make diagnose`
/// builds one from a live guest's memory), so that every cycle is found and named the same way:
/// its tasks in wait-for order from the smallest pid, and the lock classes its edges name.
///
/// ```
/// use splat::{Task, WaitEdge};
/// let t = |comm: &str, pid| Task { comm: comm.into(), pid: Some(pid) };
/// let edge = |w, h, lock: &str| WaitEdge {
///     waiter: w, holder: h, kind: "semaphore".into(), role: None, holder_role: None,
///     lock: Some(lock.into()), lock_report: None, reports: vec![], holder_hung: false,
///     holder_state: None, current: true, in_cycle: false,
/// };
/// let cycles = splat::cycles(&[edge(t("b", 9), t("a", 8), "sem_a"), edge(t("a", 8), t("b", 9), "sem_b")]);
/// assert_eq!(cycles[0].tasks, [t("a", 8), t("b", 9)]);
/// assert_eq!(cycles[0].locks, ["sem_b", "sem_a"]);
/// ```
pub fn cycles(edges: &[WaitEdge]) -> Vec<WaitCycle> {
    let next: BTreeMap<Key, usize> = edges
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((key(&e.waiter)?, i)))
        .collect();
    let mut cycles = find_cycles(edges, &next);
    for c in &mut cycles {
        for &i in &c.edges {
            if let Some(l) = &edges[i].lock {
                if !c.locks.contains(l) {
                    c.locks.push(l.clone());
                }
            }
        }
    }
    cycles
}

fn find_cycles(edges: &[WaitEdge], next: &BTreeMap<Key, usize>) -> Vec<WaitCycle> {
    // The waiters in key order, by their place in it; a holder that waits for nothing ends a
    // walk, so it needs no place.
    let keys: Vec<&Key> = next.keys().collect();
    let place: BTreeMap<(&str, u32), usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| ((k.0.as_str(), k.1), i))
        .collect();
    // The waiter each waiter's current edge leads to.
    let succ: Vec<Option<usize>> = next
        .values()
        .map(|&e| {
            let h = &edges[e].holder;
            place.get(&(h.comm.as_str(), h.pid?)).copied()
        })
        .collect();
    // 0: not visited, 1: on the current walk, 2: done.
    let mut state = vec![0u8; keys.len()];
    // Where a waiter on the current walk is on it.
    let mut on_walk = vec![0usize; keys.len()];
    let mut cycles = Vec::new();
    let mut walk: Vec<usize> = Vec::new();
    for start in 0..keys.len() {
        walk.clear();
        let mut k = start;
        loop {
            match state[k] {
                2 => break,
                1 => {
                    let on_cycle: Vec<Key> = walk[on_walk[k]..]
                        .iter()
                        .map(|&i| keys[i].clone())
                        .collect();
                    cycles.push(make_cycle(next, &on_cycle));
                    break;
                }
                _ => {
                    state[k] = 1;
                    on_walk[k] = walk.len();
                    walk.push(k);
                    match succ[k] {
                        Some(h) => k = h,
                        None => break,
                    }
                }
            }
        }
        for &k in &walk {
            state[k] = 2;
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

/// Where a holder's stack shows it: the first interesting frame that is not a context switch
/// or a sleep helper.
fn holder_place(frames: &[Frame]) -> Option<&str> {
    const SLEEP: &[&str] = &["__switch_to", "__cond_resched", "msleep", "usleep"];
    frames
        .iter()
        .filter(|f| f.reliable && !is_boring(f.function()))
        .find(|f| !SLEEP.iter().any(|p| f.function().starts_with(p)))
        .map(|f| f.function())
}
