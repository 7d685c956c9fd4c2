//! The compile-time lock order (`src/order.rs`), checked against the real kernel crate of the lab
//! kernel (`KERNEL=`): each file in `tests/ordering/` is a small module that takes ordered
//! semaphores; its first line says whether it must build (`// expect: builds`) or fail with a
//! given compiler error (`// expect: error: ...`). A change that lets a wrong order compile turns
//! this red. `zero_cost.rs` also shows that the ordered path costs nothing: its machine code is
//! the plain path's.

use lab::repo_root;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The lab kernel's build tree for `$KERNEL`.
fn kdir() -> PathBuf {
    let out = Command::new(repo_root().join("scripts/setup/build-kernel.sh"))
        .arg("--dir")
        .env("KERNEL", lab::kernel())
        .env_remove("LAB_VARIANT")
        .output()
        .expect("scripts/setup/build-kernel.sh --dir");
    let dir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(
        dir.join("Module.symvers").exists(),
        "no lab kernel at {}: run `make kernel KERNEL={}`",
        dir.display(),
        lab::kernel()
    );
    dir
}

/// The module source of a case: the module's own lock code, a minimal `module!`, and the case.
fn module_source(case: &str) -> String {
    let src = repo_root().join("src");
    let src = src.display();
    format!(
        r#"// SPDX-License-Identifier: GPL-2.0
//! A lock-order test case of rust-deadlock (scripts/lab/tests/ordering.rs).
#![allow(dead_code, unused_imports)]
use kernel::prelude::*;
#[path = "{src}/compat.rs"]
mod compat;
#[path = "{src}/order.rs"]
mod order;
#[path = "{src}/semaphore.rs"]
mod semaphore;
use order::{{Ordered, Token, Unlocked}};
use semaphore::Semaphore;

module! {{
    type: Case,
    name: "rd_order_case",
    license: "GPL",
}}

struct Case;

impl kernel::Module for Case {{
    fn init(_module: &'static ThisModule) -> Result<Self> {{
        Ok(Case)
    }}
}}

{case}
"#
    )
}

