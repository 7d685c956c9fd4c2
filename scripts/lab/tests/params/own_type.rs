// expect: builds
// Two parameters, each declared with the type of its static.
static HOLD_MS: UintParam = UintParam::new(100, 0, 10_000);
module_param!(HOLD_MS: UintParam, "hold_ms", 0o644, "Milliseconds");

static BUGGY: BoolParam = BoolParam::new(false, |_| ());
module_param!(BUGGY: BoolParam, "buggy", 0o644, "Buggy");
