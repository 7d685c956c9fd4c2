//! Splitting a log into lines and stripping the prefixes that wrap the kernel's text.
//!
//! A kernel message can reach us wrapped in several layers, all optional and in this order:
//!
//! * a syslog header: `Nov 21 10:00:00 host kernel: ` (any header with a `HH:MM:SS` time that
//!   ends in `kernel: `), or a bare `kernel: ` (journalctl / `dmesg` via syslog);
//! * a `/dev/kmsg` record prefix `6,1234,5678,-;` or a console log level `<4>`;
//! * a `dmesg -x` facility/level prefix: `kern  :warn  : `;
//! * the printk timestamp `[    3.857151]` (or `dmesg -T`'s `[Thu Nov 21 10:00:00 2024]`);
//! * the printk caller id `[  T123]` / `[    C0]` (`CONFIG_PRINTK_CALLER`), printed right after
//!   the timestamp.
//!
//! After the timestamp/caller the kernel prints one space; everything after it is the message,
//! whose indentation is kept (lockdep's scenario table and stack traces are indented).
//! Line ends may be CRLF. All functions here work on `&str` with `char`-boundary-safe
//! operations only, so no input can make them panic.

/// `s.trim()`, faster on the usual line whose ends are ASCII: the ASCII whitespace (as
/// [`char::is_whitespace`] counts it) is cut off byte by byte, and only a line that then
/// starts or ends with a non-ASCII character goes through the general trim.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let (mut start, mut end) = (0, b.len());
    while start < end && is_space(b[start]) {
        start += 1;
    }
    while end > start && is_space(b[end - 1]) {
        end -= 1;
    }
    if start < end && (b[start] >= 0x80 || b[end - 1] >= 0x80) {
        return s.trim();
    }
    s.get(start..end).unwrap_or_default()
}

/// The ASCII whitespace of [`char::is_whitespace`] (which `u8::is_ascii_whitespace` is not:
/// it leaves out the vertical tab).
#[inline]
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t'..=b'\r')
}

/// One line of the log after prefix stripping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// 1-based line number in the input.
    pub number: usize,
    /// The kernel message text, with prefixes and trailing `\r` removed, indentation kept.
    pub text: String,
    /// The printk caller id (`T43`, `C0`) when the line carried one.
    pub caller: Option<String>,
}

/// Splits `input` into [`LogLine`]s.
///
/// On a serial console, another writer (a shell in the guest) can print in the middle of a
/// kernel line: `deadlock_a itera[    7.308483]  down+0x40/0x50`. A line that does not start
/// with a printk timestamp but has one further on is split there, into the other writer's
/// text and the kernel's record, both with the same line number.
pub fn split_lines(input: &str) -> Vec<LogLine> {
    let mut lines = Vec::new();
    for (i, raw) in input.split('\n').enumerate() {
        for_each_record(raw, i + 1, |l| {
            lines.push(LogLine {
                number: l.number,
                text: l.text.to_string(),
                caller: l.caller.map(str::to_string),
            })
        });
    }
    lines
}

/// One line of the log after prefix stripping, borrowed from the input line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number in the input.
    pub number: usize,
    /// The kernel message text, prefixes and trailing `\r` removed, indentation kept.
    pub text: &'a str,
    /// The printk caller id (`T43`, `C0`) when the line carried one.
    pub caller: Option<&'a str>,
}

/// Strips one raw input line (without its `\n`) and calls `f` with each kernel record in it
/// (more than one when another writer's text precedes a timestamp, see [`split_lines`]).
pub fn for_each_record<'a>(raw: &'a str, number: usize, mut f: impl FnMut(Line<'a>)) {
    let (mut text, mut caller) = strip(raw);
    while let Some(at) = embedded_timestamp(text) {
        f(Line {
            number,
            text: &text[..at],
            caller,
        });
        (text, caller) = strip(&text[at..]);
    }
    f(Line {
        number,
        text,
        caller,
    });
}

/// The longest line a quoted-printable body has (76 characters, RFC 2045, and one more for
/// mailers that count the soft break's `=` apart).
pub const QP_MAX_LINE: usize = 77;

/// A quoted-printable soft line break: a mail body line of at most 76 characters (plus the
/// `=`) that ends in `=` after text that is not itself an `=` escape run (`====` banners
/// end in `=` too, but are not broken).
pub fn is_soft_break(raw: &str) -> bool {
    let Some(body) = raw.strip_suffix('=') else {
        return false;
    };
    (40..=QP_MAX_LINE).contains(&raw.len()) && !body.ends_with('=') && !body.trim().is_empty()
}

