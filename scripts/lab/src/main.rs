//! `lab demo [SCENARIO]`: the demo `make run` plays. Boots a guest, runs qemu/demo.sh for the
//! scenario (default `abba`) with the console on the terminal, explains the reports with splat,
//! and checks that the demo behaved: exit status 0, or 1 with a one-line reason.
//!
//! `lab diagnose [SCENARIO] [--core FILE | --from FILE]`: `make diagnose`. Boots the debug guest,
//! lets the scenario (default `abba`) deadlock and prints what drgn reads in it (see
//! `lab::diagnose`); `--core` also saves the guest's memory to FILE, `--from` reads such a dump
//! instead of booting.
//!
//! `lab gdb [SCENARIO] [-- GDB-ARGS]`: `make gdb`. The same deadlocked guest, and gdb attached to
//! QEMU's gdb stub with the kernel's and the module's symbols and the kernel's gdb scripts.
//!
//! `lab results DIR`: `make test`'s results (`lab::results`): writes DIR/results.ktap and
//! DIR/results.kcidb.json (`lab::kcidb`), prints the summary and each failure, and exits 1 if
//! anything failed.
//!
//! `lab report-times`: for each scenario, a fresh guest that loads its buggy variant; prints the
//! time from `insmod` to the kernel's first report (guest clock), for `make bench`.

use lab::diagnose::{DebugBuild, Live, Snapshot, Source};
use lab::{boot, boot_for, Demo, Run, DEFAULT_SCENARIO, SCENARIOS};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args == ["report-times"] {
        return report_times();
    }
    match args.first().map(String::as_str) {
        Some("diagnose") => return exit(diagnose(&args[1..])),
        Some("gdb") => return exit(gdb(&args[1..])),
        Some("results") => return results(&args[1..]),
        _ => {}
    }
    let demo = match args.split_first() {
        Some((demo, rest)) if demo == "demo" => Demo::parse(rest),
        _ => Err(Demo::usage()),
    };
    let demo = match demo {
        Ok(demo) => demo,
        Err(why) => {
            eprintln!("lab demo: {why}");
            return ExitCode::from(2);
        }
    };
    let scenario = demo.scenario;
    let name = match demo.panic {
        Some(_) => format!("demo-{}-panic", scenario.name),
        None => format!("demo-{}", scenario.name),
    };
    let run = boot(&name, &demo.cmd(), demo.boot(true));
    println!(
        "\n==> splat {}   (what the kernel reported, explained)\n",
        run.log.display()
    );
    let reports = run.reports();
    print!("{}", splat::to_text(&reports));
    lock_graph(&run, &reports);
    match demo.check(&run) {
        Ok(()) => {
            println!(
                "\nmake run: OK (kernel {}, scenario {}{}): {}",
                lab::target().name(),
                scenario.name,
                if demo.panic.is_some() {
                    ", PANIC=1"
                } else {
                    ""
                },
                demo.summary()
            );
            println!("console log: {}", run.log.display());
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!(
                "\nmake run: FAILED: {why} (console log: {})",
                run.log.display()
            );
            ExitCode::FAILURE
        }
    }
}

