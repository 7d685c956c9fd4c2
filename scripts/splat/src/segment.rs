//! Finding reports in a stream of log lines.
//!
//! A report starts at a header line (`WARNING: possible circular locking dependency detected`,
//! `INFO: task x:1 blocked for more than 2 seconds.`, `BUG: ...`). Its body is recognised
//! line by line against the shapes the kernel's print code produces (lockdep's fixed phrases,
//! lock descriptions, held-lock lists, stack frames, `dump_stack()` output, registers...).
//! Lines that do not fit are *foreign*: a shell prompt, `lab: ...` lines or other kernel
//! messages printed in between. They are skipped, and the report stays open, so a report that
//! is interleaved with other output is still collected whole.
//!
//! Several reports can be open at once (two CPUs printing concurrently). A line is offered to
//! the most recently started open report first. When lines carry printk caller ids
//! (`[  T43]`), a line is only offered to reports started by the same caller, which separates
//! interleaved reports exactly.
//!
//! A report ends when its natural end is seen (`</TASK>` closing the final stack dump,
//! `---[ end trace ... ]---`, the `=====` after a lock dump), when it has reached a point where
//! it may end (a stack dump without `<TASK>` markers, a held-lock list at the end of
//! "lock held when returning to user space") and foreign lines follow, when a new report
//! starts from the same caller, or when too many foreign lines pass. A report that ends
//! without reaching its natural end is marked truncated.

use crate::input::Line;
use crate::lex::blocker::{is_task_line_of, parse_blocker};
use crate::lex::frame::frame_parts;
use crate::lex::lockfmt::{
    is_address, lock_line_quality, parse_held_entry, parse_held_heading, parse_lock_line,
    split_held_index, LockLine,
};
use crate::lex::{
    classify_header, classify_line, cut_lock_line, first_byte, hung_header_task, is_bare_address,
    is_old_task_line, join_split_comm, lex, lex_common_frame, lex_uncommon, lock_line_stage,
    may_start_split_comm, trim, unbracket, Family, Header, HeldRef, LineClass, LockLineStage,
    Token,
};
use crate::model::{Lines, ReportKind};

/// Foreign lines tolerated by a report that may already have ended.
const SOFT_END_TOLERANCE: usize = 3;
/// Foreign lines tolerated by a report in the middle of its body.
const BODY_TOLERANCE: usize = 200;
/// Reports open at once; the oldest is closed (truncated) beyond this.
const MAX_OPEN: usize = 16;
/// Lines in one report; further lines close it (protects against pathological input).
const MAX_LINES: usize = 20_000;
/// Foreign lines that may come between a lock line cut in the middle of its name and its rest.
const CUT_TOLERANCE: usize = 8;

/// Lines room is made for when a report starts (most reports are shorter).
const LINES_RESERVED: usize = 64;

/// A vector with room for `n` items, holding `first`.
fn with_first<T>(n: usize, first: T) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    v.push(first);
    v
}

/// A report under construction.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub kind: ReportKind,
    pub family: Family,
    pub header: String,
    pub caller: Option<String>,
    /// Every line taken, header first.
    pub lines: Lines,
    /// The 1-based line number of each line of `lines`.
    pub numbers: Vec<usize>,
    /// The lexed token of every line in `lines` (the header's is [`Token::UNLEXED`]).
    pub tokens: Vec<Token>,
    /// The natural end was seen: nothing more belongs to this report.
    pub terminated: bool,
    /// The report may end here (later whitelisted lines are still taken).
    pub soft_end: bool,
    /// Consecutive foreign lines seen since the last line taken.
    foreign_run: usize,
    /// In the final stack dump (after `stack backtrace:` / `Call Trace:`).
    in_dump: bool,
    /// Frames seen in the final stack dump.
    dump_frames: usize,
    /// `</TASK>` seen.
    task_closed: bool,
    /// A stack marker (`<TASK>`, `<IRQ>`) was seen in the final dump: the dump then ends at
    /// `</TASK>`, not at its last frame.
    markers: bool,
    /// An `Oops:` line was taken.
    seen_oops: bool,
    /// The report was closed before its natural end for a reason other than end of input.
    pub abandoned: bool,
    /// Hung-task reports: the blocker line and holder stack after the task's own stack.
    tail: Tail,
}

