# shellcheck shell=bash
# The lab guest's machine, in one place: the QEMU command line, the initramfs, and the saved guest
# every guest is restored from. scripts/guest/vm.sh sources this file (after scripts/env.sh).
#
# A saved guest (a "snapshot") is the lab kernel booted once to the point where qemu/init waits for
# its payload, saved with QEMU's migration under $CACHE/snapshots/: its RAM in a file of its own
# (ram), the rest of the machine in another (state). Restoring it takes a fraction of a second
# where a boot takes 5-9 s under software emulation, and the restored guest is as fresh as a booted
# one: no module was ever loaded in it, lockdep has seen none of its locks.
# What changes from run to run (the module, qemu/*.sh, the command) is not in it: the payload
# reaches the guest through a virtio-serial port after the restore. The saved state is keyed on
# everything it depends on; when any of it changes, it is made again, with one line saying so.

# Where the saved guests live (LAB_SNAPSHOTS: elsewhere, e.g. for a test that damages one).
snapshots=${LAB_SNAPSHOTS:-$CACHE/snapshots}

# guest_kernel: sets kdir (the kernel build directory) and kernel (its bzImage). A runner of many
# guests finds the directory once (scripts/env.sh's remember_kernel_dir): build-kernel.sh --dir
# costs 0.2 s.
guest_kernel() {
    local memo
    memo=$(kernel_dir_var)
    kdir=${LAB_KDIR:-${!memo:-}}
    [[ -n $kdir ]] || kdir=$("$REPO_ROOT/scripts/setup/build-kernel.sh" --dir)
    kernel=$kdir/arch/x86/boot/bzImage
    [[ -f $kernel ]] || die "no guest kernel at $kernel: run 'make kernel KERNEL=$KERNEL'"
}

# host_tsc_khz: the host's TSC rate in kHz, measured by scripts/guest/tsc-khz the first time after the
# host booted, kept in the cache; fails (with tsc-khz's reason) when the rate cannot be trusted.
host_tsc_khz() {
    local file=$CACHE/host-tsc-khz boot seen khz
    read -r boot < /proc/sys/kernel/random/boot_id
    # Measured since the host booted: read without the lock (the line is written whole).
    if [[ -f $file ]] && read -r seen khz < "$file" && [[ $seen == "$boot" && $khz =~ ^[1-9][0-9]*$ ]]; then
        echo "$khz"; return 0
    fi
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

# guest_accel: sets accel (tcg or kvm) and accel_args. KVM is used only when a previous probe on
# this machine saw it boot the guest (on some machines /dev/kvm exists but hangs or aborts QEMU).
guest_accel() {
    accel=${LAB_ACCEL:-auto}
    if [[ $accel == auto ]]; then
        accel=tcg
        if [[ -w /dev/kvm ]]; then
            local probe=$CACHE/kvm-probe
            if [[ ! -f $probe ]]; then
                mkdir -p "$CACHE"
                if timeout 20 qemu-system-x86_64 -accel kvm -cpu host -m 256 -kernel "$kernel" \
                    -append "console=ttyS0 panic=-1 rdinit=/bin/does-not-exist" -nographic -no-reboot \
                    </dev/null 2>/dev/null | grep -q "Kernel panic"; then echo kvm > "$probe"; else echo tcg > "$probe"; fi
            fi
            read -r accel < "$probe"
        fi
    fi
    case $accel in
        kvm) accel_args=(-accel kvm -cpu host) ;;
        # One host thread runs all the guest's CPUs in turn (thread=single), not one each: the
        # lab's guests mostly sleep, and when several run at once on a few cores, a CPU that
        # waits for another (an IPI, a lock) spun while the other's thread was not scheduled.
        # Measured, the 7.3 lab tests on 2 cores: 153 s and 264 CPU-s with a thread per CPU,
        # 117 s and 191 CPU-s so; alone, a boot took 5.4 s where it took 5.7-6.4 s.
        tcg) accel_args=(-accel tcg,thread=single -cpu max) ;;
        *) die "LAB_ACCEL must be tcg, kvm or auto" ;;
    esac
}

