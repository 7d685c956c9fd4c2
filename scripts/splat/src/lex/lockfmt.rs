//! Parsers for the ways lockdep prints a lock.
//!
//! * `print_lock_name()`: ` (NAME){USAGE}-{OUTER:INNER}` (older kernels: no `-{..}` part);
//! * `print_lock()`: `ADDRESS (NAME){USAGE}-{O:I}, at: SYMBOL+0xOFF/0xLEN [module]`
//!   (older kernels: no address, and `at: [<ADDR>] SYMBOL...`), or `<RELEASED>`;
//! * `lockdep_print_held_locks()`: `N lock(s) held by COMM/PID:` (7.x: `locks held by
//!   COMM/PID: N, last CPU#C:`) then ` #I: ` + `print_lock()`;
//! * the scenario tables: `lock(NAME);`, `rlock(NAME);`, `sync(NAME);`.
//!
//! Lock names may contain parentheses, spaces and arrows (`&(&dev->lock)->rlock`,
//! `(wq_completion)events`), so the name ends at the first `){` that is followed by a valid
//! usage string, not at the first `)`.

use crate::lex::frame::{frame_parts, parse_frame};
use crate::lex::{first_byte, trim};
use crate::model::{Frame, LockClass};

/// A parsed `print_lock()` line (address, class and `at:` site).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockLine {
    /// The lock instance address, if printed.
    pub address: Option<String>,
    /// The lock class (its `address` field is filled too).
    pub class: LockClass,
    /// The `at:` frame, if printed and parseable.
    pub at: Option<Frame>,
    /// Text after the class (and after the `at:` frame, if any), trimmed.
    pub rest: String,
}

/// The parts of a `(NAME){USAGE}-{O:I}` description, borrowed from the line.
pub(crate) struct DescParts<'a> {
    pub name: &'a str,
    pub usage: &'a str,
    /// The wait types without their braces (`3:3`).
    pub wait: Option<&'a str>,
    /// The text after the description.
    pub rest: &'a str,
}

/// Reads `(NAME){USAGE}-{O:I}` at the start of `s` (after leading spaces) without copying.
pub(crate) fn lock_desc_parts(s: &str) -> Option<DescParts<'_>> {
    let s = s.trim_start();
    let body = s.strip_prefix('(')?;
    // Each `){` in turn (a `)` followed by `{`; the pair cannot overlap itself).
    let b = body.as_bytes();
    let closes = memchr::memchr_iter(b')', b).filter(|&i| b.get(i + 1) == Some(&b'{'));
    for idx in closes {
        let name = &body[..idx];
        let after = &body[idx + 2..];
        let Some(close) = after.find('}') else {
            continue;
        };
        let usage = &after[..close];
        if usage.len() > 24 || !usage.bytes().all(|b| b".+-?!".contains(&b)) {
            continue;
        }
        let mut rest = &after[close + 1..];
        let mut wait = None;
        if let Some(w) = rest.strip_prefix("-{") {
            if let Some(wclose) = w.find('}') {
                let inner = &w[..wclose];
                if inner.contains(':')
                    && inner
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b == b':' || b == b'-')
                {
                    wait = Some(inner);
                    rest = &w[wclose + 1..];
                }
            }
        }
        if name.is_empty() {
            return None;
        }
        return Some(DescParts {
            name,
            usage,
            wait,
            rest,
        });
    }
    None
}

/// Parses `(NAME){USAGE}-{O:I}` at the start of `s` (after leading spaces).
///
/// Returns the class (without address) and the text after it.
pub fn parse_lock_desc(s: &str) -> Option<(LockClass, &str)> {
    let p = lock_desc_parts(s)?;
    Some((
        LockClass {
            name: p.name.to_string(),
            usage: Some(p.usage.to_string()),
            wait_type: p.wait.map(|w| format!("{{{w}}}")),
            address: None,
        },
        p.rest,
    ))
}

/// Whether `s` is a `print_lock()` line ([`parse_lock_line`] would read it), without copying.
pub(crate) fn is_lock_line(s: &str) -> bool {
    lock_desc_parts(lock_line_desc(trim(s)).1).is_some()
}

/// A `print_lock()` line's address (if printed) and the rest, from its description on.
fn lock_line_desc(t: &str) -> (Option<&str>, &str) {
    // An address or `(____ptrval____)` is at most 16 bytes: the space is sought no further.
    let space = t.as_bytes().iter().take(17).position(|&b| b == b' ');
    match space.map(|at| (&t[..at], &t[at + 1..])) {
        Some((first, rest)) if is_address(first) => (Some(first), rest),
        // 4.15..4.20 hashed every %p before printing it: no address to keep.
        Some(("(____ptrval____)", rest)) => (None, rest),
        _ => (None, t),
    }
}

