//! Stack frames and symbol names.
//!
//! The kernel prints code addresses with `%pS`/`%pB`: `symbol+0xOFF/0xLEN`, followed by
//! ` [module]` (or ` [module buildid]`) for module code. Unreliable entries of an x86 stack
//! dump start with `? `. Older kernels put the raw address first (`[<ffffffff81000000>] sym+...`),
//! and `scripts/decode_stacktrace.sh` or syzbot append a source location (`kernel/foo.c:60`,
//! possibly followed by `[inline]`; inlined frames then have no offset at all).
//!
//! Rust symbols are mangled (v0 `_RNv...` or legacy `_ZN...E`). [`demangle`] turns them into a
//! readable path: demangled with `rustc-demangle`, crate hashes dropped, generic arguments and
//! `<Type as Trait>` qualifications trimmed, so that
//! `_RNvMs1_NtNtCs1EKtwoKEMO2_6kernel4sync4lockINtB5_4LockuNtNtCs..._13rust_deadlock9semaphore16SemaphoreBackendE4lockBU_`
//! reads `kernel::sync::lock::Lock::lock`.

use crate::model::{Frame, FrameFields};

/// Longest symbol handed to the demangler; longer ones are shown as printed.
const MAX_DEMANGLE_LEN: usize = 4096;

/// Deepest nesting of `<...>` the name simplifier follows before giving up on a name.
const MAX_DEPTH: usize = 32;

/// Parses one stack-trace line into a [`Frame`], or `None` when the line is not a frame.
///
/// Accepted shapes (leading whitespace ignored):
/// `? sym+0x1/0x2 [mod]`, `sym+0x1/0x2 path/file.c:12`, `[<ffffffff81000000>] ? sym+0x1/0x2`,
/// `sym path/file.c:12 [inline]`.
pub fn parse_frame(line: &str) -> Option<Frame> {
    frame_parts(line).map(FrameParts::to_frame)
}

/// The parts of a stack frame line, borrowed from it: what [`parse_frame`] reads, before any
/// of it is copied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameParts<'a> {
    /// The trimmed line.
    raw: &'a str,
    symbol: &'a str,
    /// The name the function is read from: the symbol, without the ELFv1 `.` of a ppc64 frame
    /// (but as printed in an ARM `(sym) from` frame).
    name: &'a str,
    offset: Option<&'a str>,
    module: Option<&'a str>,
    location: Option<&'a str>,
    reliable: bool,
}

impl FrameParts<'_> {
    /// Whether the frame has a source location (`file.c:12`).
    pub(crate) fn has_location(&self) -> bool {
        self.location.is_some()
    }

    /// The frame, its parts copied (and a Rust symbol demangled).
    pub(crate) fn to_frame(self) -> Frame {
        // A C symbol's name is a piece of the line, which the frame keeps as it is.
        let rust = looks_rust(self.name).then(|| demangle_parts(self.name));
        let (function, demangled) = match &rust {
            Some((function, demangled)) => (function.as_str(), demangled.as_deref()),
            None => (self.name, None),
        };
        Frame::from_parts(FrameFields {
            function,
            offset: self.offset,
            module: self.module,
            reliable: self.reliable,
            raw: self.raw,
            symbol: self.symbol,
            demangled,
            location: self.location,
        })
    }
}

/// A byte range of a line; [`NO_SPAN`] for a part the frame lacks.
type Span = (u16, u16);

/// The span of a missing part: no part ends there (a line whose parts end beyond `u16::MAX - 1`
/// gets no spans, and is parsed again where the report is built).
const NO_SPAN: Span = (u16::MAX, u16::MAX);

/// A frame's parts as byte ranges of the line the lexer read them from: what a token keeps, so
/// that the frame's strings are copied (and its symbol demangled) where the report is built,
/// not where the lines are read. Small (28 bytes), as every token of a line is moved from stage
/// to stage.
///
/// # Invariants
/// Every span is [`NO_SPAN`] or ends before `u16::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameSpans {
    line_len: u16,
    /// The ranges of [`FrameParts::texts`].
    spans: [Span; 6],
    reliable: bool,
}

impl<'a> FrameParts<'a> {
    /// The texts of the parts: raw, symbol, name, offset, module, location.
    fn texts(&self) -> [Option<&'a str>; 6] {
        [
            Some(self.raw),
            Some(self.symbol),
            Some(self.name),
            self.offset,
            self.module,
            self.location,
        ]
    }

