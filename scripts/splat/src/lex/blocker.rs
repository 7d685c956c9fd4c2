//! Hung-task "blocker" lines (Linux 6.14+, all three forms since 7.x).
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
//! (`task:NAME state:X ...`, `Call Trace:`, `<TASK>` ... `</TASK>`).

use super::{trim, Needle};
use crate::model::{Blocker, Task};

/// A parsed blocker line: the waiting task (comm, pid) and what it is blocked on.
pub struct BlockerLine {
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
static FOUND: [(Needle, &str, bool); 3] = [
    (
        Needle::new(" is blocked on a mutex likely owned by task "),
        "mutex",
        false,
    ),
    (
        Needle::new(" blocked on a semaphore likely last held by task "),
        "semaphore",
        false,
    ),
    (
        Needle::new(" blocked on an rw-semaphore likely owned by task "),
        "rw-semaphore",
        true,
    ),
];

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
pub fn parse_blocker(line: &str) -> Option<BlockerLine> {
    let t = trim(line);
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
    for (phrase, kind, roles) in &FOUND {
        // Comms may contain the phrase: try every occurrence, the first that parses wins.
        for i in phrase.find_all(rest) {
            // The phrase is ASCII: both ends are char boundaries.
            let (left, right) = (&rest[..i], &rest[i + phrase.text().len()..]);
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

/// True when `rest` (a `task:` line without `task:`) is the `sched_show_task()` line of `comm`
/// (printed with `%-15.15s`).
pub fn is_task_line_of(rest: &str, comm: &str) -> bool {
    let shown = comm.get(..15).unwrap_or(comm);
    rest.strip_prefix(shown)
        .is_some_and(|after| after.starts_with(' '))
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
