//! Host-side checks of the built module file (no guest needed).

use lab::repo_root;
use std::process::Command;

/// `modinfo` shows every parameter with its type and description.
#[test]
fn modinfo_describes_every_parameter() {
    let ko = repo_root().join("src/rust_deadlock.ko");
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
    assert_eq!(parms.len(), 3, "{out}");
    assert!(
        parms[0].starts_with("buggy:Take the semaphores in opposite orders")
            && parms[0].ends_with("(bool)"),
        "{out}"
    );
    assert!(
        parms[1].starts_with("hold_ms:Milliseconds each thread holds")
            && parms[1].ends_with("(uint)"),
        "{out}"
    );
    assert!(
        parms[2].starts_with("status:Read-only") && parms[2].ends_with("(charp)"),
        "{out}"
    );
}
