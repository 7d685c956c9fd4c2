//! The module parameters' declarations (`module_param!`, `src/param.rs`), checked against the real
//! kernel crate of the lab kernel (`KERNEL=`): each file in `tests/params/` is a small module that
//! declares parameters; its first line says whether it must build or fail with a given compiler
//! error (see `kbuild_case/mod.rs`). The parameter's callbacks cast the static back to the type
//! the declaration names: a declaration whose type is not the static's own must not build, nor
//! one that lets everybody write the parameter.

mod kbuild_case;

use kbuild_case::Suite;

/// The cases: modules that declare parameters the way `src/rust_deadlock.rs` does.
const PARAMS: Suite = Suite {
    dir: "params",
    module: "rd_param_case",
    modules: &["compat", "param"],
    uses: "use param::{BoolParam, UintParam};",
};

#[test]
fn every_case_has_an_expectation() {
    PARAMS.assert_cases(3);
}

#[test]
fn a_parameter_of_its_own_type_compiles() {
    PARAMS.check("own_type.rs");
}

#[test]
fn a_parameter_of_another_type_does_not_compile() {
    PARAMS.check("other_type.rs");
}

#[test]
fn a_parameter_everybody_may_write_does_not_compile() {
    PARAMS.check("world_writable.rs");
}
