#!/usr/bin/env bash
# `make test`: the host tests once; then, for each kernel series (all of scripts/env.sh's KERNELS,
# or the one TEST_KERNELS names): the zero-warning checks, the module build (also against the
# debug variant of the kernel, for make diagnose's tests), and the lab's tests: the module file
# and the VM tests of scripts/lab/tests/, one fresh guest each (the module's KUnit suite among
# them), LAB_JOBS guests at once. The tests run under cargo-nextest (scripts/.config/nextest.toml),
# which schedules them and writes their results as JUnit; `lab results` then reads every step's
# exit status and JUnit file, writes one KTAP file and prints the summary and the failures.
set -uo pipefail
. "$(dirname "$0")/../env.sh"
cd "$REPO_ROOT"

kernels=("${KERNELS[@]}")
[[ ${TEST_KERNELS:-all} == all ]] || kernels=("$TEST_KERNELS")
results=$LAB_OUT/test-results
rm -rf "$results"; mkdir -p "$results"

scripts/setup/setup-host.sh --tests || exit 1
(cd scripts && cargo build --quiet --workspace --tests) || exit 1
export DRGN
# The host crates' own tests, and their doc tests (which nextest does not run).
step "$results" host nextest "$results" host --workspace \
    -E 'package(splat) | package(tsc-khz) | (package(lab) & kind(lib))'
step "$results" host-doctests cargo test --quiet --manifest-path scripts/Cargo.toml --workspace --doc
# Each kernel's checks and module build, one after the other (they share src/); each module is
# kept under scripts/out/ko/KERNEL/ for its VM tests.
ready=()
for k in "${kernels[@]}"; do
    step "$results" "$k-check" make -s --no-print-directory check KERNEL="$k"
    step "$results" "$k-module" keep_module "$k" || continue
    # The debug variant of the kernel (built the first time) and the module built against it, for
    # the tests of make diagnose and make gdb.
    step "$results" "$k-debug-module" keep_module "$k-debug" && ready+=("$k")
done
# The lab's tests (scripts/env.sh's lab_tests), kernel after kernel.
for k in "${ready[@]}"; do step "$results" "$k" lab_tests "$results" "$k" "$k"; done

echo
echo "console logs of the VM tests: scripts/out/vm-logs/<kernel>/"
echo "every result, as KTAP: scripts/out/test-results/results.ktap (JUnit: *.junit.xml beside it)"
scripts/target/debug/lab results "$results"
