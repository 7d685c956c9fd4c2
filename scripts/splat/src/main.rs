//! `splat`: explain the lockdep and hung-task reports in a kernel log.
//!
//! See `splat --help`. The report finding lives in the `splat` library; this is the CLI.

use clap::Parser;

mod check_cli;

/// mimalloc: a report-dense log makes several small allocations per line (each report's lines,
/// frames and fields), which glibc's allocator serves at several times the cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Input: a kernel console log or dmesg output. Timestamps, printk caller ids ([  T43]),
syslog prefixes (\"Nov 21 10:00:00 host kernel: \"), CRLF line ends and bytes that are
not UTF-8 are all accepted; so are mail quoting (> ), lines wrapped by mail clients,
quoted-printable bodies and gzip/xz files. Unrelated lines between report lines are skipped.
The log is streamed: memory stays flat whatever its size.

Triage: --summary LOG... (files, directories, - for stdin) prints one row per distinct bug
(signature = kind, lock classes, culprit function), with counts, files and titles.

Reports understood: possible circular locking dependency, possible recursive locking,
inconsistent lock state, irq lock inversion, bad unlock balance, held lock freed, lock
held at exit / when returning to user space, suspicious RCU usage, sleeping function
called from invalid context, scheduling while atomic, invalid wait context, spinlock
debug BUGs, soft lockups, RCU stalls, hung tasks (with a following \"Showing all locks held\"
list, and the blocker lines of newer kernels: the wait-for graph of the blocked tasks and
its cycles), and any other BUG / WARNING / Oops as a generic report.

Gate: splat check [--rules FILE] LOG... exits 1 when a log holds a report that the allow
and deny lists of FILE do not allow (splat check --help).

Exit status:
  0  at least one report was found
  1  no report was found
  2  usage error, or the input could not be read

JSON schema: scripts/splat/SCHEMA.md (top level {\"schema\": \"splat/1\", \"reports\": [...],
\"wait_for\": {...}}, the wait-for graph written after the reports).";

/// Explain every lockdep and hung-task report in a kernel console log or dmesg output.
#[derive(Parser, Debug)]
#[command(name = "splat", version, about, after_help = AFTER_HELP)]
struct Args {
    /// The log to read (gzip and xz are decompressed); standard input when absent or "-".
    /// With --summary: any number of files and directories (walked recursively).
    #[arg(value_name = "LOG")]
    files: Vec<PathBuf>,

    /// Print all reports as a JSON document (schema "splat/1") instead of text; with
    /// --summary, the summary as JSON (schema "splat-summary/1").
    #[arg(long, conflicts_with = "dot")]
    json: bool,

    /// Print the lock-order graph of all reports as Graphviz DOT (cycle edges red and bold),
    /// with the wait-for graph of the hung tasks in a cluster of its own.
    #[arg(long)]
    dot: bool,

    /// Triage: read every LOG and print one row per distinct bug (signature, count, files,
    /// first and last file, title).
    #[arg(long, conflicts_with = "dot")]
    summary: bool,

    /// With --summary: an earlier `--summary --json` output; bugs not in it are marked new.
    #[arg(long, value_name = "SUMMARY_JSON", requires = "summary")]
    baseline: Option<PathBuf>,
}

fn is_stdin(p: &Path) -> bool {
    p.as_os_str() == "-"
}

fn open(p: Option<&Path>) -> std::io::Result<Box<dyn BufRead + Send>> {
    match p {
        None => splat::input::decompress(Box::new(BufReader::with_capacity(
            1 << 16,
            std::io::stdin(),
        ))),
        Some(p) if is_stdin(p) => open(None),
        Some(p) => open_log(p),
    }
}

/// Opens a log for reading, decompressing gzip (`1f 8b`) and xz (`fd 37 7a 58 5a 00`) by
/// their magic bytes, whatever the file is called.
fn open_log(path: &Path) -> std::io::Result<Box<dyn BufRead + Send>> {
    let file = std::fs::File::open(path)?;
    splat::input::decompress(Box::new(BufReader::with_capacity(1 << 16, file)))
}

/// The log files named on the command line: files as given, directories walked recursively
/// (entries sorted by name, hidden ones skipped).
fn expand_paths(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out, true)?;
    }
    Ok(out)
}

fn walk(p: &Path, out: &mut Vec<PathBuf>, top: bool) -> std::io::Result<()> {
    let meta = std::fs::metadata(p)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|e| {
                !e.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        entries.sort();
        for e in entries {
            walk(&e, out, false)?;
        }
    } else if top || meta.is_file() {
        out.push(p.to_path_buf());
    }
    Ok(())
}

/// Whether an output error is a closed pipe (`splat ... | head`), which is not an error.
fn broken_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

fn report_mode(args: &Args) -> Result<usize, ExitCode> {
    if args.files.len() > 1 {
        eprintln!("splat: one LOG at a time (use --summary for many)");
        return Err(ExitCode::from(2));
    }
    let path = args.files.first().map(PathBuf::as_path);
    let name = path.map_or("-".into(), |p| p.display().to_string());
    let input = open(path).map_err(|e| {
        eprintln!("splat: cannot read {name}: {e}");
        ExitCode::from(2)
    })?;
    let stdout = std::io::stdout().lock();
    let out = BufWriter::with_capacity(1 << 16, stdout);
    let mut write_err: Option<std::io::Error> = None;
    let mut keep = |res: std::io::Result<()>| {
        if let Err(e) = res {
            write_err.get_or_insert(e);
        }
    };
    // The writers end with the wait-for graph that the analysis built while reading.
    let read = if args.json {
        let mut w = splat::JsonWriter::new(out);
        splat::parse_reader(input, |r| keep(w.write(&r))).map(|g| w.finish(&g))
    } else if args.dot {
        let mut g = splat::DotGraph::default();
        let mut n = 0;
        let res = splat::parse_reader(input, |r| {
            n += 1;
            g.add(&r)
        });
        let mut out = out;
        res.map(|wait_for| {
            out.write_all(g.render(&wait_for).as_bytes())
                .and_then(|()| out.flush())
                .map(|()| n)
        })
    } else {
        let mut w = splat::TextWriter::new(out);
        splat::parse_reader(input, |r| keep(w.write(&r))).map(|g| w.finish(&g))
    };
    let count = match read {
        Ok(Ok(n)) if write_err.is_none() => n,
        Ok(Ok(_)) | Ok(Err(_)) => {
            let e = match read {
                Ok(Err(e)) => e,
                _ => write_err.unwrap_or_else(|| std::io::Error::other("write failed")),
            };
            if broken_pipe(&e) {
                return Ok(1);
            }
            eprintln!("splat: cannot write output: {e}");
            return Err(ExitCode::from(2));
        }
        Err(e) => {
            eprintln!("splat: cannot read {name}: {e}");
            return Err(ExitCode::from(2));
        }
    };
    Ok(count)
}

fn summary_mode(args: &Args) -> Result<usize, ExitCode> {
    let mut summary = splat::summary::Summary::new();
    if let Some(b) = &args.baseline {
        let text = std::fs::read_to_string(b).map_err(|e| {
            eprintln!("splat: cannot read {}: {e}", b.display());
            ExitCode::from(2)
        })?;
        let doc: splat::summary::SummaryDocument = serde_json::from_str(&text).map_err(|e| {
            eprintln!(
                "splat: {} is not a --summary --json document: {e}",
                b.display()
            );
            ExitCode::from(2)
        })?;
        summary.set_baseline(&doc);
    }
    let mut paths = Vec::new();
    let mut has_stdin = args.files.is_empty();
    for p in &args.files {
        if is_stdin(p) {
            has_stdin = true;
        } else {
            paths.push(p.clone());
        }
    }
    let files = expand_paths(&paths).map_err(|e| {
        eprintln!("splat: {e}");
        ExitCode::from(2)
    })?;
    let mut failed = false;
    let mut inputs: Vec<Option<PathBuf>> = files.into_iter().map(Some).collect();
    if has_stdin {
        inputs.insert(0, None);
    }
    for p in inputs {
        let name = p.as_ref().map_or("-".into(), |p| p.display().to_string());
        let res = open(p.as_deref())
            .and_then(|input| splat::summary::summarize_reader(&mut summary, &name, input));
        if let Err(e) = res {
            eprintln!("splat: cannot read {name}: {e}");
            failed = true;
        }
    }
    let text = if args.json {
        summary.to_json()
    } else {
        summary.to_text()
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if !broken_pipe(&e) {
            eprintln!("splat: cannot write output: {e}");
            return Err(ExitCode::from(2));
        }
    }
    if failed {
        return Err(ExitCode::from(2));
    }
    Ok(summary.bugs().len())
}

fn main() -> ExitCode {
    // `splat check ...`: the CI gate (src/check_cli.rs).
    let mut argv = std::env::args_os().skip(1).peekable();
    if argv.peek().is_some_and(|a| a == "check") {
        return check_cli::main(argv.skip(1));
    }
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // --help and --version print and succeed; real usage errors exit with 2.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let found = if args.summary {
        summary_mode(&args)
    } else {
        report_mode(&args)
    };
    match found {
        Ok(0) => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
