//! The pipeline driver: lines in, finished reports out. [`Parser`] feeds each line through
//! `input` and `segment`, and every finished segment through `extract`, `analyze` and
//! `explain`, in log order; [`parse`] and [`parse_reader`] run it over a whole log.

use crate::analyze::{self, waitfor::WaitForBuilder};
use crate::explain::{self, waitfor::Teller, Prose};
use crate::extract;
use crate::input::{self, Line};
use crate::lex::{classify_header, Family};
use crate::model::{Report, ReportKind, WaitFor};
use crate::segment;
use std::collections::VecDeque;

/// Hung-task reports held back at most, waiting for a "Showing all locks held in the system"
/// list to attach to them (the kernel prints at most `hung_task_warnings`, 10 by default, in
/// a row).
const MAX_HUNG_BATCH: usize = 64;

/// Finds and explains every report in a log.
///
/// Reports are returned in the order their headers appear. A "Showing all locks held in the
/// system" list that follows hung-task reports is merged into them (`held_locks`), and is not
/// a report of its own. The hung-task explanations tell the wait-for cycle or chain their task
/// is in, from the blocker lines of the whole log.
pub fn parse(log: &str) -> Vec<Report> {
    let mut p = Parser::default();
    p.back.whole_log = true;
    let mut out = Vec::new();
    for line in log.split('\n') {
        p.push_line(line);
        out.extend(p.reports());
    }
    p.finish();
    out.extend(p.reports());
    // The whole log is known: the hung tasks' explanations tell the wait-for cycles and chains
    // of all of it.
    if !p.back.deferred.is_empty() {
        let teller = Teller::new(&p.back.wait_for);
        for (i, prose) in p.back.deferred.drain(..) {
            if let Some(r) = out.get_mut(i) {
                r.explanation = prose.render(teller.tell(r));
            }
        }
    }
    out
}

/// Like [`parse`], for raw bytes: invalid UTF-8 is replaced (lossy), never rejected.
pub fn parse_bytes(log: &[u8]) -> Vec<Report> {
    parse(&String::from_utf8_lossy(log))
}

/// Reads a log from `reader` line by line and calls `each` with every report as soon as it
/// is complete, in header order; returns the wait-for graph of the whole log (which the
/// writers' `finish` prints after the reports). Memory use does not grow with the length of
/// the log.
///
/// Four threads share the work: one reads the log and strips each line's prefixes (`input`),
/// one collects each report's lines (`lex`, `segment`), one turns them into reports
/// (`extract`, `analyze`, `explain`), and the calling one calls `each` (so `each` need not be
/// `Send`). Bounded channels between them keep memory flat.
pub fn parse_reader<R: std::io::BufRead + Send>(
    reader: R,
    each: impl FnMut(Report),
) -> std::io::Result<WaitFor> {
    read_reports(reader, true, each)
}

/// [`parse_reader`] for a reader of facts (`triage`): the reports without their explanations
/// (left empty), and no wait-for graph (the one returned is empty). The facts (title, kinds,
/// locks, tasks, held locks, stacks) are the same; the build thread saves what writing the
/// explanations and the graph they tell costs.
pub(crate) fn parse_reader_facts<R: std::io::BufRead + Send>(
    reader: R,
    each: impl FnMut(Report),
) -> std::io::Result<WaitFor> {
    read_reports(reader, false, each)
}

