# shellcheck shell=bash
# The lab's facts, in one place. Every script under scripts/ sources this file.
#
#   RUST_DEADLOCK_CACHE  where the kernel tree, its build, bindgen and guest images live
#                        (default: $XDG_CACHE_HOME/rust-deadlock or ~/.cache/rust-deadlock)
#   KDIR                 a Rust-enabled kernel build tree to use instead of the lab's own

# Debian package that ships the kernel source tarball, and the series it holds.
KERNEL_SERIES=6.12
KERNEL_PKG=linux-source-$KERNEL_SERIES
# bindgen-cli release the kernel's Rust build uses (6.12 needs >= 0.65.1; Debian has 0.60).
BINDGEN_VERSION=0.69.5

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
CACHE=${RUST_DEADLOCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rust-deadlock}
TOOLS=$CACHE/tools
# bindgen from the cache; rustup's cargo and rustc even when the caller's PATH lacks them.
export PATH="$TOOLS/bin:$PATH${HOME:+:$HOME/.cargo/bin}"

# Debian packages the lab needs, with the command each one provides (to test for it).
HOST_PACKAGES=(
    "$KERNEL_PKG:/usr/src/$KERNEL_PKG.tar.xz"
    "flex:flex" "bison:bison" "bc:bc" "cpio:cpio" "xz-utils:xz" "kmod:modinfo"
    "libelf-dev:/usr/include/libelf.h" "libclang-dev:/usr/lib/llvm-14/lib/libclang.so"
    "busybox-static:/bin/busybox" "qemu-system-x86:qemu-system-x86_64"
    "gcc:gcc" "make:make" "perl:perl"
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