impl Segment {
    fn new(header: &Header, line: &Line) -> Self {
        Segment {
            kind: header.kind,
            family: header.family,
            header: line.text.trim().to_string(),
            caller: line.caller.map(str::to_string),
            lines: {
                let mut lines = Lines::with_capacity(LINES_RESERVED, LINES_RESERVED * 64);
                lines.push(line.text);
                lines
            },
            numbers: with_first(LINES_RESERVED, line.number),
            tokens: with_first(LINES_RESERVED, Token::UNLEXED),
            terminated: false,
            soft_end: false,
            foreign_run: 0,
            in_dump: false,
            dump_frames: 0,
            task_closed: false,
            markers: false,
            seen_oops: line.text.trim_start().starts_with("Oops"),
            abandoned: false,
            tail: Tail::default(),
        }
    }

    /// The number of the report's first line (its header).
    pub fn first_number(&self) -> usize {
        self.numbers.first().copied().unwrap_or(0)
    }

    /// True when the report reached a point where it can end.
    pub fn complete(&self) -> bool {
        self.terminated || self.soft_end
    }

    fn compatible(&self, caller: Option<&str>) -> bool {
        match (&self.caller, caller) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }

    /// Offers a line to the report; returns true when it was taken.
    fn offer(&mut self, line: &Line, token: &mut Token) -> bool {
        let class = token.class;
        if self.lines.len() >= MAX_LINES {
            self.abandoned = !self.complete();
            self.terminated = true;
            return false;
        }
        let take = match self.family {
            Family::LockDump => self.offer_lockdump(class),
            Family::Hung => self.offer_hung(class, line.text),
            Family::Lockdep | Family::Sleep | Family::Generic => self.offer_report(class, line),
        };
        if take {
            self.lines.push(line.text);
            self.numbers.push(line.number);
            self.tokens.push(std::mem::replace(token, Token::UNLEXED));
            // A blank line neither proves nor disproves that the report goes on.
            if class != LineClass::Blank {
                self.foreign_run = 0;
            }
        }
        take
    }

    fn offer_lockdump(&mut self, class: LineClass) -> bool {
        match class {
            LineClass::Blank | LineClass::HeldEntry => true,
            LineClass::LockdepBody => true,
            LineClass::HeldHeading => {
                self.soft_end = true;
                true
            }
            LineClass::Banner => {
                self.terminated = true;
                true
            }
            _ => false,
        }
    }

    fn offer_hung(&mut self, class: LineClass, text: &str) -> bool {
        // After the task's own stack (`</TASK>`, or frames without markers): its blocker line
        // and the holder's stack.
        if (self.task_closed || (self.dump_frames > 0 && !self.markers))
            && offer_tail(&mut self.tail, &self.header, class, text)
        {
            self.task_closed = true;
            self.soft_end = true;
            return true;
        }
        if self.task_closed {
            // After the stack: only "INFO: lockdep is turned off." belongs to us.
            if class == LineClass::LockdepOff {
                self.terminated = true;
                return true;
            }
            return false;
        }
        match class {
            LineClass::KernelIdent | LineClass::HungBody | LineClass::DumpInfo => {
                !self.in_dump || self.dump_frames == 0
            }
            LineClass::HungTaskLine => !self.in_dump,
            LineClass::CallTrace => {
                if self.in_dump {
                    return false;
                }
                self.in_dump = true;
                true
            }
            LineClass::Frame => {
                if self.in_dump {
                    self.dump_frames += 1;
                    self.soft_end |= !self.markers;
                }
                self.in_dump
            }
            LineClass::MarkerOpen => {
                self.markers |= self.in_dump;
                self.in_dump
            }
            LineClass::MarkerClose | LineClass::Register => self.in_dump,
            LineClass::TaskClose => {
                self.task_closed = true;
                self.soft_end = true;
                self.in_dump
            }
            LineClass::LockdepOff => {
                self.terminated = true;
                true
            }
            LineClass::Other => {
                // Old kernels: "comm            D ffff88003fc13780     0   123      2 0x0".
                !self.in_dump && self.lines.len() <= 4 && is_old_task_line(&self.header, text)
            }
            _ => false,
        }
    }