# guest_machine WORK [--vmcoreinfo]: sets
#   machine          the QEMU command line both a boot and a restore start with (no initramfs,
#                    kernel command line, console or monitor), its payload port's FIFOs in WORK
#   boot_append      the kernel command line of a guest booted for a run (LAB_SNAPSHOT=0, KVM)
#   snapshot         the saved guest's directory under $CACHE/snapshots/ (made by
#                    ensure_snapshot), or "" when guests are booted
#   snapshot_append  the kernel command line the saved guest was booted with
# --vmcoreinfo adds QEMU's vmcoreinfo device (for the host's debuggers): a machine of its own.
guest_machine() {
    local work=$1 vmcoreinfo=${2:-}
    guest_accel
    # No default devices: nothing but the kernel writes to the serial console. The 256 legacy
    # PTYs cost 3 s of boot under emulation; the guest uses none. ACPI costs 2 s more but stays:
    # without its timers the TSC is calibrated against the PIT alone, which went wrong by a
    # factor of 3 on a loaded host. But ACPI does not route the payload port's PCI interrupt: on
    # this machine type the routing table (_PRT) is built by an AML loop that took 20-40 s under
    # emulation, and was aborted by the interpreter's 30 s loop timeout. acpi=noirq takes the
    # route from SeaBIOS's MP table instead (qboot's has no PCI entries, so SeaBIOS it is).
    boot_append="console=ttyS0 quiet panic=-1 hung_task_panic=0 pty.legacy_count=0 acpi=noirq"
    # Under emulation the guest's TSC is the host's, but the guest measures its rate at boot, and
    # on a loaded host the PIT it measures against answered 87 MHz for 2445 MHz: the guest's clock,
    # every timeout and detector with it, ran 28 times fast. So the guest is told the rate,
    # measured on the host once per host boot (scripts/guest/tsc-khz). It still refines it by up to 1 %.
    local khz
    if [[ $accel == tcg ]] && khz=$(host_tsc_khz); then
        boot_append+=" tsc_early_khz=$khz"
    fi
    mkfifo "$work/port.in" "$work/port.out"
    # The payload port: QEMU opens both FIFOs for reading and writing, so it never sees an end of
    # file, and passes what the host writes on as fast as the guest reads (qemu/init).
    # One port (port 0 is reserved for a console): no more virtqueues than needed.
    # LAB_CPUS: the guest's CPUs, 2 unless a test needs a CPU left when two spin (the lab kernels
    # have NR_CPUS=4). Each count has its own saved guest: the key below has the command line.
    local cpus=${LAB_CPUS:-2}
    [[ $cpus =~ ^[1-4]$ ]] || die "LAB_CPUS=$cpus: the lab kernels run 1 to 4 CPUs"
    machine=(qemu-system-x86_64 "${accel_args[@]}" -smp "$cpus" -m "$ram_mb" -nodefaults -display none
             -no-reboot -kernel "$kernel"
             -device virtio-serial-pci,id=ports,max_ports=2 -chardev "pipe,id=port,path=$work/port"
             -device virtserialport,bus=ports.0,chardev=port,name=lab.payload)
    [[ -z $vmcoreinfo ]] || machine+=(-device vmcoreinfo)

    snapshot=""
    # Under KVM a boot takes about a second and the guest's TSC would jump after a restore: boot.
    [[ $accel == tcg && ${LAB_SNAPSHOT:-1} == 1 ]] || return 0
    # The saved guest boots without `quiet`, with early printk: if a boot ever hangs before init,
    # its console (kept beside the saved state) shows how far it got.
    snapshot_append="${boot_append/ quiet/} earlyprintk=serial,ttyS0,115200"
    snapshot_name=$KERNEL${LAB_VARIANT:+-$LAB_VARIANT}${vmcoreinfo:+-vmcoreinfo}
    # The key: QEMU, the kernel and busybox by name, size and date (hashing them took 0.1 s a
    # guest; each is replaced, never edited in place), init and this file by content, and QEMU's
    # command line.
    local key
    key=$({ stat -L -c '%n %s %Y' "$(command -v qemu-system-x86_64)" "$kernel" /bin/busybox
            cat "$REPO_ROOT/qemu/init" "${BASH_SOURCE[0]}"
            printf '%s\n' "${machine[@]//"$work"/WORK}" "$snapshot_append"
          } | sha256sum)
    snapshot=$snapshots/$snapshot_name-${key:0:12}
}

