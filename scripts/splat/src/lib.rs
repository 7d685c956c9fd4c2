//! `splat`: read a kernel console log or `dmesg` output and explain every lockdep and
//! hung-task report in it.
//!
//! ```
//! let log = "\
//! [    4.801407] INFO: task deadlock_a:42 blocked for more than 2 seconds.
//! [    4.801626]       Not tainted 6.12.117 #1
//! [    4.801707] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.
//! [    4.801871] task:deadlock_a      state:D stack:0     pid:42    tgid:42    ppid:2      flags:0x00004000
//! [    4.802134] Call Trace:
//! [    4.802223]  <TASK>
//! [    4.802270]  __schedule+0x5b8/0x5f3
//! [    4.807070]  down+0x40/0x50
//! [    4.807467]  my_thread+0x79/0x9e [my_module]
//! [    4.807736]  kthread+0xed/0xf5
//! [    4.808026]  </TASK>
//! ";
//! let reports = splat::parse(log);
//! assert_eq!(reports.len(), 1);
//! let hung = reports[0].hung_task.as_ref().unwrap();
//! assert_eq!((hung.comm.as_str(), hung.pid, hung.seconds), ("deadlock_a", 42, 2));
//! assert_eq!(hung.blocked_in.as_deref(), Some("down()"));
//! assert_eq!(reports[0].title, "INFO: task hung in my_thread");
//! let json = splat::to_json(&reports);
//! assert_eq!(splat::from_json(&json).unwrap().reports, reports);
//! ```
//!
//! The pipeline: [`input`] strips timestamps, caller ids and syslog prefixes; [`segment`]
//! finds the report headers and collects each report's lines (skipping unrelated lines
//! interleaved with them); `extract` turns the lines into a [`Report`]; `explain` adds the
//! title and the explanation. [`to_json`], [`to_text`] and [`to_dot`] render the result.
//!
//! The library never panics, whatever the input (a property test feeds it arbitrary bytes).

mod explain;
mod extract;
pub mod frame;
pub mod input;
pub mod lockfmt;
pub mod model;
mod output;
mod segment;
pub mod waitfor;

pub use explain::{first_interesting, is_boring};
pub use frame::{demangle, parse_frame};
pub use model::{
    ChainEntry, Document, Frame, HeldLock, HungTask, LockClass, LockSite, Report, ReportKind,
    ScenarioRow, Stack, Task, SCHEMA,
};
pub use output::{from_json, to_dot, to_json, to_text};
pub use waitfor::{wait_for, Blocker, WaitCycle, WaitEdge, WaitFor};

use segment::Family;

/// Finds and explains every report in a log.
///
/// Reports are returned in the order their headers appear. A "Showing all locks held in the
/// system" list that follows hung-task reports is merged into them (`held_locks`), and is not
/// a report of its own.
pub fn parse(log: &str) -> Vec<Report> {
    let lines = input::split_lines(log);
    let segments = segment::segment(&lines);
    let mut reports: Vec<Report> = Vec::new();
    // Indices (in `reports`) of the hung-task reports since the last other report.
    let mut hung_batch: Vec<usize> = Vec::new();
    for seg in &segments {
        let report = extract::build(seg);
        if seg.family == Family::LockDump {
            attach_lock_dump(&mut reports, &hung_batch, report);
            hung_batch.clear();
            continue;
        }
        if report.kind == ReportKind::HungTask {
            hung_batch.push(reports.len());
        } else {
            hung_batch.clear();
        }
        reports.push(report);
    }
    for r in &mut reports {
        explain::analyse_hung(r);
    }
    for r in &mut reports {
        r.title = explain::title(r);
    }
    explain::explain_all(&mut reports);
    waitfor::annotate(&mut reports);
    reports
}

/// Like [`parse`], for raw bytes: invalid UTF-8 is replaced (lossy), never rejected.
pub fn parse_bytes(log: &[u8]) -> Vec<Report> {
    parse(&String::from_utf8_lossy(log))
}

/// Merges a `debug_show_all_locks()` list into the hung-task reports printed before it.
fn attach_lock_dump(reports: &mut [Report], batch: &[usize], dump: Report) {
    let Some(&last) = batch.last() else {
        return; // A lock list on its own (SysRq-d) is not a report.
    };
    for &i in batch {
        let r = &mut reports[i];
        r.held_locks.extend(dump.held_locks.iter().cloned());
        for l in &dump.locks {
            if !r.locks.iter().any(|x| x.name == l.name) {
                r.locks.push(l.clone());
            }
        }
    }
    let r = &mut reports[last];
    r.lines.extend(dump.lines.iter().cloned());
    r.end_line = r.end_line.max(dump.end_line);
    r.truncated |= dump.truncated;
}