    /// The parts as ranges of `line`, the text they were read from (`None` when one is not
    /// part of it).
    pub(crate) fn spans(&self, line: &str) -> Option<FrameSpans> {
        let base = line.as_ptr() as usize;
        let mut spans = [NO_SPAN; 6];
        for (span, text) in spans.iter_mut().zip(self.texts()) {
            let Some(text) = text else { continue };
            let start = if text.is_empty() {
                0
            } else {
                (text.as_ptr() as usize).checked_sub(base)?
            };
            let end = start + text.len();
            if end > line.len() {
                return None;
            }
            // INVARIANT: `end` is below `u16::MAX` (`start` is at most `end`).
            let end = u16::try_from(end).ok().filter(|&e| e < u16::MAX)?;
            *span = (u16::try_from(start).ok()?, end);
        }
        Some(FrameSpans {
            line_len: u16::try_from(line.len()).ok()?,
            spans,
            reliable: self.reliable,
        })
    }
}

impl FrameSpans {
    /// Whether the frame has a source location ([`FrameParts::has_location`]).
    pub(crate) fn has_location(&self) -> bool {
        self.spans[5] != NO_SPAN
    }

    /// The frame, read straight from the line `line` the spans were taken from when its name
    /// is a C symbol: the frame's text is the line (its `raw`), its parts ranges of it. `None`
    /// otherwise (a Rust symbol, another line): [`FrameSpans::parts`] reads it then.
    pub(crate) fn to_frame(self, line: &str) -> Option<Frame> {
        if u16::try_from(line.len()).ok()? != self.line_len {
            return None;
        }
        let [raw, symbol, name, offset, module, location] = self.spans;
        let name_text = line.get(usize::from(name.0)..usize::from(name.1))?;
        if raw != (0, self.line_len) || looks_rust(name_text) {
            return None;
        }
        let range = |s: Span| (s != NO_SPAN).then(|| (usize::from(s.0), usize::from(s.1)));
        Frame::from_line(
            line.to_string(),
            range(name)?,
            range(symbol)?,
            [range(offset), range(module), range(location)],
            self.reliable,
        )
    }

    /// The parts, read back from the line the spans were taken from (`None` for another line).
    pub(crate) fn parts<'a>(&self, line: &'a str) -> Option<FrameParts<'a>> {
        if u16::try_from(line.len()).ok()? != self.line_len {
            return None;
        }
        let mut texts = [None; 6];
        for (text, span) in texts.iter_mut().zip(self.spans) {
            if span != NO_SPAN {
                let (start, end) = span;
                *text = Some(line.get(usize::from(start)..usize::from(end))?);
            }
        }
        let [raw, symbol, name, offset, module, location] = texts;
        Some(FrameParts {
            raw: raw?,
            symbol: symbol?,
            name: name?,
            offset,
            module,
            location,
            reliable: self.reliable,
        })
    }
}

/// [`parse_frame`] without copying: the parts of the frame, or `None` when the line is not one.
pub(crate) fn frame_parts(line: &str) -> Option<FrameParts<'_>> {
    let raw = super::trim(line);
    // Every frame starts with a symbol, `?`, `.` (ppc64) or `[` (an address): most other lines
    // are rejected by their first byte.
    if !matches!(
        raw.as_bytes().first(),
        Some(b'?' | b'.' | b'[' | b'_' | b'a'..=b'z' | b'A'..=b'Z')
    ) {
        return None;
    }
    common_frame(raw).or_else(|| other_frame(raw))
}

/// [`frame_parts`] of a line that [`common_frame`] does not take (which is not tried again).
pub(crate) fn uncommon_frame_parts(line: &str) -> Option<FrameParts<'_>> {
    let raw = super::trim(line);
    if !matches!(
        raw.as_bytes().first(),
        Some(b'?' | b'.' | b'[' | b'_' | b'a'..=b'z' | b'A'..=b'Z')
    ) {
        return None;
    }
    other_frame(raw)
}

