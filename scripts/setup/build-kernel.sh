#!/usr/bin/env bash
# Build the lab's guest kernel of the series $KERNEL (tinyconfig + qemu/kernel.config) from
# Debian's source package, once, into the cache. The build directory is keyed on everything that
# changes the result: the series and exact package version, the config fragment and the toolchain.
#
#   scripts/setup/build-kernel.sh          set up and build if needed, print the build directory
#   scripts/setup/build-kernel.sh --dir    print the build directory only
#   scripts/setup/build-kernel.sh --key    print its name only (kernel-SERIES[-VARIANT]-KEY), the
#                                          key CI caches the build under
set -euo pipefail
. "$(dirname "$0")/../env.sh"

key_of() {
    { "$REPO_ROOT/scripts/setup/kernel-source.sh" --version; cat "${fragments[@]}"; rustc --version
      echo "bindgen $BINDGEN_VERSION libclang $LLVM_VERSION"; gcc --version | head -n1; } \
        | sha256sum | cut -c1-12
}
# LAB_VARIANT=NAME adds qemu/NAME.config on top (a separate, separately cached kernel).
fragments=("$REPO_ROOT/qemu/kernel.config")
name=kernel-$KERNEL
if [[ -n ${LAB_VARIANT:-} ]]; then
    [[ -f $REPO_ROOT/qemu/$LAB_VARIANT.config ]] || die "LAB_VARIANT=$LAB_VARIANT: no qemu/$LAB_VARIANT.config"
    fragments+=("$REPO_ROOT/qemu/$LAB_VARIANT.config")
    name=$name-$LAB_VARIANT
fi
build=$CACHE/$name-$(key_of)

if [[ ${1:-} == --dir ]]; then echo "$build"; exit 0; fi
if [[ ${1:-} == --key ]]; then echo "${build##*/}"; exit 0; fi
if [[ -f $build/.lab-done ]]; then echo "$build"; exit 0; fi

# Set-up may install or fetch the source package, which changes the key: compute it again.
"$REPO_ROOT/scripts/setup/setup-host.sh"
src=$("$REPO_ROOT/scripts/setup/kernel-source.sh")
build=$CACHE/$name-$(key_of)
if [[ -f $build/.lab-done ]]; then echo "$build"; exit 0; fi

log "configuring the kernel in $build"
mkdir -p "$build"
kmake() { make -s -C "$src" O="$build" "$@"; }
kmake tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "${fragments[@]}" >/dev/null
kmake olddefconfig >/dev/null
# merge_config's own check, reduced to what matters: every option we ask for must have stuck.
# An option this kernel series does not have at all (a rename) is skipped, with a note.
known() { grep -rqs --include='Kconfig*' -x "[[:space:]]*\(menu\)\{0,1\}config ${1#CONFIG_}" "$src"; }
bad=0
while IFS= read -r line; do
    case $line in
        CONFIG_*=*) grep -qx -- "$line" "$build/.config" && continue
            if known "${line%%=*}"; then echo "  not set: $line" >&2; bad=1
            else echo "  not in $KERNEL_PKG, skipped: ${line%%=*}" >&2; fi ;;
        "# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}
            grep -q "^$opt=" "$build/.config" && { echo "  still set: $opt" >&2; bad=1; } ;;
    esac
done < <(cat "${fragments[@]}")
((bad == 0)) || die "the kernel config did not take ${fragments[*]#"$REPO_ROOT/"} (is Rust available? try: make -C $src O=$build rustavailable)"

log "building bzImage and modules with $(nproc) jobs (about 5 minutes on 2 cores)"
start=$SECONDS
make -C "$src" O="$build" -j"$(nproc)" bzImage modules 2>&1 \
    | awk '/^  [A-Z]+/ { n++; if (n % 300 == 0) printf "    ... %d steps\n", n > "/dev/stderr"; next } /^make(\[[0-9]+\])?: (Entering|Leaving) directory/ { next } { print }'
[[ -f $build/arch/x86/boot/bzImage && -f $build/Module.symvers ]] || die "kernel build failed"
# The debug variant: the kernel's gdb scripts (vmlinux-gdb.py) for `make gdb`.
if grep -qx CONFIG_GDB_SCRIPTS=y "$build/.config"; then
    make -s -C "$src" O="$build" scripts_gdb >/dev/null || die "make scripts_gdb failed"
fi
log "kernel built in $((SECONDS - start)) s"
touch "$build/.lab-done"
echo "$build"
