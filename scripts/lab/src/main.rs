//! `lab demo`: the demo `make run` plays. Boots a guest, runs qemu/demo.sh with the console on
//! the terminal, explains the reports with splat, and checks that the demo behaved: exit status
//! 0, or 1 with a one-line reason.

use lab::{boot, splat_binary, Boot, Run};
use splat::ReportKind as Kind;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args != ["demo"] {
        eprintln!("usage: lab demo");
        return ExitCode::from(2);
    }
    let run = boot(
        "demo",
        ". /lab/demo.sh",
        Boot {
            timeout_s: 120,
            echo: true,
        },
    );
    println!(
        "\n==> splat {}   (what the kernel reported, explained)\n",
        run.log.display()
    );
    let _ = Command::new(splat_binary()).arg(&run.log).status();
    lock_graph(&run);
    match check(&run) {
        Ok(()) => {
            println!("\nmake run: OK: lockdep reported the sem_a/sem_b cycle, both threads hung, rmmod broke the deadlock.");
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

/// Saves the lock-order graph next to the log: as SVG when Graphviz is installed, else as DOT.
fn lock_graph(run: &Run) {
    let Ok(out) = Command::new(splat_binary())
        .arg("--dot")
        .arg(&run.log)
        .output()
    else {
        return;
    };
    let dot_file = run.log.with_extension("dot");
    if std::fs::write(&dot_file, &out.stdout).is_err() {
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

/// What the demo must have shown.
fn check(run: &Run) -> Result<(), String> {
    if run.status != 0 {
        return Err(format!(
            "the guest demo script failed (status {})",
            run.status
        ));
    }
    if !run.lab_lines().contains(&"state deadlock_a D")
        || !run.lab_lines().contains(&"state deadlock_b D")
    {
        return Err("the threads were not both in D state".into());
    }
    let reports = run.reports();
    let circular: Vec<_> = reports
        .iter()
        .filter(|r| r.kind == Kind::CircularDependency)
        .collect();
    let [report] = circular.as_slice() else {
        return Err(format!(
            "expected one circular locking report, found {}",
            circular.len()
        ));
    };
    let mut locks: Vec<&str> = report.locks.iter().map(|l| l.name.as_str()).collect();
    locks.sort_unstable();
    locks.dedup();
    if locks != ["sem_a", "sem_b"] {
        return Err(format!(
            "the report names locks {locks:?}, not sem_a and sem_b"
        ));
    }
    for thread in ["deadlock_a", "deadlock_b"] {
        if !reports
            .iter()
            .any(|r| r.kind == Kind::HungTask && r.tasks.iter().any(|t| t.comm == thread))
        {
            return Err(format!("no hung-task report for {thread}"));
        }
    }
    match run.timing("rmmod rust_deadlock") {
        Some((0, ms)) if ms < 2000 => Ok(()),
        Some((rc, ms)) => Err(format!("rmmod exited {rc} after {ms} ms")),
        None => Err("rmmod did not finish".into()),
    }
}
