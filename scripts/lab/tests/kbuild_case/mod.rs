//! Compile cases: small modules built against the real kernel crate of the lab kernel (`KERNEL=`),
//! each of which must build, or fail with a given compiler error. Shared by the test files that
//! check what the module's types let compile (`ordering.rs`, `params.rs`).
//!
//! A case is a file in the suite's directory (`tests/<suite>/NAME.rs`): the code of a module, put
//! after the suite's prelude (the module's own source files it needs, a minimal `module!`). Its
//! first line says what must happen:
//! - `// expect: builds`
//! - `// expect: error[E0277]: MESSAGE`: the build fails with this one error (and no other);
//!   further lines `// and: TEXT` name text the compiler's output must contain too.

use lab::repo_root;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A directory of cases and what they are built with.
pub struct Suite {
    /// The directory under `tests/`, and the name of the build directory.
    pub dir: &'static str,
    /// The name of the module each case is built as (also its source file's and object's).
    pub module: &'static str,
    /// The module's source files the cases use (`order` for `src/order.rs`), in this order.
    pub modules: &'static [&'static str],
    /// Lines after those modules, before the case (imports).
    pub uses: &'static str,
}

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

impl Suite {
    fn case_dir(&self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(self.dir)
    }

    /// The names of the suite's cases, sorted.
    fn cases(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.case_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    /// The module source of a case: the suite's prelude, a minimal `module!`, and the case.
    fn module_source(&self, case: &str) -> String {
        let src = repo_root().join("src");
        let mods: String = self
            .modules
            .iter()
            .map(|m| format!("#[path = \"{}/{m}.rs\"]\nmod {m};\n", src.display()))
            .collect();
        format!(
            r#"// SPDX-License-Identifier: GPL-2.0
//! A compile case of rust-deadlock (scripts/lab/tests/kbuild_case/mod.rs).
#![allow(dead_code, unused_imports)]
use kernel::prelude::*;
{mods}{uses}

module! {{
    type: Case,
    name: "{module}",
    license: "GPL",
}}

struct Case;

impl kernel::Module for Case {{
    fn init(_module: &'static ThisModule) -> Result<Self> {{
        Ok(Case)
    }}
}}

{case}
"#,
            uses = self.uses,
            module = self.module,
        )
    }

    /// Compiles the case `name` against the lab kernel, as the module's object, in a directory of
    /// its own; returns whether it built, the compiler's output, and the directory. Only the
    /// object: what the types let compile is decided there; modpost and the link after it
    /// took 2 of the 13 CPU-seconds of `ordering.rs` and `params.rs`.
    fn build(&self, name: &str) -> (bool, String, PathBuf) {
        let case = std::fs::read_to_string(self.case_dir().join(name)).expect("read the case");
        let dir = lab::out_dir()
            .join(self.dir)
            .join(lab::kernel())
            .join(name.trim_end_matches(".rs"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the case directory");
        let source = format!("{}.rs", self.module);
        std::fs::write(dir.join(source), self.module_source(&case)).unwrap();
        // The repository's Kbuild, for its kernel-version cfg, with this case as the object.
        let kbuild = std::fs::read_to_string(repo_root().join("Kbuild")).unwrap();
        let obj = format!("obj-m := {}.o", self.module);
        let kbuild = kbuild.replace("obj-m := src/rust_deadlock.o", &obj);
        assert!(kbuild.contains(&obj), "Kbuild has no obj-m line");
        std::fs::write(dir.join("Kbuild"), kbuild).unwrap();
        let out = Command::new("make")
            .arg("-s")
            .arg("-C")
            .arg(kdir())
            .arg(format!("M={}", dir.display()))
            .arg(format!("{}.o", self.module))
            .output()
            .expect("run make");
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        (out.status.success(), text, dir)
    }

    /// Checks that the suite has `count` cases (a new case file needs its test), each with an
    /// `// expect:` line.
    pub fn assert_cases(&self, count: usize) {
        let names = self.cases();
        assert_eq!(names.len(), count, "{names:?}");
        for name in &names {
            assert!(
                self.expectation(name).is_some(),
                "{name}: no `// expect:` line"
            );
        }
    }

    /// What a case expects: its `// expect:` line, and its `// and:` lines.
    fn expectation(&self, name: &str) -> Option<(String, Vec<String>)> {
        let case = std::fs::read_to_string(self.case_dir().join(name)).ok()?;
        let mut lines = case.lines();
        let want = lines.next()?.strip_prefix("// expect: ")?.to_owned();
        let and = lines
            .map_while(|l| l.strip_prefix("// and: "))
            .map(str::to_owned)
            .collect();
        Some((want, and))
    }

    /// Builds the case `name` and checks that it does what its first line says; returns the
    /// directory it was built in.
    pub fn check(&self, name: &str) -> PathBuf {
        let kernel = lab::kernel();
        let (want, and) = self
            .expectation(name)
            .unwrap_or_else(|| panic!("{name}: no `// expect:` line"));
        let (built, out, dir) = self.build(name);
        if want == "builds" {
            assert!(built, "{name} (kernel {kernel}) must build:\n{out}");
            return dir;
        }
        assert!(
            want.starts_with("error[E"),
            "{name}: expect: builds | error[CODE]: MESSAGE"
        );
        assert!(!built, "{name} (kernel {kernel}) must not build");
        for text in std::iter::once(&want).chain(&and) {
            assert!(
                out.contains(text.as_str()),
                "{name} (kernel {kernel}): the compiler did not say `{text}`:\n{out}"
            );
        }
        // One error, the one expected: the case is otherwise valid code.
        assert_eq!(
            out.matches("error[").count(),
            1,
            "{name} (kernel {kernel}): other errors too:\n{out}"
        );
        dir
    }
}