    fn offer_report(&mut self, class: LineClass, line: &Line) -> bool {
        let generic = self.family == Family::Generic;
        if generic && !self.task_closed && same_warning_site(&self.header, line.text) {
            // 6.18+ prints one WARNING line per inlined frame of the same site.
            return true;
        }
        if self.task_closed {
            // After "</TASK>": lockdep and sleep reports are over; an Oops goes on with
            // "Modules linked in:", registers and "---[ end trace ]---".
            if !generic {
                return false;
            }
            return match class {
                LineClass::EndTrace => {
                    self.terminated = true;
                    true
                }
                LineClass::Register | LineClass::Blank | LineClass::IrqTrace => true,
                LineClass::GenericBody => !line.text.trim_start().starts_with("Oops"),
                _ => false,
            };
        }
        match class {
            LineClass::Blank
            | LineClass::Banner
            | LineClass::Dashes
            | LineClass::KernelIdent
            | LineClass::LockdepOff
            | LineClass::HeldEntry
            | LineClass::LockdepBody
            | LineClass::IrqTrace
            | LineClass::SleepBody => true,
            LineClass::HeldHeading => {
                if self.kind == ReportKind::LockHeldAtExit
                    && self.header.contains("returning to user space")
                {
                    self.soft_end = true;
                }
                true
            }
            LineClass::StackBacktrace => {
                if self.in_dump && self.dump_frames > 0 {
                    return false;
                }
                self.in_dump = true;
                true
            }
            LineClass::CallTrace => {
                if self.in_dump && self.dump_frames > 0 {
                    return false;
                }
                self.in_dump = true;
                true
            }
            LineClass::DumpInfo => !(self.in_dump && self.dump_frames > 0),
            LineClass::Frame => {
                if self.in_dump {
                    self.dump_frames += 1;
                    self.soft_end |= !self.markers;
                }
                true
            }
            LineClass::MarkerOpen => {
                self.markers |= self.in_dump;
                true
            }
            LineClass::MarkerClose => {
                // `</IRQ>` closing a dump that began in the interrupt: the dump may end here.
                self.soft_end |= self.in_dump && self.dump_frames > 0;
                true
            }
            LineClass::Register => true,
            LineClass::TaskClose => {
                self.task_closed = true;
                if generic {
                    self.soft_end = true;
                } else {
                    self.terminated = true;
                }
                true
            }
            LineClass::EndTrace => {
                self.terminated = true;
                generic
            }
            LineClass::GenericBody => {
                if !generic {
                    return false;
                }
                if line.text.trim_start().starts_with("Oops") {
                    if self.seen_oops {
                        return false;
                    }
                    self.seen_oops = true;
                }
                if line.text.trim_start().starts_with("NMI backtrace for cpu") {
                    // An RCU stall dumps the stalled CPUs' stacks after the grace-period
                    // kthread's: each is a dump of its own.
                    self.in_dump = false;
                    self.dump_frames = 0;
                    self.markers = false;
                }
                true
            }
            LineClass::HungBody | LineClass::HungTaskLine | LineClass::Other => false,
        }
    }
}

/// `WARNING: FILE:LINE at ...` lines of the same FILE:LINE (the 6.18+ format).
fn same_warning_site(header: &str, line: &str) -> bool {
    // Borrowed, the line's first: most lines are no `WARNING:` and end the test there.
    fn site(t: &str) -> Option<&str> {
        trim(t)
            .strip_prefix("WARNING: ")
            .and_then(|r| r.split_once(" at "))
            .map(|(loc, _)| loc)
            .filter(|loc| !loc.contains(' ') && loc.contains(':'))
    }
    site(line).is_some_and(|b| site(header) == Some(b))
}

/// The streaming form of the segmentation: lines go in one at a time ([`Segmenter::push`]),
/// finished segments come out in header order ([`Segmenter::pop_ready`]). At most
/// [`MAX_OPEN`] reports are open at once and each holds at most [`MAX_LINES`] lines, so the
/// memory it holds is bounded whatever the length of the log.
#[derive(Default)]
pub(crate) struct Segmenter {
    open: Vec<Segment>,
    /// Finished segments not yet handed out, sorted by header line.
    done: std::collections::VecDeque<Segment>,
    /// The previous line, for joining a line that a mail client wrapped (a buffer reused from
    /// line to line), and the index (in `open`) of the report that took it.
    prev_text: String,
    prev: Option<usize>,
    /// `prev_text` is a frame of the usual shape ([`lex_common_frame`]).
    prev_frame: bool,
    /// Foreign lines seen since `prev`, a lock line cut in the middle ([`cut_lock_line`]).
    cut_skipped: usize,
    /// `finish` was called: everything in `done` is ready.
    finished: bool,
    /// The previous line, when it may be the first half of a line cut by a newline in a comm
    /// ([`may_start_split_comm`]): its number and text.
    split_comm: Option<(usize, String)>,
    /// The number of the last line fed: the one a [`REPLAY`] line says was cut.
    last: Option<usize>,
}