# The guest's RAM, in MB. A saved guest keeps it in a file, ram, beside its state: the guest booted
# to be saved runs on that file, mapped shared (its RAM is the file), and its migration leaves such
# RAM out (x-ignore-shared); a restored guest maps the file private, so that the kernel reads each
# page from the page cache when the guest first touches it and copies it only when the guest writes
# to it. Through the migration stream instead, each restore copied the guest's 40 MB into fresh
# memory that the host first cleared in 2 MB pages (medians of 4 interleaved runs, 7.3: vm.sh --
# true 0.49 s and 0.57 CPU-seconds that way, 0.39 s and 0.50 this way; a scenario's fixed test
# 1.66 CPU-seconds against 1.45).
ram_mb=512

# The monitor command, for both sides of a migration, that leaves RAM mapped shared out of it.
ignore_shared='migrate_set_capability x-ignore-shared on'

# ram_args FILE on|off: sets ram, QEMU's arguments for a guest whose RAM is the file FILE, mapped
# shared (on: the guest writes to FILE) or private (off: FILE stays as it is).
ram_args() {
    ram=(-object "memory-backend-file,id=ram,size=${ram_mb}M,mem-path=${1//,/,,},share=$2"
         -machine memory-backend=ram)
}

# The monitor commands that restore a saved guest into a QEMU started with -incoming defer and the
# saved guest's RAM (ram_args DIR/ram off, or on for a guest to be saved again): both sides of a
# migration must leave shared RAM out, and QEMU can be told so only through its monitor.
# restore_commands DIR: prints them, for the saved guest in the directory DIR.
restore_commands() {
    printf '%s\nmigrate_incoming "exec:cat %s"\n' "$ignore_shared" "'$1/state'"
}

# payload_part WORK/PART: one part of the payload as qemu/init's receive reads it: "tar SIZE" and
# the tar PART.tar, or "text LINES" and the text PART.txt, or "none" when neither exists.
payload_part() {
    if [[ -f $1.tar ]]; then echo "tar $(stat -c %s "$1.tar")"; cat "$1.tar"
    elif [[ -f $1.txt ]]; then echo "text $(wc -l < "$1.txt")"; cat "$1.txt"
    else echo none; fi
}

# base_initramfs OUT: the initramfs every guest starts from (busybox, qemu/init, users): nothing
# in it changes from run to run.
base_initramfs() {
    local root
    root=$(mktemp -d "${TMPDIR:-/tmp}/rust-deadlock-initramfs.XXXXXX")
    chmod 0755 "$root"   # the guest's /: mktemp made it 0700, which non-root users cannot enter
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,lab}
    cp /bin/busybox "$root/bin/busybox"
    install -m 0755 "$REPO_ROOT/qemu/init" "$root/init"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' > "$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
    (cd "$root" && find . | cpio -o -H newc --quiet -R 0:0) > "$1"
    rm -rf "$root"
}

# ensure_snapshot WORK [--again SINCE]: makes the saved guest $snapshot if it is missing, one
# process at a time (the others wait for it). --again: the one restored after the file SINCE was
# made printed nothing; make it again, unless another process already did.
ensure_snapshot() {
    local work=$1 since=${3:-}
    mkdir -p "$snapshots"
    (
        flock 9
        if [[ -n $since && -f $snapshot/state && $snapshot/state -ot $since ]]; then
            rm -rf "$snapshot"
        fi
        [[ -f $snapshot/state && -f $snapshot/ram ]] || make_snapshot "$work"
        touch "$snapshot"   # used now (make_snapshot removes those unused for a day)
    ) 9> "$snapshots/$snapshot_name.lock"
}