/// The frames of the other shapes, read from the trimmed line `raw`.
fn other_frame(raw: &str) -> Option<FrameParts<'_>> {
    let mut t = raw;
    let mut reliable = true;
    if let Some(rest) = strip_ppc_addresses(t) {
        // powerpc: `[SP] [LR] sym+0x1/0x2`, marked `(unreliable)` rather than `? `.
        t = rest;
        if let Some(rest) = t.strip_suffix("(unreliable)") {
            reliable = false;
            t = rest.trim_end();
        }
    }
    if let Some(rest) = t.strip_prefix("? ") {
        reliable = false;
        t = rest.trim_start();
    }
    if let Some(rest) = t.strip_prefix("[<") {
        let b = rest.as_bytes();
        let end = memchr::memchr_iter(b'>', b).find(|&i| b.get(i + 1) == Some(&b']'))?;
        if !rest[..end].bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        t = rest[end + 2..].trim_start();
        if let Some(rest) = t.strip_prefix("? ") {
            reliable = false;
            t = rest.trim_start();
        }
        if let Some(inner) = t.strip_prefix('(') {
            return parse_arm_from(raw, inner, reliable);
        }
    }
    let sym_end = memchr::memchr2(b'+', b' ', t.as_bytes()).unwrap_or(t.len());
    let symbol = &t[..sym_end];
    if !is_symbol(symbol) {
        return None;
    }
    let mut rest = &t[sym_end..];
    let mut offset = None;
    if let Some(after_plus) = rest.strip_prefix('+') {
        let off_end = memchr::memchr(b' ', after_plus.as_bytes()).unwrap_or(after_plus.len());
        let off = &after_plus[..off_end];
        if !is_offset(off) {
            return None;
        }
        offset = Some(off);
        rest = &after_plus[off_end..];
    }
    let mut module = None;
    let mut location = None;
    // Older decode_stacktrace.sh output: `sym (file.c:12 file.h:3 (discriminator 2))`.
    if let Some(inner) = super::trim(rest)
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
    {
        let first = words(inner).next().unwrap_or("");
        if !is_location(first) {
            return None;
        }
        location = Some(first);
        rest = "";
    }
    let mut tokens = words(rest);
    while let Some(tok) = tokens.next() {
        if let Some(inner) = tok.strip_prefix('[') {
            // "[module]", "[module buildid]" or "[inline]": the name is the first word.
            let name = match inner.strip_suffix(']') {
                Some(name) => name,
                None => {
                    tokens.by_ref().find(|more| more.ends_with(']'))?;
                    inner
                }
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return None;
            }
            if name != "inline" && module.is_none() {
                module = Some(name);
            }
        } else if tok == "(inline)" {
            continue;
        } else if location.is_none() && is_location(tok) {
            location = Some(tok);
        } else {
            return None;
        }
    }
    if offset.is_none() && location.is_none() {
        return None;
    }
    Some(FrameParts {
        raw,
        symbol,
        name: symbol.strip_prefix('.').unwrap_or(symbol),
        offset,
        module,
        location,
        reliable,
    })
}

/// The usual frame of today's kernels, read in one pass: `[? ]sym+0xOFF/0xLEN[ [module]]` (the
/// trimmed line `raw`), with the parts [`frame_parts`] finds in it; `None` for any other shape,
/// which the general path then reads.
pub(crate) fn common_frame(raw: &str) -> Option<FrameParts<'_>> {
    let b = raw.as_bytes();
    let (reliable, start) = match b {
        [b'?', b' ', ..] => (false, 2),
        _ => (true, 0),
    };
    // The symbol: a letter or `_`, then symbol bytes up to the `+` of the offset.
    let first = *b.get(start)?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let plus = start + symbol_len(&b[start..])?;
    if b[plus] != b'+' || plus - start > 8192 {
        return None;
    }
    // The offset: `0xHEX/0xHEX`, up to the end or a space.
    let hex_run = |from: usize| {
        let digits = b[from..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        (digits > 0).then_some(from + digits)
    };
    let off_start = plus + 1;
    if b.get(off_start..off_start + 2) != Some(b"0x") {
        return None;
    }
    let slash = hex_run(off_start + 2)?;
    if b.get(slash..slash + 3) != Some(b"/0x") {
        return None;
    }
    let off_end = hex_run(slash + 3)?;
    let mut module = None;
    match &b[off_end..] {
        [] => {}
        // ` [module]`: letters, digits and `_` (`inline` is not a module).
        [b' ', b'[', name @ .., b']'] => {
            if name.is_empty()
                || !name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
                || name == b"inline"
            {
                return None;
            }
            module = Some(&raw[off_end + 2..b.len() - 1]);
        }
        _ => return None,
    }
    // Every index above is at an ASCII byte: char boundaries.
    let symbol = &raw[start..plus];
    Some(FrameParts {
        raw,
        symbol,
        name: symbol,
        offset: Some(&raw[off_start..off_end]),
        module,
        location: None,
        reliable,
    })
}