/// What a console prints (on a line of its own, no timestamp) before it prints a record again
/// whose printing was cut off (`console_prepend_replay()`, kernel/printk/printk.c: a console
/// taken over in the middle of a record): the line just before it is that record's cut first
/// try, `BUG: sleeping function called from invalid context at kernel/`, and the whole record
/// follows.
const REPLAY: &str = "** replaying previous printk message **";

impl Segmenter {
    /// Feeds one line.
    pub fn push(&mut self, line: &Line) {
        if first_byte(line.text) == Some(b'*') && trim(line.text) == REPLAY {
            return self.drop_cut_record();
        }
        self.last = Some(line.number);
        // A line cut by a newline in a task's comm: the first half went by as a line of its
        // own (which nothing takes), the whole line follows.
        if let Some((number, first)) = self.split_comm.take() {
            if let Some(joined) = join_split_comm(&first, line.text) {
                let whole = Line {
                    number,
                    text: &joined,
                    caller: line.caller,
                };
                return self.push_one(&whole);
            }
        }
        let maybe = matches!(
            first_byte(line.text),
            Some(b'I' | b't' | b'l' | b'0'..=b'9' | 0x80..)
        );
        if maybe && may_start_split_comm(trim(line.text)) {
            self.split_comm = Some((line.number, line.text.to_string()));
        }
        self.push_one(line)
    }

    /// The line before a [`REPLAY`] line was the cut first try of the record that follows: the
    /// report it started goes (a cut header would be a report of its own, with no task and no
    /// stack), or the report that took it gives it back; nothing joins it any more.
    fn drop_cut_record(&mut self) {
        let Some(cut) = self.last.take() else {
            return;
        };
        let took = |s: &Segment| s.numbers.last() == Some(&cut);
        if let Some(i) = self.open.iter().rposition(took) {
            if self.open[i].lines.len() == 1 {
                self.open.remove(i);
            } else {
                self.open[i].lines.pop();
                self.open[i].numbers.pop();
                self.open[i].tokens.pop();
            }
        }
        self.prev = None;
        self.prev_text.clear();
        self.split_comm = None;
    }

    /// Feeds one whole line.
    fn push_one(&mut self, line: &Line) {
        let prev = self.prev.take();
        let mut prev_text = std::mem::take(&mut self.prev_text);
        // The line is lexed once, here when it may continue the previous one, else in
        // `push_line` when an open report may take it. The usual frame is told first, in one
        // pass: it is no header, and neither continues a frame nor is continued by one (see
        // `wrapped_join_lexed`: each way of joining needs a previous line or a next one of
        // another shape). With no report open, only a header matters: no frame is sought.
        let busy = prev.is_some() || !self.open.is_empty();
        let mut token = if busy {
            lex_common_frame(line.text)
        } else {
            None
        };
        let frame = token.is_some();
        let header = if frame {
            None
        } else {
            classify_header(line.text)
        };
        if let Some(idx) = prev.filter(|_| !(frame && self.prev_frame)) {
            // A header continues no line (but for the rest of a cut lock line, which is joined
            // by its text alone): its class is not needed.
            let (class, next_frame) = match (&header, &token) {
                (Some(_), _) => (LineClass::Other, false),
                (None, Some(t)) => (t.class, t.is_parsed_frame()),
                (None, None) => {
                    let t = token.insert(lex_uncommon(line.text));
                    (t.class, t.is_parsed_frame())
                }
            };
            let after_foreign = self.cut_skipped > 0;
            let next = NextLine {
                class,
                is_header: header.is_some(),
                frame: next_frame,
            };
            let joined = self.try_join(&prev_text, idx, line, next, after_foreign);
            if let Some(joined) = joined {
                self.prev_text = joined;
                self.prev = Some(idx);
                self.prev_frame = false;
                self.cut_skipped = 0;
                return;
            }
        }
        // Only a line that a report took can be continued.
        if let Some(taker) = self.push_line(line, header, token) {
            prev_text.clear();
            prev_text.push_str(line.text);
            self.prev = Some(taker);
            self.prev_frame = frame;
            self.cut_skipped = 0;
        } else if let Some(idx) = prev {
            // A lock line cut by another CPU's message: its rest may still come.
            if cut_lock_line(&prev_text) && self.cut_skipped < CUT_TOLERANCE {
                self.cut_skipped += 1;
                self.prev = Some(idx);
            }
        }
        self.prev_text = prev_text;
    }

