//! Triage of many logs: one row per distinct bug.
//!
//! A bug is identified by its [`Signature`]: the report kind, the lock classes involved and the
//! culprit function (the one the title names). Nothing in it changes from one boot to the next:
//! no addresses, pids, offsets, comm numbers (`kworker/u16:3`) or lockdep's `#N` class-instance
//! suffixes, which depend on the order in which keys were registered. The rows count how often
//! and in how many files each bug occurred, which files saw it first and last, and carry its
//! title. [`Summary`] holds one row per distinct bug, not the reports, so it runs in memory
//! proportional to the number of distinct bugs whatever the size of the logs.

use crate::analyze::{base_function, title_functions};
use crate::model::{Report, ReportKind};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::BufRead;

/// The value of the `schema` key of the `--summary --json` document.
pub const SUMMARY_SCHEMA: &str = "splat-summary/1";

/// What identifies a bug across boots and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Signature {
    /// The report kind.
    pub kind: ReportKind,
    /// The lock classes (see [`signature`]).
    pub locks: Vec<String>,
    /// The culprit function, without compiler suffixes; null when unknown.
    pub function: Option<String>,
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.kind == ReportKind::CircularDependency
            || self.kind == ReportKind::RecursiveLocking
        {
            " -> "
        } else {
            ", "
        };
        write!(f, "{}", self.kind)?;
        if !self.locks.is_empty() {
            write!(f, ": {}", self.locks.join(sep))?;
        }
        if let Some(func) = &self.function {
            write!(f, " @ {func}")?;
        }
        Ok(())
    }
}

/// A lock class name without the `#N` suffix lockdep adds to the Nth key of a name.
fn stable_class(name: &str) -> String {
    match name.rsplit_once('#') {
        Some((base, n))
            if !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            base.to_string()
        }
        _ => name.to_string(),
    }
}

/// The signature of a report.
///
/// Locks: for a lock-order cycle, the cycle (without the repeated lock), rotated to start at
/// its smallest name so that the same cycle reported from either side compares equal; for
/// other reports with a lock being taken or held, the held lock then the requested one (and
/// the irq-safe/unsafe locks of an irq inversion); otherwise the locks the reporting task
/// holds.
pub fn signature(r: &Report) -> Signature {
    signatures(r).swap_remove(0)
}

/// The signature of a report ([`signature`]), then its alternatives: the same kind and locks
/// with each other function its title could name ([`Report::alt_titles`]).
pub fn signatures(r: &Report) -> Vec<Signature> {
    let mut locks: Vec<String> = Vec::new();
    let add = |locks: &mut Vec<String>, l: &str| {
        let l = stable_class(l);
        if !locks.contains(&l) {
            locks.push(l);
        }
    };
    if r.cycle.len() >= 2 {
        let mut cycle: Vec<String> = r.cycle.iter().map(|l| stable_class(l)).collect();
        if cycle.len() > 1 && cycle.first() == cycle.last() {
            cycle.pop();
        }
        if let Some(min) = (0..cycle.len()).min_by(|&a, &b| cycle[a].cmp(&cycle[b])) {
            cycle.rotate_left(min);
        }
        for l in &cycle {
            add(&mut locks, l);
        }
    } else {
        for site in [&r.holding, &r.acquiring].into_iter().flatten() {
            add(&mut locks, &site.lock);
        }
        for key in ["irq_safe_lock", "irq_unsafe_lock", "other_lock"] {
            if let Some(l) = r.details.get(key) {
                add(&mut locks, l);
            }
        }
        if locks.is_empty() {
            if let Some(task) = r.tasks.first() {
                for h in r
                    .held_locks
                    .iter()
                    .filter(|h| h.task == task.comm && (task.pid.is_none() || h.pid == task.pid))
                {
                    add(&mut locks, &h.lock);
                }
            }
        }
    }
    let mut functions: Vec<Option<String>> = Vec::new();
    for f in title_functions(r) {
        let f = Some(base_function(&f).to_string());
        if !functions.contains(&f) {
            functions.push(f);
        }
    }
    if functions.is_empty() {
        functions.push(None);
    }
    functions
        .into_iter()
        .map(|function| Signature {
            kind: r.kind,
            locks: locks.clone(),
            function,
        })
        .collect()
}

/// One distinct bug of a summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bug {
    /// The signature as one line: `KIND: LOCK -> LOCK @ FUNCTION`.
    pub signature: String,
    /// The report kind.
    pub kind: ReportKind,
    /// The lock classes of the signature.
    pub locks: Vec<String>,
    /// The culprit function of the signature.
    pub function: Option<String>,
    /// The title of its first report.
    pub title: String,
    /// How many reports had this signature.
    pub count: usize,
    /// In how many files.
    pub files: usize,
    /// The first file (in the order read) where it occurred.
    pub first_file: String,
    /// The last file where it occurred.
    pub last_file: String,
    /// Whether the bug is absent from the baseline summary; null without `--baseline`.
    pub new: Option<bool>,
}

