#!/usr/bin/env bash
# `make bench`: where the time goes, measured in one run (compare them as ratios: machines are
# noisy), for every kernel series of scripts/env.sh.
#
#   boot K          a guest of kernel K that boots and powers off at once (scripts/vm.sh -- true)
#   warm run K      `make run KERNEL=K` with everything built
#   test suite      `make test` (both kernels) with everything built, several guests at once
#                   (scripts/lab-tests.sh: LAB_JOBS, by default twice the CPUs)
#   test serial     the same, one guest at a time (LAB_JOBS=1), for comparison
#   report times K  per scenario, the guest time from insmod to the kernel's first report
#   cold run K      (--cold) `make run KERNEL=K` from an empty cache: fetching the source, bindgen,
#                   the kernel build, then the demo (Debian packages already installed)
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

results=()
measure() {
    local name=$1; shift
    local start=$EPOCHREALTIME
    "$@" >/dev/null 2>&1 || die "bench: '$*' failed"
    local secs
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    results+=("$name|$secs")
    printf '  %-16s %7s s\n' "$name" "$secs" >&2
}

log "measuring (this boots many guests)"
for k in "${KERNELS[@]}"; do
    make -s module KERNEL="$k" >/dev/null
    measure "boot $k" env KERNEL="$k" scripts/vm.sh --quiet -- true
    measure "warm run $k" make -s run KERNEL="$k"
    echo "  report times $k (guest clock, insmod to the first report):" >&2
    env KERNEL="$k" LAB_MODULE="$REPO_ROOT/src/rust_deadlock.ko" scripts/target/release/lab report-times \
        | sed 's/^/    /' >&2
done
# Without the KERNEL that `make bench` exports, `make test` tests every kernel.
measure "test suite" env -u KERNEL -u TEST_KERNELS make -s test
measure "test serial" env -u KERNEL -u TEST_KERNELS LAB_JOBS=1 make -s test
if [[ ${1:-} == --cold ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    for k in "${KERNELS[@]}"; do
        measure "cold run $k" env RUST_DEADLOCK_CACHE="$tmp/$k" make -s run KERNEL="$k"
    done
    make -s module >/dev/null
fi

boot=${results[0]#*|}
echo
printf '%-16s %8s %10s\n' step seconds "x boot ${KERNELS[0]}"
for r in "${results[@]}"; do
    printf '%-16s %8s %10s\n' "${r%%|*}" "${r#*|}" "$(awk -v s="${r#*|}" -v b="$boot" 'BEGIN { printf "%.1f", s / b }')"
done
