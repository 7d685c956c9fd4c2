#!/usr/bin/env bash
# Boot the lab guest: the lab kernel of the series $KERNEL, a busybox initramfs with the module
# and qemu/'s scripts.
#
#   scripts/vm.sh                       interactive shell in the guest (Ctrl-D ends it)
#   scripts/vm.sh [OPTIONS] -- CMD      run CMD (guest shell code, qemu/lib.sh loaded), end the guest
#
# Options: --log FILE (keep the console, CRs removed), --timeout SECS (default 120; the guest is
# killed after it), --quiet (do not echo the console), --until PATTERN [--count N] (for a guest that
# cannot recover, e.g. with every CPU spinning: power it off from here once N console lines, default
# 1, match the extended regular expression PATTERN; the run then counts as finished, status 0),
# --qmp SOCK (a QMP socket for the host's debuggers, with QEMU's vmcoreinfo device; see
# scripts/diagnose), --gdb SOCK (QEMU's gdb stub on a Unix socket).
# Exit status: CMD's, or 124 on timeout.
# LAB_ACCEL=tcg|kvm|auto picks the accelerator (default auto: KVM only if it is known to work).
# KERNEL picks the guest kernel series (scripts/env.sh); LAB_MODULE the module file to load.
set -euo pipefail
. "$(dirname "$0")/env.sh"

log_file="" timeout_s=120 quiet=0 cmd="" until="" count=1 qmp="" gdb=""
while (($#)); do
    case $1 in
        --log) log_file=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --quiet) quiet=1; shift ;;
        --until) until=$2; shift 2 ;;
        --count) count=$2; shift 2 ;;
        --qmp) qmp=$2; shift 2 ;;
        --gdb) gdb=$2; shift 2 ;;
        --) shift; cmd="$*"; break ;;
        *) die "vm.sh: unknown argument '$1' (see the comment at the top of scripts/vm.sh)" ;;
    esac
done
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die "vm.sh: --timeout takes a positive number of seconds"
[[ $count =~ ^[1-9][0-9]*$ ]] || die "vm.sh: --count takes a positive number"

kdir=${LAB_KDIR:-$("$REPO_ROOT/scripts/build-kernel.sh" --dir)}
kernel=$kdir/arch/x86/boot/bzImage
# LAB_MODULE: another build of the module (make test keeps one per kernel under scripts/target/ko/).
module=${LAB_MODULE:-$REPO_ROOT/src/rust_deadlock.ko}
[[ -f $kernel ]] || die "no guest kernel at $kernel: run 'make kernel KERNEL=$KERNEL'"
[[ -f $module ]] || die "no module at $module: run 'make module KERNEL=$KERNEL'"
# insmod would refuse a module built for another kernel; say so before booting.
release=$(cat "$kdir/include/config/kernel.release" 2>/dev/null || echo unknown)
built=$(modinfo -F vermagic "$module" 2>/dev/null | cut -d' ' -f1)
[[ $built == "$release" ]] \
    || die "$module was built for kernel '$built', the guest runs '$release': run 'make module KERNEL=$KERNEL'"