    /// A line that continues the previous one (a mail client wrapped a long kernel line):
    /// appended to it when the report took the previous line and the joined line reads as a
    /// kernel line where the second half alone does not; returns the joined line. After other
    /// lines came in between (`after_foreign`), only the rest of a cut lock line is joined.
    fn try_join(
        &mut self,
        prev: &str,
        idx: usize,
        line: &Line,
        next: NextLine,
        after_foreign: bool,
    ) -> Option<String> {
        let seg = self.open.get_mut(idx)?;
        if seg.terminated || !seg.compatible(line.caller) {
            return None;
        }
        // Only the report's last line can be continued (checked first: its token then tells
        // what the previous line is, without parsing it again).
        if seg.lines.last().is_none_or(|l| l != prev) {
            return None;
        }
        let joined = if after_foreign {
            rejoin_cut_lock_line(prev, line.text)
        } else {
            let token = seg.tokens.last();
            let prev_held = token.map_or_else(|| HeldRef::parse(prev), |t| t.held_entry_ref(prev));
            let quality = token.and_then(Token::frame_quality);
            wrapped_join_lexed(prev, prev_held, quality, line.text, next)
        }?;
        let first = seg.lines.len() == 1;
        seg.lines.set_last(&joined);
        if first {
            seg.header = trim(&joined).to_string();
        } else if let Some(t) = seg.tokens.last_mut() {
            *t = lex(&joined);
        }
        Some(joined)
    }

    /// Offers a line to the open reports or starts one; returns the index of the report that
    /// took the line.
    fn push_line(
        &mut self,
        line: &Line,
        header: Option<Header>,
        token: Option<Token>,
    ) -> Option<usize> {
        let text = line.text;
        if let Some(h) = header.as_ref().filter(|h| h.strong) {
            return Some(self.start(h, line));
        }
        if self.open.is_empty() {
            return header.map(|h| self.start(&h, line));
        }
        let mut token = token.unwrap_or_else(|| lex_uncommon(text));
        let mut taken = None;
        for (i, seg) in self.open.iter_mut().enumerate().rev() {
            if seg.terminated || !seg.compatible(line.caller) {
                continue;
            }
            if seg.offer(line, &mut token) {
                taken = Some(i);
                break;
            }
        }
        if taken.is_none() {
            if let Some(h) = header.as_ref() {
                return Some(self.start(h, line));
            }
            for seg in self.open.iter_mut() {
                if seg.compatible(line.caller) {
                    seg.foreign_run += 1;
                    let limit = if seg.complete() {
                        SOFT_END_TOLERANCE
                    } else {
                        BODY_TOLERANCE
                    };
                    if seg.foreign_run > limit {
                        seg.abandoned = !seg.complete();
                        seg.terminated = true;
                    }
                }
            }
        }
        if self.open.iter().any(|s| s.terminated) {
            // Indices shift: the report that took the line is found again by identity.
            let key = taken.map(|i| self.open[i].first_number());
            self.retire();
            return key.and_then(|k| self.open.iter().position(|s| s.first_number() == k));
        }
        taken
    }

    /// Starts a report at a header line, closing reports that it ends; returns its index.
    fn start(&mut self, h: &Header, line: &Line) -> usize {
        for seg in self.open.iter_mut() {
            if seg.complete() && seg.compatible(line.caller) {
                seg.terminated = true;
            } else if seg.caller.is_some() && seg.caller.as_deref() == line.caller {
                // The same context started a new report: the old one was cut off.
                seg.abandoned = true;
                seg.terminated = true;
            }
        }
        self.retire();
        if self.open.len() >= MAX_OPEN {
            let mut oldest = self.open.remove(0);
            oldest.abandoned = !oldest.complete();
            self.insert_done(oldest);
        }
        self.open.push(Segment::new(h, line));
        self.open.len() - 1
    }

