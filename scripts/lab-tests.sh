#!/usr/bin/env bash
# scripts/lab-tests.sh OUT TARGET...: the lab's tests (scripts/lab/tests/) on each TARGET, a kernel
# series of scripts/env.sh (7.3) or a variant of one (7.3-kcsan). Every test is a job of its own
# (its own process, and for a VM test its own fresh guest); LAB_JOBS jobs run at once, from every
# TARGET together (default: one per CPU, scripts/env.sh; LAB_JOBS=1 runs one guest at a time).
# Jobs start longest first, by their durations in the previous run (scripts/target/test-times).
#
# LAB_TESTS="vm stress" narrows the run to those test files; LAB_IGNORED=1 runs only the tests
# marked #[ignore] (the soak's statistics), with their output.
# Writes OUT/TARGET.out (the output in the order of the files and tests, as `cargo test` prints
# it) and OUT/TARGET.rc, and exits non-zero if any test failed.
# Each TARGET's module must be at scripts/target/ko/TARGET/rust_deadlock.ko, and for the diagnose
# tests the module built against the debug variant at scripts/target/ko/SERIES-debug/.
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

(($# >= 2)) || die "usage: scripts/lab-tests.sh OUT TARGET..."
out=$1; shift
targets=("$@")
jobs=$LAB_JOBS
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "LAB_JOBS must be a positive number, not '$jobs'"
times=$REPO_ROOT/scripts/target/test-times
mkdir -p "$out/jobs"
touch "$times"

# shellcheck disable=SC2086 # LAB_TESTS is a list of names
mapfile -t bins < <(lab_test_bins ${LAB_TESTS:-})
# The saved-guest tests (restore.rs) have nothing to test where guests are booted.
if ! scripts/vm.sh --restores; then
    mapfile -t bins < <(printf '%s\n' "${bins[@]}" | grep -v '/restore-[0-9a-f]*$')
fi
((${#bins[@]})) || die "no lab test binaries (LAB_TESTS='${LAB_TESTS:-}')"
run_args=()
[[ ${LAB_IGNORED:-0} == 1 ]] && run_args=(--ignored --nocapture)

# tests BIN: the names of the tests BIN runs (without LAB_IGNORED, not the ignored ones).
tests() {
    if [[ ${LAB_IGNORED:-0} == 1 ]]; then
        "$1" --list --format terse --ignored
    else
        # --list names the ignored tests too; take them out.
        "$1" --list --format terse | grep -vxF -f <("$1" --list --format terse --ignored)
    fi | sed -n 's/: test$//p'
}

# job TARGET BIN TEST: one test, output in $out/jobs/TARGET/BIN/TEST.{out,rc,secs}.
job() {
    local target=$1 bin=$2 test=$3 series=${1%%-*} variant=""
    [[ $target == *-* ]] && variant=${target#*-}
    local base=$out/jobs/$target/$(basename "$bin")/$test start=$EPOCHREALTIME rc=0
    /usr/bin/time -f '%U %S' -o "$base.cpu" env KERNEL="$series" LAB_VARIANT="$variant" \
        LAB_MODULE="$REPO_ROOT/scripts/target/ko/$target/rust_deadlock.ko" \
        LAB_DEBUG_MODULE="$REPO_ROOT/scripts/target/ko/$series-debug/rust_deadlock.ko" \
        "$bin" --exact "$test" --test-threads=1 "${run_args[@]}" > "$base.out" 2>&1 || rc=$?
    echo "$rc" > "$base.rc"
    awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }' > "$base.secs"
}

# Each binary's tests, listed once: $out/jobs/BIN.tests.
for bin in "${bins[@]}"; do tests "$bin" > "$out/jobs/$(basename "$bin").tests"; done

# The jobs, "SECONDS TARGET BIN TEST", longest first (unknown ones first of all).
list=$out/jobs/list
for t in "${targets[@]}"; do
    for bin in "${bins[@]}"; do
        mkdir -p "$out/jobs/$t/$(basename "$bin")"
        while IFS= read -r test; do
            secs=$(awk -v k="$t $(basename "$bin" | sed 's/-[0-9a-f]*$//') $test" \
                '{ key = $2 " " $3 " " $4 } key == k { s = $1 } END { print s + 0 }' "$times")
            [[ $secs == 0 ]] && secs=100000
            echo "$secs $t $bin $test"
        done < "$out/jobs/$(basename "$bin").tests"
    done
done | sort -k1,1 -rn > "$list"

while read -r _ t bin test; do
    while (($(jobs -rp | wc -l) >= jobs)); do wait -n; done
    job "$t" "$bin" "$test" &
done < "$list"
wait

# Each target's output in file and test order; the durations for the next run's order.
status=0
new_times=$out/jobs/times
for t in "${targets[@]}"; do
    rc=0
    for bin in "${bins[@]}"; do
        name=$(basename "$bin") passed=0 failed=0 ignored=0 secs=0
        printf '     Running %s\n\n' "$name"
        while IFS= read -r test; do
            base=$out/jobs/$t/$name/$test
            # The job's own lines, without its one-test header and result line (summed below);
            # a failure's report keeps its paragraphs.
            if [[ $(cat "$base.rc") == 0 ]]; then
                sed '/^running 1 test$/d; /^test result: /d; /^$/d' "$base.out"
            else
                sed '/^running 1 test$/d; /^test result: /d' "$base.out" | cat -s
            fi
            # The harness's own count (a job that died before it counts as a failure).
            read -r p f i < <(sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' "$base.out"; echo 0 1 0)
            passed=$((passed + p)) failed=$((failed + f)) ignored=$((ignored + i))
            [[ $(cat "$base.rc") == 0 ]] || rc=1
            secs=$(awk -v a="$secs" -v b="$(cat "$base.secs")" 'BEGIN { print a + b }')
            echo "$(cat "$base.secs") $t ${name%-*} $test" >> "$new_times"
        done < "$out/jobs/$name.tests"
        printf '\ntest result: %s. %d passed; %d failed; %d ignored; 0 measured; 0 filtered out; finished in %ss (one job per test)\n\n' \
            "$( ((failed)) && echo FAILED || echo ok)" "$passed" "$failed" "$ignored" "$secs"
    done > "$out/$t.out"
    echo "$rc" > "$out/$t.rc"
    ((rc == 0)) || status=1
done
# Keep what this run did not measure (other targets, other test files).
[[ -f $new_times ]] && awk 'NR == FNR { seen[$2 " " $3 " " $4] = 1; print; next }
    !(($2 " " $3 " " $4) in seen)' "$new_times" "$times" > "$times.new" && mv "$times.new" "$times"
exit "$status"
