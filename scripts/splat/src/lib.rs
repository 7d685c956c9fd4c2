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
//! The pipeline, whose modules depend in one direction (each only on those before it):
//! [`model`] (the data, at the bottom); [`input`] strips timestamps, caller ids and syslog
//! prefixes; [`lex`] holds the kernel's vocabulary and tells what each line is; `segment` finds
//! the report headers and collects each report's lines (skipping unrelated lines interleaved
//! with them); `extract` turns the lines into a [`Report`]; `analyze` finds the title, the
//! culprit and the wait-for graph ([`waitfor`]); `explain` writes the explanation; `render`
//! prints text, JSON and DOT; `pipeline` drives it all; [`summary`] triages many logs. [`to_json`], [`to_text`] and [`to_dot`]
//! render the result; [`JsonWriter`], [`TextWriter`] and [`DotGraph`] do the same one report at
//! a time, for [`parse_reader`] and [`Parser`].
//!
//! The library never panics, whatever the input (a property test feeds it arbitrary bytes).

pub mod analyze;
pub mod check;
mod explain;
mod extract;
pub mod input;
pub mod lex;
pub mod model;
mod pipeline;
mod render;
mod segment;
pub mod triage;

pub use analyze::waitfor;
pub use lex::{frame, lockfmt};
pub use triage as summary;

pub use analyze::first_interesting;
pub use lex::frame::{demangle, parse_frame};
pub use lex::functions::is_boring;
pub use model::{
    Blocker, ChainEntry, Document, Frame, HeldLock, HungTask, Lines, LockClass, LockSite, Report,
    ReportKind, ScenarioRow, Stack, Task, WaitCycle, WaitEdge, WaitFor, SCHEMA,
};
pub use pipeline::{parse, parse_bytes, parse_reader, Parser};
pub use render::{from_json, to_dot, to_json, to_text, DotGraph, JsonWriter, TextWriter};
pub use waitfor::{cycles, wait_for, WaitForBuilder};
