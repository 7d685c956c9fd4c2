//! What the wait-for graph says about a hung task: the cycle (a real deadlock) or chain it is
//! in, the locks involved, and the fix of a cycle.

use crate::analyze::waitfor::{key, name, same, Key, WaitForBuilder};
use crate::model::{HeldLock, Report, WaitEdge};
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

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

/// What the explanations need of the graph: the builder, whose edges are completed one by one
/// as a chain is followed ([`WaitForBuilder::edge`]), not the whole graph.
struct Ctx<'a> {
    b: &'a WaitForBuilder,
    /// The current edge of every waiter.
    next: BTreeMap<Key, usize>,
    /// The edges on cycles, with the number of tasks on each one's cycle: found (over the
    /// whole graph) only for a chain too long to follow to its end.
    cycles: OnceCell<BTreeMap<usize, usize>>,
}

impl<'a> Ctx<'a> {
    fn new(b: &'a WaitForBuilder) -> Self {
        Ctx {
            b,
            next: b.next(),
            cycles: OnceCell::new(),
        }
    }

    /// The number of tasks on the cycle edge `j` is on, if it is on one, from the whole graph.
    fn cycle_len(&self, j: usize) -> Option<usize> {
        let cycles = self.cycles.get_or_init(|| self.b.cycle_lengths(&self.next));
        cycles.get(&j).copied()
    }

    /// Edge `j`, as the graph has it.
    fn edge(&self, j: usize) -> Option<WaitEdge> {
        self.b.edge(j, &self.next)
    }

    /// What is known about a task at the end of a wait-for chain.
    fn chain_end(&self, k: &Key) -> String {
        if let Some(end) = self.b.last_hung(k) {
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
            .b
            .edges()
            .iter()
            .filter(|e| same(Some(&e.holder), k))
            .find_map(|e| e.holder_state.clone());
        let place = self
            .b
            .place(k)
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
    let edges = cx.b.edges();
    // Follow the current edges from this report's edge: a cycle or a chain.
    let next = &cx.next;
    let mut path = vec![edge];
    let mut seen: BTreeSet<Key> = BTreeSet::from([me.clone()]);
    let mut k = edges.get(edge).and_then(|e| key(&e.holder));
    let mut closed = false;
    // The walk stopped at MAX_CHAIN: whether it would come back is not known.
    let mut cut = false;
    while let Some(cur) = k.clone() {
        if cur == me {
            closed = true;
            break;
        }
        if !seen.insert(cur.clone()) {
            break; // runs into a cycle without this task
        }
        if path.len() >= MAX_CHAIN {
            cut = true;
            break; // goes on too long to tell
        }
        match next.get(&cur) {
            Some(&j) => {
                path.push(j);
                k = edges.get(j).and_then(|e| key(&e.holder));
            }
            None => break,
        }
    }
    let steps: Vec<WaitEdge> = path.iter().filter_map(|&j| cx.edge(j)).collect();
    let steps: Vec<&WaitEdge> = steps.iter().collect();
    if steps.is_empty() {
        return (Vec::new(), None); // not expected: the path's edges are the builder's
    }
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
    // The edge is on a cycle when it is its waiter's current one and the current edges lead
    // back to the waiter (a walk that runs into a cycle without it, or to a task that waits
    // for nothing, shows it is on none).
    let current = next.get(&me) == Some(&edge);
    let cycle = match (current, closed, cut) {
        (false, _, _) => None,
        (true, true, _) => Some(path.len()),
        (true, false, true) => cx.cycle_len(edge),
        (true, false, false) => None,
    };
    if let Some(n) = cycle {
        if !closed {
            // Cut at MAX_CHAIN: a current edge on a cycle leads back to this task.
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
    let mut fix = None;
    if !closed {
        match k.filter(|end| !next.contains_key(end)) {
            Some(end) => {
                let _ = write!(sentence, ", {}", cx.chain_end(&end));
                fix = steps
                    .last()
                    .and_then(|last| hidden_wait_fix(cx, &end, last));
            }
            None if path.len() >= MAX_CHAIN => sentence.push_str(", and so on"),
            None => sentence.push_str(", which is part of a wait-for cycle of other tasks"),
        }
    }
    lines.push(format!("Wait-for chain (no cycle): {sentence}."));
    lines.extend(locks_line(&steps, false));
    (lines, fix)
}

/// The fix when a chain ends at a hung task that holds the lock of the chain's last edge and
/// waits for something the kernel tracks no owner of (`wait_for_completion()`, `flush_work()`):
/// most likely what it waits for needs that lock, a cycle through a wait no report can show.
fn hidden_wait_fix(cx: &Ctx, end: &Key, last: &WaitEdge) -> Option<String> {
    let wait = cx.b.last_hung(end)?.blocked_in.as_deref()?;
    let lock = last.lock.as_deref()?;
    Some(format!(
        "Fix: {}/{} waits in {wait} while it holds {lock}; if what it waits for (the completer \
         of a completion, a work item being flushed) needs {lock}, nothing can go on: release \
         {lock} before waiting (never flush or wait for work that takes a lock you hold).",
        end.0, end.1
    ))
}

/// Why lockdep printed no report about the locks of a cycle that no lockdep report names: it
/// was off, or the locks carry no lockdep annotation (plain semaphores); `r`'s list of all
/// held locks, when the kernel printed one, shows that lockdep is on.
fn unseen_by_lockdep(cx: &Ctx, r: &Report, steps: &[&WaitEdge]) -> String {
    let first = steps.iter().filter_map(|e| e.reports.first()).max();
    if let (Some(off), Some(&first)) = (cx.b.lockdep_off_at(), first) {
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

/// What the wait-for graph tells about the reports added to `b` so far, for the explanations
/// of hung-task reports: computed once per graph, asked once per report.
pub(crate) struct Teller<'a> {
    cx: Ctx<'a>,
}

impl<'a> Teller<'a> {
    /// The graph of the reports added to `b`.
    pub(crate) fn new(b: &'a WaitForBuilder) -> Self {
        Teller { cx: Ctx::new(b) }
    }

    /// The lines about `r`'s blocker (the cycle or chain its task is in, and the locks
    /// involved), and the fix that replaces the report's own when the task is in a cycle;
    /// nothing when `r` printed no blocker line.
    pub(crate) fn tell(&self, r: &Report) -> (Vec<String>, Option<String>) {
        blocker_lines(&self.cx, r)
    }
}
