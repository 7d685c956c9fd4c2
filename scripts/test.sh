#!/usr/bin/env bash
# `make test`: every host test (splat's unit, fixture and property tests) and every VM test
# (scripts/lab/tests/vm.rs, one fresh guest each), then one summary line.
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$REPO_ROOT/scripts"

cargo build --quiet --workspace || exit 1
export SPLAT=$REPO_ROOT/scripts/target/debug/splat
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# One VM at a time: the guests are timed (hung-task detector, rmmod) and the machine has 2 cores.
cargo test --workspace --no-fail-fast -- --test-threads=1 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
echo "console logs of the VM tests: scripts/target/vm-logs/"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "summary: %d passed, %d failed\n", p, f }' "$out"
exit "$status"
