#!/usr/bin/env bash
# `make soak N=10`: proof that the VM tests do not flake. Runs the whole VM suite N times on each
# kernel series (or the one KERNEL= names), then the statistical tests (`--ignored` in
# scripts/lab/tests/soak.rs: the buggy AB-BA reported in every one of 20 fresh boots, the fixed
# one in none of 20). Every failure is listed with its console log, kept under
# scripts/target/soak/RUN/KERNEL/. Ends with one line per kernel: runs, failures.
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
declare -A failures=()

# run_suite KERNEL LABEL CARGO-TEST-ARGS...: one suite run; on failure keep its logs and say so.
run_suite() {
    local k=$1 label=$2; shift 2
    local dir=$out/$label/$k
    mkdir -p "$dir"
    if env KERNEL="$k" cargo test --quiet --manifest-path scripts/Cargo.toml -p lab "$@" \
        > "$dir/cargo.out" 2>&1; then
        printf '  %-10s %-5s ok\n' "$label" "$k"
        grep -h '^soak: ' "$dir/cargo.out"
        rm -rf "$dir"
    else
        failures[$k]=$(( ${failures[$k]:-0} + 1 ))
        cp -r "scripts/target/vm-logs/$k/." "$dir/"
        printf '  %-10s %-5s FAILED: %s\n' "$label" "$k" \
            "$(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$dir/cargo.out" | sort -u | tr '\n' ' ')"
        echo "             output and console logs: scripts/target/soak/$label/$k/"
    fi
}

for k in "${kernels[@]}"; do
    make -s --no-print-directory module KERNEL="$k" || exit 1
    mkdir -p "scripts/target/ko/$k"; cp src/rust_deadlock.ko "scripts/target/ko/$k/"
done
log "soak: the VM suite $n times on ${kernels[*]}"
for i in $(seq 1 "$n"); do
    for k in "${kernels[@]}"; do
        LAB_MODULE=$REPO_ROOT/scripts/target/ko/$k/rust_deadlock.ko \
            run_suite "$k" "run-$i" --test vm -- --test-threads=1
    done
done
log "soak: 20 fresh boots buggy, 20 fixed, per kernel"
for k in "${kernels[@]}"; do
    LAB_MODULE=$REPO_ROOT/scripts/target/ko/$k/rust_deadlock.ko \
        run_suite "$k" statistics --test soak -- --ignored --nocapture --test-threads=1
done
echo
status=0
for k in "${kernels[@]}"; do
    echo "soak $k: $n suite runs, ${failures[$k]:-0} failed"
    ((${failures[$k]:-0} == 0)) || status=1
done
exit "$status"
