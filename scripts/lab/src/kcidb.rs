//! `make test`'s results as a KCIDB document: the results schema of KernelCI
//! (<https://github.com/kernelci/kcidb-io>, version 5.3), so that a KernelCI origin can submit
//! the lab's results.
//!
//! One checkout (the commit tested, in one run), one build per group of steps (the host crates,
//! and the module built against each kernel), and one test per test case or per step without
//! test cases (`check`, `module`, ...). Test paths are the case names with `::` and spaces as
//! dots (`lab.vm.non_root_cannot_write`); ids are `ORIGIN:RUN-GROUP-PATH`, the same in every
//! shard that runs the same test, so documents from the shards of one run merge.

use crate::results::{Outcome, Step};
use serde_json::{json, Map, Value};

/// The schema version the document declares.
pub const VERSION: (u32, u32) = (5, 3);

/// Who submits, and which run of what.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The CI system's name in KCIDB: lower-case letters, digits and `_`.
    pub origin: String,
    /// The run: unique per run of the whole matrix (any text).
    pub run: String,
    /// The commit tested, 40 hex digits, when known.
    pub commit: Option<String>,
}

impl Origin {
    /// Checks the names KCIDB restricts.
    pub fn new(origin: &str, run: &str, commit: Option<&str>) -> Result<Origin, String> {
        if origin.is_empty()
            || !origin
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!(
                "KCIDB origin '{origin}': only a-z, 0-9 and _ are allowed"
            ));
        }
        if run.is_empty() || run.contains('\0') {
            return Err(format!("KCIDB run id '{run}': empty or with a NUL byte"));
        }
        let commit = commit.filter(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()));
        Ok(Origin {
            origin: origin.to_string(),
            run: run.to_string(),
            commit: commit.map(str::to_ascii_lowercase),
        })
    }

    fn id(&self, rest: &str) -> String {
        format!("{}:{}{rest}", self.origin, self.run)
    }
}

/// The group of a step: the kernel series its name starts with (`7.3-check`, `6.12`), or `host`.
fn group(step: &str) -> (&str, &str) {
    if step.starts_with(|c: char| c.is_ascii_digit()) {
        match step.split_once('-') {
            Some((kernel, rest)) => (kernel, rest),
            None => (step, ""),
        }
    } else {
        match step.split_once('-') {
            Some(("host", rest)) => ("host", rest),
            _ => ("host", if step == "host" { "" } else { step }),
        }
    }
}

/// A KCIDB path component: letters, digits, `_` and `-`; anything else becomes `_`.
fn component(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A test case's name (`lab::vm non_root_cannot_write`) as a dotted KCIDB path.
fn path(name: &str) -> String {
    name.split([' ', ':'])
        .filter(|p| !p.is_empty())
        .map(component)
        .collect::<Vec<_>>()
        .join(".")
}

fn status(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "PASS",
        Outcome::Failed => "FAIL",
        Outcome::Skipped => "SKIP",
    }
}

