#!/usr/bin/env bash
# scripts/ktap.sh DIR: the results scripts/test.sh left in DIR as one KTAP document (the kernel's
# test result format, Documentation/dev-tools/ktap.rst), for kernel CI systems: one subtest per
# suite (host, then per kernel: checks, module build, lab tests), one line per Rust test, and the
# module's own KUnit results (vm-logs/KERNEL/kunit.ktap) nested under their kernel.
set -euo pipefail
dir=$1
logs=$(cd "$(dirname "$0")" && pwd)/target/vm-logs
mapfile -t suites < <(for f in "$dir"/*.rc; do basename "$f" .rc; done | sort -t- -k1,1 -s)
echo "KTAP version 1"
echo "1..${#suites[@]}"
n=0
for s in "${suites[@]}"; do
    n=$((n + 1))
    echo "    KTAP version 1"
    echo "    # Subtest: $s"
    kunit=""
    [[ $s == *-* || $s == host ]] || kunit=$logs/$s/kunit.ktap
    awk -v kunit="$kunit" -v rc="$(cat "$dir/$s.rc")" '
        /^test .* \.\.\. (ok|FAILED|ignored)$/ {
            name = $0; sub(/^test /, "", name); sub(/ \.\.\. [a-zA-Z]+$/, "", name)
            r = $NF; i++
            if (r == "ok") line[i] = "ok " i " " name
            else if (r == "ignored") line[i] = "ok " i " " name " # SKIP"
            else line[i] = "not ok " i " " name
        }
        END {
            extra = 0
            if (kunit != "" && (getline first < kunit) > 0) extra = 1
            if (i + extra == 0) { print "    1..1"; print "    " (rc == 0 ? "ok" : "not ok") " 1 exit status " rc; exit }
            print "    1.." i + extra
            for (k = 1; k <= i; k++) print "    " line[k]
            if (extra) {
                print "        " first
                print "        # Subtest: kunit"
                while ((getline l < kunit) > 0) { print "        " l; last = l }
                ok = (last ~ /^not ok/) ? "not ok" : "ok"
                print "    " ok " " i + 1 " kunit"
            }
        }' "$dir/$s.out"
    if [[ $(cat "$dir/$s.rc") == 0 ]]; then echo "ok $n $s"; else echo "not ok $n $s"; fi
done