# ensure_payload_snapshot WORK PART: sets payload_snapshot to the saved guest that holds the
# payload's shared part PART.tar already: the saved guest at init, restored, given TAR, and saved again
# once qemu/init said "lab: payload". Made if missing (one process at a time), kept inside the
# saved guest at init (made again with it), the 6 used last kept. Fails, and the run sends the
# whole payload to the saved guest at init instead, when it cannot be made.
ensure_payload_snapshot() {
    local work=$1 part=$2 hash
    [[ -f $part.tar ]] || return 1
    hash=$(sha256sum < "$part.tar")
    payload_snapshot=$snapshot/payloads/${hash:0:12}
    (
        flock 9
        if [[ ! -f $payload_snapshot/state || ! -f $payload_snapshot/ram ]]; then
            make_payload_snapshot "$work" "$part" || exit 1
            find "$snapshot/payloads" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' \
                | sort -rn | tail -n +7 | cut -d' ' -f2- | xargs -r rm -rf
        fi
        touch "$payload_snapshot"
    ) 9> "$snapshot/payloads.lock"
}

# make_payload_snapshot WORK PART: makes $payload_snapshot (see ensure_payload_snapshot), with the
# run's own port FIFOs in WORK, which it leaves new. The guest restored to be saved again runs on a
# copy of the saved guest's RAM file (holes where the RAM is zero), mapped shared.
make_payload_snapshot() {
    local work=$1 part=$2 mk=$1/psave new=$payload_snapshot.new writer rc=0
    rm -rf "$new" "$mk"; mkdir -p "$new" "$mk"
    cp --sparse=always "$snapshot/ram" "$new/ram"
    payload_part "$part" > "$work/port.in" &
    writer=$!
    ram_args "$new/ram" on
    monitored_guest "$mk" 120 "${ram[@]}" -initrd "$snapshot/initramfs.cpio" \
        -append "$snapshot_append" -incoming defer -serial "file:$new/console.log"
    restore_commands "$snapshot" >&7
    wait_text "$new/console.log" 'lab: payload' 60 "$qemu" || rc=$?
    if ((rc == 0)); then save_guest "$mk" "$new/state" || rc=$?; else end_guest; fi
    kill "$writer" 2>/dev/null || true
    rm -f "$work/port.in" "$work/port.out"
    mkfifo "$work/port.in" "$work/port.out"
    if ((rc == 0)); then
        rm -rf "$payload_snapshot"
        mv "$new" "$payload_snapshot"
        return 0
    fi
    echo "vm.sh: saving the guest with its payload failed (console kept in $new/): the whole payload goes to the saved guest at init" >&2
    return 1
}

# monitored_guest MK SECS QEMU-ARGS...: starts the machine with QEMU-ARGS in the background, with
# a human monitor on FIFOs in MK (its replies in MK/mon.log), killed after SECS; sets qemu (its
# PID). File descriptor 7 writes to the monitor: opened for reading and writing, the FIFO never
# blocks, whatever QEMU does.
monitored_guest() {
    local mk=$1 secs=$2; shift 2
    rm -f "$mk/qemu.pid" "$mk/mon.in" "$mk/mon.out"
    mkfifo "$mk/mon.in" "$mk/mon.out"
    timeout -k 5 "$secs" "${machine[@]}" "$@" -chardev "pipe,id=hmp,path=$mk/mon" \
        -mon chardev=hmp,mode=readline -pidfile "$mk/qemu.pid" </dev/null >"$mk/qemu.err" 2>&1 &
    qemu=$!
    cat "$mk/mon.out" > "$mk/mon.log" &
    exec 7<>"$mk/mon.in"
}

# save_guest MK STATE: saves the guest monitored_guest started (with its RAM in a file, mapped
# shared: ram_args) into the file STATE with QEMU's migration, the RAM left in its file, and ends
# it. Fails unless the migration completed.
save_guest() {
    printf '%s\nmigrate "exec:cat > %s"\ninfo migrate\nquit\n' "$ignore_shared" "$2" >&7
    wait "$qemu" || true
    exec 7>&-
    grep -q 'Migration status: completed' "$1/mon.log" && [[ -s $2 ]]
}

# end_guest: ends the guest monitored_guest started, unsaved.
end_guest() {
    kill "$qemu" 2>/dev/null || true
    wait "$qemu" 2>/dev/null || true
    exec 7>&-
}