/// [`parse_reader`], with the explanations (and the wait-for graph) when `explain`.
fn read_reports<R: std::io::BufRead + Send>(
    reader: R,
    explain: bool,
    mut each: impl FnMut(Report),
) -> std::io::Result<WaitFor> {
    /// Batches in flight on each channel: the lines of one buffer of the reader, the segments
    /// they completed, the reports those made.
    const IN_FLIGHT: usize = 4;
    let (chunks, chunks_in) = std::sync::mpsc::sync_channel::<Chunk>(IN_FLIGHT);
    let (segments, segments_in) = std::sync::mpsc::sync_channel::<Vec<segment::Segment>>(IN_FLIGHT);
    let (reports, reports_in) = std::sync::mpsc::sync_channel::<Vec<Report>>(IN_FLIGHT);
    std::thread::scope(|s| {
        // A send fails only when the next stage is gone (`each` panicked): the stage stops then.
        // Each stage sends what one buffer of the reader gave before the reader reads again
        // (which may block), so that reports come out as the log comes in.
        let reading = s.spawn(move || {
            let mut chunk = Chunk::default();
            let mut send = |chunk: &mut Chunk| {
                // The next chunk starts with the room this one needed (no regrowing line by line).
                chunk.lines.is_empty() || {
                    let next = chunk.empty_like();
                    chunks.send(std::mem::replace(chunk, next)).is_ok()
                }
            };
            read_lines(reader, &mut chunk, &mut send)?;
            send(&mut chunk);
            Ok(())
        });
        let segmenting = s.spawn(move || {
            let mut front = Front::default();
            let send = |front: &mut Front| {
                let batch: Vec<_> = std::iter::from_fn(|| front.seg.pop_ready()).collect();
                batch.is_empty() || segments.send(batch).is_ok()
            };
            for chunk in chunks_in {
                chunk.feed(&mut front);
                if !send(&mut front) {
                    return;
                }
            }
            front.finish();
            send(&mut front);
        });
        let building = s.spawn(move || {
            let mut back = Back {
                facts_only: !explain,
                ..Back::default()
            };
            let send = |back: &mut Back| {
                let batch: Vec<_> = back.ready.drain(..).collect();
                batch.is_empty() || reports.send(batch).is_ok()
            };
            for batch in segments_in {
                batch.into_iter().for_each(|seg| back.take(seg));
                if !send(&mut back) {
                    break;
                }
            }
            back.flush_hung();
            send(&mut back);
            back.wait_for.graph()
        });
        for batch in reports_in {
            batch.into_iter().for_each(&mut each);
        }
        let graph = joined(building.join());
        joined(segmenting.join());
        joined(reading.join()).map(|()| graph)
    })
}

