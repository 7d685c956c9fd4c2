//! `lab demo [SCENARIO]`: the demo `make run` plays. Boots a guest, runs qemu/demo.sh for the
//! scenario (default `abba`) with the console on the terminal, explains the reports with splat,
//! and checks that the demo behaved: exit status 0, or 1 with a one-line reason.
//!
//! `lab report-times`: for each scenario, a fresh guest that loads its buggy variant; prints the
//! time from `insmod` to the kernel's first report (guest clock), for `make bench`.

use lab::{boot, boot_for, check_buggy, splat_binary, Run, SCENARIOS};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
    if args == ["report-times"] {
        return report_times();
    }
    let scenario = match args.as_slice() {
        [demo] if demo == "demo" => &SCENARIOS[0],
        [demo, name] if demo == "demo" => match lab::scenario(name) {
            Some(s) => s,
            None => {
                eprintln!(
                    "lab demo: unknown scenario '{name}' (valid: {})",
                    names.join(", ")
                );
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!(
                "usage: lab demo [SCENARIO]   (SCENARIO: {})",
                names.join(", ")
            );
            return ExitCode::from(2);
        }
    };
    let run = boot(
        &format!("demo-{}", scenario.name),
        &lab::demo(scenario),
        boot_for(scenario, true),
    );
    println!(
        "\n==> splat {}   (what the kernel reported, explained)\n",
        run.log.display()
    );
    let _ = Command::new(splat_binary()).arg(&run.log).status();
    lock_graph(&run);
    match check_buggy(&run, scenario) {
        Ok(()) => {
            println!(
                "\nmake run: OK (kernel {}, scenario {}): {}",
                lab::kernel(),
                scenario.name,
                scenario.summary()
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
    for scenario in SCENARIOS {
        let run = boot(
            &format!("report-time-{}", scenario.name),
            &lab::report_cmd(scenario),
            boot_for(scenario, false),
        );
        match lab::time_to_report(&run) {
            Some((secs, report)) => {
                println!("{:<10} {:6.2} s  {}", scenario.name, secs, report.title)
            }
            None => {
                ok = false;
                println!(
                    "{:<10} no report (log {})",
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
