//! Helpers shared by the integration tests that read the fixture logs in `tests/fixtures/`.
//! (Each test file compiles this module on its own and uses part of it.)
#![allow(dead_code)]

use splat::{Report, ReportKind, Task};
use std::path::PathBuf;

/// The path of fixture `name`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The reports splat finds in fixture `name`.
pub fn load(name: &str) -> Vec<Report> {
    splat::parse_bytes(&std::fs::read(fixture_path(name)).expect("fixture exists"))
}

/// A task with a pid.
pub fn task(comm: &str, pid: u32) -> Task {
    Task {
        comm: comm.to_string(),
        pid: Some(pid),
    }
}

/// The kinds of `reports`, in order.
pub fn kinds(reports: &[Report]) -> Vec<ReportKind> {
    reports.iter().map(|r| r.kind).collect()
}

/// The titles of `reports`, in order.
pub fn titles(reports: &[Report]) -> Vec<&str> {
    reports.iter().map(|r| r.title.as_str()).collect()
}