/// What a stage's thread returned; its panic goes on in the caller.
fn joined<T>(result: std::thread::Result<T>) -> T {
    result.unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// The lines of one buffer of the reader, and the kernel records [`input::for_each_record`]
/// found in each (stripped on the reading thread; the segmenting thread strips a line again only
/// when a quoted-printable mail body changes it).
#[derive(Default)]
struct Chunk {
    text: String,
    /// Each line: where it starts and ends in `text`, and where its records end in `records`.
    lines: Vec<(usize, usize, usize)>,
    records: Vec<Record>,
}

/// A record of a line, as ranges of [`Chunk::text`]: its text and caller id.
#[derive(Clone, Copy)]
struct Record {
    text: (usize, usize),
    caller: Option<(usize, usize)>,
}

impl Chunk {
    /// An empty chunk with the capacity of this one.
    fn empty_like(&self) -> Chunk {
        Chunk {
            text: String::with_capacity(self.text.capacity()),
            lines: Vec::with_capacity(self.lines.capacity()),
            records: Vec::with_capacity(self.records.capacity()),
        }
    }

    /// Adds one line.
    fn push(&mut self, line: &str) {
        let start = self.text.len();
        self.text.push_str(line);
        self.add_line(start, self.text.len());
    }

    /// Adds the lines of `text` (without its last line end), copied at once.
    fn push_lines(&mut self, text: &str) {
        let mut start = self.text.len();
        self.text.push_str(text);
        let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain([text.len()]);
        let base = start;
        for end in ends {
            self.add_line(start, base + end);
            start = base + end + 1;
        }
    }

    /// Finds the records of the line at `start..end` of `text`.
    fn add_line(&mut self, start: usize, end: usize) {
        // `start` and `end` are at a line end or an end of a pushed text: char boundaries.
        let line = &self.text[start..end];
        let raw = line.strip_suffix('\r').unwrap_or(line);
        let base = self.text.as_ptr() as usize;
        let at = |s: &str| {
            let from = s.as_ptr() as usize - base;
            (from, from + s.len())
        };
        input::for_each_record(raw, 0, |l| {
            self.records.push(Record {
                text: at(l.text),
                caller: l.caller.map(at),
            })
        });
        self.lines.push((start, end, self.records.len()));
    }

    /// Feeds the lines to `front`.
    fn feed(&self, front: &mut Front) {
        let mut first = 0;
        for &(start, end, records_end) in &self.lines {
            let records = &self.records[first..records_end];
            front.push_line_stripped(&self.text[start..end], Some((&self.text, records)));
            first = records_end;
        }
    }
}

/// Puts the lines of `reader` into `lines` (invalid UTF-8 replaced), calling `flush` after each buffer of the reader
/// (before the next read, which may block); stops early when `flush` returns false.
fn read_lines<R: std::io::BufRead>(
    mut reader: R,
    lines: &mut Chunk,
    flush: &mut impl FnMut(&mut Chunk) -> bool,
) -> std::io::Result<()> {
    // The part of a line that ends past the reader's buffer; a line inside it is read in place.
    let mut partial = Vec::new();
    loop {
        if !flush(lines) {
            return Ok(());
        }
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            if !partial.is_empty() {
                lines.push(&String::from_utf8_lossy(&partial));
            }
            return Ok(());
        }
        if partial.is_empty() {
            // The whole lines of the buffer, checked as UTF-8 at once (a check per line costs
            // more than the check itself); a buffer with invalid UTF-8 goes line by line below.
            let whole = memchr::memrchr(b'\n', chunk).map_or(0, |end| end + 1);
            if let Ok(text) = std::str::from_utf8(&chunk[..whole.saturating_sub(1)]) {
                if whole > 0 {
                    lines.push_lines(text);
                    reader.consume(whole);
                    continue;
                }
            }
        }
        let used = match memchr::memchr(b'\n', chunk) {
            Some(end) if partial.is_empty() => {
                lines.push(&String::from_utf8_lossy(&chunk[..end]));
                end + 1
            }
            Some(end) => {
                partial.extend_from_slice(&chunk[..end]);
                lines.push(&String::from_utf8_lossy(&partial));
                partial.clear();
                end + 1
            }
            None => {
                partial.extend_from_slice(chunk);
                chunk.len()
            }
        };
        reader.consume(used);
    }
}

/// The streaming parser: push lines, take reports as they complete.
///
/// Hung-task reports are held back while a lock list may still follow them, and come out as a
/// batch; their explanations tell the wait-for cycles and chains of the blocker lines seen so
/// far (up to the end of the batch), which is what [`parse`] tells whenever a cycle closes
/// inside one batch.
///
/// ```
/// let mut p = splat::Parser::new();
/// for line in ["[ 1.0] INFO: task a:1 blocked for more than 2 seconds.", "[ 1.1] Call Trace:",
///              "[ 1.2]  down+0x40/0x50", "[ 1.3]  kthread+0xed/0xf5", "[ 1.4] ok"] {
///     p.push_line(line);
/// }
/// p.finish();
/// let reports: Vec<_> = p.reports().collect();
/// assert_eq!(reports[0].title, "INFO: task hung in kthread");
/// ```
#[derive(Default)]
pub struct Parser {
    front: Front,
    back: Back,
}

/// The first half of the pipeline: lines in, each report's lines (segments) out.
#[derive(Default)]
struct Front {
    seg: segment::Segmenter,
    line_no: usize,
    /// A quoted-printable soft line break (`=` at the end of a line) was seen: the log is a
    /// mail body that was not decoded, up to the end of the report it belongs to (or of the
    /// message: a line longer than quoted-printable allows).
    quoted_printable: bool,
    /// A report was open while `quoted_printable` was on: the mode ends when none is.
    quoted_report: bool,
    /// The first part of a line broken by a quoted-printable soft break, and its number.
    pending: Option<(String, usize)>,
}

