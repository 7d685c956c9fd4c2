#!/usr/bin/env bash
# `make soak N=10`: proof that the lab's tests do not flake. Runs every lab test (the VM,
# scenario, stress and diagnose tests, all that `make test` runs after its checks) N times on each
# kernel series (or the one KERNEL= names), several guests at once as in `make test`
# (scripts/lab-tests.sh, LAB_JOBS); then the statistical tests (`#[ignore]` in
# scripts/lab/tests/soak.rs: the buggy AB-BA reported in every one of 20 fresh boots, the fixed
# one in none of 20); then the VM, scenario and stress tests once on the KCSAN variant of the
# default kernel (LAB_KCSAN=0 skips it). Every failure is listed with its console logs, kept under
# scripts/target/soak/RUN/. Ends with one line per kernel.
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

n=${N:-10}
[[ $n =~ ^[1-9][0-9]*$ ]] || die "soak: N must be a positive number, not '$n'"
kernels=("${KERNELS[@]}")
[[ ${TEST_KERNELS:-all} == all ]] || kernels=("$TEST_KERNELS")
out=$REPO_ROOT/scripts/target/soak
rm -rf "$out"; mkdir -p "$out"
(cd scripts && cargo build --quiet --workspace --tests) || exit 1
export SPLAT=$REPO_ROOT/scripts/target/debug/splat
scripts/setup-host.sh --drgn >/dev/null || exit 1
export DRGN
for k in "${kernels[@]}"; do keep_module "$k" && keep_module "$k-debug" || exit 1; done
declare -A failures
for k in "${kernels[@]}"; do failures[$k]=0; done

# run LABEL TARGET...: one run of scripts/lab-tests.sh; for each target that failed, says which
# tests and keeps their output and console logs in scripts/target/soak/LABEL/.
run() {
    local label=$1 t; shift
    scripts/lab-tests.sh "$out/$label" "$@"
    for t in "$@"; do
        if [[ $(cat "$out/$label/$t.rc") == 0 ]]; then
            printf '  %-10s %-11s ok\n' "$t" "$label"
            continue
        fi
        failures[${t%%-*}]=$((${failures[${t%%-*}]} + 1))
        cp -r "scripts/target/vm-logs/$t" "$out/$label/vm-logs-$t"
        printf '  %-10s %-11s FAILED: %s\n' "$t" "$label" \
            "$(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$out/$label/$t.out" | sort -u | tr '\n' ' ')"
        echo "                         output and console logs: scripts/target/soak/$label/"
    done
}

log "soak: every lab test $n times on ${kernels[*]}, then 20 fresh boots buggy and 20 fixed"
start=$SECONDS
for i in $(seq 1 "$n"); do run "run-$i" "${kernels[@]}"; done
LAB_TESTS=soak LAB_IGNORED=1 run statistics "${kernels[@]}"
for k in "${kernels[@]}"; do grep -ho 'soak: kernel .*' "$out/statistics/$k.out"; done
elapsed=$((SECONDS - start))

# Once more on the KCSAN variant of the default kernel (the data-race detector), when it is one
# of the kernels soaked: built the first time (about 11 minutes), then the VM, scenario and stress
# tests.
kcsan=""
k=${KERNELS[0]}
if [[ ${LAB_KCSAN:-1} == 1 && " ${kernels[*]} " == *" $k "* ]]; then
    log "soak: the VM, scenario and stress tests on the KCSAN variant of $k"
    keep_module "$k-kcsan" || exit 1
    LAB_TESTS="vm scenarios stress" run kcsan "$k-kcsan"
    races=$(cat "scripts/target/vm-logs/$k-kcsan/"*.log | grep -c 'BUG: KCSAN:')
    # No report counts only if the detector ran: one more guest of the variant reads its own
    # counters, which must say it is enabled and has set up watchpoints.
    env KERNEL="$k" LAB_VARIANT=kcsan LAB_MODULE="scripts/target/ko/$k-kcsan/rust_deadlock.ko" \
        scripts/vm.sh --quiet --log "$out/kcsan/counters.log" -- \
        'mount -t debugfs debugfs /sys/kernel/debug; cat /sys/kernel/debug/kcsan' >/dev/null 2>&1
    watchpoints=$(sed -n 's/^\[[ 0-9.]*\] setup_watchpoints: \([0-9]*\)$/\1/p' "$out/kcsan/counters.log")
    grep -q '^\[[ 0-9.]*\] enabled: 1$' "$out/kcsan/counters.log" && ((${watchpoints:-0} > 0)) \
        || { races=unknown; watchpoints="none (scripts/target/soak/kcsan/counters.log)"; }
    kcsan="soak $k-kcsan: VM, scenario and stress tests $( [[ $(cat "$out/kcsan/$k-kcsan.rc") == 0 ]] && echo ok || echo FAILED), $races KCSAN report(s); KCSAN's watchpoints set up in one guest: $watchpoints"
    [[ $races == 0 ]] || { failures[$k]=$((${failures[$k]} + 1)); cp -r "scripts/target/vm-logs/$k-kcsan" "$out/kcsan/"; }
    make -s --no-print-directory module KERNEL="$k" >/dev/null || exit 1
fi

echo
status=0
for k in "${kernels[@]}"; do
    echo "soak $k: $n runs of every lab test and the 20-boot statistics, ${failures[$k]} failed"
    ((${failures[$k]} == 0)) || status=1
done
[[ -z $kcsan ]] || echo "$kcsan"
echo "soak: $n runs in $((elapsed / 60)) min $((elapsed % 60)) s, $(cat "$out"/run-1/jobs/list | wc -l) tests a run"
exit "$status"
