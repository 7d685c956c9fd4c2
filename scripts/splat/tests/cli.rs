//! End-to-end tests of the `splat` binary: exit codes, output formats, stdin.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_splat"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run splat")
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_splat"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn splat");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("wait splat")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}

#[test]
fn text_output_and_exit_zero() {
    let o = run(&[&fixture("abba-buggy-hung.log")]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.starts_with("[1] possible deadlock in rust_deadlock::abba::lock_in_order\n"));
    assert!(out.contains("Lock-order cycle: sem_b -> sem_a -> sem_b"));
    assert!(out.contains("[2] INFO: task hung in rust_deadlock::abba::lock_in_order"));
    assert!(out.contains("It is blocked in down() on a semaphore"));
    assert!(out.contains("Fix: take sem_a and sem_b in one global order"));
    assert!(out
        .trim_end()
        .ends_with("5 reports: 1 circular_dependency, 4 hung_task"));
}

#[test]
fn json_parses_back() {
    let o = run(&["--json", &fixture("abba-buggy-hung.log")]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    let doc = splat::from_json(&text).expect("valid splat JSON");
    assert_eq!(doc.schema, "splat/1");
    assert_eq!(doc.reports.len(), 5);
    assert_eq!(doc.reports[0].cycle, ["sem_b", "sem_a", "sem_b"]);
    // Plain serde_json sees the documented layout too.
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema"], "splat/1");
    assert_eq!(v["reports"][0]["kind"], "circular_dependency");
    assert_eq!(v["reports"][0]["tasks"][0]["comm"], "deadlock_b");
    assert_eq!(v["reports"][0]["tasks"][0]["pid"], 43);
    assert_eq!(v["reports"][0]["locks"][0]["usage"], "+.+.");
    assert_eq!(v["reports"][1]["kind"], "hung_task");
    assert_eq!(v["reports"][1]["hung_task"]["seconds"], 2);
    assert_eq!(v["reports"][0]["truncated"], false);
}

#[test]
fn dot_has_red_cycle_edges() {
    let o = run(&["--dot", &fixture("abba-buggy-hung.log")]);
    assert_eq!(o.status.code(), Some(0));
    let dot = stdout(&o);
    assert!(dot.starts_with("digraph splat {"));
    assert!(dot.trim_end().ends_with('}'));
    let edge = |from: &str, to: &str| {
        dot.lines()
            .find(|l| {
                l.trim_start()
                    .starts_with(&format!("\"{from}\" -> \"{to}\""))
            })
            .unwrap_or_else(|| panic!("no edge {from} -> {to} in\n{dot}"))
            .to_string()
    };
    let new_dep = edge("sem_b", "sem_a");
    assert!(new_dep.contains("color=red") && new_dep.contains("style=bold"));
    assert!(new_dep.contains("deadlock_b/43: rust_deadlock::abba::lock_in_order"));
    let old_dep = edge("sem_a", "sem_b");
    assert!(old_dep.contains("color=red"));
    assert!(old_dep.contains("chain #1: rust_deadlock::abba::lock_in_order"));
}

#[test]
fn dot_held_lock_edges_are_not_red() {
    let o = run(&["--dot", &fixture("circular-three.log")]);
    let dot = stdout(&o);
    let held = dot
        .lines()
        .find(|l| l.contains("\"(wq_completion)demo_wq\" -> \"(work_completion)(&w->work)\""))
        .expect("held-lock edge");
    assert!(!held.contains("color=red"));
    assert_eq!(dot.lines().filter(|l| l.contains("color=red")).count(), 3);
}

#[test]
fn stdin_and_dash() {
    let log = std::fs::read(fixture("recursive.log")).unwrap();
    for args in [&[][..], &["-"][..]] {
        let o = run_stdin(args, &log);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(stdout(&o).contains("possible deadlock in rust_deadlock::recursive::relock"));
    }
}

#[test]
fn no_reports_exit_one() {
    for input in [
        &b""[..],
        b"lab: exit 0\nroot@guest:~# \n",
        b"\xff\xfe\x00garbage\r\n",
    ] {
        let o = run_stdin(&[], input);
        assert_eq!(o.status.code(), Some(1));
        assert!(stdout(&o).contains("no lockdep, hung-task or other kernel reports found"));
        let o = run_stdin(&["--json"], input);
        assert_eq!(o.status.code(), Some(1));
        let doc = splat::from_json(&stdout(&o)).unwrap();
        assert!(doc.reports.is_empty());
    }
    let o = run(&[&fixture("no-reports.log")]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn non_utf8_input_is_accepted() {
    let mut log = std::fs::read(fixture("recursive.log")).unwrap();
    log.splice(0..0, b"\xc3\x28 junk \xff\n".iter().copied());
    let o = run_stdin(&["--json"], &log);
    assert_eq!(o.status.code(), Some(0));
    let doc = splat::from_json(&stdout(&o)).unwrap();
    assert_eq!(doc.reports.len(), 1);
    assert_eq!(doc.reports[0].start_line, 4);
}

#[test]
fn usage_and_io_errors_exit_two() {
    let o = run(&["--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["--json", "--dot", &fixture("recursive.log")]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["/nonexistent/splat-test.log"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read /nonexistent/splat-test.log"));
    let o = run(&["a.log", "b.log"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn help_documents_exit_status() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = stdout(&o);
    assert!(help.contains("Exit status:"));
    assert!(help.contains("0  at least one report was found"));
    assert!(help.contains("1  no report was found"));
    assert!(help.contains("2  usage error"));
    assert!(help.contains("--json") && help.contains("--dot"));
    let o = run(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn summary_counts_bugs_across_files_and_compressed_logs() {
    use std::io::Write as _;
    let dir = std::env::temp_dir().join(format!("splat-summary-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("night")).unwrap();
    let log = std::fs::read(fixture("abba-buggy-hung.log")).unwrap();
    std::fs::write(dir.join("night/a.log"), &log).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&log).unwrap();
    std::fs::write(dir.join("night/b.log.gz"), gz.finish().unwrap()).unwrap();
    let dir_arg = dir.join("night").display().to_string();

    let out = run(&["--summary", "--json", &dir_arg]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["schema"], "splat-summary/1");
    assert_eq!(doc["files"], 2);
    assert_eq!(doc["reports"], 10);
    let bugs = doc["bugs"].as_array().unwrap();
    let circular = &bugs[0];
    assert_eq!(
        circular["signature"],
        "circular_dependency: sem_a -> sem_b @ rust_deadlock::abba::lock_in_order"
    );
    assert_eq!(
        (circular["count"].as_u64(), circular["files"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(circular["first_file"].as_str().unwrap().ends_with("a.log"));
    assert!(circular["last_file"]
        .as_str()
        .unwrap()
        .ends_with("b.log.gz"));
    assert!(bugs.iter().all(|b| b["new"].is_null()));

    // The same logs against that summary as a baseline: nothing is new.
    std::fs::write(dir.join("base.json"), stdout(&out)).unwrap();
    let base = dir.join("base.json").display().to_string();
    let again = run(&["--summary", "--baseline", &base, &dir_arg]);
    let text = stdout(&again);
    assert!(text.contains("0 new"), "{text}");
    assert!(!text.contains("[NEW]"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
