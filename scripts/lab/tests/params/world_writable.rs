// expect: error[E0080]: evaluation panicked: perm: a parameter may not be writable by everybody
// Permissions that let every user write the parameter, which C's `module_param` refuses too.
static HOLD_MS: UintParam = UintParam::new(100, 0, 10_000);
module_param!(HOLD_MS: UintParam, "hold_ms", 0o666, "Milliseconds");
