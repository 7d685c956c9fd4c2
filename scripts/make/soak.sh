#!/usr/bin/env bash
# `make soak N=10`: proof that the lab's tests do not flake. Runs every lab test (the VM,
# scenario, stress and diagnose tests, all that `make test` runs after its checks) N times on each
# kernel series (or the one KERNEL= names), LAB_JOBS guests at once as in `make test` (scripts/
# env.sh's lab_tests, under cargo-nextest); then the statistical tests (`#[ignore]` in
# scripts/lab/tests/soak.rs: the buggy AB-BA reported in every one of 20 fresh guests, the fixed
# one in none of 20); then the VM, scenario and stress tests once on the KCSAN variant of the
# default kernel (LAB_KCSAN=0 skips it). `lab results` lists every failure; the results (JUnit,
# KTAP) and the console logs of failed runs are kept under scripts/out/soak/.
set -uo pipefail
. "$(dirname "$0")/../env.sh"
cd "$REPO_ROOT"

n=${N:-10}
[[ $n =~ ^[1-9][0-9]*$ ]] || die "soak: N must be a positive number, not '$n'"
kernels=("${KERNELS[@]}")
[[ ${TEST_KERNELS:-all} == all ]] || kernels=("$TEST_KERNELS")
out=$LAB_OUT/soak
rm -rf "$out"; mkdir -p "$out"
scripts/setup/setup-host.sh --tests >/dev/null || exit 1
(cd scripts && cargo build --quiet --workspace --tests) || exit 1
export DRGN
for k in "${kernels[@]}"; do keep_module "$k" && keep_module "$k-debug" || exit 1; done

# run NAME TARGET [NEXTEST-ARGS...]: one run of the lab's tests on TARGET; when it fails, its
# console logs are kept in scripts/out/soak/NAME/.
run() {
    local name=$1 target=$2; shift 2
    step "$out" "$name" lab_tests "$out" "$name" "$target" "$@" && return
    mkdir -p "$out/$name"
    cp -r "$LAB_OUT/vm-logs/$target/." "$out/$name/"
}

log "soak: every lab test $n times on ${kernels[*]}, then 20 fresh guests buggy and 20 fixed"
start=$SECONDS
for i in $(seq 1 "$n"); do
    for k in "${kernels[@]}"; do run "run-$i-$k" "$k"; done
done
# The statistics print their counts ("soak: kernel 7.3: buggy AB-BA reported in 20 of 20 ...").
for k in "${kernels[@]}"; do
    LAB_TESTS='binary(soak)' run "statistics-$k" "$k" --run-ignored only --no-capture
done
elapsed=$((SECONDS - start))
# Once more on the KCSAN variant of the default kernel (the data-race detector), when it is one
# of the kernels soaked: built the first time (about 11 minutes), then the VM, scenario and stress
# tests.
kcsan=""
k=${KERNELS[0]}
if [[ ${LAB_KCSAN:-1} == 1 && " ${kernels[*]} " == *" $k "* ]]; then
    log "soak: the VM, scenario and stress tests on the KCSAN variant of $k"
    keep_module "$k-kcsan" || exit 1
    LAB_TESTS='binary(vm) | binary(scenarios) | binary(stress)' run kcsan "$k-kcsan"
    mkdir -p "$out/kcsan"
    races=$(cat "$LAB_OUT/vm-logs/$k-kcsan/"*.log | grep -c 'BUG: KCSAN:')
    # No report counts only if the detector ran: one more guest of the variant reads its own
    # counters, which must say it is enabled and has set up watchpoints.
    env KERNEL="$k" LAB_VARIANT=kcsan LAB_MODULE="$LAB_OUT/ko/$k-kcsan/rust_deadlock.ko" \
        scripts/guest/vm.sh --quiet --log "$out/kcsan/counters.log" -- \
        'mount -t debugfs debugfs /sys/kernel/debug; cat /sys/kernel/debug/kcsan' >/dev/null 2>&1
    watchpoints=$(sed -n 's/^\[[ 0-9.]*\] setup_watchpoints: \([0-9]*\)$/\1/p' "$out/kcsan/counters.log")
    grep -q '^\[[ 0-9.]*\] enabled: 1$' "$out/kcsan/counters.log" && ((${watchpoints:-0} > 0)) \
        || { races=unknown; watchpoints="none (scripts/out/soak/kcsan/counters.log)"; }
    kcsan="soak $k-kcsan: $races KCSAN report(s); KCSAN's watchpoints set up in one guest: $watchpoints"
    echo "kcsan-reports $([[ $races == 0 ]] && echo 0 || echo 1)" >> "$out/steps"
    [[ $races == 0 ]] || cp -r "$LAB_OUT/vm-logs/$k-kcsan/." "$out/kcsan/"
    make -s --no-print-directory module KERNEL="$k" >/dev/null || exit 1
fi

echo
[[ -z $kcsan ]] || echo "$kcsan"
echo "soak: $n runs of every lab test in $((elapsed / 60)) min $((elapsed % 60)) s"
scripts/target/debug/lab results "$out"
