//! `splat`: explain the lockdep and hung-task reports in a kernel log.
//!
//! See `splat --help`. The report finding lives in the `splat` library; this is the CLI.

use clap::Parser;
use std::io::{Read, Write};
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Input: a kernel console log or dmesg output. Timestamps, printk caller ids ([  T43]),
syslog prefixes (\"Nov 21 10:00:00 host kernel: \"), CRLF line ends and bytes that are
not UTF-8 are all accepted; unrelated lines between report lines are skipped.

Reports understood: possible circular locking dependency, possible recursive locking,
inconsistent lock state, irq lock inversion, bad unlock balance, held lock freed, lock
held at exit / when returning to user space, suspicious RCU usage, sleeping function
called from invalid context, hung tasks (with a following \"Showing all locks held\"
list, and the blocker lines of newer kernels: the wait-for graph of the blocked tasks and
its cycles), and any other BUG / WARNING / Oops as a generic report.

Exit status:
  0  at least one report was found
  1  no report was found
  2  usage error, or the input could not be read

JSON schema: scripts/splat/SCHEMA.md (top level {\"schema\": \"splat/1\", \"reports\": [...]}).";

/// Explain every lockdep and hung-task report in a kernel console log or dmesg output.
#[derive(Parser, Debug)]
#[command(name = "splat", version, about, after_help = AFTER_HELP)]
struct Args {
    /// The log file to read; standard input when absent or "-".
    file: Option<String>,

    /// Print all reports as a JSON document (schema "splat/1") instead of text.
    #[arg(long, conflicts_with = "dot")]
    json: bool,

    /// Print the lock-order graph of all reports as Graphviz DOT (cycle edges red and bold),
    /// with the wait-for graph of the hung tasks in a cluster of its own.
    #[arg(long)]
    dot: bool,
}

fn read_input(file: Option<&str>) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    match file {
        None | Some("-") => {
            std::io::stdin().lock().read_to_end(&mut buf)?;
        }
        Some(path) => {
            buf = std::fs::read(path)?;
        }
    }
    Ok(buf)
}

fn main() -> ExitCode {
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
    let bytes = match read_input(args.file.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            let name = args.file.as_deref().unwrap_or("-");
            eprintln!("splat: cannot read {name}: {e}");
            return ExitCode::from(2);
        }
    };
    let reports = splat::parse_bytes(&bytes);
    let out = if args.json {
        splat::to_json(&reports)
    } else if args.dot {
        splat::to_dot(&reports)
    } else {
        splat::to_text(&reports)
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("splat: cannot write output: {e}");
            return ExitCode::from(2);
        }
    }
    if reports.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