/// The `--summary --json` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryDocument {
    /// Always [`SUMMARY_SCHEMA`].
    pub schema: String,
    /// Files read.
    pub files: usize,
    /// Reports found in them.
    pub reports: usize,
    /// One row per distinct bug, in order of first occurrence.
    pub bugs: Vec<Bug>,
}

/// Accumulates reports from many files into one row per distinct bug.
#[derive(Debug, Default)]
pub struct Summary {
    bugs: Vec<Bug>,
    /// For each bug, the index of the last file it was counted in.
    last_file_index: Vec<usize>,
    index: HashMap<Signature, usize>,
    files: usize,
    reports: usize,
    baseline: Option<HashSet<String>>,
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks bugs whose signature is not in `baseline` (an earlier summary) as new.
    pub fn set_baseline(&mut self, baseline: &SummaryDocument) {
        self.baseline = Some(baseline.bugs.iter().map(|b| b.signature.clone()).collect());
    }

    /// Starts the next file; its reports follow with [`Summary::add`].
    pub fn start_file(&mut self) {
        self.files += 1;
    }

    /// Adds one report found in `file`.
    pub fn add(&mut self, file: &str, r: &Report) {
        self.reports += 1;
        let sigs = signatures(r);
        let file_index = self.files;
        // The same bug seen under a variant: one of its alternative signatures is known.
        if let Some(i) = sigs.iter().find_map(|s| self.index.get(s).copied()) {
            let b = &mut self.bugs[i];
            b.count += 1;
            if self.last_file_index[i] != file_index {
                self.last_file_index[i] = file_index;
                b.files += 1;
                b.last_file = file.to_string();
            }
            return;
        }
        let sig = &sigs[0];
        let text = sig.to_string();
        let new = self.baseline.as_ref().map(|known| !known.contains(&text));
        self.bugs.push(Bug {
            signature: text,
            kind: sig.kind,
            locks: sig.locks.clone(),
            function: sig.function.clone(),
            title: r.title.clone(),
            count: 1,
            files: 1,
            first_file: file.to_string(),
            last_file: file.to_string(),
            new,
        });
        self.last_file_index.push(file_index);
        let i = self.bugs.len() - 1;
        for s in sigs {
            self.index.entry(s).or_insert(i);
        }
    }

    /// The rows so far.
    pub fn bugs(&self) -> &[Bug] {
        &self.bugs
    }

    /// The summary as a document (for `--json`).
    pub fn document(&self) -> SummaryDocument {
        SummaryDocument {
            schema: SUMMARY_SCHEMA.to_string(),
            files: self.files,
            reports: self.reports,
            bugs: self.bugs.clone(),
        }
    }

    /// The summary as JSON (pretty-printed, trailing newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.document()).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The summary as a table for a person.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.bugs.is_empty() {
            let _ = writeln!(
                out,
                "splat: no reports in {} file{}",
                self.files,
                plural(self.files)
            );
            return out;
        }
        let _ = writeln!(out, "{:>6} {:>6}  BUG", "COUNT", "FILES");
        for b in &self.bugs {
            let tag = match b.new {
                Some(true) => "  [NEW]",
                _ => "",
            };
            let _ = writeln!(out, "{:>6} {:>6}  {}{tag}", b.count, b.files, b.title);
            let _ = writeln!(out, "{:>15}{}", "", b.signature);
            if b.first_file == b.last_file {
                let _ = writeln!(out, "{:>15}in {}", "", b.first_file);
            } else {
                let _ = writeln!(
                    out,
                    "{:>15}first {}, last {}",
                    "", b.first_file, b.last_file
                );
            }
        }
        let new = self.bugs.iter().filter(|b| b.new == Some(true)).count();
        let _ = writeln!(
            out,
            "\n{} distinct bug{} ({} report{}) in {} file{}{}",
            self.bugs.len(),
            plural(self.bugs.len()),
            self.reports,
            plural(self.reports),
            self.files,
            plural(self.files),
            if self.baseline.is_some() {
                format!(", {new} new")
            } else {
                String::new()
            }
        );
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Reads a whole stream (decompressed) and adds its reports to `summary` under `name`.
pub fn summarize_reader(
    summary: &mut Summary,
    name: &str,
    input: impl BufRead + Send,
) -> std::io::Result<()> {
    summary.start_file();
    // A summary shows no explanation: the reports are read without them.
    crate::pipeline::parse_reader_facts(input, |r| summary.add(name, &r)).map(drop)
}