# wait_text FILE TEXT SECS [PID [N [FIRST]]]: waits until FILE has N lines (default 1) with TEXT, at
# most SECS seconds, while PID (if given) lives. Fails with 1 if FILE is still empty after FIRST
# seconds (if given), 2 at the deadline, 3 once PID ended.
wait_text() {
    local deadline=$((SECONDS + $3)) first=$((SECONDS + ${6:-$3})) n
    while n=$(grep -c -- "$2" "$1" 2>/dev/null) || true; ((${n:-0} < ${5:-1})); do
        [[ -z ${4:-} ]] || kill -0 "$4" 2>/dev/null || return 3
        [[ -s $1 ]] || ((SECONDS < first)) || return 1
        ((SECONDS < deadline)) || return 2
        sleep 0.05
    done
}

# others [FIND-ARGS...]: the saved guests of the same name with other keys (not those of another
# variant: 7.3-debug-vmcoreinfo is not a 7.3), as find lists them, with FIND-ARGS applied.
others() {
    local key='[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'
    find "$snapshots" -mindepth 1 -maxdepth 1 -type d -name "$snapshot_name-$key" \
        ! -path "$snapshot" "$@"
}

# make_snapshot WORK: boots the guest to qemu/init's "lab: ready" (it then waits for its payload),
# saves it into $snapshot, and removes the saved guests of the same name with other keys that
# were not used for a day. A boot that prints nothing within 20 s, or does not reach init within
# 120 s, is ended (its console and vCPUs' addresses kept) and booted again, at most 3 times.
make_snapshot() {
    local new=$snapshot.new mk=$1/save why="first use" attempt rc start booted kept what
    [[ -n $(others) ]] && why="its kernel, init, busybox, QEMU, devices or TSC rate changed"
    rm -rf "$new"; mkdir -p "$new" "$mk"
    base_initramfs "$new/initramfs.cpio"
    start=$EPOCHREALTIME
    for attempt in 1 2 3; do
        : > "$new/boot.log"
        rm -f "$new/ram"
        ram_args "$new/ram" on
        monitored_guest "$mk" 300 "${ram[@]}" -initrd "$new/initramfs.cpio" \
            -append "$snapshot_append" -serial "file:$new/boot.log"
        rc=0
        wait_text "$new/boot.log" 'lab: ready' 120 "$qemu" 1 20 || rc=$?
        if ((rc == 0)); then
            booted=$EPOCHREALTIME
            save_guest "$mk" "$new/state" \
                || die "saving the guest failed: $(tr -d '\r' < "$mk/mon.log" | grep -i -m1 -e error -e failed -e status || cat "$mk/qemu.err")"
            rm -rf "$snapshot"
            mv "$new" "$snapshot"
            # Another checkout may still use one made with other keys: unused for a day, it goes.
            others -mmin +1440 -exec rm -rf {} +
            log "saved the $snapshot_name guest at init ($why): booted in $(elapsed "$start" "$booted") s, saved in $(elapsed "$booted" "$EPOCHREALTIME") s, $(($(du -k "$snapshot/ram" | cut -f1) / 1024)) MB of RAM"
            return 0
        fi
        kept=$new/boot-$attempt.log
        case $rc in
            1) what="printed nothing within 20 s" ;;
            2) what="did not reach init within 120 s" ;;
            *) what="ended before init: $(head -c 300 "$mk/qemu.err")" ;;
        esac
        if ((rc != 3)); then
            printf 'info registers -a\n' >&7
            wait_text "$mk/mon.log" RIP= 5 "" 2 || true
            tr -d '\r' < "$mk/mon.log" | grep -o 'RIP=[0-9a-f]*' > "$new/boot-$attempt.rips" || true
        fi
        end_guest
        cp "$new/boot.log" "$kept"
        echo "vm.sh: the $snapshot_name guest booted to be saved $what (console kept as $kept)$( ((attempt < 3)) && echo "; booting it again")" >&2
    done
    die "the $snapshot_name guest never reached init in 3 boots: see $new/"
}

# elapsed FROM TO: seconds between two $EPOCHREALTIME values, to a tenth.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
