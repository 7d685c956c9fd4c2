#!/usr/bin/env bash
# `make test`: the host tests once; then, for each kernel series (all of scripts/env.sh's KERNELS,
# or the one TEST_KERNELS names): the zero-warning checks, the module build (also against the
# debug variant of the kernel, for make diagnose's tests), and the lab's tests: the module file
# and the VM tests of scripts/lab/tests/, one fresh guest each (the module's KUnit suite among
# them), LAB_JOBS guests at once. The tests run under cargo-nextest (scripts/.config/nextest.toml),
# which schedules them and writes their results as JUnit; `lab results` then reads every step's
# exit status and JUnit file, writes one KTAP file and a KCIDB document and prints the summary
# and the failures; junitparser and kcidb-io then read the JUnit and KCIDB files.
#
# CI runs it in parts, job for job (.github/workflows/lab.yml), narrowed by:
#   TEST_PARTS   all (default), host (the set-up and the host tests), or lab (each kernel's
#                checks, module builds and lab tests)
#   TEST_SHARD   M/N: of the lab's tests, only the M-th of N parts (nextest --partition hash:M/N)
# `scripts/make/test.sh --plan` prints the steps it would run, one `NAME: COMMAND` a line, and runs
# nothing (make test-plan; a host test compares the workflow's jobs with it).
set -uo pipefail
. "$(dirname "$0")/../env.sh"
cd "$REPO_ROOT"

kernels=("${KERNELS[@]}")
[[ ${TEST_KERNELS:-all} == all ]] || kernels=("$TEST_KERNELS")
parts=${TEST_PARTS:-all}
[[ $parts == @(all|host|lab) ]] || die "TESTS=$parts: all, host or lab"
shard=()
if [[ -n ${TEST_SHARD:-} ]]; then
    [[ $TEST_SHARD =~ ^([1-9][0-9]*)/([1-9][0-9]*)$ ]] && ((BASH_REMATCH[1] <= BASH_REMATCH[2])) \
        || die "SHARD=$TEST_SHARD: M/N, with 1 <= M <= N"
    shard=(--partition "hash:$TEST_SHARD")
fi
results=$LAB_OUT/test-results
if [[ ${1:-} == --plan ]]; then
    step() { local name=$2; shift 2; echo "$name: ${*//"$REPO_ROOT"/.}"; }
else
    rm -rf "$results"; mkdir -p "$results"
    scripts/setup/setup-host.sh --tests || exit 1
    (cd scripts && cargo build --quiet --workspace --tests) || exit 1
fi
export DRGN CI_PYTHON
if [[ $parts != lab ]]; then
    # The host crates' own tests, and their doc tests (which nextest does not run).
    step "$results" host nextest "$results" host --workspace \
        -E 'package(splat) | package(tsc-khz) | (package(lab) & kind(lib))'
    step "$results" host-doctests cargo test --quiet --manifest-path scripts/Cargo.toml --workspace --doc
fi
# Each kernel's checks and module build, one after the other (they share src/); each module is
# kept under scripts/out/ko/KERNEL/ for its VM tests.
ready=()
[[ $parts == host ]] && kernels=()
for k in "${kernels[@]}"; do
    step "$results" "$k-check" make -s --no-print-directory check KERNEL="$k"
    step "$results" "$k-module" keep_module "$k" || continue
    # The debug variant of the kernel (built the first time) and the module built against it, for
    # the tests of make diagnose and make gdb.
    step "$results" "$k-debug-module" keep_module "$k-debug" && ready+=("$k")
done
# The lab's tests (scripts/env.sh's lab_tests), kernel after kernel.
for k in "${ready[@]}"; do step "$results" "$k" lab_tests "$results" "$k" "$k" "${shard[@]}"; done
[[ ${1:-} == --plan ]] && exit 0

echo
echo "console logs of the VM tests: scripts/out/vm-logs/<kernel>/"
echo "every result: scripts/out/test-results/results.ktap (KTAP), results.kcidb.json (KCIDB),"
echo "JUnit (*.junit.xml) beside them"
scripts/target/debug/lab results "$results"
rc=$?
"$CI_PYTHON" scripts/lab/validate-results.py "$results"/*.junit.xml "$results/results.kcidb.json" \
    >/dev/null || rc=1
exit "$rc"
