//! The CI workflow (`.github/workflows/lab.yml`) against `make test`: its jobs, matrix expanded,
//! must run the steps `make test` runs here, no more and no fewer, so the two cannot drift.
//!
//! Both sides come from one source, `scripts/make/test.sh`: `make test-plan` prints the steps
//! `make test` would run with the same variables (`NAME: COMMAND`). The workflow's `make test ...`
//! lines, one per job of the matrix, give the steps CI runs; the union of their plans, with each
//! kernel's shards (`--partition hash:M/N`, all M of one N) put together, must be the plan of a
//! plain `make test`, which covers every kernel of scripts/env.sh's KERNELS. The workflow's
//! `make kernel ...` jobs must build exactly the kernels and variants those steps load modules
//! for (`keep_module`).

use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

const WORKFLOW: &str = ".github/workflows/lab.yml";

/// `make test-plan ARGS`, run at the top of the repository in an environment without the
/// variables an enclosing `make test` exports.
fn make_plan(args: &[&str]) -> std::process::Output {
    let mut make = Command::new("make");
    make.args(["-s", "--no-print-directory", "test-plan"])
        .args(args)
        .current_dir(crate::repo_root());
    for var in [
        "MAKEFLAGS",
        "MAKELEVEL",
        "MFLAGS",
        "KERNEL",
        "LAB_VARIANT",
        "TEST_KERNELS",
        "TEST_PARTS",
        "TEST_SHARD",
        // make exports what its command line set: the CI's host job runs `make test TESTS=host`.
        "TESTS",
        "SHARD",
    ] {
        make.env_remove(var);
    }
    make.output().expect("run make test-plan")
}

/// The steps `make test-plan ARGS` prints.
fn plan(args: &[&str]) -> Vec<String> {
    let out = make_plan(args);
    assert!(
        out.status.success(),
        "make test-plan {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A YAML scalar as the workflow's expressions print it.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("{WORKFLOW}: a matrix value that is not a scalar: {other:?}"),
    }
}

/// Every combination of a job's matrix (one empty combination without a matrix).
fn combinations(job: &Value) -> Vec<BTreeMap<String, String>> {
    let mut combos = vec![BTreeMap::new()];
    let Some(matrix) = job.get("strategy").and_then(|s| s.get("matrix")) else {
        return combos;
    };
    let matrix = matrix.as_mapping().expect("a matrix is a mapping");
    for (axis, values) in matrix {
        let axis = axis.as_str().expect("a matrix axis is named");
        assert!(
            axis != "include" && axis != "exclude",
            "{WORKFLOW}: the drift test expands plain axes only; teach it {axis}"
        );
        let values = values.as_sequence().expect("a matrix axis is a list");
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.insert(axis.to_string(), scalar(v));
                    c
                })
            })
            .collect();
    }
    combos
}

/// The `make` command lines of the workflow's jobs, one per job of each matrix, with the matrix
/// values put in.
fn make_lines() -> Vec<String> {
    let text = std::fs::read_to_string(crate::repo_root().join(WORKFLOW)).unwrap();
    let doc: Value = serde_norway::from_str(&text).expect("the workflow is YAML");
    let jobs = doc["jobs"].as_mapping().expect("jobs");
    let mut lines = Vec::new();
    for job in jobs.values() {
        for combo in combinations(job) {
            for step in job["steps"].as_sequence().expect("steps") {
                let Some(run) = step.get("run").and_then(Value::as_str) else {
                    continue;
                };
                let mut run = run.to_string();
                for (axis, value) in &combo {
                    run = run.replace(&format!("${{{{ matrix.{axis} }}}}"), value);
                }
                for line in run.lines().map(str::trim) {
                    if line.starts_with("make ") {
                        assert!(!line.contains("${{"), "{WORKFLOW}: unexpanded: {line}");
                        lines.push(line.to_string());
                    }
                }
            }
        }
    }
    lines
}

