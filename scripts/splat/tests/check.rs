//! `splat check`, the CI gate, end to end on real consoles: the lab's own (tests/fixtures/, from
//! both kernels) and published ones (tests/corpus/). Exit status, each report's verdict and the
//! rule that decided it, the explanation of a report that fails, and bad rules.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn path(dir: &str, name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir)
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn fixture(name: &str) -> String {
    path("fixtures", name)
}

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_splat"))
        .arg("check")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run splat check")
}

/// A rules file in a temporary directory (kept alive with the path).
fn rules(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rules.toml");
    std::fs::write(&p, text).unwrap();
    let s = p.to_string_lossy().into_owned();
    (dir, s)
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that `splat check` exited with `code` and printed `text`.
fn expect(o: &Output, code: i32, text: &str) {
    assert_eq!(o.status.code(), Some(code), "{}{}", out(o), err(o));
    assert!(out(o).contains(text), "no {text:?} in:\n{}", out(o));
}

/// The lab's rules for its AB-BA deadlock: the module's circular report and its threads' hung
/// tasks pass, nothing else.
const ABBA_RULES: &str = r#"
[[allow]]
name = "the module's AB-BA, on purpose"
kind = "circular_dependency"
signature = "circular_dependency: sem_a -> sem_b @ rust_deadlock::*"

[[allow]]
kind = "hung_task"
task = "deadlock_?"
"#;

#[test]
fn a_console_without_reports_passes_even_without_rules() {
    let o = check(&[&fixture("no-reports.log")]);
    expect(
        &o,
        0,
        "no-reports.log: no report\nsplat check: ok: no report\n",
    );
}

#[test]
fn without_rules_every_report_fails_with_its_title_and_explanation() {
    let o = check(&[&fixture("abba-7.3-demo.log")]);
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
    let text = out(&o);
    assert!(
        text.contains(
            "FAIL [1] possible deadlock in rust_deadlock::abba::AbBa::thread_b (circular_dependency, lines "
        ),
        "{text}"
    );
    assert!(
        text.contains("     not allowed: no allow rule names it\n"),
        "{text}"
    );
    // The explanation follows, with the fix.
    assert!(
        text.contains("     Fix: take sem_a and sem_b in one global order"),
        "{text}"
    );
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("splat check: FAILED: ") && last.ends_with(" reports not allowed"),
        "{text}"
    );
}

#[test]
fn the_expected_reports_pass_and_each_names_the_rule_that_let_it() {
    let (_dir, rules) = rules(ABBA_RULES);
    for log in ["abba-7.3-buggy-load-hung.log", "abba-buggy-hung.log"] {
        let o = check(&["--rules", &rules, &fixture(log)]);
        let text = out(&o);
        assert_eq!(o.status.code(), Some(0), "{log}: {text}{}", err(&o));
        assert!(
            text.contains(
                "     allowed by allow rule 1 (the module's AB-BA, on purpose): kind = \
                 circular_dependency, signature = \"circular_dependency: sem_a -> sem_b @ rust_deadlock::*\"\n"
            ),
            "{log}: {text}"
        );
        assert!(
            text.contains(
                "     allowed by allow rule 2: kind = hung_task, task = \"deadlock_?\"\n"
            ),
            "{log}: {text}"
        );
        assert!(!text.contains("FAIL ["), "{log}: {text}");
        assert!(text.trim_end().ends_with(", all allowed"), "{log}: {text}");
    }
}

#[test]
fn a_report_the_rules_do_not_name_fails() {
    // The lab's AB-BA rules on other consoles: a three-lock cycle and a recursive lock are not
    // the AB-BA the rules allow.
    let (_dir, rules) = rules(ABBA_RULES);
    for (log, title) in [
        ("circular-three.log", "possible deadlock in worker_c"),
        (
            "recursive.log",
            "possible deadlock in rust_deadlock::recursive::relock",
        ),
    ] {
        let o = check(&["--rules", &rules, &fixture(log)]);
        let text = out(&o);
        assert_eq!(o.status.code(), Some(1), "{log}: {text}");
        assert!(text.contains(&format!("FAIL [1] {title}")), "{log}: {text}");
    }
}

