#!/usr/bin/env bash
# `make test`: splat's host tests once; then, for each kernel series (all of scripts/env.sh's
# KERNELS, or the one TEST_KERNELS names): the zero-warning checks, the module build (also against
# the debug variant of the kernel, for make diagnose's tests), and the lab's
# tests (the module file, then the VM tests in scripts/lab/tests/, one fresh guest each, including
# the module's KUnit suite), several guests at once from both kernels. Ends with one summary line,
# the failures by kernel, and one KTAP file of every result.
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

kernels=("${KERNELS[@]}")
[[ ${TEST_KERNELS:-all} == all ]] || kernels=("$TEST_KERNELS")
results=$REPO_ROOT/scripts/target/test-results
rm -rf "$results"; mkdir -p "$results"
status=0

# suite NAME CMD...: runs CMD, keeps its output as $results/NAME.out, remembers a failure.
suite() {
    local name=$1; shift
    printf '\n\033[1m==> %s\033[0m\n' "$name"
    "$@" 2>&1 | tee "$results/$name.out"
    local rc=${PIPESTATUS[0]}
    echo "$rc" > "$results/$name.rc"
    ((rc == 0)) || status=1
}

(cd scripts && cargo build --quiet --workspace --tests) || exit 1
export SPLAT=$REPO_ROOT/scripts/target/debug/splat
suite host cargo test --manifest-path scripts/Cargo.toml -p splat -p tsc-khz --no-fail-fast
# Each kernel's checks and module build, one after the other (they share src/); each module is
# kept under scripts/target/ko/KERNEL/ for its VM tests.
ready=()
for k in "${kernels[@]}"; do
    suite "$k-check" make -s --no-print-directory check KERNEL="$k"
    suite "$k-module" keep_module "$k"
    [[ $(cat "$results/$k-module.rc") == 0 ]] || continue
    ready+=("$k")
    # The debug variant of the kernel (built the first time) and the module built against it, for
    # the tests of make diagnose and make gdb.
    suite "$k-debug-module" keep_module "$k-debug"
done
suite drgn scripts/setup-host.sh --drgn
export DRGN
# The lab's tests on every kernel that built, every test a job of its own, several guests at once
# (scripts/lab-tests.sh; LAB_JOBS=1: one at a time).
if ((${#ready[@]})); then
    printf '\n\033[1m==> lab tests on %s, %s jobs at once\033[0m\n' "${ready[*]}" "$LAB_JOBS"
    scripts/lab-tests.sh "$results" "${ready[@]}" || status=1
    for k in "${ready[@]}"; do printf '\n\033[1m==> %s\033[0m\n' "$k"; cat "$results/$k.out"; done
fi

echo
echo "console logs of the VM tests: scripts/target/vm-logs/<kernel>/"
"$REPO_ROOT/scripts/ktap.sh" "$results" > "$results/results.ktap"
echo "every result, as KTAP: scripts/target/test-results/results.ktap"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "summary: %d passed, %d failed\n", p, f }' "$results"/*.out
for f in "$results"/*.rc; do
    name=$(basename "$f" .rc)
    [[ $(cat "$f") == 0 ]] && continue
    failed=$(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$results/$name.out" | sort -u)
    if [[ -n $failed ]]; then sed "s/^/FAILED [$name] /" <<< "$failed"; else echo "FAILED [$name]"; fi
done
exit "$status"
