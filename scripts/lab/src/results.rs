//! `make test`'s results, read from what its steps left (never from their printed output), and
//! written as one KTAP document (the kernel's test result format,
//! `Documentation/dev-tools/ktap.rst`) with a summary for the terminal.
//!
//! `scripts/make/test.sh` runs each step (a build, a check, a test run) and appends a line
//! `NAME STATUS` to the file `steps` of the results directory; a step that ran tests also left
//! `NAME.junit.xml`, the JUnit file cargo-nextest writes. Each step becomes a KTAP subtest: its
//! tests one line each (with the guest's KUnit results nested under the kernel's lab tests), or
//! for a step without tests, one line for its exit status.

use std::fmt::Write as _;
use std::path::Path;

/// One test of a JUnit file.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// `binary::test`, as nextest names it (`lab::vm twenty_load_unload_cycles_leak_nothing`).
    pub name: String,
    pub outcome: Outcome,
    /// Seconds, as the JUnit file says.
    pub secs: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
}

/// One step of `make test`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    /// The step's exit status.
    pub status: i32,
    /// Its tests, when it ran some (from `NAME.junit.xml`).
    pub cases: Vec<Case>,
}

impl Step {
    pub fn ok(&self) -> bool {
        self.status == 0 && self.cases.iter().all(|c| c.outcome != Outcome::Failed)
    }
}

/// The test cases of a JUnit document, in file order. A case with a `<failure>` or `<error>`
/// failed (a flaky one that passed when retried did not), one with `<skipped>` was skipped.
pub fn parse_junit(xml: &str) -> Result<Vec<Case>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("JUnit: {e}"))?;
    let mut cases = Vec::new();
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        let test = case
            .attribute("name")
            .ok_or("JUnit: a testcase without a name")?;
        let name = match case.attribute("classname") {
            Some(class) if !class.is_empty() => format!("{class} {test}"),
            _ => test.to_string(),
        };
        let child = |tag: &str| case.children().any(|c| c.has_tag_name(tag));
        let outcome = if child("failure") || child("error") {
            Outcome::Failed
        } else if child("skipped") {
            Outcome::Skipped
        } else {
            Outcome::Passed
        };
        let secs = case
            .attribute("time")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0.0);
        cases.push(Case {
            name,
            outcome,
            secs,
        });
    }
    Ok(cases)
}

/// The steps recorded in `dir` (its `steps` file, and each step's JUnit file if there is one).
pub fn read_steps(dir: &Path) -> Result<Vec<Step>, String> {
    let list = dir.join("steps");
    let text = std::fs::read_to_string(&list).map_err(|e| format!("{}: {e}", list.display()))?;
    let mut steps = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (name, status) = line
            .rsplit_once(' ')
            .and_then(|(n, s)| Some((n.to_string(), s.parse().ok()?)))
            .ok_or_else(|| format!("{}: not 'NAME STATUS': '{line}'", list.display()))?;
        let junit = dir.join(format!("{name}.junit.xml"));
        let cases = match std::fs::read_to_string(&junit) {
            Ok(xml) => parse_junit(&xml).map_err(|e| format!("{}: {e}", junit.display()))?,
            Err(_) => Vec::new(),
        };
        steps.push(Step {
            name,
            status,
            cases,
        });
    }
    Ok(steps)
}

/// The KTAP document of `steps`. `kunit(step)` gives the KTAP the guest's KUnit suite printed in
/// that step's run, if any: it is nested as one more subtest of the step.
pub fn ktap(steps: &[Step], kunit: impl Fn(&str) -> Option<String>) -> String {
    let mut out = format!("KTAP version 1\n1..{}\n", steps.len());
    for (i, step) in steps.iter().enumerate() {
        let _ = writeln!(out, "    KTAP version 1\n    # Subtest: {}", step.name);
        let nested = kunit(&step.name).filter(|k| !k.trim().is_empty());
        let lines = step.cases.len() + usize::from(nested.is_some());
        if lines == 0 {
            let _ = writeln!(out, "    1..1");
            let _ = writeln!(
                out,
                "    {} 1 exit status {}",
                ok(step.status == 0),
                step.status
            );
        } else {
            let _ = writeln!(out, "    1..{lines}");
            for (k, case) in step.cases.iter().enumerate() {
                let skip = if case.outcome == Outcome::Skipped {
                    " # SKIP"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "    {} {} {}{skip}",
                    ok(case.outcome != Outcome::Failed),
                    k + 1,
                    case.name
                );
            }
            if let Some(kunit) = nested {
                let mut last_ok = true;
                for l in kunit.lines() {
                    let _ = writeln!(out, "        {l}");
                    if l.starts_with("not ok") {
                        last_ok = false;
                    } else if l.starts_with("ok") {
                        last_ok = true;
                    }
                }
                let _ = writeln!(out, "    {} {} kunit", ok(last_ok), lines);
            }
        }
        let _ = writeln!(out, "{} {} {}", ok(step.ok()), i + 1, step.name);
    }
    out
}