/// Prints, per scenario, the time from `insmod` to the first report and what that report was.
fn report_times() -> ExitCode {
    let mut ok = true;
    let width = SCENARIOS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for scenario in SCENARIOS {
        let run = boot(
            &format!("report-time-{}", scenario.name),
            &lab::report_cmd(scenario),
            boot_for(scenario, false),
        );
        match lab::time_to_report(&run) {
            Some((secs, report)) => {
                println!("{:<width$} {:6.2} s  {}", scenario.name, secs, report.title)
            }
            None => {
                ok = false;
                println!(
                    "{:<width$} no report (log {})",
                    scenario.name,
                    run.log.display()
                );
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `lab results DIR`.
fn results(args: &[String]) -> ExitCode {
    let [dir] = args else {
        eprintln!("usage: lab results DIR   (the directory scripts/make/test.sh wrote)");
        return ExitCode::from(2);
    };
    let dir = std::path::Path::new(dir);
    let steps = match lab::results::read_steps(dir) {
        Ok(s) => s,
        Err(why) => return exit(Err(why)),
    };
    let origin = match kcidb_origin() {
        Ok(o) => o,
        Err(why) => return exit(Err(why)),
    };
    // The module's KUnit results, as the guest of a kernel's lab tests printed them.
    let logs = lab::out_dir().join("vm-logs");
    let kunit = |step: &str| std::fs::read_to_string(logs.join(step).join("kunit.ktap")).ok();
    let ktap = dir.join("results.ktap");
    if let Err(e) = std::fs::write(&ktap, lab::results::ktap(&steps, kunit)) {
        return exit(Err(format!("{}: {e}", ktap.display())));
    }
    let kcidb = dir.join("results.kcidb.json");
    let doc = lab::kcidb::document(&steps, &origin);
    if let Err(e) = std::fs::write(&kcidb, format!("{doc:#}\n")) {
        return exit(Err(format!("{}: {e}", kcidb.display())));
    }
    print!("{}", lab::results::summary(&steps));
    if steps.iter().all(lab::results::Step::ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Who submits the KCIDB document, and which run: `LAB_KCIDB_ORIGIN` (default `rust_deadlock`);
/// the run `LAB_RUN_ID`, else GitHub Actions' run id and attempt, else `local-` and the time;
/// the commit GitHub's `GITHUB_SHA`, else the checkout's `HEAD`.
fn kcidb_origin() -> Result<lab::kcidb::Origin, String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let origin = env("LAB_KCIDB_ORIGIN").unwrap_or_else(|| "rust_deadlock".into());
    let run = env("LAB_RUN_ID")
        .or_else(|| {
            let id = env("GITHUB_RUN_ID")?;
            Some(format!(
                "{id}-{}",
                env("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into())
            ))
        })
        .unwrap_or_else(|| {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("local-{secs}")
        });
    let commit = env("GITHUB_SHA").or_else(|| {
        let out = std::process::Command::new("git")
            .args(["-C"])
            .arg(lab::repo_root())
            .args(["rev-parse", "HEAD"])
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    lab::kcidb::Origin::new(&origin, &run, commit.as_deref())
}

/// Exits 0, or 1 with the error on standard error.
fn exit(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("error: {why}");
            ExitCode::FAILURE
        }
    }
}

/// The scenario named by `name` (default `abba`), or a clear error.
fn pick(name: Option<&String>) -> Result<&'static lab::Scenario, String> {
    let Some(name) = name else {
        return Ok(DEFAULT_SCENARIO);
    };
    lab::scenario(name).ok_or_else(|| {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        format!("unknown scenario '{name}' (valid: {})", names.join(", "))
    })
}

/// `lab diagnose [SCENARIO] [--core FILE | --from FILE]`.
fn diagnose(args: &[String]) -> Result<(), String> {
    let usage = "usage: lab diagnose [SCENARIO] [--core FILE | --from FILE]";
    let (mut scenario, mut core, mut from) = (None, None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--core" => core = Some(args.next().ok_or(usage)?),
            "--from" => from = Some(args.next().ok_or(usage)?),
            a if a.starts_with('-') || scenario.is_some() => return Err(usage.into()),
            _ => scenario = Some(arg),
        }
    }
    if core.is_some() && from.is_some() {
        return Err("--core saves a dump of a live guest, --from reads one: not both".into());
    }
    let scenario = pick(scenario)?;
    if from.is_none() {
        lab::diagnose::diagnosable(scenario)?;
    }
    let build = DebugBuild::find()?;
    lab::diagnose::drgn()?;
    if let Some(file) = from {
        let file = std::path::Path::new(file);
        if !file.is_file() {
            return Err(format!("--from {}: no such file", file.display()));
        }
        println!("==> drgn on the memory dump {}\n", file.display());
        print!("{}", Snapshot::read(Source::Dump(file), &build)?.render());
        return Ok(());
    }
    println!(
        "==> booting the debug guest (kernel {}); scenario {}: fixed, then buggy, until it deadlocks",
        lab::target().name(),
        scenario.name
    );
    let live = Live::deadlock(
        scenario,
        &build,
        &format!("diagnose-{}", scenario.name),
        false,
    )?;
    println!(
        "==> drgn on the live guest, over QMP (console: {})\n",
        live.log.display()
    );
    let (snapshot, dumped) = Snapshot::read_live(&live, &build)?;
    if dumped {
        println!(
            "(threads are running: read from a memory dump, which has each CPU's registers)\n"
        );
    }
    print!("{}", snapshot.render());
    if let Some(file) = core {
        live.dump(std::path::Path::new(file))?;
        println!("\n==> the guest's memory is in {file}: make diagnose FROM={file} reads it again");
    }
    live.finish("diagnose");
    Ok(())
}

/// `lab gdb [SCENARIO] [-- GDB-ARGS]`: gdb on the deadlocked guest; extra arguments go to gdb
/// (for example `--batch -ex lx-ps`).
fn gdb(args: &[String]) -> Result<(), String> {
    let (ours, gdb_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    if ours.len() > 1 || ours.first().is_some_and(|a| a.starts_with('-')) {
        return Err("usage: lab gdb [SCENARIO] [-- GDB-ARGS]".into());
    }
    let scenario = pick(ours.first())?;
    let build = DebugBuild::find()?;
    eprintln!(
        "==> booting the debug guest (kernel {}); scenario {}: fixed, then buggy, until it deadlocks",
        lab::target().name(),
        scenario.name
    );
    let live = Live::deadlock(scenario, &build, &format!("gdb-{}", scenario.name), false)?;
    let status = lab::diagnose::gdb_command(&build, &live)
        .args(gdb_args)
        .status()
        .map_err(|e| format!("gdb: {e}"))?;
    live.finish("gdb");
    if status.success() {
        Ok(())
    } else {
        Err(format!("gdb: {status}"))
    }
}

/// Saves the lock-order graph next to the log: as SVG when Graphviz is installed, else as DOT.
fn lock_graph(run: &Run, reports: &[lab::Report]) {
    let dot_file = run.log.with_extension("dot");
    if std::fs::write(&dot_file, splat::to_dot(reports)).is_err() {
        return;
    }
    let svg = run.log.with_extension("svg");
    let rendered = Command::new("dot")
        .arg("-Tsvg")
        .arg("-o")
        .arg(&svg)
        .arg(&dot_file)
        .status()
        .is_ok_and(|s| s.success());
    if rendered {
        println!("lock-order graph (cycle in red): {}", svg.display());
    } else {
        println!(
            "lock-order graph: {} (install graphviz to render it: dot -Tsvg)",
            dot_file.display()
        );
    }
}
