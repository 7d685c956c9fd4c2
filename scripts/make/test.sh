#!/usr/bin/env bash
# `make test`: the host tests once; then, for each kernel series (all of scripts/env.sh's KERNELS,
# or the one TEST_KERNELS names): the zero-warning checks, the module build (also against the
# debug variant of the kernel, for make diagnose's tests), and the lab's tests: the module file
# and the VM tests of scripts/lab/tests/, one fresh guest each (the module's KUnit suite among
# them), LAB_JOBS guests at once. The first kernel's lab tests start once its modules are built;
# the host tests and the other steps run beside them (their output is printed afterwards). The tests run under cargo-nextest (scripts/.config/nextest.toml),
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
plan=""
if [[ ${1:-} == --plan ]]; then
    plan=1
    step() { local name=$2; shift 2; echo "$name: ${*//"$REPO_ROOT"/.}"; }
else
    rm -rf "$results"; mkdir -p "$results"
    scripts/setup/setup-host.sh --tests || exit 1
    (cd scripts && cargo build --quiet --workspace --tests) || exit 1
fi
export DRGN CI_PYTHON
[[ $parts == host ]] && kernels=()
[[ $parts == lab ]] || host_steps=1
# The steps that need no guest: the host crates' tests, and each kernel's checks and module builds
# (one after the other: they share src/, and the module the check builds is then kept as it is;
# each module is kept under scripts/out/ko/KERNEL/ for its VM tests, and the debug variant's,
# built the first time, for the tests of make diagnose and make gdb). The first kernel's come
# first; the rest runs beside its lab tests, which leave part of the CPUs free, and its output is
# printed after theirs.
modules() {
    step "$results" "$1-check" check_once "$1"
    step "$results" "$1-module" keep_module "$1" && step "$results" "$1-debug-module" keep_module "$1-debug"
}
# check_once K: `make check KERNEL=K`, unless it passed before with everything it reads unchanged:
# the repository's files (all that git does not ignore), the kernel build the module is compiled
# against (its directory carries its key) and the Rust tools' versions. Where git cannot list the
# files, the check runs. A warm make test skips the rebuild of the module under clippy.
check_once() {
    local passed=$LAB_OUT/checked/$1 inputs key=""
    if inputs=$(git ls-files -co --exclude-standard -z | xargs -0 sha256sum \
        && KERNEL=$1 scripts/setup/build-kernel.sh --dir && rustc -vV && cargo clippy -V && rustfmt -V)
    then
        key=$(sha256sum <<< "$inputs")
    fi
    if [[ -n $key && -f $passed && $(< "$passed") == "$key" ]]; then
        echo "unchanged since it last passed: not run again"
        return 0
    fi
    make -s --no-print-directory check KERNEL="$1" || return
    [[ -z $key ]] || { mkdir -p "${passed%/*}" && echo "$key" > "$passed"; }
}
the_rest() {
    if [[ -n ${host_steps:-} ]]; then
        # The host crates' own tests, and their doc tests (which nextest does not run).
        step "$results" host nextest "$results" host host --workspace \
            -E 'package(splat) | package(tsc-khz) | (package(lab) & kind(lib))'
        step "$results" host-doctests cargo test --quiet --manifest-path scripts/Cargo.toml --workspace --doc
    fi
    local k
    for k in "${kernels[@]:1}"; do modules "$k"; done
}
# lab K: the lab's tests of kernel K (scripts/env.sh's lab_tests), if its modules were built.
lab() {
    [[ -n $plan ]] || grep -qx "$1-debug-module 0" "$results/steps" || return 0
    step "$results" "$1" lab_tests "$results" "$1" "$1" "${shard[@]}"
}
if [[ -n $plan || ${#kernels[@]} == 0 ]]; then
    ((${#kernels[@]} == 0)) || modules "${kernels[0]}"
    the_rest
    for k in "${kernels[@]}"; do lab "$k"; done
else
    modules "${kernels[0]}"
    rest_log=$results/beside-${kernels[0]}.log
    the_rest > "$rest_log" 2>&1 &
    rest=$!
    lab "${kernels[0]}"
    wait "$rest"
    printf '\n\033[1m==> beside the %s tests:\033[0m\n' "${kernels[0]}"
    cat "$rest_log"
    for k in "${kernels[@]:1}"; do lab "$k"; done
fi
[[ -n $plan ]] && exit 0

echo
echo "console logs of the VM tests: scripts/out/vm-logs/<kernel>/"
echo "every result: scripts/out/test-results/results.ktap (KTAP), results.kcidb.json (KCIDB),"
echo "JUnit (*.junit.xml) beside them"
scripts/target/debug/lab results "$results"
rc=$?
"$CI_PYTHON" scripts/lab/validate-results.py "$results"/*.junit.xml "$results/results.kcidb.json" \
    >/dev/null || rc=1
exit "$rc"
