#!/usr/bin/env bash
# Start a lab guest: the lab kernel of the series $KERNEL, with a busybox initramfs whose init waits
# for its payload (the module, qemu/'s scripts and the command) on a virtio-serial port. Under
# software emulation the guest is not booted but restored: each kernel is booted once to that
# wait, saved under the cache (scripts/guest/guest.sh), and every guest starts from the saved state.
#
#   scripts/guest/vm.sh                       interactive shell in the guest (Ctrl-D ends it)
#   scripts/guest/vm.sh [OPTIONS] -- CMD      run CMD (guest shell code, qemu/lib.sh loaded), end the guest
#
# Options: --log FILE (keep the console, CRs removed), --timeout SECS (default 120; the guest is
# killed after it), --quiet (do not echo the console), --until PATTERN [--count N] (for a guest that
# cannot recover, e.g. with every CPU spinning: power it off from here once N console lines, default
# 1, match the extended regular expression PATTERN; the run then counts as finished, status 0;
# with --then PATTERN2, at the first line after those that matches PATTERN2 instead, for a report
# whose end is known but not its length, or when the guest ends itself before that line),
# --qmp SOCK (a QMP socket for the host's debuggers, with QEMU's vmcoreinfo device; see
# scripts/diagnose), --gdb SOCK (QEMU's gdb stub on a Unix socket), --with FILE (one more file in
# the guest's /lab, e.g. a static tool of scripts/guest/; repeatable).
# Exit status: CMD's, or 124 on timeout. scripts/guest/vm.sh --restores: exit status 0 if guests are
# restored here (and prints the directory of the saved guest they are restored from, made by the
# first guest started), 1 if they are booted (LAB_SNAPSHOT=0, KVM).
# LAB_ACCEL=tcg|kvm|auto picks the accelerator (default auto: KVM only if it is known to work).
# LAB_SNAPSHOT=0 boots every guest instead of restoring it (KVM always boots: see scripts/README.md).
# KERNEL picks the guest kernel series (scripts/env.sh); LAB_MODULE the module file to load;
# LAB_CPUS the guest's CPUs (default 2).
set -euo pipefail
. "$(dirname "$0")/../env.sh"
. "$REPO_ROOT/scripts/guest/guest.sh"

log_file="" timeout_s=120 quiet=0 cmd="" until="" count=1 then="" qmp="" gdb="" restores=0 with=()
while (($#)); do
    case $1 in
        --log) log_file=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --quiet) quiet=1; shift ;;
        --until) until=$2; shift 2 ;;
        --count) count=$2; shift 2 ;;
        --then) then=$2; shift 2 ;;
        --qmp) qmp=$2; shift 2 ;;
        --gdb) gdb=$2; shift 2 ;;
        --with) [[ -f $2 ]] || die "vm.sh: --with $2: no such file"; with+=("$2"); shift 2 ;;
        --restores) restores=1; shift ;;
        --) shift; cmd="$*"; break ;;
        *) die "vm.sh: unknown argument '$1' (see the comment at the top of scripts/guest/vm.sh)" ;;
    esac
done
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die "vm.sh: --timeout takes a positive number of seconds"
[[ $count =~ ^[1-9][0-9]*$ ]] || die "vm.sh: --count takes a positive number"
[[ ${LAB_SNAPSHOT:-1} =~ ^[01]$ ]] || die "vm.sh: LAB_SNAPSHOT must be 0 or 1, not '$LAB_SNAPSHOT'"

guest_kernel
if ((restores)); then
    probe=$(mktemp -d "${TMPDIR:-/tmp}/rust-deadlock-vm.XXXXXX")
    guest_machine "$probe"
    rm -rf "$probe"
    [[ -n $snapshot ]] || exit 1
    echo "$snapshot"; exit 0
fi
# LAB_MODULE: another build of the module (make test keeps one per kernel under scripts/out/ko/).
module=${LAB_MODULE:-$REPO_ROOT/src/rust_deadlock.ko}
[[ -f $module ]] || die "no module at $module: run 'make module KERNEL=$KERNEL'"
# insmod would refuse a module built for another kernel; say so before starting the guest.
release=$(cat "$kdir/include/config/kernel.release" 2>/dev/null || echo unknown)
built=$(modinfo -F vermagic "$module" 2>/dev/null | cut -d' ' -f1)
[[ $built == "$release" ]] \
    || die "$module was built for kernel '$built', the guest runs '$release': run 'make module KERNEL=$KERNEL'"

