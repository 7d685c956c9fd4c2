// expect: error[E0308]: mismatched types
// and: expected `&BoolParam`, found `&UintParam`
// A `UintParam` static declared as a `BoolParam`: the bool callbacks would read a `UintParam`.
static HOLD_MS: UintParam = UintParam::new(100, 0, 10_000);
module_param!(HOLD_MS: BoolParam, "hold_ms", 0o644, "Milliseconds");