/// The second half: segments in, finished reports out, in log order.
#[derive(Default)]
struct Back {
    /// Hung-task reports that a following lock list may still complete.
    hung_batch: Vec<Report>,
    history: explain::History,
    ready: VecDeque<Report>,
    /// The wait-for graph of the reports so far, to tell the cycles of hung-task batches.
    wait_for: WaitForBuilder,
    /// [`parse`]: the explanations of hung tasks with a blocker line are rendered at the end,
    /// from the graph of the whole log.
    whole_log: bool,
    /// [`parse`]: those explanations, with the index of their report.
    deferred: Vec<(usize, Prose)>,
    /// Reports handed out so far.
    emitted: usize,
    /// [`parse_reader_facts`]: no explanations, no wait-for graph.
    facts_only: bool,
}

impl Parser {
    /// A parser at the start of a log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next line of the log (without its line end; a trailing `\r` is ignored).
    pub fn push_line(&mut self, raw: &str) {
        self.front.push_line(raw);
        self.drain_segments();
    }

    /// Like [`Parser::push_line`] for raw bytes (invalid UTF-8 is replaced).
    pub fn push_bytes(&mut self, raw: &[u8]) {
        self.front.push_bytes(raw);
        self.drain_segments();
    }

    /// Ends the log: reports still open are finished (as truncated when they are cut off).
    pub fn finish(&mut self) {
        self.front.finish();
        self.drain_segments();
        self.back.flush_hung();
    }

    /// The wait-for graph of the reports handed out so far, as the analysis built it.
    pub fn wait_for(&self) -> WaitFor {
        self.back.wait_for.graph()
    }

    /// The reports completed so far, in header order (each is returned once).
    pub fn reports(&mut self) -> impl Iterator<Item = Report> + '_ {
        self.back.ready.drain(..)
    }

    fn drain_segments(&mut self) {
        while let Some(seg) = self.front.seg.pop_ready() {
            self.back.take(seg);
        }
    }
}

impl Front {
    fn push_line(&mut self, raw: &str) {
        self.push_line_stripped(raw, None);
    }

    /// [`Front::push_line`], with the records of the line when they were already found (as
    /// ranges of a text).
    fn push_line_stripped(&mut self, raw: &str, stripped: Option<(&str, &[Record])>) {
        self.line_no += 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.len() > input::QP_MAX_LINE {
            // Quoted-printable never writes a line this long: the mail body is over.
            self.quoted_printable = false;
            self.quoted_report = false;
        }
        if let Some((mut first, number)) = self.pending.take() {
            // The rest of a line broken by a quoted-printable soft break, which may be broken
            // again (a long lock line: `((work_completion)(=`, `&(&w->work)->work)){...}, at:
            // f+0x7de/0x14=`, `60`).
            if input::is_soft_break(raw) && first.len() + raw.len() <= 4096 {
                first.push_str(&raw[..raw.len() - 1]);
                self.pending = Some((first, number));
                return;
            }
            first.push_str(raw);
            return self.push_decoded(&first, number);
        }
        if self.quoted_report && starts_report(raw) {
            // The report the soft breaks belonged to is over, and the mode with it.
            self.quoted_printable = false;
            self.quoted_report = false;
        }
        if input::is_soft_break(raw) {
            self.quoted_printable = true;
            let first = raw[..raw.len() - 1].to_string();
            if first.len() <= 4096 {
                self.pending = Some((first, self.line_no));
                return;
            }
        }
        if self.quoted_printable && memchr::memchr(b'=', raw.as_bytes()).is_some() {
            return self.push_decoded(raw, self.line_no);
        }
        match stripped {
            Some((text, records)) => {
                let number = self.line_no;
                for r in records {
                    let line = Line {
                        number,
                        text: &text[r.text.0..r.text.1],
                        caller: r.caller.map(|(from, to)| &text[from..to]),
                    };
                    self.seg.push(&line);
                }
                self.quoted_printable_after_record();
            }
            None => self.push_record(raw, self.line_no),
        }
    }

    /// A line of a mail body in quoted-printable: `=3D` and friends decoded first.
    fn push_decoded(&mut self, raw: &str, number: usize) {
        let decoded = input::decode_quoted_printable(raw);
        self.push_record(&decoded, number);
    }

    fn push_record(&mut self, raw: &str, number: usize) {
        let seg = &mut self.seg;
        input::for_each_record(raw, number, |l| seg.push(&l));
        self.quoted_printable_after_record();
    }