/// True for a `%px` address: 8 to 16 lowercase hex digits.
pub fn is_address(s: &str) -> bool {
    (8..=16).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses a `print_lock()` line: `ADDR (NAME){..}-{..}, at: FRAME` (address optional).
pub fn parse_lock_line(s: &str) -> Option<LockLine> {
    let (address, desc) = lock_line_desc(trim(s));
    let address = address.map(str::to_string);
    let (mut class, rest) = parse_lock_desc(desc)?;
    class.address = address.clone();
    let rest = trim(rest);
    let (at, rest) = match rest.strip_prefix(", at:") {
        Some(frame) => (parse_frame(frame), ""),
        None => (None, rest),
    };
    Some(LockLine {
        address,
        class,
        at,
        rest: rest.to_string(),
    })
}

/// How much of a `print_lock()` line [`parse_lock_line`] would read, without copying: `None`
/// when it is not one, 1 without a readable `at:` frame, 2 with one, 3 when the frame has its
/// source location.
pub(crate) fn lock_line_quality(s: &str) -> Option<u8> {
    let (_, desc) = lock_line_desc(trim(s));
    let parts = lock_desc_parts(desc)?;
    let at = trim(parts.rest).strip_prefix(", at:").and_then(frame_parts);
    Some(at.map_or(1, |f| 2 + u8::from(f.has_location())))
}

/// Parses the heading of a held-locks list.
///
/// `2 locks held by deadlock_a/42:` -> `(2, "deadlock_a", Some(42))`;
/// `no locks held by swapper/0/1.` -> `(0, "swapper/0", Some(1))`;
/// `locks held by deadlock_b/49: 1, last CPU#1:` (7.x) -> `(1, "deadlock_b", Some(49))`.
pub fn parse_held_heading(s: &str) -> Option<(u32, String, Option<u32>)> {
    // `no locks ...`, `locks held by ...` or a count.
    if !matches!(first_byte(s), Some(b'n' | b'l' | b'0'..=b'9' | 0x80..)) {
        return None;
    }
    let t = trim(s);
    if let Some(rest) = t.strip_prefix("no locks held by ") {
        let task = rest.strip_suffix('.').unwrap_or(rest);
        let (comm, pid) = split_comm_pid(task);
        return Some((0, comm, pid));
    }
    if let Some(rest) = t.strip_prefix("locks held by ") {
        return parse_held_heading_cpu(rest);
    }
    let (count, rest) = t.split_once(' ')?;
    let count: u32 = count.parse().ok()?;
    let rest = rest
        .strip_prefix("locks held by ")
        .or_else(|| rest.strip_prefix("lock held by "))?;
    let task = rest.strip_suffix(':')?;
    // Before 4.10, on the CPU it ran on: `1 lock held by comm/pid on CPU#6:`.
    let task = match task.rsplit_once(" on CPU#") {
        Some((t, cpu)) if !cpu.is_empty() && cpu.bytes().all(|b| b.is_ascii_digit()) => t,
        _ => task,
    };
    let (comm, pid) = split_comm_pid(task);
    Some((count, comm, pid))
}

/// The 7.x heading after `locks held by `: `COMM/PID: N, last CPU#C:`, or `, on CPU#C` (the
/// task is running) and without the final `:` when N is 0.
fn parse_held_heading_cpu(rest: &str) -> Option<(u32, String, Option<u32>)> {
    let (task, tail) = rest.rsplit_once(": ")?;
    let (count, cpu) = tail.split_once(", ")?;
    let cpu = cpu.strip_suffix(':').unwrap_or(cpu);
    let cpu = cpu
        .strip_prefix("last CPU#")
        .or_else(|| cpu.strip_prefix("on CPU#"))?;
    if cpu.is_empty() || !cpu.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (comm, pid) = split_comm_pid(task);
    Some((count.parse().ok()?, comm, pid))
}

/// Parses a held-lock entry ` #I: ADDR (NAME){..}-{..}, at: FRAME`.
///
/// Returns the index and the lock line (`None` for `<RELEASED>` or a missing lock).
pub fn parse_held_entry(s: &str) -> Option<(u32, Option<LockLine>)> {
    let (idx, rest) = split_held_index(s)?;
    Some((idx, parse_lock_line(rest)))
}

/// Splits a held-lock entry `#N: REST` into its index and `REST` (untrimmed); `None` when the
/// (trimmed) text does not start with `#`, digits and `:`.
pub fn split_held_index(s: &str) -> Option<(u32, &str)> {
    if !matches!(first_byte(s), Some(b'#' | 0x80..)) {
        return None;
    }
    let (idx, rest) = trim(s).strip_prefix('#')?.split_once(':')?;
    Some((idx.parse().ok()?, rest))
}

/// Splits `COMM/PID` at the last `/`; the pid is `None` when the tail is not a number.
pub fn split_comm_pid(s: &str) -> (String, Option<u32>) {
    match s.rsplit_once('/') {
        Some((comm, pid)) if !comm.is_empty() => match pid.parse::<u32>() {
            Ok(p) => (comm.to_string(), Some(p)),
            Err(_) => (s.to_string(), None),
        },
        _ => (s.to_string(), None),
    }
}

/// Parses a scenario cell `lock(NAME);` / `rlock(NAME);` / `sync(NAME);` into the name.
pub fn parse_scenario_lock(s: &str) -> Option<&str> {
    let t = trim(s);
    let inner = t
        .strip_prefix("lock(")
        .or_else(|| t.strip_prefix("rlock("))
        .or_else(|| t.strip_prefix("sync("))?;
    let name = inner.strip_suffix(");")?;
    if name.is_empty() {
        None
    } else {
        Some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_desc_with_parens() {
        let (c, rest) =
            parse_lock_desc(" (&(&dev->lock)->rlock){-.-.}-{2:2}, at: x+0x1/0x2").unwrap();
        assert_eq!(c.name, "&(&dev->lock)->rlock");
        assert_eq!(c.usage.as_deref(), Some("-.-."));
        assert_eq!(c.wait_type.as_deref(), Some("{2:2}"));
        assert_eq!(rest, ", at: x+0x1/0x2");

        let (c, _) = parse_lock_desc("((wq_completion)events){+.+.}-{0:0}:").unwrap();
        assert_eq!(c.name, "(wq_completion)events");

        let (c, rest) =
            parse_lock_desc("(&mm->mmap_sem){++++++}, at: [<ffffffff8116ad77>] f+0x4f/0xa0")
                .unwrap();
        assert_eq!(c.name, "&mm->mmap_sem");
        assert_eq!(c.wait_type, None);
        assert!(rest.starts_with(", at:"));
        assert!(parse_lock_desc("(x)").is_none());
        assert!(parse_lock_desc("(){+}").is_none());
    }

    #[test]
    fn lock_lines() {
        let l = parse_lock_line(
            "ff11000000712a60 (sem_a){+.+.}-{3:3}, at: down+0x21/0xd0 [rust_deadlock]",
        )
        .unwrap();
        assert_eq!(l.address.as_deref(), Some("ff11000000712a60"));
        assert_eq!(l.class.name, "sem_a");
        assert_eq!(l.class.address.as_deref(), Some("ff11000000712a60"));
        assert_eq!(l.at.unwrap().function(), "down");
        assert!(parse_lock_line("<RELEASED>").is_none());
    }

    #[test]
    fn held() {
        assert_eq!(
            parse_held_heading("2 locks held by kworker/0:1/23:"),
            Some((2, "kworker/0:1".to_string(), Some(23)))
        );
        assert_eq!(
            parse_held_heading("no locks held by deadlock_a/42."),
            Some((0, "deadlock_a".to_string(), Some(42)))
        );
        assert_eq!(parse_held_heading("1 lock held by x"), None);
        assert_eq!(
            parse_held_heading("locks held by deadlock_b/49: 1, last CPU#1:"),
            Some((1, "deadlock_b".to_string(), Some(49)))
        );
        assert_eq!(
            parse_held_heading("locks held by kworker/0:1/23: 0, on CPU#0"),
            Some((0, "kworker/0:1".to_string(), Some(23)))
        );
        assert_eq!(parse_held_heading("locks held by x/1: 1, CPU#1:"), None);
        let (i, l) =
            parse_held_entry(" #1: ffffffff8e1bc380 (rcu_read_lock){....}-{1:3}, at: f+0x1/0x2")
                .unwrap();
        assert_eq!(i, 1);
        assert_eq!(l.unwrap().class.name, "rcu_read_lock");
        assert_eq!(parse_held_entry(" #0: <RELEASED>"), Some((0, None)));
    }

    #[test]
    fn scenario_cells() {
        assert_eq!(parse_scenario_lock("  lock(sem_b);"), Some("sem_b"));
        assert_eq!(parse_scenario_lock("rlock(&(a)->b);"), Some("&(a)->b"));
        assert_eq!(parse_scenario_lock("<Interrupt>"), None);
    }
}
