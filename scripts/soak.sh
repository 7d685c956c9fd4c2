#!/usr/bin/env bash
# `make soak N=10`: proof that the VM tests do not flake. Runs the VM, scenario and stress suites N times on
# each kernel series (or the one KERNEL= names), then the statistical tests (`--ignored` in
# scripts/lab/tests/soak.rs: the buggy AB-BA reported in every one of 20 fresh boots, the fixed
# one in none of 20). Every failure is listed with its console log, kept under
# scripts/target/soak/KERNEL/RUN/. The kernels run side by side. Then the VM and stress suites
# once on the KCSAN variant of the default kernel (LAB_KCSAN=0 skips it). Ends with one line per
# kernel.
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
vm_bin=$(lab_test_bins vm) scenarios_bin=$(lab_test_bins scenarios)
stress_bin=$(lab_test_bins stress) soak_bin=$(lab_test_bins soak)

# run_suite KERNEL LABEL BINARY ARGS...: one run; on failure keep its console logs and say so.
run_suite() {
    local k=$1 label=$2 dir=$out/$k/$2; shift 2
    mkdir -p "$dir"
    if env KERNEL="$k" LAB_MODULE="$REPO_ROOT/scripts/target/ko/$k/rust_deadlock.ko" "$@" \
        > "$dir/test.out" 2>&1; then
        printf '  %-5s %-10s ok\n' "$k" "$label"
        grep -o 'soak: kernel .*' "$dir/test.out"
        rm -rf "$dir"
    else
        cp -r "scripts/target/vm-logs/$k/." "$dir/"
        printf '  %-5s %-10s FAILED: %s\n' "$k" "$label" \
            "$(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$dir/test.out" | sort -u | tr '\n' ' ')"
        echo "              output and console logs: scripts/target/soak/$k/$label/"
        return 1
    fi
}

# soak_kernel KERNEL: N suite runs, then the statistics; prints "KERNEL FAILURES" last.
soak_kernel() {
    local k=$1 failed=0 i
    for i in $(seq 1 "$n"); do
        run_suite "$k" "run-$i" "$vm_bin" --test-threads=1 || failed=$((failed + 1))
        run_suite "$k" "scenarios-$i" "$scenarios_bin" --test-threads=1 || failed=$((failed + 1))
        run_suite "$k" "stress-$i" "$stress_bin" --test-threads=1 || failed=$((failed + 1))
    done
    run_suite "$k" statistics "$soak_bin" --ignored --nocapture --test-threads=1 \
        || failed=$((failed + 1))
    echo "soak $k: $n suite runs and the 20-boot statistics, $failed failed"
    ((failed == 0))
}

for k in "${kernels[@]}"; do
    make -s --no-print-directory module KERNEL="$k" || exit 1
    mkdir -p "scripts/target/ko/$k"; cp src/rust_deadlock.ko "scripts/target/ko/$k/"
done
log "soak: the VM suite $n times, then 20 fresh boots buggy and 20 fixed, on ${kernels[*]} side by side"
pids=()
for k in "${kernels[@]}"; do
    soak_kernel "$k" > "$out/$k.log" 2>&1 &
    pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
for k in "${kernels[@]}"; do cat "$out/$k.log"; done

# Once more on the KCSAN variant of the default kernel (the data-race detector), when it is one
# of the kernels soaked: built the first time (about 8 minutes), then the VM and stress tests.
k=${KERNELS[0]}
if [[ ${LAB_KCSAN:-1} == 1 && " ${kernels[*]} " == *" $k "* ]]; then
    log "soak: the VM and stress tests on the KCSAN variant of $k"
    export LAB_VARIANT=kcsan
    make -s --no-print-directory module KERNEL="$k" || exit 1
    mkdir -p "scripts/target/ko/$k-kcsan"; cp src/rust_deadlock.ko "scripts/target/ko/$k-kcsan/"
    make -s --no-print-directory module KERNEL="$k" LAB_VARIANT= >/dev/null || exit 1
    dir=$out/$k-kcsan
    mkdir -p "$dir"
    failed=0
    for t in "$vm_bin" "$scenarios_bin" "$stress_bin"; do
        env KERNEL="$k" LAB_MODULE="$REPO_ROOT/scripts/target/ko/$k-kcsan/rust_deadlock.ko" \
            "$t" --test-threads=1 >> "$dir/test.out" 2>&1 || failed=1
    done
    races=$(cat "scripts/target/vm-logs/$k-kcsan/"*.log | grep -c 'BUG: KCSAN:')
    echo "soak $k-kcsan: VM and stress tests $( ((failed)) && echo FAILED || echo ok), $races KCSAN report(s)"
    if ((failed || races)); then
        status=1; cp -r "scripts/target/vm-logs/$k-kcsan/." "$dir/"
        echo "              output and console logs: scripts/target/soak/$k-kcsan/"
    fi
fi
exit "$status"