    fn quoted_printable_after_record(&mut self) {
        if self.quoted_printable {
            // The mode belongs to the report being read: it ends with it.
            let open = self.seg.is_open();
            self.quoted_printable = open || !self.quoted_report;
            self.quoted_report = open;
        }
    }

    fn push_bytes(&mut self, raw: &[u8]) {
        match std::str::from_utf8(raw) {
            Ok(s) => self.push_line(s),
            Err(_) => self.push_line(&String::from_utf8_lossy(raw)),
        }
    }

    fn finish(&mut self) {
        if let Some((first, number)) = self.pending.take() {
            self.push_decoded(&first, number);
        }
        self.seg.finish();
    }
}

impl Back {
    /// A finished segment: its report, analysed in log order.
    fn take(&mut self, seg: segment::Segment) {
        let family = seg.family;
        let report = extract::build(seg);
        if family == Family::LockDump {
            // A lock list on its own (SysRq-d) is not a report.
            attach_lock_dump(&mut self.hung_batch, report);
            self.flush_hung();
            return;
        }
        if report.kind == ReportKind::HungTask {
            if self.hung_batch.len() >= MAX_HUNG_BATCH {
                self.flush_hung();
            }
            self.hung_batch.push(report);
        } else {
            self.flush_hung();
            self.finalize(report);
        }
    }

    fn flush_hung(&mut self) {
        if self.hung_batch.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.hung_batch);
        let proses: Vec<Option<Prose>> = batch.iter_mut().map(|r| self.analyze(r)).collect();
        // The hung tasks of a deadlock are printed back to back: a cycle among them closes
        // inside the batch, and is told in their explanations as in `parse`.
        let teller = (!self.whole_log && !self.facts_only && batch.iter().any(has_blocker))
            .then(|| Teller::new(&self.wait_for));
        for (mut r, prose) in batch.into_iter().zip(proses) {
            match prose {
                // Facts only: no explanation.
                None => {}
                Some(prose) if self.whole_log && has_blocker(&r) => {
                    self.deferred.push((self.emitted, prose));
                }
                Some(prose) => {
                    let wait = teller.as_ref().map(|t| t.tell(&r)).unwrap_or_default();
                    r.explanation = prose.render(wait);
                }
            }
            self.ready.push_back(r);
            self.emitted += 1;
        }
    }

    fn finalize(&mut self, mut r: Report) {
        if let Some(prose) = self.analyze(&mut r) {
            r.explanation = prose.render(Default::default());
        }
        self.ready.push_back(r);
        self.emitted += 1;
    }

    /// Title, analysis and the explanation's parts, in log order (the explanations refer to
    /// earlier reports); the report goes into the wait-for graph. Facts only: the title and
    /// analysis, no explanation (`None`).
    fn analyze(&mut self, r: &mut Report) -> Option<Prose> {
        analyze::analyse_hung(r);
        (r.title, r.alt_titles) = analyze::titles(r);
        if self.facts_only {
            return None;
        }
        let prose = explain::explain(r, &self.history);
        self.history.record(r);
        self.wait_for.add(r);
        Some(prose)
    }
}

/// Whether a raw line holds a report header.
fn starts_report(raw: &str) -> bool {
    let mut header = false;
    input::for_each_record(raw, 0, |l| header |= classify_header(l.text).is_some());
    header
}

fn has_blocker(r: &Report) -> bool {
    r.hung_task.as_ref().is_some_and(|h| h.blocker.is_some())
}

/// Merges a `debug_show_all_locks()` list into the hung-task reports printed before it.
fn attach_lock_dump(batch: &mut [Report], dump: Report) {
    for r in batch.iter_mut() {
        r.held_locks.extend(dump.held_locks.iter().cloned());
        for l in &dump.locks {
            if !r.locks.iter().any(|x| x.name == l.name) {
                r.locks.push(l.clone());
            }
        }
    }
    if let Some(r) = batch.last_mut() {
        r.lines.extend(dump.lines.iter());
        r.end_line = r.end_line.max(dump.end_line);
        r.truncated |= dump.truncated;
    }
}
