#!/usr/bin/env bash
# `make bench`: where the time goes, measured in one run (compare them as ratios: machines are
# noisy), for every kernel series of scripts/env.sh.
#
#   boot K          a guest of kernel K that boots and powers off at once (scripts/vm.sh -- true)
#   warm run K      `make run KERNEL=K` with everything built
#   test suite      `make test` (both kernels) with everything built, several guests at once
#                   (scripts/lab-tests.sh: LAB_JOBS, by default one per CPU)
#   test serial     the same, one guest at a time (LAB_JOBS=1), for comparison; the ratio of the
#                   two, and the floor that ratio has on this machine (the serial CPU time over
#                   all the cores, against the serial wall time)
#   report times K  per scenario, the guest time from insmod to the kernel's first report
#   cold run K      (--cold) `make run KERNEL=K` from an empty cache: fetching the source, bindgen,
#                   the kernel build, then the demo (Debian packages already installed)
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

# cpu_secs: the CPU time (user and system) of this shell's finished children, in seconds, as
# `times` said it last: its second line, "XmY.YYYs XmY.YYYs". The builtin must run in this shell
# itself (in a subshell it would count the subshell's children): hence the file.
cpu_file=$(mktemp)
trap 'rm -f "$cpu_file"' EXIT
cpu_secs() {
    awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, "m"); s += t[1] * 60 + t[2] } print s }' "$cpu_file"
}

# measure NAME CMD...: runs CMD, prints and keeps its wall time and CPU time (all its processes).
results=()
measure() {
    local name=$1; shift
    local start=$EPOCHREALTIME cpu0 secs cpu
    times > "$cpu_file"
    cpu0=$(cpu_secs)
    "$@" >/dev/null 2>&1 || die "bench: '$*' failed"
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    times > "$cpu_file"
    cpu=$(awk -v a="$cpu0" -v b="$(cpu_secs)" 'BEGIN { printf "%.1f", b - a }')
    results+=("$name|$secs|$cpu")
    printf '  %-16s %7s s  %7s s of CPU\n' "$name" "$secs" "$cpu" >&2
}
value() { # value NAME FIELD: a field (2 wall, 3 CPU) of NAME's result
    local r
    for r in "${results[@]}"; do
        if [[ ${r%%|*} == "$1" ]]; then cut -d'|' -f"$2" <<< "$r"; fi
    done
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
    trap 'rm -rf "$tmp" "$cpu_file"' EXIT
    for k in "${KERNELS[@]}"; do
        measure "cold run $k" env RUST_DEADLOCK_CACHE="$tmp/$k" make -s run KERNEL="$k"
    done
    make -s module >/dev/null
fi

boot=$(value "boot ${KERNELS[0]}" 2)
echo
printf '%-16s %8s %8s %10s\n' step seconds CPU-s "x boot ${KERNELS[0]}"
for r in "${results[@]}"; do
    IFS='|' read -r name secs cpu <<< "$r"
    printf '%-16s %8s %8s %10s\n' "$name" "$secs" "$cpu" "$(awk -v s="$secs" -v b="$boot" 'BEGIN { printf "%.1f", s / b }')"
done
# Several guests at once against one at a time. No schedule on this machine's cores can take
# less wall time than the suite's CPU time spread over all of them: that is the floor the ratio
# can reach here, whatever LAB_JOBS is.
awk -v par="$(value "test suite" 2)" -v ser="$(value "test serial" 2)" -v cpu="$(value "test serial" 3)" \
    -v cores="$(nproc)" 'BEGIN {
        printf "\ntest suite / test serial = %.2f; one guest at a time keeps %.2f cores busy, so on %d cores no schedule goes below %.2f\n",
            par / ser, cpu / ser, cores, cpu / cores / ser }'