/// `KEY=VALUE` of a make command line.
fn var<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn the_workflow_runs_what_make_test_runs_job_for_job() {
    let lines = make_lines();
    let full: BTreeSet<String> = plan(&[]).into_iter().collect();
    assert!(
        full.iter().any(|l| l.starts_with("host:")) && full.iter().any(|l| l.contains("lab_tests")),
        "make test-plan printed no host or lab step: {full:?}"
    );
    // Each job's `make test ...`, planned with its variables.
    let mut ci = BTreeSet::new();
    let mut shards: BTreeMap<String, BTreeSet<(u32, u32)>> = BTreeMap::new();
    let tests: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("make test"))
        .collect();
    assert!(tests.len() >= 2, "{WORKFLOW}: make test jobs: {tests:?}");
    for line in tests {
        let args: Vec<&str> = line.split_whitespace().skip(2).collect();
        assert!(
            line.split_whitespace().nth(1) == Some("test"),
            "{WORKFLOW}: not make test: {line}"
        );
        for step in plan(&args) {
            match step.split_once(" --partition hash:") {
                Some((whole, part)) => {
                    let (m, n) = part.split_once('/').expect("hash:M/N");
                    let part = (m.parse().unwrap(), n.parse().unwrap());
                    shards.entry(whole.to_string()).or_default().insert(part);
                    ci.insert(whole.to_string());
                }
                None => {
                    ci.insert(step);
                }
            }
        }
    }
    for (step, parts) in &shards {
        let n = parts.iter().next().unwrap().1;
        let want: BTreeSet<(u32, u32)> = (1..=n).map(|m| (m, n)).collect();
        assert_eq!(parts, &want, "{WORKFLOW}: the shards of '{step}'");
    }
    let missing: Vec<&String> = full.difference(&ci).collect();
    let extra: Vec<&String> = ci.difference(&full).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{WORKFLOW} and make test differ:\n  make test runs, CI does not: {missing:#?}\n  \
         CI runs, make test does not: {extra:#?}"
    );
    // The kernels the kernel jobs build: those make test loads modules for.
    let needed: BTreeSet<String> = full
        .iter()
        .filter_map(|l| Some(l.split_once(": keep_module ")?.1.to_string()))
        .collect();
    let built: BTreeSet<String> = lines
        .iter()
        .filter(|l| l.starts_with("make kernel ") || *l == "make kernel")
        .map(|l| {
            let kernel = var(l, "KERNEL").expect("make kernel KERNEL=...");
            match var(l, "LAB_VARIANT") {
                Some(v) if !v.is_empty() => format!("{kernel}-{v}"),
                _ => kernel.to_string(),
            }
        })
        .collect();
    assert_eq!(
        built, needed,
        "{WORKFLOW}: the kernels its kernel jobs build"
    );
}

#[test]
fn the_kernels_of_the_plan_are_those_of_env_sh() {
    // scripts/env.sh's KERNELS line, read as the Makefile reads it.
    let env = std::fs::read_to_string(crate::repo_root().join("scripts/env.sh")).unwrap();
    let kernels: Vec<&str> = env
        .lines()
        .find_map(|l| l.strip_prefix("KERNELS=(")?.strip_suffix(')'))
        .expect("KERNELS=(...) in scripts/env.sh")
        .split_whitespace()
        .collect();
    let planned: Vec<String> = plan(&[])
        .iter()
        .filter_map(|l| Some(l.split_once(": lab_tests ")?.0.to_string()))
        .collect();
    assert_eq!(planned, kernels);
}

#[test]
fn bad_parts_or_shards_are_refused() {
    for (arg, want) in [
        ("SHARD=3/2", "SHARD=3/2: M/N, with 1 <= M <= N"),
        ("SHARD=0/2", "SHARD=0/2: M/N"),
        ("TESTS=vm", "TESTS=vm: all, host or lab"),
    ] {
        let out = make_plan(&[arg]);
        assert!(!out.status.success(), "{arg}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(want),
            "{arg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