/// Decodes the `=XX` escapes of a quoted-printable line (`=3D` -> `=`, `=20` -> ` `);
/// anything else is kept as it is.
pub fn decode_quoted_printable(s: &str) -> String {
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < b.len() {
        let upper = |c: u8| c.is_ascii_digit() || (b'A'..=b'F').contains(&c);
        if b[i] == b'=' && i + 2 < b.len() && upper(b[i + 1]) && upper(b[i + 2]) {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The byte offset of a printk timestamp (`[%5lu.%06lu]`) inside a line's text (its own
/// prefixes already stripped), when the text does not itself start with `[`.
fn embedded_timestamp(raw: &str) -> Option<usize> {
    if raw.starts_with('[') {
        return None;
    }
    let b = raw.as_bytes();
    // After the `[`, a digit, or spaces (a non-ASCII byte may start one) before the digits: a
    // module's `[name]` or an address's `[<` is passed over without being read.
    let may_start = |at: usize| {
        b.get(at + 1)
            .is_some_and(|&c| c.is_ascii_digit() || is_space(c) || c >= 0x80)
    };
    memchr::memchr_iter(b'[', b).find(|&at| at > 0 && may_start(at) && is_printk_time(&raw[at..]))
}

/// Whether `s` starts with `[`, optional spaces, digits, `.`, six digits and `]`.
fn is_printk_time(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[') else {
        return false;
    };
    let Some(end) = memchr::memchr(b']', inner.as_bytes()) else {
        return false;
    };
    let Some((secs, micros)) = inner[..end].trim_start().split_once('.') else {
        return false;
    };
    !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && micros.len() == 6
        && micros.bytes().all(|b| b.is_ascii_digit())
}

/// Strips the known prefixes from one raw line; returns the message text and the caller id.
pub fn strip_prefixes(raw: &str) -> (&str, Option<String>) {
    let (text, caller) = strip(raw);
    (text, caller.map(str::to_string))
}

/// [`strip_prefixes`] without allocating: the caller id is borrowed.
fn strip(raw: &str) -> (&str, Option<&str>) {
    let ends = raw
        .bytes()
        .rev()
        .take_while(|b| *b == b'\r' || *b == b'\n')
        .count();
    let mut s = &raw[..raw.len() - ends];
    s = strip_quote(s);
    s = strip_syslog(s);
    s = strip_kmsg(s);
    s = strip_dmesg_level(s);
    let mut stripped_bracket = false;
    if let Some(rest) = strip_timestamp(s) {
        s = rest;
        stripped_bracket = true;
    }
    let mut caller = None;
    if let Some((rest, id)) = strip_caller(s) {
        s = rest;
        caller = Some(id);
        stripped_bracket = true;
    }
    if stripped_bracket {
        s = s
            .strip_prefix(' ')
            .or_else(|| s.strip_prefix('\t'))
            .unwrap_or(s);
    }
    (s, caller)
}

/// The length of the spaces and TABs `s` starts with.
fn blank_prefix(s: &str) -> usize {
    s.bytes().take_while(|b| *b == b' ' || *b == b'\t').count()
}

/// Email quoting: `> text`, `>> text`, `> > text`, ` > text` -> `text` (one space after each
/// `>` belongs to the quote; further indentation is the kernel's).
fn strip_quote(s: &str) -> &str {
    let lead = blank_prefix(s);
    if lead > 3 || !s[lead..].starts_with('>') {
        return s;
    }
    let mut rest = &s[lead..];
    while let Some(r) = rest.strip_prefix('>') {
        // ">foo" without a space is not quoting (nor is "->").
        if !(r.is_empty() || r.starts_with([' ', '>', '\t'])) {
            return rest;
        }
        rest = r.strip_prefix(' ').unwrap_or(r);
        let inner = rest.trim_start_matches(' ');
        if inner.starts_with('>') && rest.len() - inner.len() <= 1 {
            rest = inner;
        }
    }
    rest
}

/// `Nov 21 10:00:00 host kernel: msg` -> `msg`; `kernel: msg` -> `msg`.
fn strip_syslog(s: &str) -> &str {
    const TAG: &str = "kernel: ";
    if let Some(rest) = s.strip_prefix(TAG) {
        return rest;
    }
    // A syslog header starts with its date or host, never with the `[` of a printk timestamp
    // (which comes after it): the usual console line is passed at once.
    if s.starts_with('[') {
        return s;
    }
    // The tag is looked for where a syslog header can end (at most 120 bytes in), after a
    // clock time: a line without a `:` there has neither (most lines, found at once).
    let head = &s.as_bytes()[..s.len().min(120 + TAG.len())];
    // The first `kernel: ` in the head, found by its colon (a line has few).
    let found = memchr::memchr_iter(b':', head).find(|&colon| {
        colon >= 6 && &head[colon - 6..colon] == b"kernel" && head.get(colon + 1) == Some(&b' ')
    });
    match found {
        Some(colon) if has_clock_time(&s[..colon - 6]) => &s[colon + 2..],
        _ => s,
    }
}

/// True when `s` contains `DD:DD:DD` (a wall-clock time, as in every syslog header).
fn has_clock_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(8).any(|w| {
        w[0].is_ascii_digit()
            && w[1].is_ascii_digit()
            && w[2] == b':'
            && w[3].is_ascii_digit()
            && w[4].is_ascii_digit()
            && w[5] == b':'
            && w[6].is_ascii_digit()
            && w[7].is_ascii_digit()
    })
}

/// `/dev/kmsg` records (`6,1234,5678,-;msg`) and console levels (`<4>msg`).
fn strip_kmsg(s: &str) -> &str {
    // Both start with `<` or the level's digit (most lines start with neither).
    if !matches!(s.as_bytes().first(), Some(b'<' | b'0'..=b'9')) {
        return s;
    }
    if let Some(rest) = s.strip_prefix('<') {
        if let Some(end) = rest.find('>') {
            let level = &rest[..end];
            if !level.is_empty() && level.len() <= 3 && level.bytes().all(|b| b.is_ascii_digit()) {
                return &rest[end + 1..];
            }
        }
    }
    // A record prefix starts with its level digit.
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return s;
    }
    if let Some(semi) = s.find(';') {
        let head = &s[..semi];
        let fields: Vec<&str> = head.split(',').collect();
        if fields.len() >= 4
            && fields[..3]
                .iter()
                .all(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
            && fields[3].len() <= 3
        {
            return &s[semi + 1..];
        }
    }
    s
}

/// `dmesg -x`: `kern  :warn  : msg` -> `msg`.
fn strip_dmesg_level(s: &str) -> &str {
    const FACILITIES: [&str; 4] = ["kern", "user", "daemon", "syslog"];
    const LEVELS: [&str; 8] = [
        "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
    ];
    if !matches!(s.as_bytes().first(), Some(b'k' | b'u' | b'd' | b's')) {
        return s;
    }
    let Some(fac) = FACILITIES.iter().find(|f| s.starts_with(**f)) else {
        return s;
    };
    let rest = s[fac.len()..].trim_start_matches(' ');
    let Some(rest) = rest.strip_prefix(':') else {
        return s;
    };
    let Some(level) = LEVELS.iter().find(|l| rest.starts_with(**l)) else {
        return s;
    };
    let rest = rest[level.len()..].trim_start_matches(' ');
    match rest.strip_prefix(": ") {
        Some(msg) => msg,
        None => s,
    }
}

/// Strips a leading `[   12.345678]`, `[Thu Nov 21 10:00:00 2024]`, or an elided `[...]` /
/// `[ ... ]` as people paste them, possibly after a TAB or spaces.
fn strip_timestamp(s: &str) -> Option<&str> {
    let inner_start = s[blank_prefix(s)..].strip_prefix('[')?;
    if let Some(rest) = after_printk_time(inner_start) {
        return Some(rest);
    }
    let end = memchr::memchr(b']', inner_start.as_bytes())?;
    let inner = trim(&inner_start[..end]);
    let numeric = !inner.is_empty()
        && inner.contains('.')
        && inner.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    // dmesg -T: "Thu Nov 21 10:00:00 2024"
    let human = inner.len() >= 20
        && inner.len() <= 32
        && has_clock_time(inner)
        && inner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b':');
    // `[...]` and the like where the author elided the timestamp; `[ ]` where a paste kept
    // the brackets of the timestamps it removed.
    let elided = inner.is_empty() || inner == "..." || inner == "\u{2026}" || inner == "snip";
    if numeric || human || elided {
        Some(&inner_start[end + 1..])
    } else {
        None
    }
}

/// What follows the `]` of the usual printk timestamp, `s` being the text after its `[`:
/// spaces, digits and dots (one dot at least), spaces, `]`, read in one forward pass (most
/// lines of a log). `None` for any other text, which [`strip_timestamp`] then reads in full:
/// this is its `numeric` case, for the texts whose bytes up to the `]` are all ASCII.
fn after_printk_time(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i).copied().is_some_and(is_space) {
        i += 1;
    }
    let digits = i;
    let mut dot = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {}
            b'.' => dot = true,
            _ => break,
        }
        i += 1;
    }
    if !dot || i == digits {
        return None;
    }
    while b.get(i).copied().is_some_and(is_space) {
        i += 1;
    }
    // The `]` is ASCII: the byte after it starts a character.
    (b.get(i) == Some(&b']')).then(|| &s[i + 1..])
}

