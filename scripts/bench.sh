#!/usr/bin/env bash
# `make bench`: where the time goes, measured in one run (compare them as ratios: machines are
# noisy). With --cold, also a cold set-up: a kernel build into an empty temporary cache.
#
#   boot          a guest that boots and powers off at once (scripts/vm.sh -- true)
#   warm run      `make run` with everything built
#   test suite    `make test` with everything built
#   cold kernel   (--cold) the kernel build alone, from an empty cache
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
    printf '  %-12s %7s s\n' "$name" "$secs" >&2
}

log "measuring (this boots several guests)"
measure boot scripts/vm.sh --quiet -- true
measure "warm run" make -s run
measure "test suite" make -s test
if [[ ${1:-} == --cold ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    measure "cold kernel" env RUST_DEADLOCK_CACHE="$tmp" scripts/build-kernel.sh
fi

boot=${results[0]#*|}
echo
printf '%-12s %8s %10s\n' step seconds "x boot"
for r in "${results[@]}"; do
    printf '%-12s %8s %10s\n' "${r%%|*}" "${r#*|}" "$(awk -v s="${r#*|}" -v b="$boot" 'BEGIN { printf "%.1f", s / b }')"
done