/// The KCIDB document of `steps`.
pub fn document(steps: &[Step], origin: &Origin) -> Value {
    let mut checkout = Map::new();
    checkout.insert("id".into(), origin.id("").into());
    checkout.insert("origin".into(), origin.origin.clone().into());
    checkout.insert("tree_name".into(), "rust-deadlock".into());
    if let Some(c) = &origin.commit {
        checkout.insert("git_commit_hash".into(), c.clone().into());
    }
    let mut groups: Vec<&str> = Vec::new();
    for s in steps {
        let (g, _) = group(&s.name);
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let builds: Vec<Value> = groups
        .iter()
        .map(|&g| {
            let mut b = Map::new();
            b.insert("id".into(), origin.id(&format!("-{g}")).into());
            b.insert("checkout_id".into(), origin.id("").into());
            b.insert("origin".into(), origin.origin.clone().into());
            b.insert("architecture".into(), "x86_64".into());
            if g == "host" {
                b.insert("comment".into(), "the lab's host crates".into());
            } else {
                b.insert(
                    "comment".into(),
                    format!("the module, built against the lab's {g} kernel").into(),
                );
                b.insert("config_name".into(), format!("lab-{g}").into());
                let built = steps.iter().find(|s| s.name == format!("{g}-module"));
                if let Some(s) = built {
                    b.insert(
                        "status".into(),
                        (if s.status == 0 { "PASS" } else { "FAIL" }).into(),
                    );
                }
            }
            Value::Object(b)
        })
        .collect();
    let mut tests = Vec::new();
    for s in steps {
        let (g, rest) = group(&s.name);
        let build_id = origin.id(&format!("-{g}"));
        let test = |path: String, status: &str, secs: Option<f64>| {
            let mut t = Map::new();
            t.insert("id".into(), origin.id(&format!("-{g}-{path}")).into());
            t.insert("build_id".into(), build_id.clone().into());
            t.insert("origin".into(), origin.origin.clone().into());
            t.insert("path".into(), path.into());
            t.insert("status".into(), status.into());
            if let Some(secs) = secs {
                t.insert("duration".into(), secs.into());
            }
            t.insert("misc".into(), json!({ "step": s.name }));
            Value::Object(t)
        };
        if s.cases.is_empty() {
            let name = if rest.is_empty() { "run" } else { rest };
            let ok = if s.status == 0 { "PASS" } else { "ERROR" };
            tests.push(test(path(name), ok, None));
        } else {
            for c in &s.cases {
                tests.push(test(path(&c.name), status(c.outcome), Some(c.secs)));
            }
        }
    }
    json!({
        "version": { "major": VERSION.0, "minor": VERSION.1 },
        "checkouts": [Value::Object(checkout)],
        "builds": builds,
        "tests": tests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Case;

    fn case(name: &str, outcome: Outcome) -> Case {
        Case {
            name: name.into(),
            outcome,
            secs: 1.5,
        }
    }

    #[test]
    fn steps_become_builds_per_kernel_and_tests_with_dotted_paths() {
        let steps = vec![
            Step {
                name: "host".into(),
                status: 0,
                cases: vec![case("splat::check a_deny_rule_wins", Outcome::Passed)],
            },
            Step {
                name: "7.3-module".into(),
                status: 2,
                cases: vec![],
            },
            Step {
                name: "7.3".into(),
                status: 100,
                cases: vec![
                    case("lab::scenarios abba::demo", Outcome::Failed),
                    case("lab::vm kunit_suite_passes", Outcome::Skipped),
                ],
            },
        ];
        let o = Origin::new("rust_deadlock", "42-1", Some(&"AB".repeat(20))).unwrap();
        let doc = document(&steps, &o);
        assert_eq!(doc["version"], json!({"major": 5, "minor": 3}));
        assert_eq!(doc["checkouts"][0]["git_commit_hash"], "ab".repeat(20));
        let builds: Vec<&str> = doc["builds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            builds,
            ["rust_deadlock:42-1-host", "rust_deadlock:42-1-7.3"]
        );
        assert_eq!(doc["builds"][1]["status"], "FAIL");
        let tests: Vec<(&str, &str)> = doc["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["path"].as_str().unwrap(), t["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            tests,
            [
                ("splat.check.a_deny_rule_wins", "PASS"),
                ("module", "ERROR"),
                ("lab.scenarios.abba.demo", "FAIL"),
                ("lab.vm.kunit_suite_passes", "SKIP"),
            ]
        );
        assert_eq!(
            doc["tests"][2]["id"],
            "rust_deadlock:42-1-7.3-lab.scenarios.abba.demo"
        );
        assert_eq!(doc["tests"][2]["build_id"], "rust_deadlock:42-1-7.3");
    }

    #[test]
    fn an_origin_kcidb_would_refuse_is_refused() {
        assert!(Origin::new("Rust-Deadlock", "1", None)
            .unwrap_err()
            .contains("only a-z, 0-9 and _"));
        assert!(Origin::new("lab", "", None).is_err());
        assert_eq!(Origin::new("lab", "1", Some("HEAD")).unwrap().commit, None);
    }

    /// The JUnit and KCIDB documents of a results directory, read by the CI world's own readers
    /// (junitparser, kcidb-io's validator: `$CI_PYTHON`, which make test sets), agree with what
    /// `lab results` read and wrote.
    #[test]
    fn junit_and_kcidb_validate_with_junitparser_and_kcidb_io() {
        let python = std::env::var_os("CI_PYTHON").expect(
            "CI_PYTHON is not set: run scripts/setup/setup-host.sh --ci, then export CI_PYTHON from \
             scripts/env.sh (make test does)",
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("steps"), "7.3-module 0\n7.3 100\n").unwrap();
        let junit = dir.path().join("7.3.junit.xml");
        // results.rs's nextest layout, and a skipped test.
        let skipped = r#"<testcase name="scenarios::abba::demo" classname="lab::scenarios" time="0">
      <skipped/>
    </testcase>
  </testsuite>"#;
        let xml = crate::results::tests::JUNIT.replace("</testsuite>", skipped);
        std::fs::write(&junit, xml).unwrap();
        let steps = crate::results::read_steps(dir.path()).unwrap();
        let o = Origin::new("rust_deadlock", "7-1", Some(&"0f".repeat(20))).unwrap();
        let kcidb = dir.path().join("results.kcidb.json");
        std::fs::write(&kcidb, document(&steps, &o).to_string()).unwrap();
        let out = std::process::Command::new(python)
            .arg(crate::repo_root().join("scripts/lab/validate-results.py"))
            .args([&junit, &kcidb])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours = &steps[1].cases;
        let count = |o: Outcome| ours.iter().filter(|c| c.outcome == o).count();
        assert_eq!(
            (
                count(Outcome::Passed),
                count(Outcome::Failed),
                count(Outcome::Skipped)
            ),
            (2, 1, 1)
        );
        assert_eq!(
            text,
            format!(
                "{}: junit: 4 tests, 2 passed, 1 failed, 1 skipped\n\
                 {}: kcidb 5.3: 1 checkouts, 1 builds, 5 tests\n",
                junit.display(),
                kcidb.display()
            )
        );
        // A document the schema refuses is caught: an origin with a capital letter.
        let bad = document(&steps, &o)
            .to_string()
            .replace("\"origin\":\"rust_deadlock\"", "\"origin\":\"Rust\"");
        std::fs::write(&kcidb, bad).unwrap();
        let out = std::process::Command::new(std::env::var_os("CI_PYTHON").unwrap())
            .arg(crate::repo_root().join("scripts/lab/validate-results.py"))
            .arg(&kcidb)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("'Rust' does not match '^[a-z0-9_]+$'"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