work=$(mktemp -d "${TMPDIR:-/tmp}/rust-deadlock-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage=$work/root
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,lab}
cp /bin/busybox "$stage/bin/busybox"
install -m 0755 "$REPO_ROOT/qemu/init" "$stage/init"
cp "$REPO_ROOT"/qemu/*.sh "$stage/lab/"
cp "$module" "$stage/lab/rust_deadlock.ko"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' > "$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$stage/etc/group"
[[ -n $cmd ]] && printf '%s\n' "$cmd" > "$stage/lab/cmd"
(cd "$stage" && find . | cpio -o -H newc --quiet -R 0:0) > "$work/initramfs.cpio"

# host_tsc_khz: the host's TSC rate in kHz, measured by scripts/tsc-khz the first time after the
# host booted, kept in the cache; fails (with tsc-khz's reason) when the rate cannot be trusted.
host_tsc_khz() {
    local file=$CACHE/host-tsc-khz boot
    boot=$(cat /proc/sys/kernel/random/boot_id)
    mkdir -p "$CACHE"
    (
        flock 9
        seen="" khz=""
        [[ -f $file ]] && read -r seen khz < "$file" || true
        if [[ $seen != "$boot" || ! $khz =~ ^[1-9][0-9]*$ ]]; then
            cargo build --release --quiet --manifest-path "$REPO_ROOT/scripts/Cargo.toml" -p tsc-khz &&
                khz=$("$REPO_ROOT/scripts/target/release/tsc-khz") || exit 1
            [[ $khz =~ ^[1-9][0-9]*$ ]] || exit 1
            echo "$boot $khz" > "$file"
        fi
        echo "$khz"
    ) 9> "$file.lock"
}

# KVM is used only when a previous probe on this machine saw it boot the guest.
accel=${LAB_ACCEL:-auto}
if [[ $accel == auto ]]; then
    accel=tcg
    if [[ -w /dev/kvm ]]; then
        probe=$CACHE/kvm-probe
        if [[ ! -f $probe ]]; then
            mkdir -p "$CACHE"
            if timeout 20 qemu-system-x86_64 -accel kvm -cpu host -m 256 -kernel "$kernel" \
                -append "console=ttyS0 panic=-1 rdinit=/bin/does-not-exist" -nographic -no-reboot \
                </dev/null 2>/dev/null | grep -q "Kernel panic"; then echo kvm > "$probe"; else echo tcg > "$probe"; fi
        fi
        accel=$(cat "$probe")
    fi
fi
case $accel in
    kvm) accel_args=(-accel kvm -cpu host) ;;
    tcg) accel_args=(-accel tcg -cpu max) ;;
    *) die "LAB_ACCEL must be tcg, kvm or auto" ;;
esac

# qboot and no default devices: nothing but the kernel writes to the serial console.
# The 256 legacy PTYs cost 3 s of boot under emulation; the guest uses none. ACPI costs 2 s more
# but stays. Without it the guest has no HPET or PM timer: the TSC's frequency is calibrated
# against the PIT alone, at boot, and on a loaded host that went wrong by a factor of 3 (with
# tsc=reliable, guest time ran 3 times faster than the host's, and every timing in guest time
# with it); without tsc=reliable, a guest whose CPUs all spin falls back to jiffies and stops
# reporting soft lockups.
append="console=ttyS0 quiet panic=-1 hung_task_panic=0 pty.legacy_count=0"
# Under emulation the guest's TSC is the host's, but the guest measures its rate at boot, and on
# a loaded host the PIT it measures against answered 87 MHz for 2445 MHz: the kernel believes the
# PIT over the HPET, and the guest's clock, every timeout and detector with it, ran 28 times fast
# (soft lockups reported in a guest that only booted). So the guest is told the rate, measured on
# the host once per host boot (scripts/tsc-khz). It still refines it by up to 1 % itself.
if [[ $accel == tcg ]] && khz=$(host_tsc_khz); then
    append+=" tsc_early_khz=$khz"
fi
qemu=(qemu-system-x86_64 "${accel_args[@]}" -smp 2 -m 512 -bios qboot.rom -nodefaults
      -display none -serial mon:stdio -no-reboot -kernel "$kernel" -initrd "$work/initramfs.cpio"
      -append "$append")
[[ -z $qmp ]] || qemu+=(-qmp "unix:$qmp,server=on,wait=off" -device vmcoreinfo)
[[ -z $gdb ]] || qemu+=(-gdb "unix:$gdb,server=on,wait=off")
if [[ -z $cmd ]]; then
    exec "${qemu[@]}"
fi

out=${log_file:-$work/console.log}
# watch: copies the console through; with --until, ends QEMU once enough lines matched.
watch() {
    if [[ -z $until ]]; then cat; return; fi
    awk -v re="$until" -v want="$count" -v pidfile="$work/qemu.pid" -v flag="$work/until" '
        { print; fflush() }
        $0 ~ re && ++seen == want { system("touch " flag "; kill $(cat " pidfile ")") }'
}
qemu+=(-pidfile "$work/qemu.pid")
# sed -u, not tr: tr holds its output back in 4 KiB blocks, and a host that watches the log while
# the guest runs (--until, make diagnose) must see each line when the guest prints it.
set +e
if ((quiet)); then
    timeout -k 5 "$timeout_s" "${qemu[@]}" </dev/null 2>&1 | sed -u 's/\r//g' | watch > "$out"
else
    timeout -k 5 "$timeout_s" "${qemu[@]}" </dev/null 2>&1 | sed -u 's/\r//g' | watch | tee "$out"
fi
status=${PIPESTATUS[0]}
set -e
if [[ -f $work/until ]]; then
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
