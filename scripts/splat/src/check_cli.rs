//! `splat check`: the binary's side of [`splat::check`] (arguments, files, output, exit status).

use clap::Parser;
use splat::check::{describe, Rules};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Rules (TOML; without --rules, no report is allowed):

  # default = \"deny\"      what happens to a report no rule names: \"deny\" or \"allow\"
  [[allow]]
  name = \"why it may\"      optional, shown in the output
  kind = \"hung_task\"       the kind, as splat --json says it
  task = \"deadlock_*\"      every task the report is about
  [[deny]]                  a deny rule wins over every allow rule
  title = \"*in ext4_*\"     the whole title; * any characters, ? one
  signature = \"circular_dependency: * -> * @ *\"   as splat --summary prints it

Each report is printed with its verdict and the rule that decided it; a report that fails
also with splat's explanation.

Exit status:
  0  every report is allowed (or there is none)
  1  at least one report is not allowed
  2  usage error, bad rules, or a log that cannot be read";

/// Exit non-zero when a kernel console holds a report the rules do not allow.
#[derive(Parser, Debug)]
#[command(name = "splat check", about, after_help = AFTER_HELP)]
struct Args {
    /// The logs to check (files or directories, walked recursively; - or none: standard input).
    #[arg(value_name = "LOG")]
    files: Vec<PathBuf>,

    /// The allow and deny lists (TOML, see below).
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
}

/// Runs `splat check` with `args` (after the word `check`).
pub fn main(args: impl Iterator<Item = std::ffi::OsString>) -> ExitCode {
    let args = match Args::try_parse_from(std::iter::once("splat check".into()).chain(args)) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let rules = match &args.rules {
        None => Rules::deny_all(),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => match Rules::parse(&text) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("splat check: {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            },
            Err(e) => {
                eprintln!("splat check: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let mut inputs: Vec<Option<PathBuf>> = Vec::new();
    let mut paths = Vec::new();
    for p in &args.files {
        if super::is_stdin(p) {
            inputs.push(None);
        } else {
            paths.push(p.clone());
        }
    }
    for p in &paths {
        match super::expand_paths(std::slice::from_ref(p)) {
            Ok(files) => inputs.extend(files.into_iter().map(Some)),
            Err(e) => {
                eprintln!("splat check: cannot read {}: {e}", p.display());
                return ExitCode::from(2);
            }
        }
    }
    if args.files.is_empty() {
        inputs.push(None);
    }
    let (mut total, mut failed) = (0, 0);
    let mut out = std::io::stdout().lock();
    for p in inputs {
        let name = p.as_ref().map_or("-".into(), |p| p.display().to_string());
        let reports = match read_all(p.as_deref()) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("splat check: cannot read {name}: {e}");
                return ExitCode::from(2);
            }
        };
        let mut text = String::new();
        let mut bad = 0;
        for (i, r) in reports.iter().enumerate() {
            let verdict = rules.verdict(r);
            bad += usize::from(!verdict.passes());
            text.push_str(&describe(i + 1, r, &verdict));
        }
        let head = match (reports.len(), bad) {
            (0, _) => "no report".to_string(),
            (n, 0) => format!("{}, all allowed", count(n)),
            (n, b) => format!("{}, {b} not allowed", count(n)),
        };
        total += reports.len();
        failed += bad;
        if writeln!(out, "==> {name}: {head}")
            .and_then(|()| out.write_all(text.as_bytes()))
            .is_err()
        {
            return ExitCode::from(2);
        }
    }
    let verdict = if total == 0 {
        "splat check: ok: no report".to_string()
    } else if failed == 0 {
        format!("splat check: ok: {}, all allowed", count(total))
    } else {
        format!(
            "splat check: FAILED: {failed} of {} not allowed",
            count(total)
        )
    };
    if writeln!(out, "{verdict}")
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::from(2);
    }
    ExitCode::from(u8::from(failed > 0))
}

/// Every report of one log.
fn read_all(p: Option<&std::path::Path>) -> std::io::Result<Vec<splat::Report>> {
    let mut reports = Vec::new();
    splat::parse_reader(super::open(p)?, |r| reports.push(r))?;
    Ok(reports)
}

/// `1 report`, `2 reports`.
fn count(n: usize) -> String {
    format!("{n} report{}", if n == 1 { "" } else { "s" })
}