/// How many bytes `b` starts with that a symbol may hold ([`SYMBOL_BYTES`]); `None` when all
/// of them may. Eight bytes are looked up at a time (Rust symbols run to a hundred bytes and
/// more), then one by one in the eight where the symbol ends.
fn symbol_len(b: &[u8]) -> Option<usize> {
    let ok = |c: u8| SYMBOL_BYTES[usize::from(c)];
    let mut at = 0;
    for chunk in b.chunks_exact(8) {
        if !chunk.iter().fold(true, |all, &c| all & ok(c)) {
            break;
        }
        at += 8;
    }
    b[at..].iter().position(|&c| !ok(c)).map(|i| at + i)
}

/// `s.split_whitespace()`, split byte by byte when `s` is ASCII (the usual frame: its
/// whitespace is then [`super::is_space`]'s, the ASCII part of [`char::is_whitespace`]).
fn words(s: &str) -> Words<'_> {
    if s.is_ascii() {
        Words::Ascii(s, 0)
    } else {
        Words::Other(s.split_whitespace())
    }
}

/// The iterator of [`words`].
enum Words<'a> {
    /// An ASCII text and the position reached.
    Ascii(&'a str, usize),
    Other(std::str::SplitWhitespace<'a>),
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match self {
            Words::Ascii(s, pos) => {
                let b = s.as_bytes();
                while *pos < b.len() && super::is_space(b[*pos]) {
                    *pos += 1;
                }
                let start = *pos;
                while *pos < b.len() && !super::is_space(b[*pos]) {
                    *pos += 1;
                }
                // Both ends are at ASCII bytes (or the end): char boundaries.
                (start < *pos).then(|| &s[start..*pos])
            }
            Words::Other(w) => w.next(),
        }
    }
}

/// The `[c000000003db7b60] [c000000001119714] ` that powerpc prints before each frame (the
/// stack pointer, then the return address): the rest of the line, or `None`.
fn strip_ppc_addresses(t: &str) -> Option<&str> {
    if !t.starts_with('[') || t.starts_with("[<") {
        return None;
    }
    let mut rest = t;
    for _ in 0..2 {
        let inner = rest.strip_prefix('[')?;
        let end = inner.find(']')?;
        let hex = &inner[..end];
        if hex.len() < 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        rest = inner[end + 1..].trim_start();
    }
    Some(rest)
}

/// 32-bit ARM (before 4.x): `[<c0011cf4>] (show_stack) from [<c04f8b40>] (dump_stack+0x8c/0xc0)`.
/// The frame is the first function (its offset is printed only on newer kernels); the
/// second is its caller, which the next line repeats.
fn parse_arm_from<'a>(raw: &'a str, inner: &'a str, reliable: bool) -> Option<FrameParts<'a>> {
    let (func, after) = inner.split_once(')')?;
    if !(after.trim().is_empty() || after.trim_start().starts_with("from ")) {
        return None;
    }
    let (symbol, offset) = match func.split_once('+') {
        Some((sym, off)) if is_offset(off) => (sym, Some(off)),
        Some(_) => return None,
        None => (func, None),
    };
    if !is_symbol(symbol) {
        return None;
    }
    Some(FrameParts {
        raw,
        symbol,
        name: symbol,
        offset,
        module: None,
        location: None,
        reliable,
    })
}

/// A printed symbol name: letters, digits, `_`, `.` and `$` (legacy Rust mangling). A single
/// leading `.` is the ppc64 ELFv1 text symbol of a function (`.sk_common_release`).
fn is_symbol(s: &str) -> bool {
    let body = s.strip_prefix('.').unwrap_or(s);
    body.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && s.len() <= 8192
        && body.bytes().all(|b| SYMBOL_BYTES[usize::from(b)])
}

/// The bytes of a printed symbol name ([`is_symbol`]), by value: one lookup a byte (Rust
/// symbols are long).
static SYMBOL_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'$';
        b += 1;
    }
    t
};