# Everything of this run, the payload port's FIFOs among them, lives in a private directory
# (mktemp -d: mode 0700, an unpredictable name).
work=$(mktemp -d "${TMPDIR:-/tmp}/rust-deadlock-vm.XXXXXX")
# LAB_CPU_LOG=FILE: as it ends, append "CPU-SECONDS KERNEL NAME" to FILE: the CPU time of this
# run (this script and every process it waited for: QEMU, the host's tools; scripts/env.sh's
# times_secs) and the test that started it (nextest's NEXTEST_TEST_NAME; else the command's
# start), for make bench.
cpu_log() {
    [[ -n ${LAB_CPU_LOG:-} ]] || return 0
    times > "$work/times"
    echo "$(times_secs "$work/times") $KERNEL ${NEXTEST_TEST_NAME:-${cmd:0:40}}" >> "$LAB_CPU_LOG"
}
trap 'kill $(jobs -p) 2>/dev/null || true; cpu_log; rm -rf "$work"' EXIT

# The payload, in two parts (qemu/init's receive): first what many runs share (the module,
# qemu/*.sh), a tar made the same way from the same files (names sorted, dates and owners zeroed),
# so that its hash can key a saved guest that holds it already; then this run's own: the command
# alone as text (the guest reads it without starting a process, which costs it 50-90 ms each
# under emulation), a tar when --with brings files, nothing for an interactive shell.
stage=$work/stage
mkdir -p "$stage/lab"
cp "$REPO_ROOT"/qemu/*.sh "$stage/lab/"
cp "$module" "$stage/lab/rust_deadlock.ko"
lab_tar() { tar -C "$stage" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$1" lab; }
lab_tar "$work/shared.tar"
rm -rf "$stage/lab"/*
if ((${#with[@]})); then
    cp "${with[@]}" "$stage/lab/"
    [[ -z $cmd ]] || printf '%s\n' "$cmd" > "$stage/lab/cmd"
    lab_tar "$work/own.tar"
elif [[ -n $cmd ]]; then
    printf '%s\n' "$cmd" > "$work/own.txt"
fi
rm -rf "$stage"

guest_machine "$work" ${qmp:+--vmcoreinfo}
touch "$work/started"
# prepare: sets start_args (how QEMU starts: restored from the saved guest that holds the shared
# part already, else from the one at init, else booted), from (the saved guest restored, or "")
# and parts (what the port then carries). A restored guest waits (-incoming defer) for the monitor
# commands that restore it (guest.sh's restore_commands), on FIFOs in the work directory.
prepare() {
    from=""
    if [[ -n $snapshot ]]; then
        ensure_snapshot "$work"
        if ensure_payload_snapshot "$work" "$work/shared"; then
            from=$payload_snapshot parts=(own)
        else
            from=$snapshot parts=(shared own)
        fi
        ram_args "$from/ram" off
        start_args=("${ram[@]}" -incoming defer -chardev "pipe,id=restore,path=$work/mon"
                    -mon chardev=restore,mode=readline
                    -initrd "$snapshot/initramfs.cpio" -append "$snapshot_append")
    else
        [[ -f $work/initramfs.cpio ]] || base_initramfs "$work/initramfs.cpio"
        start_args=(-initrd "$work/initramfs.cpio" -append "$boot_append") parts=(shared own)
    fi
    [[ -z $qmp ]] || start_args+=(-qmp "unix:$qmp,server=on,wait=off")
    [[ -z $gdb ]] || start_args+=(-gdb "unix:$gdb,server=on,wait=off")
}
prepare

# send_payload: the parts into the port's FIFO, where QEMU (which holds it open for reading and
# writing, so that it never sees an end) passes them on as fast as the guest reads; for a restored
# guest, the commands that restore it into its monitor's FIFO first (QEMU's replies go to the
# other FIFO, unread: a few hundred bytes). A second guest gets new FIFOs: nothing of what the
# first one left unread.
writer=""
send_payload() {
    if [[ -n $writer ]]; then
        kill "$writer" 2>/dev/null || true
        rm -f "$work/port.in" "$work/port.out" "$work/mon.in" "$work/mon.out"
        mkfifo "$work/port.in" "$work/port.out"
    fi
    local part
    [[ -z $from ]] || mkfifo "$work/mon.in" "$work/mon.out"
    {
        [[ -z $from ]] || restore_commands "$from" > "$work/mon.in"
        for part in "${parts[@]}"; do payload_part "$work/$part"; done > "$work/port.in"
    } &
    writer=$!
}

if [[ -z $cmd ]]; then
    send_payload
    set +e
    "${machine[@]}" "${start_args[@]}" -serial mon:stdio
    exit 0
fi

out=${log_file:-$work/console.log}
# console: the guest's console as the host keeps it: CRs removed, each line passed on at once
# (a host that watches the log while the guest runs, --until or make diagnose, must see each
# line when the guest prints it). Marks the guest's first kernel line (the file first, with its
# time under LAB_TIMING: only then a process is started for it); with --until, ends QEMU once
# enough lines matched (and then one matched --then). Once the command's exit line is out the
# guest has nothing more to say: QEMU is ended then, which spares the 0.1-0.3 s of a
# shutdown under emulation, and what it says as it ends is not kept. (A guest that powered off
# first took its pidfile with it: nothing to end then.)
# mawk reads a pipe in whole buffers unless told it is interactive; gawk reads what is there.
if command -v mawk >/dev/null; then line_awk=(mawk -W interactive); else line_awk=(awk); fi
console() {
    "${line_awk[@]}" -v re="$until" -v want="$count" -v after="$then" -v pidfile="$work/qemu.pid" \
        -v flag="$work/until" -v matched="$work/matched" -v first="$work/first" \
        -v timed="${LAB_TIMING:+date +%s.%N > '$work/first'}" '
        ended { next }
        { gsub(/\r/, ""); print; fflush() }
        !seen_first && /^\[/ { seen_first = 1; if (timed != "") system(timed); else { printf "" > first; close(first) } }
        hit && !done && $0 ~ after { done = 1 }
        re != "" && !hit && $0 ~ re && ++seen == want { hit = 1; if (after == "") done = 1; else system("touch " matched) }
        done && !ended { system("touch " flag); ended = 1 }
        /^(\[ *[0-9.]*\] )?lab: exit [0-9]+$/ { ended = 1 }
        ended { system("kill $(cat " pidfile " 2>/dev/null) 2>/dev/null") }'
}

# A guest that never prints its first line: a restore that went wrong, or a boot that hung before
# init (rare, under load; its cause is not known). First lines come within a second of a restore,
# and within 5-15 s of a quiet boot: these deadlines are for a guest that will never print one.
if [[ -n $snapshot ]]; then first_line_s=20; else first_line_s=60; fi
# silent_watch: ends QEMU if the console has had no kernel line after first_line_s. One sleep,
# no polling: under emulation the guest needs every CPU cycle the host has.
silent_watch() {
    sleep "$first_line_s"
    [[ -f $work/first ]] && return
    touch "$work/silent"
    kill "$(cat "$work/qemu.pid" 2>/dev/null)" 2>/dev/null || true
}

# run_guest: one guest from start to end; sets status (QEMU's, 124 on timeout).
run_guest() {
    rm -f "$work/silent" "$work/until" "$work/matched" "$work/qemu.pid" "$work/first"
    : > "$out"
    send_payload
    qemu_start=$EPOCHREALTIME
    # Its own descriptors: a sleep left behind must not hold the pipes of whoever runs vm.sh.
    silent_watch </dev/null >/dev/null 2>&1 &
    local watcher=$!
    set +e
    if ((quiet)); then
        timeout -k 5 "$timeout_s" "${machine[@]}" "${start_args[@]}" -serial mon:stdio \
            -pidfile "$work/qemu.pid" </dev/null 2>&1 | console > "$out"
    else
        timeout -k 5 "$timeout_s" "${machine[@]}" "${start_args[@]}" -serial mon:stdio \
            -pidfile "$work/qemu.pid" </dev/null 2>&1 | console | tee "$out"
    fi
    status=${PIPESTATUS[0]}
    set -e
    kill "$watcher" 2>/dev/null || true
    wait "$watcher" 2>/dev/null || true
}

run_guest
if [[ -f $work/silent ]] || { ((status != 0 && status != 124)) && ! grep -qs '^\[' "$out"; }; then
    kept=${out%.log}.silent.log
    cp "$out" "$kept"
    if [[ -f $work/silent ]]; then what="printed nothing within $first_line_s s"
    else what="ended at once ($(grep -m1 -i -e error -e fail "$out" || echo "QEMU exit $status"))"; fi
    if [[ -n $snapshot ]]; then
        echo "vm.sh: the restored guest $what (console kept as $kept): saving the guest again" >&2
        ensure_snapshot "$work" --again "$work/started"
        prepare
    else
        echo "vm.sh: the guest $what, it hung before init (console kept as $kept): booting it once more" >&2
    fi
    run_guest
fi
# LAB_TIMING=FILE: add how long QEMU took from its start to the guest's first line (the guest
# command starting), for make bench.
if [[ -n ${LAB_TIMING:-} && -f $work/first ]]; then
    elapsed "$qemu_start" "$(cat "$work/first")" >> "$LAB_TIMING"; echo >> "$LAB_TIMING"
fi
# A guest that ends itself between --until's lines and --then's (a kernel that resets at once
# after a panic, panic=-1) ended where it was to be powered off.
if [[ -f $work/until ]] || { [[ -f $work/matched ]] && ((status == 0)); }; then
    ((quiet)) || echo "vm.sh: powered the guest off: $count console line(s) matched '$until'" >&2
    exit 0
fi
if ((status == 124)); then
    echo "vm.sh: the guest did not power off within $timeout_s s" >&2
    exit 124
fi
rc=$(sed -n 's/^\(\[ *[0-9.]*\] \)\{0,1\}lab: exit \([0-9]*\)$/\2/p' "$out" | tail -n 1)
[[ -n $rc ]] || { echo "vm.sh: the guest command did not finish (qemu exit $status)" >&2; exit 1; }
exit "$rc"
