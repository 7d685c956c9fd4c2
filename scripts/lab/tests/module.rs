//! Host-side checks of the built module file (no guest needed).

use lab::repo_root;
use std::process::Command;

/// `modinfo` shows every parameter with its type and description.
#[test]
fn modinfo_describes_every_parameter() {
    // The module of the kernel under test (make test keeps one per kernel), else src/'s.
    let ko = std::env::var_os("LAB_MODULE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join("src/rust_deadlock.ko"));
    assert!(ko.exists(), "build the module first: make module");
    let modinfo = ["modinfo", "/sbin/modinfo", "/usr/sbin/modinfo"]
        .iter()
        .find_map(|m| Command::new(m).arg("-F").arg("parm").arg(&ko).output().ok())
        .expect("modinfo (Debian package kmod)");
    assert!(
        modinfo.status.success(),
        "{}",
        String::from_utf8_lossy(&modinfo.stderr)
    );
    let out = String::from_utf8(modinfo.stdout).unwrap();
    let mut parms: Vec<&str> = out.lines().collect();
    parms.sort_unstable();
    assert_eq!(parms.len(), 5, "{out}");
    let described = |name: &str, text: &str, ty: &str| {
        parms.iter().any(|p| {
            p.strip_prefix(name)
                .and_then(|p| p.strip_prefix(':'))
                .is_some_and(|p| p.starts_with(text) && p.ends_with(ty))
        })
    };
    assert!(
        described("buggy", "Run the scenario's buggy variant", "(bool)"),
        "{out}"
    );
    assert!(
        described("hold_ms", "Milliseconds each thread holds", "(uint)"),
        "{out}"
    );
    assert!(described("status", "Read-only", "(charp)"), "{out}");
    assert!(
        described("peek", "Read-only: takes the scenario's first", "(charp)"),
        "{out}"
    );
    // Every scenario is named in the description.
    assert!(described("scenario", "Load time only", "(charp)"), "{out}");
    let scenario = parms.iter().find(|p| p.starts_with("scenario:")).unwrap();
    for s in lab::SCENARIOS {
        assert!(scenario.contains(s.name), "{} not in: {scenario}", s.name);
    }
}