/// Builds the case `name` as a module against the lab kernel, in a directory of its own; returns
/// whether it built, the compiler's output, and the directory.
fn build(name: &str) -> (bool, String, PathBuf) {
    let case = std::fs::read_to_string(case_dir().join(name)).expect("read the case");
    let dir = lab::out_dir()
        .join("ordering")
        .join(lab::kernel())
        .join(name.trim_end_matches(".rs"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the case directory");
    std::fs::write(dir.join("rd_order_case.rs"), module_source(&case)).unwrap();
    // The repository's Kbuild, for its kernel-version cfg, with this case as the object.
    let kbuild = std::fs::read_to_string(repo_root().join("Kbuild")).unwrap();
    let kbuild = kbuild.replace("obj-m := src/rust_deadlock.o", "obj-m := rd_order_case.o");
    assert!(
        kbuild.contains("obj-m := rd_order_case.o"),
        "Kbuild has no obj-m line"
    );
    std::fs::write(dir.join("Kbuild"), kbuild).unwrap();
    let out = Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(kdir())
        .arg(format!("M={}", dir.display()))
        .output()
        .expect("run make");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    (out.status.success(), text, dir)
}

fn case_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ordering")
}

/// What a case's first line expects.
fn expectation(name: &str) -> Option<String> {
    let case = std::fs::read_to_string(case_dir().join(name)).ok()?;
    let line = case.lines().next()?;
    line.strip_prefix("// expect: ").map(str::to_owned)
}

fn check(name: &str) -> PathBuf {
    let want = expectation(name).unwrap_or_else(|| panic!("{name}: no `// expect:` line"));
    let (built, out, dir) = build(name);
    if want == "builds" {
        assert!(
            built,
            "{name} (kernel {}) must build:\n{out}",
            lab::kernel()
        );
    } else {
        let message = want
            .strip_prefix("error: ")
            .expect("expect: builds | error: MESSAGE");
        assert!(!built, "{name} (kernel {}) must not build", lab::kernel());
        let want = format!("error[E0277]: {message}");
        assert!(
            out.contains(&want),
            "{name} (kernel {}): the compiler did not say `{want}`:\n{out}",
            lab::kernel()
        );
        // One error, the order violation: the case is otherwise valid code.
        assert_eq!(
            out.matches("error[").count(),
            1,
            "{name}: other errors too:\n{out}"
        );
    }
    dir
}

#[test]
fn every_case_has_an_expectation() {
    let mut names: Vec<String> = std::fs::read_dir(case_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 7, "{names:?}");
    for name in &names {
        assert!(expectation(name).is_some(), "{name}: no `// expect:` line");
    }
}

#[test]
fn two_lock_cycle_does_not_compile() {
    check("two_lock_cycle.rs");
}

#[test]
fn two_locks_in_order_compile() {
    check("two_lock_order.rs");
}

#[test]
fn three_lock_cycle_does_not_compile() {
    check("three_lock_cycle.rs");
}

#[test]
fn three_locks_in_order_compile() {
    check("three_lock_order.rs");
}

#[test]
fn lower_lock_while_holding_a_higher_does_not_compile() {
    check("lower_while_higher.rs");
}

#[test]
fn same_level_twice_does_not_compile() {
    check("same_level_twice.rs");
}

/// The instructions of `function` in the disassembly of `object`, in a form that two functions
/// can be compared in: no addresses, and each relocation folded into its instruction (a call
/// reads `call down`), with offsets into data sections dropped.
fn instructions(object: &Path, function: &str) -> Vec<String> {
    let out = Command::new("objdump")
        .args(["-d", "--no-show-raw-insn", "-r"])
        .arg(format!("--disassemble={function}"))
        .arg(object)
        .output()
        .expect("objdump (Debian package binutils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let header = format!(" <{function}>:");
    let Some(start) = text.lines().find_map(|l| l.strip_suffix(&header)) else {
        panic!("no {function} in {}", object.display());
    };
    let start = u64::from_str_radix(start.trim(), 16).unwrap();
    let mut body: Vec<String> = Vec::new();
    for line in text
        .lines()
        .skip_while(|l| !l.ends_with(&header))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
    {
        // "  ADDR:\tINSTRUCTION" or "\t\t\tADDR: R_X86_64_KIND\tSYMBOL+OFFSET"
        let Some((addr, rest)) = line.trim().split_once(':') else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr.trim(), 16) else {
            continue;
        };
        let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(reloc) = rest.strip_prefix("R_X86_64_") {
            // objdump also lists relocations of the bytes before the function: not its own.
            let Some(last) = body.last_mut().filter(|_| addr >= start) else {
                continue;
            };
            let target = reloc.split_once(' ').map_or(reloc, |r| r.1);
            let target = target.split(['+', '-']).next().unwrap_or(target);
            match last.split_once(" <") {
                Some((op, _)) if op.starts_with("call") || op.starts_with("jmp") => {
                    let mnemonic = op.split(' ').next().unwrap_or(op);
                    *last = format!("{mnemonic} {target}");
                }
                _ => {
                    last.push_str(" @");
                    last.push_str(target);
                }
            }
        } else {
            // Jumps inside the function: keep the offset from its start, not the address.
            let words: Vec<&str> = rest.split(' ').collect();
            let kept: Vec<&str> = words
                .iter()
                .enumerate()
                .filter(|(i, w)| {
                    let next_is_target = words.get(i + 1).is_some_and(|n| n.starts_with('<'));
                    !(next_is_target && w.chars().all(|c| c.is_ascii_hexdigit()))
                })
                .map(|(_, w)| *w)
                .collect();
            body.push(kept.join(" ").replace(&format!("<{function}+"), "<+"));
        }
    }
    assert!(!body.is_empty(), "no {function} in {}", object.display());
    body
}

#[test]
fn the_ordered_path_compiles_to_the_plain_path() {
    let dir = check("zero_cost.rs");
    let object = dir.join("rd_order_case.o");
    let ordered = instructions(&object, "rd_ordered_path");
    let plain = instructions(&object, "rd_plain_path");
    std::fs::write(
        dir.join("disassembly.txt"),
        format!(
            "rd_ordered_path:\n  {}\n\nrd_plain_path:\n  {}\n",
            ordered.join("\n  "),
            plain.join("\n  ")
        ),
    )
    .unwrap();
    assert_eq!(
        ordered,
        plain,
        "the ordered path is not the plain path's code (kernel {}); see {}",
        lab::kernel(),
        dir.join("disassembly.txt").display()
    );
}