#[test]
fn one_report_not_allowed_fails_the_console_and_the_others_say_which_rule_let_them() {
    let (_dir, rules) = rules("[[allow]]\nkind = \"hung_task\"\n");
    let o = check(&["--rules", &rules, &fixture("abba-7.3-buggy-load-hung.log")]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("==> ")
            && text.contains("abba-7.3-buggy-load-hung.log: 7 reports, 1 not allowed\n"),
        "{text}"
    );
    assert!(
        text.contains("FAIL [1] possible deadlock in rust_deadlock::abba::AbBa::thread_a"),
        "{text}"
    );
    assert!(
        text.contains(
            "pass [2] INFO: task hung in rust_deadlock::abba::AbBa::thread_a (hung_task, lines \
             100-122)\n     signature: hung_task @ rust_deadlock::abba::AbBa::thread_a\n     \
             allowed by allow rule 1: kind = hung_task\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("splat check: FAILED: 1 of 7 reports not allowed\n"),
        "{text}"
    );
}

#[test]
fn a_deny_rule_wins_over_an_allow_rule() {
    let (_dir, rules) = rules(&format!(
        "{ABBA_RULES}\n[[deny]]\nname = \"never thread_b\"\ntitle = \"*thread_b\"\n"
    ));
    let o = check(&["--rules", &rules, &fixture("abba-7.3-demo.log")]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("     denied by deny rule 1 (never thread_b): title = \"*thread_b\"\n"),
        "{text}"
    );
}

#[test]
fn with_default_allow_only_the_deny_list_fails_a_console() {
    // A published hung-task report passes a gate on lockdep's lock-order reports only; a
    // published circular report fails it.
    let (_dir, rules) = rules(
        "default = \"allow\"\n[[deny]]\nkind = \"circular_dependency\"\n[[deny]]\nkind = \"recursive_locking\"\n",
    );
    let corpus = |name| check(&["--rules", &rules, &path("corpus", name)]);
    let hung = corpus("hung-6.7-syzbot-arm64-folio-lock.log");
    expect(
        &hung,
        0,
        "     allowed: no rule names it, default = \"allow\"\n",
    );
    let circular = corpus("circular-5.7-btrfs-md-workqueue-quoted.log");
    expect(
        &circular,
        1,
        "     denied by deny rule 1: kind = circular_dependency\n",
    );
}

#[test]
fn every_corpus_console_fails_without_rules_and_passes_when_its_kinds_are_allowed() {
    let dir = PathBuf::from(path("corpus", ""));
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    assert!(logs.len() >= 50, "{} corpus files", logs.len());
    let kinds = [
        "circular_dependency",
        "recursive_locking",
        "inconsistent_lock_state",
        "irq_lock_inversion",
        "bad_unlock_balance",
        "held_lock_freed",
        "lock_held_at_exit",
        "suspicious_rcu_usage",
        "sleep_in_atomic",
        "hung_task",
        "soft_lockup",
        "scheduling_while_atomic",
        "invalid_wait_context",
        "spinlock_bug",
        "generic",
    ];
    let all: String = kinds
        .iter()
        .map(|k| format!("[[allow]]\nkind = \"{k}\"\n"))
        .collect();
    let (_dir, rules) = rules(&all);
    for log in &logs {
        let log = log.to_string_lossy();
        let denied = check(&[&log]);
        assert_eq!(denied.status.code(), Some(1), "{log}: {}", out(&denied));
        let allowed = check(&["--rules", &rules, &log]);
        assert_eq!(allowed.status.code(), Some(0), "{log}: {}", out(&allowed));
    }
}

#[test]
fn many_logs_and_standard_input_are_checked_together() {
    let (_dir, rules) = rules(ABBA_RULES);
    let mut child = Command::new(env!("CARGO_BIN_EXE_splat"))
        .args(["check", "--rules", &rules, &fixture("no-reports.log"), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = std::fs::read(fixture("recursive.log")).unwrap();
    child.stdin.take().unwrap().write_all(&log).unwrap();
    let o = child.wait_with_output().unwrap();
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("no-reports.log: no report\n"), "{text}");
    assert!(text.contains("==> -: 1 report, 1 not allowed\n"), "{text}");
}

#[test]
fn bad_rules_or_a_missing_log_are_refused_with_exit_2_and_say_why() {
    for (text, want) in [
        (
            "[[allow]]\nkind = \"deadlock\"\n",
            "unknown variant `deadlock`",
        ),
        ("[[allow]]\ntitel = \"x\"\n", "unknown field `titel`"),
        ("[[deny]]\nname = \"all\"\n", "deny rule 1 names no report"),
    ] {
        let (_dir, rules) = rules(text);
        let o = check(&["--rules", &rules, &fixture("no-reports.log")]);
        assert_eq!(o.status.code(), Some(2), "{text}");
        assert!(err(&o).contains(want), "{text}: {}", err(&o));
        assert!(
            out(&o).is_empty(),
            "nothing checked with bad rules: {}",
            out(&o)
        );
    }
    let o = check(&[
        "--rules",
        "/nonexistent/rules.toml",
        &fixture("no-reports.log"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("cannot read /nonexistent/rules.toml"),
        "{}",
        err(&o)
    );
    let o = check(&["/nonexistent/console.log"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("/nonexistent/console.log"), "{}", err(&o));
}