/// Strips a leading caller id `[  T123]` / `[    C0]`; returns the rest and `T123`.
fn strip_caller(s: &str) -> Option<(&str, &str)> {
    let inner_start = s.strip_prefix('[')?;
    let end = memchr::memchr(b']', inner_start.as_bytes())?;
    let inner = inner_start[..end].trim_start();
    let mut chars = inner.chars();
    let first = chars.next()?;
    let digits = chars.as_str();
    if (first == 'T' || first == 'C')
        && !digits.is_empty()
        && digits.len() <= 10
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        Some((&inner_start[end + 1..], inner))
    } else {
        None
    }
}

/// Wraps `input` in a decompressor when it starts with a gzip or xz magic.
pub fn decompress(
    mut input: Box<dyn std::io::BufRead + Send>,
) -> std::io::Result<Box<dyn std::io::BufRead + Send>> {
    let head = input.fill_buf()?;
    const XZ: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];
    if head.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::bufread::MultiGzDecoder::new(input);
        return Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, gz)));
    }
    if head.starts_with(XZ) {
        let xz = lzma_rust2::XzReader::new(input, true);
        return Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, xz)));
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_output_inside_a_kernel_line() {
        let lines = split_lines(
            "deadlock_a itera[    7.308483]  down+0x40/0x50\nx[1] [   1.5]\n[    7.3] a [    7.308483] b",
        );
        let texts: Vec<(usize, &str)> = lines.iter().map(|l| (l.number, l.text.as_str())).collect();
        assert_eq!(
            texts,
            [
                (1, "deadlock_a itera"),
                (1, " down+0x40/0x50"),
                (2, "x[1] [   1.5]"),
                (3, "a "),
                (3, "b")
            ]
        );
    }

    #[test]
    fn plain_timestamp() {
        assert_eq!(
            strip_prefixes("[    2.738136] WARNING: x"),
            ("WARNING: x", None)
        );
        assert_eq!(
            strip_prefixes("[    2.748141]        kthread+0xed/0xf5"),
            ("       kthread+0xed/0xf5", None)
        );
    }

    #[test]
    fn caller_and_crlf() {
        assert_eq!(
            strip_prefixes("[    3.857151][  T43] deadlock_b/43 is trying\r"),
            ("deadlock_b/43 is trying", Some("T43".to_string()))
        );
        assert_eq!(
            strip_prefixes("[    3.857151][    C0]  <IRQ>\r\r"),
            (" <IRQ>", Some("C0".to_string()))
        );
    }

    #[test]
    fn syslog() {
        assert_eq!(
            strip_prefixes("Nov 21 10:00:00 guest kernel: [    3.85] INFO: task x:1 blocked"),
            ("INFO: task x:1 blocked", None)
        );
        assert_eq!(strip_prefixes("kernel: hello"), ("hello", None));
        assert_eq!(
            strip_prefixes("2024-11-21T10:00:00.000+00:00 guest kernel:  #0: ff"),
            (" #0: ff", None)
        );
    }

    #[test]
    fn not_prefixes() {
        assert_eq!(
            strip_prefixes("[ INFO: possible recursive locking detected ]"),
            ("[ INFO: possible recursive locking detected ]", None)
        );
        assert_eq!(
            strip_prefixes(" [<ffffffff810a0c5e>] lock_acquire+0x8e/0x120"),
            (" [<ffffffff810a0c5e>] lock_acquire+0x8e/0x120", None)
        );
        assert_eq!(strip_prefixes("lab: exit 0"), ("lab: exit 0", None));
    }

    #[test]
    fn kmsg_and_levels() {
        assert_eq!(strip_prefixes("<4>[    1.0] hi"), ("hi", None));
        assert_eq!(
            strip_prefixes("4,123,456789,-;hi there"),
            ("hi there", None)
        );
        assert_eq!(strip_prefixes("kern  :warn  : [    1.5] hi"), ("hi", None));
        assert_eq!(
            strip_prefixes("[Thu Nov 21 10:00:00 2024] hi"),
            ("hi", None)
        );
    }
}
