//! splat never panics: arbitrary bytes, arbitrary lines mixed into real fixtures, and
//! fixtures cut off at every line (and at many byte offsets, splitting UTF-8 sequences).

use proptest::prelude::*;
use std::path::PathBuf;

/// The lab fixtures and the real-world corpus.
fn fixtures() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut out: Vec<(String, String)> = ["fixtures", "corpus"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).expect("fixture dir"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read fixture");
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        })
        .collect();
    out.sort();
    assert!(out.len() >= 30, "fixtures and corpus: {} files", out.len());
    out
}

/// Everything the library offers, on one input; panics propagate to the test.
fn exercise(reports: &[splat::Report]) {
    let json = splat::to_json(reports);
    let doc = splat::from_json(&json).expect("own JSON parses");
    assert_eq!(doc.reports, reports);
    let _ = splat::to_dot(reports);
    let _ = splat::to_text(reports);
}

/// Fragments of the kernel's print formats, so random lines reach deep into the parsers.
const FRAGMENTS: &[&str] = &[
    "WARNING: ",
    "BUG: ",
    "INFO: ",
    "possible circular locking dependency detected",
    "possible recursive locking detected",
    "inconsistent lock state",
    "bad unlock balance detected!",
    "suspicious RCU usage",
    "sleeping function called from invalid context at ",
    "INFO: task ",
    " blocked for more than ",
    " seconds.",
    " is trying to acquire lock:",
    " is trying to release lock (",
    ") at:",
    "but task is already holding lock:",
    "-> #",
    "-> (",
    " ops: 3 {",
    "(",
    ")",
    "){",
    "+.+.",
    "}-{",
    "3:3",
    "}",
    "{",
    ", at: ",
    "+0x",
    "/0x",
    "1f",
    " [",
    "]",
    "[<ffffffff81000000>] ",
    "? ",
    " #0: ",
    "#",
    "1 lock held by ",
    "no locks held by ",
    "/",
    ":",
    "lock(",
    "rlock(",
    ");",
    "<Interrupt>",
    "<TASK>",
    "</TASK>",
    "<IRQ>",
    "Call Trace:",
    "stack backtrace:",
    "Showing all locks held in the system:",
    "INFO: lockdep is turned off.",
    "task:",
    " state:D",
    "CPU: 0 UID: 0 PID: 1 Comm: x",
    "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: ",
    "name: ",
    "inconsistent {",
    "} -> {",
    "} state was registered at:",
    "... which became ",
    "which would create a new lock dependency:",
    " --> ",
    "Chain exists of:",
    "Possible unsafe locking scenario:",
    "*** DEADLOCK ***",
    "RIP: 0010:",
    "Oops: ",
    "---[ end trace ",
    "======",
    "-----",
    "_RNvNtCs1_4core3foo",
    "_RNvMs1_NtNtCs1EKtwoKEMO2_6kernel4sync4lockINtB5_4Lock",
    "_ZN4core3ptr",
    "<",
    ">",
    "::",
    " as ",
    "ff11000000712a60 ",
    "[    1.000000]",
    "[  T43]",
    "[    C0]",
    "kernel: ",
    "Nov 21 10:00:00 host kernel: ",
    "drivers/x.c:12 ",
    "!",
    "é",
    "日本",
    "\u{1F600}",
    "\u{FFFD}",
    " ",
    "        ",
    "\t",
    "\r",
    "0",
    "42",
    "4294967296",
    "99999999999999999999",
];

fn fragment_line() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..12).prop_map(|v| v.concat())
}

