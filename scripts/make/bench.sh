#!/usr/bin/env bash
# `make bench`: where the time goes, measured in one run (compare them as ratios: machines are
# noisy), for every kernel series of scripts/env.sh, with guests restored from the saved guest
# (the lab's default) and booted (LAB_SNAPSHOT=0) side by side.
#
#   save+run K      making the saved guest of kernel K (a boot to init, then QEMU's migration)
#                   and one run restored from it; and its size
#   boot K          a booted guest of kernel K that runs `true` and powers off (scripts/guest/vm.sh)
#   restore K       the same guest restored from the saved one
#   boot->cmd K     (and restore->cmd) from QEMU's start to the guest command starting
#   shell K         `make shell CMD=true KERNEL=K`: a restore with make's own work
#   warm booted K   `make run KERNEL=K` with everything built, the guest booted
#   warm run K      the same, restored
#   test booted     `make test` (both kernels) with everything built, booted guests
#   test suite      the same with restored guests (the default), with the CPU time of its guests
#                   (scripts/guest/vm.sh's LAB_CPU_LOG) and the tests whose guests took the most
#   report times K  per scenario, the guest time from insmod to the kernel's first report
#   cold run K      (--cold) `make run KERNEL=K` from an empty cache: fetching the source, bindgen,
#                   the kernel build, the saved guest, then the demo (Debian packages installed)
# scripts/make/bench.sh --quick leaves out the two `make test` runs (about 20 minutes).
#
# scripts/make/bench.sh --boots N: instead, N boots in a row of the $KERNEL guest as a saved guest is
# made (no `quiet`, early printk), each timed; a boot that hangs before init is caught within 20 s
# and booted again, and its console and vCPU addresses are kept in scripts/out/boots/.
set -euo pipefail
. "$(dirname "$0")/../env.sh"
cd "$REPO_ROOT"

# cpu_secs: this shell's CPU time and its finished children's, in seconds, as `times` said it
# last (scripts/env.sh's times_secs).
cpu_file=$(mktemp)
trap 'rm -f "$cpu_file"' EXIT
cpu_secs() { times_secs "$cpu_file"; }

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

# to_command NAME: the mean of the QEMU-start-to-command times vm.sh added to $timing, as a row.
timing=$(mktemp)
to_command() {
    results+=("$1|$(awk '{ s += $1 } END { printf "%.2f", s / NR }' "$timing")|")
    local secs=${results[-1]#*|}
    printf '  %-16s %7s s\n' "$1" "${secs%|}" >&2
    : > "$timing"
}

if [[ ${1:-} == --boots ]]; then
    n=${2:-20}
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "bench: --boots takes a number of boots"
    make -s module >/dev/null
    kept=$LAB_OUT/boots
    rm -rf "$kept"; mkdir -p "$kept"
    saved=$(mktemp -d)
    hung=0
    for i in $(seq 1 "$n"); do
        rm -rf "${saved:?}"/*
        LAB_SNAPSHOTS=$saved scripts/guest/vm.sh --quiet -- true 2> "$kept/$i.err" || die "bench: boot $i failed: $(cat "$kept/$i.err")"
        for f in "$saved"/*/boot-*; do [[ -e $f ]] && cp "$f" "$kept/$i-${f##*/}"; done
        hung=$((hung + $(grep -c 'printed nothing\|did not reach init\|ended before init' "$kept/$i.err" || true)))
        printf '  boot %3d: %s\n' "$i" "$(sed -n 's/.*at init ([^)]*): //p' "$kept/$i.err")" >&2
    done
    rm -rf "$saved"
    echo "$n boots of $KERNEL: $hung hung before init (consoles in scripts/out/boots/)"
    exit 0
fi

log "measuring (this starts many guests)"
for k in "${KERNELS[@]}"; do
    make -s module KERNEL="$k" >/dev/null
    # A saved guest made afresh, aside (its one run includes a restore).
    saved=$(mktemp -d)
    measure "save+run $k" env KERNEL="$k" LAB_SNAPSHOTS="$saved" scripts/guest/vm.sh --quiet -- true
    echo "  saved guest $k: RAM $(du -m "$saved"/*/ram | cut -f1) MB on disk, state $(du -k "$saved"/*/state | cut -f1) kB" >&2
    rm -rf "$saved"
    for i in 1 2 3; do measure "boot $k" env KERNEL="$k" LAB_SNAPSHOT=0 LAB_TIMING="$timing" scripts/guest/vm.sh --quiet -- true; done
    to_command "boot->cmd $k"
    for i in 1 2 3; do measure "restore $k" env KERNEL="$k" LAB_TIMING="$timing" scripts/guest/vm.sh --quiet -- true; done
    to_command "restore->cmd $k"
    for i in 1 2 3; do measure "shell $k" make -s shell KERNEL="$k" CMD=true; done
    measure "warm booted $k" env LAB_SNAPSHOT=0 make -s run KERNEL="$k"
    measure "warm run $k" make -s run KERNEL="$k"
    echo "  report times $k (guest clock, insmod to the first report):" >&2
    env KERNEL="$k" LAB_MODULE="$REPO_ROOT/src/rust_deadlock.ko" scripts/target/release/lab report-times \
        | sed 's/^/    /' >&2
done
rm -f "$timing"
# Without the KERNEL that `make bench` exports, `make test` tests every kernel.
if [[ ${1:-} != --quick ]]; then
    measure "test booted" env -u KERNEL -u TEST_KERNELS LAB_SNAPSHOT=0 make -s test
    cpu_log=$(mktemp)
    measure "test suite" env -u KERNEL -u TEST_KERNELS LAB_CPU_LOG="$cpu_log" make -s test
    # Where the suite's CPU went: the guests' share, and the tests whose guests took the most.
    awk '{ s += $1; n++; c[$2 " " $3] += $1 } END {
        printf "    %d guests, %.1f s of CPU; the tests whose guests took the most:\n", n, s
        for (t in c) printf "%.1f %s\n", c[t], t }' "$cpu_log" \
        | { IFS= read -r head; echo "$head"; sort -rn | head -n 12 | sed 's/^/      /'; } >&2
    rm -f "$cpu_log"
fi
if [[ ${1:-} == --cold ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp" "$cpu_file"' EXIT
    for k in "${KERNELS[@]}"; do
        measure "cold run $k" env RUST_DEADLOCK_CACHE="$tmp/$k" make -s run KERNEL="$k"
    done
    make -s module >/dev/null
fi

# Rows of the same name (three boots) are shown as their mean.
echo
printf '%-16s %8s %8s\n' step seconds CPU-s
for r in "${results[@]}"; do
    IFS='|' read -r name secs cpu <<< "$r"
    printf '%s|%s|%s\n' "$name" "$secs" "$cpu"
done | awk -F'|' '!($1 in n) { order[++k] = $1 } { n[$1]++; s[$1] += $2; c[$1] += $3; cpu[$1] = cpu[$1] || $3 != "" }
    END { for (i = 1; i <= k; i++) { x = order[i]
        printf "%-16s %8.2f %8s\n", x, s[x] / n[x], cpu[x] ? sprintf("%.1f", c[x] / n[x]) : "" } }'
[[ -z $(value "test suite" 2) ]] || awk -v r="$(value "test suite" 2)" -v b="$(value "test booted" 2)" \
    'BEGIN { printf "\ntest suite / test booted = %.2f\n", r / b }'