    fn retire(&mut self) {
        let mut i = 0;
        while i < self.open.len() {
            if self.open[i].terminated {
                let seg = self.open.remove(i);
                self.insert_done(seg);
            } else {
                i += 1;
            }
        }
    }

    fn insert_done(&mut self, seg: Segment) {
        let key = seg.first_number();
        let at = self.done.partition_point(|s| s.first_number() <= key);
        self.done.insert(at, seg);
    }

    /// Whether a report is open (being collected).
    pub fn is_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// Ends the input: every open report is finished.
    pub fn finish(&mut self) {
        for seg in std::mem::take(&mut self.open) {
            self.insert_done(seg);
        }
        self.finished = true;
    }

    /// The next finished segment, in header order, once no open report started before it.
    pub fn pop_ready(&mut self) -> Option<Segment> {
        let first = self.done.front()?.first_number();
        let blocked = !self.finished && self.open.iter().any(|s| s.first_number() < first);
        if blocked {
            None
        } else {
            self.done.pop_front()
        }
    }
}

/// The line that `prev` and `next` make when `next` is the continuation of a kernel line
/// that a mail client (or a terminal) wrapped, or `None` when `next` stands on its own.
///
/// Wrapping happens at a space, which the client drops; the joined line puts one back.
/// `next` continues `prev` when `prev` ends in the middle of a lock description (`..., at:`),
/// or when `next` alone is not a kernel line but `prev + next` parses better than `prev`
/// alone (a frame gains its source location, a lock line its `at:` site).
#[cfg(test)]
pub(crate) fn wrapped_join(prev: &str, next: &str) -> Option<String> {
    let token = lex(next);
    let facts = NextLine {
        class: token.class,
        is_header: classify_header(next).is_some(),
        frame: token.is_parsed_frame(),
    };
    wrapped_join_lexed(prev, HeldRef::parse(prev), None, next, facts)
}

/// What the lexer found in a line that may continue the previous one.
#[derive(Clone, Copy)]
struct NextLine {
    /// `classify_line` of the line.
    class: LineClass,
    /// Whether the line is a report header.
    is_header: bool,
    /// The line is a frame that the frame parser read (whose first word then has no `:`, so
    /// that it never looks like the tail of a wrapped frame, [`looks_like_location`]).
    frame: bool,
}

/// [`wrapped_join`] with what the lexer found in `next`.
/// `prev_frame_quality` is `parse_quality(prev)` when the lexer read `prev` as a frame.
fn wrapped_join_lexed(
    prev: &str,
    prev_held: HeldRef<'_>,
    prev_frame_quality: Option<u8>,
    next: &str,
    facts: NextLine,
) -> Option<String> {
    let next_class = facts.class;
    let n = trim(next);
    let tp = trim(prev);
    if n.is_empty() || tp.is_empty() || facts.is_header {
        return None;
    }
    // How well `prev` parses: from its token when the frame parser read it.
    let prev_quality = || prev_frame_quality.unwrap_or_else(|| parse_quality(tp));
    // The previous line as a held-lock entry, read once for the joins below.
    let prev_held = prev_held.get();
    if let Some(joined) = join_held_fragments(prev, prev_held, next, next_class) {
        return Some(joined);
    }
    if let Some(joined) = rejoin_cut_lock_line(prev, next) {
        return Some(joined);
    }
    let p = prev.trim_end();
    if n.starts_with("+0x") && p.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        // `... at: [<ADDR>] venc_lock` + `+0xec/0x108`: a symbol cut before its offset.
        let j = format!("{p}{n}");
        if parse_quality(&j) > prev_quality() {
            return Some(j);
        }
    }
    let joined = || format!("{p} {n}");
    if is_bare_address(p) {
        // `[<c013ca52>]` + `generic_file_buffered_write+0x15a/0x53d`
        return Some(joined());
    }
    if p.ends_with(" is freeing memory") {
        // `comm/pid is freeing memory` + `START-END, with a lock still held there!`
        return Some(joined());
    }
    // A hung-task header starts with its phrase (a join only adds to the end of `p`).
    if unbracket(tp).starts_with("INFO: task ") && hung_header_task(p).is_none() {
        // `INFO: task x:1 blocked for more` + `than 120 seconds.`
        let j = joined();
        if hung_header_task(&j).is_some() {
            return Some(j);
        }
    }
    if lock_site_missing(tp) {
        // `ADDR (class){..}-{..}, at:` (or `at: [<ADDR>]`) with the site on the next line.
        return Some(joined());
    }
    // ` #0: ADDR` + `(class){..}, at: ...`: a held lock wrapped after its address.
    let held_address_only = matches!(prev_held, Some((_, None))) && !p.ends_with(':');
    if next_class != LineClass::Other
        && !held_address_only
        && (facts.frame || !looks_like_location(n))
    {
        return None;
    }
    let j = joined();
    (parse_quality(&j) > prev_quality()).then_some(j)
}

