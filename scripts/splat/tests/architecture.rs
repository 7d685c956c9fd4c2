//! The pipeline's modules depend in one direction: a module uses only the modules before it in
//! [`ORDER`] (and its own submodules), so there is no import cycle.

use std::path::Path;

/// The pipeline, bottom first.
const ORDER: &[&str] = &[
    "model",
    "input",
    "lex",
    "segment",
    "extract",
    "analyze",
    "explain",
    "render",
    "pipeline",
    "triage",
    "check",
    "check_cli",
];

fn rank(module: &str) -> Option<usize> {
    ORDER.iter().position(|m| *m == module)
}

/// The `crate::NAME` paths a source file uses, outside comments.
fn uses(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in src.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
            rest = after;
        }
    }
    out
}

fn check(dir: &Path, errors: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            check(&path, errors);
            continue;
        }
        let rel = path
            .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
            .unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = top.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(own) = rank(&module) else {
            errors.push(format!(
                "{}: module {module} is not in ORDER",
                rel.display()
            ));
            continue;
        };
        let src = std::fs::read_to_string(&path).unwrap();
        for used in uses(&src) {
            match rank(&used) {
                Some(r) if r < own || used == module => {}
                Some(_) => errors.push(format!("{}: {module} uses crate::{used}", rel.display())),
                None => errors.push(format!(
                    "{}: {module} uses crate::{used}, a re-export or unknown module",
                    rel.display()
                )),
            }
        }
    }
}

#[test]
fn modules_depend_in_one_direction() {
    let mut errors = Vec::new();
    check(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut errors,
    );
    errors.sort();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
