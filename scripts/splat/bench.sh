#!/usr/bin/env bash
# splat's throughput and peak memory on two generated logs.
#
#   scripts/splat/bench.sh [MB] [SPLAT_BINARY]
#
# chatter: MB megabytes (default 400) of ordinary kernel chatter with every fixture report
# mixed in every few MB; dense: DENSE_MB megabytes (default 100) of nothing but reports, the
# fixtures and the real-world corpus concatenated over and over, as a crash archive is. Both
# are written to a temporary directory and removed afterwards. splat runs twice on each (text,
# --json) and once in --summary mode; each run prints MB/s and the peak resident memory (max
# RSS from /usr/bin/time -v). Without SPLAT_BINARY, the release build of this tree is used
# (built first).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mb=${1:-400}
dense_mb=${DENSE_MB:-100}
bin=${2:-}
if [[ -z $bin ]]; then
    (cd "$here/.." && cargo build -q --release -p splat)
    bin=${CARGO_TARGET_DIR:-$here/../target}/release/splat
fi
[[ -x /usr/bin/time ]] || { echo "bench: /usr/bin/time is needed (Debian: apt-get install time)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log=$tmp/console.log
dense=$tmp/dense.log

# One chunk of about 1 MB: boot-style chatter with timestamps, then one fixture report.
awk 'BEGIN {
    srand(1)
    split("usb 1-1: new high-speed USB device number 2 using xhci_hcd|EXT4-fs (vda1): mounted filesystem with ordered data mode. Quota mode: none.|systemd[1]: Started Journal Service.|audit: type=1400 audit(1700000000.123:42): apparmor=\"STATUS\" operation=\"profile_load\" name=\"lsb_release\" pid=312 comm=\"apparmor_parser\"|e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx|IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready|random: crng init done|Freeing unused kernel image (initmem) memory: 2748K|ata1.00: configured for UDMA/100|sd 0:0:0:0: [sda] Attached SCSI disk|[drm] Initialized i915 1.6.0 20201103 for 0000:00:02.0 on minor 0|perf: interrupt took too long (2502 > 2500), lowering kernel.perf_event_max_sample_rate to 79750", msg, "|")
    t = 0
    for (i = 0; i < 9000; i++) {
        t += rand() / 50
        printf "[%12.6f] %s\n", t, msg[1 + int(rand() * 12)]
    }
}' > "$tmp/chatter"
fixtures=("$here"/tests/fixtures/*.log)
chunk_bytes=0
for f in "${fixtures[@]}"; do
    cat "$tmp/chatter" "$f" >> "$tmp/chunk"
done
chunk_bytes=$(stat -c %s "$tmp/chunk")
target=$((mb * 1024 * 1024))
: > "$log"
while (( $(stat -c %s "$log") < target )); do cat "$tmp/chunk" >> "$log"; done
size=$(stat -c %s "$log")
echo "chatter log: $((size / 1024 / 1024)) MB ($(wc -l < "$log") lines, one chunk of $((chunk_bytes / 1024)) KB repeated)"

# The dense log: every fixture and corpus report, back to back, repeated.
cat "$here"/tests/fixtures/*.log "$here"/tests/corpus/*.log > "$tmp/reports"
: > "$dense"
while (( $(stat -c %s "$dense") < dense_mb * 1024 * 1024 )); do cat "$tmp/reports" >> "$dense"; done
dense_size=$(stat -c %s "$dense")
echo "dense log: $((dense_size / 1024 / 1024)) MB ($(wc -l < "$dense") lines, $(grep -c '' "$tmp/reports") lines of reports repeated)"

run() {
    local name=$1 file=$2; shift 2
    cat "$file" > /dev/null # warm the page cache
    /usr/bin/time -v -o "$tmp/time" "$@" "$file" > /dev/null || [[ $? == 1 ]]
    awk -v name="$name" -v size="$(stat -c %s "$file")" '
        /Elapsed \(wall clock\)/ { n = split($NF, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
        /Maximum resident set size/ { rss = $NF }
        END { printf "%-16s %8.1f MB/s %8.1f s %8.1f MB peak RSS\n", name, size / 1048576 / s, s, rss / 1024 }' "$tmp/time"
}
for which in chatter dense; do
    file=$log
    [[ $which == dense ]] && file=$dense
    run "$which text" "$file" "$bin"
    run "$which json" "$file" "$bin" --json
    if "$bin" --help | grep -q -- --summary; then
        run "$which summary" "$file" "$bin" --summary
    fi
done
