#!/usr/bin/env bash
# Build the lab's guest kernel (tinyconfig + qemu/kernel.config) from Debian's source tarball,
# once, into the cache. The build directory is keyed on everything that changes the result:
# the source package version, the config fragment and the Rust toolchain.
#
#   scripts/build-kernel.sh          build if needed, print the build directory
#   scripts/build-kernel.sh --dir    print the build directory only
set -euo pipefail
. "$(dirname "$0")/env.sh"

fragment=$REPO_ROOT/qemu/kernel.config
src_version=$(dpkg-query -W -f '${Version}' "$KERNEL_PKG" 2>/dev/null || echo none)
key=$( { echo "$src_version"; cat "$fragment"; rustc --version; echo "bindgen $BINDGEN_VERSION"; \
         gcc --version | head -n1; } | sha256sum | cut -c1-12)
build=$CACHE/kernel-$KERNEL_SERIES-$key

if [[ ${1:-} == --dir ]]; then echo "$build"; exit 0; fi
if [[ -f $build/.lab-done ]]; then echo "$build"; exit 0; fi

"$REPO_ROOT/scripts/setup-host.sh"

src=$CACHE/src/$src_version/$KERNEL_PKG
if [[ ! -f $src/Makefile ]]; then
    log "extracting $KERNEL_PKG $src_version (1.7 GB)"
    rm -rf "${src%/*}"; mkdir -p "${src%/*}"
    tar -C "${src%/*}" -xf "/usr/src/$KERNEL_PKG.tar.xz"
fi

log "configuring the kernel in $build"
mkdir -p "$build"
kmake() { make -s -C "$src" O="$build" "$@"; }
kmake tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "$fragment" >/dev/null
kmake olddefconfig >/dev/null
# merge_config's own check, reduced to what matters: every option we ask for must have stuck.
bad=0
while IFS= read -r line; do
    case $line in
        CONFIG_*=*) grep -qx -- "$line" "$build/.config" || { echo "  not set: $line" >&2; bad=1; } ;;
        "# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}
            grep -q "^$opt=" "$build/.config" && { echo "  still set: $opt" >&2; bad=1; } ;;
    esac
done < "$fragment"
((bad == 0)) || die "the kernel config did not take qemu/kernel.config (is Rust available? try: make -C $src O=$build rustavailable)"

log "building bzImage and modules with $(nproc) jobs (about 3 minutes on 2 cores)"
start=$SECONDS
make -C "$src" O="$build" -j"$(nproc)" bzImage modules 2>&1 \
    | awk '/^  [A-Z]+/ { n++; if (n % 300 == 0) printf "    ... %d steps\n", n > "/dev/stderr"; next } /^make(\[[0-9]+\])?: (Entering|Leaving) directory/ { next } { print }'
[[ -f $build/arch/x86/boot/bzImage && -f $build/Module.symvers ]] || die "kernel build failed"
log "kernel built in $((SECONDS - start)) s"
touch "$build/.lab-done"
echo "$build"