fn ok(yes: bool) -> &'static str {
    if yes {
        "ok"
    } else {
        "not ok"
    }
}

/// The summary for the terminal: `summary: N passed, M failed` (tests, and steps without tests
/// counted as one each), then a `FAILED [step] test` line per failure.
pub fn summary(steps: &[Step]) -> String {
    let (mut passed, mut failed) = (0, 0);
    let mut lines = String::new();
    for step in steps {
        if step.cases.is_empty() {
            if step.status == 0 {
                passed += 1;
            } else {
                failed += 1;
                let _ = writeln!(lines, "FAILED [{}] exit status {}", step.name, step.status);
            }
            continue;
        }
        for case in &step.cases {
            match case.outcome {
                Outcome::Passed => passed += 1,
                Outcome::Skipped => {}
                Outcome::Failed => {
                    failed += 1;
                    let _ = writeln!(lines, "FAILED [{}] {}", step.name, case.name);
                }
            }
        }
        if step.status != 0 && step.cases.iter().all(|c| c.outcome != Outcome::Failed) {
            failed += 1;
            let _ = writeln!(lines, "FAILED [{}] exit status {}", step.name, step.status);
        }
    }
    format!("summary: {passed} passed, {failed} failed\n{lines}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// nextest's JUnit layout: a pass, a failure, a test that passed on retry.
    pub(crate) const JUNIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="3" failures="1" errors="0">
  <testsuite name="lab::vm" tests="3" disabled="0" errors="0" failures="1">
    <testcase name="kunit_suite_passes" classname="lab::vm" timestamp="2026-12-02T03:00:00Z" time="2.5"/>
    <testcase name="non_root_cannot_write" classname="lab::vm" time="3.1">
      <failure type="test failure">assertion failed</failure>
      <system-out>console</system-out>
    </testcase>
    <testcase name="retried" classname="lab::vm" time="4">
      <flakyFailure type="test failure">first try</flakyFailure>
    </testcase>
  </testsuite>
</testsuites>"#;

    #[test]
    fn reads_outcomes_names_and_times_from_junit() {
        let cases = parse_junit(JUNIT).unwrap();
        let got: Vec<(&str, Outcome)> =
            cases.iter().map(|c| (c.name.as_str(), c.outcome)).collect();
        assert_eq!(
            got,
            [
                ("lab::vm kunit_suite_passes", Outcome::Passed),
                ("lab::vm non_root_cannot_write", Outcome::Failed),
                ("lab::vm retried", Outcome::Passed),
            ]
        );
        assert_eq!(cases[1].secs, 3.1);
    }

    #[test]
    fn ktap_nests_tests_and_kunit_and_counts_failures() {
        let steps = vec![
            Step {
                name: "7.3-check".into(),
                status: 0,
                cases: vec![],
            },
            Step {
                name: "7.3".into(),
                status: 100,
                cases: parse_junit(JUNIT).unwrap(),
            },
        ];
        let kunit = |s: &str| {
            (s == "7.3").then(|| {
                "KTAP version 1\n# Subtest: rust_deadlock\n1..1\nok 1 a\nok 1 rust_deadlock\n"
                    .to_string()
            })
        };
        let doc = ktap(&steps, kunit);
        assert!(doc.starts_with("KTAP version 1\n1..2\n"), "{doc}");
        assert!(
            doc.contains("    1..1\n    ok 1 exit status 0\nok 1 7.3-check\n"),
            "{doc}"
        );
        assert!(
            doc.contains("    1..4\n    ok 1 lab::vm kunit_suite_passes\n"),
            "{doc}"
        );
        assert!(
            doc.contains("    not ok 2 lab::vm non_root_cannot_write\n"),
            "{doc}"
        );
        assert!(
            doc.contains("        ok 1 rust_deadlock\n    ok 4 kunit\nnot ok 2 7.3\n"),
            "{doc}"
        );
        let s = summary(&steps);
        assert_eq!(
            s,
            "summary: 3 passed, 1 failed\nFAILED [7.3] lab::vm non_root_cannot_write\n"
        );
    }

    #[test]
    fn a_step_that_failed_without_a_failed_test_counts_as_a_failure() {
        let steps = vec![Step {
            name: "6.12".into(),
            status: 101,
            cases: vec![],
        }];
        assert_eq!(
            summary(&steps),
            "summary: 0 passed, 1 failed\nFAILED [6.12] exit status 101\n"
        );
        assert!(ktap(&steps, |_| None).contains("    not ok 1 exit status 101\nnot ok 1 6.12\n"));
    }

    #[test]
    fn a_steps_line_that_is_not_name_and_status_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("steps"), "host 0\nbroken\n").unwrap();
        let err = read_steps(dir.path()).unwrap_err();
        assert!(err.contains("not 'NAME STATUS': 'broken'"), "{err}");
    }
}