/// `0x21/0xd0` (or a bare `0x21`).
fn is_offset(s: &str) -> bool {
    let hex = |p: &str| {
        p.strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    match memchr::memchr(b'/', s.as_bytes()) {
        Some(slash) => hex(&s[..slash]) && hex(&s[slash + 1..]),
        None => hex(s),
    }
}

/// `kernel/locking/semaphore.c:60` (optionally `:col`).
fn is_location(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(colon) = memchr::memchr(b':', b) else {
        return false;
    };
    let (file, line) = (&b[..colon], &b[colon + 1..]);
    // `:`-separated numbers, none empty.
    let line_ok = line.first().is_some_and(u8::is_ascii_digit)
        && line.last().is_some_and(u8::is_ascii_digit)
        && line.iter().all(|&c| c.is_ascii_digit() || c == b':')
        && !line.windows(2).any(|w| w == b"::");
    line_ok && file.iter().any(|&c| c == b'.' || c == b'/')
}

/// The readable name of a symbol: Rust symbols demangled and trimmed, others unchanged.
///
/// ```
/// assert_eq!(splat::demangle("_RNvNtCscrkk8jbURmJ_13rust_deadlock4abba13lock_in_order"),
///            "rust_deadlock::abba::lock_in_order");
/// assert_eq!(splat::demangle("down"), "down");
/// ```
pub fn demangle(symbol: &str) -> String {
    demangle_parts(symbol).0
}

/// Distinct Rust symbols whose demangled names are remembered: a log repeats the same few
/// stacks, and demangling is the costliest part of reading a frame. Bounded, so memory stays
/// flat (the cache is emptied when full).
const DEMANGLE_CACHE: usize = 4096;

type Demangled = (String, Option<String>);

thread_local! {
    // Fx hashing: the keys are long symbols, which SipHash reads at several times the cost.
    static CACHE: std::cell::RefCell<rustc_hash::FxHashMap<String, Demangled>> =
        std::cell::RefCell::new(rustc_hash::FxHashMap::default());
}

/// Whether [`demangle_parts`] may demangle `symbol` (a Rust symbol, not too long): for any
/// other symbol it returns the symbol itself, and no demangled name.
fn looks_rust(symbol: &str) -> bool {
    (symbol.starts_with("_R") || symbol.starts_with("_ZN")) && symbol.len() <= MAX_DEMANGLE_LEN
}

/// Returns (readable name, full demangled name if the symbol was Rust-mangled).
pub(crate) fn demangle_parts(symbol: &str) -> (String, Option<String>) {
    if !looks_rust(symbol) {
        return (symbol.to_string(), None);
    }
    if let Some(hit) = CACHE.with(|c| c.borrow().get(symbol).cloned()) {
        return hit;
    }
    let parts = demangle_uncached(symbol);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= DEMANGLE_CACHE {
            c.clear();
        }
        c.insert(symbol.to_string(), parts.clone());
    });
    parts
}

fn demangle_uncached(symbol: &str) -> Demangled {
    match rustc_demangle::try_demangle(symbol) {
        Ok(d) => {
            let full = format!("{d:#}");
            (simplify(&full), Some(full))
        }
        Err(_) => (symbol.to_string(), None),
    }
}

/// Trims a demangled Rust path to something readable.
///
/// * `<T>::f` and `<T as Trait>::f` become `T::f` (with `T` trimmed as well);
/// * generic arguments (`Lock<(), B>`, `trampoline::<...>`) are dropped.
///
/// Unbalanced input is returned unchanged.
pub fn simplify(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    match simplify_chars(&chars, 0) {
        Some(out) if !out.is_empty() => out,
        _ => s.to_string(),
    }
}

fn simplify_chars(chars: &[char], depth: usize) -> Option<String> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '<' {
            let close = matching_angle(chars, i)?;
            if out.is_empty() {
                // Qualified path: `<Self as Trait>` or `<Self>`; keep Self, trimmed.
                let inner = &chars[i + 1..close];
                let self_part = split_top_level_as(inner);
                out.push_str(&simplify_chars(self_part, depth + 1)?);
            } else if out.ends_with("::") {
                // Turbofish `path::<args>`: drop `::<args>`.
                out.truncate(out.len() - 2);
            }
            // Otherwise `Type<args>`: drop `<args>`.
            i = close + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Some(out)
}

