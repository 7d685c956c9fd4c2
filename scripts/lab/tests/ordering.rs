//! The compile-time lock order (`src/order.rs`), checked against the real kernel crate of the lab
//! kernel (`KERNEL=`): each file in `tests/ordering/` is a small module that takes ordered
//! semaphores; its first line says whether it must build (`// expect: builds`) or fail with a
//! given compiler error (`// expect: error[E0277]: ...`; see `kbuild_case/mod.rs`). A change that
//! lets a wrong order compile turns this red. `zero_cost.rs` also shows that the ordered path costs nothing: its machine code is
//! the plain path's.

mod kbuild_case;

use kbuild_case::Suite;
use std::path::Path;
use std::process::Command;

/// The cases: modules that take ordered semaphores.
const ORDERING: Suite = Suite {
    dir: "ordering",
    module: "rd_order_case",
    modules: &["compat", "order", "semaphore"],
    uses: "use order::{Ordered, Token, Unlocked};\nuse semaphore::Semaphore;",
};

fn check(name: &str) -> std::path::PathBuf {
    ORDERING.check(name)
}

#[test]
fn every_case_has_an_expectation() {
    ORDERING.assert_cases(7);
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