fn any_line() -> impl Strategy<Value = String> {
    prop_oneof![
        fragment_line(),
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..80)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

proptest! {
    // 256 cases per property by default (a few seconds in all); PROPTEST_CASES=N runs more.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let reports = splat::parse_bytes(&bytes);
        exercise(&reports);
    }

    #[test]
    fn arbitrary_fragment_lines_never_panic(lines in prop::collection::vec(fragment_line(), 0..60)) {
        let reports = splat::parse(&lines.join("\n"));
        exercise(&reports);
    }

    #[test]
    fn lines_mixed_into_fixtures_never_panic(
        which in any::<prop::sample::Index>(),
        inserts in prop::collection::vec((any::<prop::sample::Index>(), any_line()), 1..12),
    ) {
        let all = fixtures();
        let (_, text) = &all[which.index(all.len())];
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for (pos, line) in inserts {
            let at = pos.index(lines.len() + 1);
            lines.insert(at, line);
        }
        let reports = splat::parse(&lines.join("\n"));
        exercise(&reports);
    }

    #[test]
    fn lines_replaced_in_fixtures_never_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any_line()), 1..8),
    ) {
        let all = fixtures();
        let (_, text) = &all[which.index(all.len())];
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.is_empty() {
            return Ok(());
        }
        for (pos, line) in edits {
            let at = pos.index(lines.len());
            lines[at] = line;
        }
        let reports = splat::parse(&lines.join("\n"));
        exercise(&reports);
    }
}

#[test]
fn every_fixture_truncated_at_every_line() {
    for (name, text) in fixtures() {
        let full = splat::parse(&text);
        let full_kinds: Vec<_> = full.iter().map(|r| (r.kind, r.start_line)).collect();
        let lines: Vec<&str> = text.split('\n').collect();
        for n in 0..=lines.len() {
            let cut = lines[..n].join("\n");
            let reports = splat::parse(&cut);
            exercise(&reports);
            // Reports are found by their headers, so a prefix finds a prefix of the reports;
            // but a header that the cut itself ends in the middle of (after a quoted-printable
            // soft break) says less, and may be of another kind.
            let mut kinds: Vec<_> = reports.iter().map(|r| (r.kind, r.start_line)).collect();
            let count = kinds.len();
            if let (Some(last), Some(whole)) = (kinds.last_mut(), full_kinds.get(count.max(1) - 1))
            {
                if last.1 == n && last.1 == whole.1 && lines[n - 1].ends_with('=') {
                    last.0 = whole.0;
                }
            }
            // A line that the console prints again after `** replaying previous printk message
            // **` was a cut try: the whole log drops the report that it started.
            let replayed = lines
                .get(n)
                .is_some_and(|l| l.trim() == "** replaying previous printk message **");
            if replayed && kinds.last().is_some_and(|k| k.1 == n) {
                kinds.pop();
            }
            assert!(
                full_kinds.starts_with(&kinds),
                "{name} cut at line {n}: {kinds:?} is not a prefix of {full_kinds:?}"
            );
        }
    }
}

#[test]
fn fixtures_cut_at_byte_offsets() {
    for (name, text) in fixtures() {
        let bytes = text.as_bytes();
        let step = (bytes.len() / 150).max(1);
        for n in (0..bytes.len()).step_by(step) {
            let reports = splat::parse_bytes(&bytes[..n]);
            assert!(reports.len() <= 16, "{name} at {n}");
        }
        // Cutting inside multi-byte characters.
        let wide = format!("{text}é日本\u{1F600}");
        for n in wide.len().saturating_sub(12)..=wide.len() {
            let _ = splat::parse_bytes(&wide.as_bytes()[..n]);
        }
    }
}

#[test]
fn pathological_inputs_stay_fast_and_bounded() {
    let start = std::time::Instant::now();
    // Thousands of headers that never end.
    let headers = "WARNING: possible circular locking dependency detected\n".repeat(2000);
    let reports = splat::parse(&headers);
    assert_eq!(reports.len(), 2000);
    assert!(reports.iter().all(|r| r.truncated));
    // One huge line and deeply nested generics.
    let long = format!("{}+0x1/0x2\n", "a".repeat(200_000));
    let _ = splat::parse(&long);
    let nested = format!("_RNv{}\n", "<".repeat(10_000));
    let _ = splat::frame::simplify(&nested);
    let _ = splat::demangle(&nested);
    let frames = format!(
        "INFO: task x:1 blocked for more than 1 seconds.\nCall Trace:\n{}",
        " f+0x1/0x2\n".repeat(30_000)
    );
    let reports = splat::parse(&frames);
    assert_eq!(reports.len(), 1);
    assert!(start.elapsed().as_secs() < 30, "took {:?}", start.elapsed());
}