/// Index of the `>` closing the `<` at `open`, skipping `->` arrows of fn types.
fn matching_angle(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '<' => depth += 1,
            '>' if i > 0 && chars[i - 1] == '-' => {}
            '>' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The part of `T as Trait` before a top-level ` as `; the whole slice if there is none.
fn split_top_level_as(inner: &[char]) -> &[char] {
    let mut depth = 0usize;
    let pat = [' ', 'a', 's', ' '];
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            '<' | '(' | '[' => depth += 1,
            '>' if i > 0 && inner[i - 1] == '-' => {}
            '>' | ')' | ']' => depth = depth.saturating_sub(1),
            ' ' if depth == 0 && inner[i..].starts_with(&pat) => return &inner[..i],
            _ => {}
        }
        i += 1;
    }
    inner
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "_RNvMs1_NtNtCs1EKtwoKEMO2_6kernel4sync4lockINtB5_4LockuNtNtCscrkk8jbURmJ_13rust_deadlock9semaphore16SemaphoreBackendE4lockBU_";

    #[test]
    fn demangles_and_trims() {
        assert_eq!(demangle(LOCK), "kernel::sync::lock::Lock::lock");
        assert_eq!(
            demangle("_RINvNtCscrkk8jbURmJ_13rust_deadlock7kthread10trampolineNCNvMs_NtB4_8scenarioINtBY_7RunningNtNtB4_4abba4AbBaE5start0EB4_"),
            "rust_deadlock::kthread::trampoline"
        );
        assert_eq!(
            demangle("_ZN13rust_deadlock4abba4AbBa8thread_b17h0123456789abcdefE"),
            "rust_deadlock::abba::AbBa::thread_b"
        );
        assert_eq!(demangle("__down_common"), "__down_common");
        assert_eq!(demangle("_Rgarbage"), "_Rgarbage");
    }

    #[test]
    fn simplify_shapes() {
        assert_eq!(simplify("<a::B as c::D>::f"), "a::B::f");
        assert_eq!(
            simplify("<a::B<T, U>>::f::{closure#0}"),
            "a::B::f::{closure#0}"
        );
        assert_eq!(simplify("f::<fn() -> u32>"), "f");
        assert_eq!(
            simplify("<&mut W as core::fmt::Write>::write_str"),
            "&mut W::write_str"
        );
        assert_eq!(simplify("broken<"), "broken<");
        assert_eq!(simplify(">x<"), ">x<");
    }

    #[test]
    fn frames() {
        let f = parse_frame(&format!("       {LOCK}+0x3c/0xd0 [rust_deadlock]")).unwrap();
        assert_eq!(f.function(), "kernel::sync::lock::Lock::lock");
        assert_eq!(f.offset(), Some("0x3c/0xd0"));
        assert_eq!(f.module(), Some("rust_deadlock"));
        assert!(f.reliable);
        assert_eq!(f.symbol(), LOCK);

        let f = parse_frame(" ? kthread_park+0x70/0x70").unwrap();
        assert!(!f.reliable);
        assert_eq!(f.function(), "kthread_park");
        assert_eq!(f.module(), None);

        let f = parse_frame("  down+0x40/0x50 kernel/locking/semaphore.c:60").unwrap();
        assert_eq!(f.function(), "down");
        assert_eq!(f.location(), Some("kernel/locking/semaphore.c:60"));

        let f = parse_frame(
            " ? trace_hardirqs_off_caller (kernel/locking/lockdep.c:2638 (discriminator 2))",
        )
        .unwrap();
        assert_eq!(f.function(), "trace_hardirqs_off_caller");
        assert_eq!(f.location(), Some("kernel/locking/lockdep.c:2638"));
        assert!(!f.reliable);

        let f = parse_frame(" __dump_stack lib/dump_stack.c:94 [inline]").unwrap();
        assert_eq!(f.function(), "__dump_stack");
        assert_eq!(f.offset(), None);

        let f = parse_frame(" [<ffffffff810a0c5e>] ? lock_acquire+0x8e/0x120").unwrap();
        assert_eq!(f.function(), "lock_acquire");
        assert!(!f.reliable);

        let f = parse_frame(" [<c0011cf4>] (show_stack) from [<c04f8b40>] (dump_stack+0x8c/0xc0)")
            .unwrap();
        assert_eq!((f.function(), f.offset()), ("show_stack", None));

        let f = parse_frame(" foo+0x1/0x2 [mymod abcdef0123]").unwrap();
        assert_eq!(f.module(), Some("mymod"));

        for bad in [
            "",
            "lab: exit 0",
            "kthread",
            "CPU0",
            "lock(sem_b);",
            "foo+0xzz/0x1",
            "foo+0x1/0x2 and more words",
            "rust_deadlock: loaded: threads",
            "foo+0x1/0x2 [unterminated",
        ] {
            assert!(parse_frame(bad).is_none(), "{bad:?}");
        }
    }
}