/// A held-lock entry printed in `KERN_CONT` pieces that the console put on separate lines
/// (` #0: ` / `ffffffff8e333e60` / ` (` / `rcu_read_lock` / `){....}-{1:2}` / `, at: ...`),
/// or wrapped by a mail client after its address: the pieces are put back together, without
/// a separator (each piece carries its own spaces) except between an address and `(`.
fn join_held_fragments(
    prev: &str,
    prev_held: Option<(u32, Option<&LockLine>)>,
    next: &str,
    next_class: LineClass,
) -> Option<String> {
    let (_, lock) = prev_held?;
    let after_index = trim(prev).split_once(':').map_or("", |(_, r)| trim(r));
    let n = trim(next);
    let incomplete = match lock {
        None => {
            !after_index.contains('<')
                && (after_index.is_empty()
                    || is_address(after_index)
                    || after_index.ends_with('(')
                    || (after_index.contains('(') && !after_index.contains("){")))
        }
        Some(l) => l.at.is_none() && l.rest.is_empty() && n.starts_with(", at:"),
    };
    // `#2` alone is the version suffix of a class name (`&of->mutex` `#2`), not an entry.
    let new_record = n.is_empty()
        || (n.starts_with('#') && n.contains(':'))
        || parse_held_heading(n).is_some()
        // (`n` is no report header: the caller returned before.)
        || matches!(
            next_class,
            LineClass::Banner | LineClass::CallTrace | LineClass::StackBacktrace
        );
    if !incomplete || new_record {
        return None;
    }
    let ends_hex = prev.ends_with(|c: char| c.is_ascii_hexdigit());
    let sep = if ends_hex && next.starts_with('(') {
        " "
    } else {
        ""
    };
    Some(format!("{prev}{sep}{next}"))
}

/// A `print_lock()` line (alone or in a held-lock list) whose `at:` site is cut off: it ends
/// in `, at:`, `, at: [<ADDR>]` or, wrapped before the `at:`, in `},`.
fn lock_site_missing(t: &str) -> bool {
    let t = trim(t);
    let cut =
        t.ends_with(", at:") || t.ends_with("},") || (t.ends_with(">]") && t.contains(", at: [<"));
    if !cut {
        return false;
    }
    let line = match parse_held_entry(t) {
        Some((_, l)) => l,
        None => parse_lock_line(t),
    };
    line.is_some_and(|l| l.at.is_none())
}

/// `prev`, a lock line cut in the middle, and `next`, a piece that takes it further: `ADDR (` +
/// `sem_b){+.+.}-{4:4}, at: ...`, `ADDR (sem_a` + `){+.+.}-{4:4}, at: ...`, `ADDR
/// (sem_a){+.+.}-{4:4}` + `, at: ...`, `ADDR` + `(sem_a){...`. The pieces carry their own spacing
/// but for the one between the address and `(`, which the console's line start took. The joined
/// line must reach the usage at least, so that another CPU's message is never glued to it.
fn rejoin_cut_lock_line(prev: &str, next: &str) -> Option<String> {
    let p = prev.trim_end();
    let before = lock_line_stage(p).filter(|s| *s < LockLineStage::Site)?;
    let n = trim(next);
    let sep = if before == LockLineStage::Address && n.starts_with('(') {
        " "
    } else {
        ""
    };
    let joined = format!("{p}{sep}{n}");
    let after = lock_line_stage(&joined)?;
    // The name alone (`ADDR (` + `sem_b`, its usage still to come): one word, as class names are.
    let name_piece = p.ends_with('(')
        && after == LockLineStage::Name
        && !n.contains(char::is_whitespace)
        && !n.starts_with('#');
    ((after > before && after >= LockLineStage::Usage) || name_piece).then_some(joined)
}

/// `kernel/foo.c:12` or `kernel/foo.c:12 [inline]`: the tail of a wrapped frame line (which
/// on its own reads as nothing, or as a frame without offset).
fn looks_like_location(t: &str) -> bool {
    let b = t.as_bytes();
    let first = &b[..memchr::memchr(b' ', b).unwrap_or(b.len())];
    // The line number ends the word (most words are no location: told by their last byte).
    if !first.last().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let Some(colon) = memchr::memrchr(b':', first) else {
        return false;
    };
    let line = &first[colon + 1..];
    memchr::memchr(b'.', first).is_some() && !line.is_empty() && line.iter().all(u8::is_ascii_digit)
}

/// How much of a line the strict parsers understand: 0 for nothing.
fn parse_quality(t: &str) -> u8 {
    let t = trim(t);
    if let Some(f) = frame_parts(t) {
        return 2 + u8::from(f.has_location());
    }
    if let Some(q) = split_held_index(t).and_then(|(_, rest)| lock_line_quality(rest)) {
        return q;
    }
    if let Some(q) = lock_line_quality(t) {
        return q;
    }
    if classify_line(t) != LineClass::Other {
        return 1;
    }
    0
}

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
            let rest = trim(text).strip_prefix("task:").unwrap_or("");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_lines_cut_after_any_piece_are_joined() {
        let whole = "ff11000000804b08 (sem_b){+.+.}-{4:4}, at: thread_a+0x50/0xdd [rust_deadlock]";
        // Every place where one `KERN_CONT` piece ends and the next begins.
        for cut in [
            "ff11000000804b08",
            "ff11000000804b08 (",
            "ff11000000804b08 (sem_b",
        ] {
            let rest = whole[cut.len()..].trim();
            assert!(cut_lock_line(cut), "{cut}");
            assert_eq!(
                rejoin_cut_lock_line(cut, rest).as_deref(),
                Some(whole),
                "{cut}"
            );
            assert_eq!(wrapped_join(cut, rest).as_deref(), Some(whole), "{cut}");
        }
        let usage = "ff11000000804b08 (sem_b){+.+.}-{4:4}";
        assert!(cut_lock_line(usage));
        assert_eq!(
            rejoin_cut_lock_line(usage, &whole[usage.len()..]).as_deref(),
            Some(whole)
        );
        assert!(!cut_lock_line(whole));
        assert_eq!(lock_line_stage(whole), Some(LockLineStage::Site));
        // A held lock, cut after its name's version.
        assert_eq!(
            rejoin_cut_lock_line(
                " #0: ffffffff8e333e60 (&of->mutex#2",
                "){+.+.}-{4:4}, at: f+0x1/0x2"
            )
            .as_deref(),
            Some(" #0: ffffffff8e333e60 (&of->mutex#2){+.+.}-{4:4}, at: f+0x1/0x2")
        );
        // Cut twice: the name alone, then its usage and site.
        let name = rejoin_cut_lock_line("ff11000000804b08 (", "sem_b").unwrap();
        assert_eq!(name, "ff11000000804b08 (sem_b");
        assert_eq!(
            rejoin_cut_lock_line(&name, &whole[name.len()..]).as_deref(),
            Some(whole)
        );
        // Another CPU's message is not glued on, wherever the lock line was cut.
        for cut in [
            "ff11000000804b08",
            "ff11000000804b08 (",
            "ff11000000804b08 (sem_b",
            usage,
        ] {
            for other in [
                "# hold_ms_accepts_decimal_numbers_in_range.speed: normal",
                "ok 6 buggy",
                "(x) y",
            ] {
                assert_eq!(rejoin_cut_lock_line(cut, other), None, "{cut} + {other}");
            }
        }
        // Lines that only end in an address are not lock lines.
        assert!(!cut_lock_line(
            "RBP: ffffc90000003e58 R08: 0000000000000001"
        ));
        assert!(!cut_lock_line("ok 6 buggy"));
    }
}
