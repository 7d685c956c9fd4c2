#!/usr/bin/env bash
# The kernel source of the series $KERNEL, from Debian packages only (see KERNEL_SUITE in
# scripts/env.sh): the machine's own linux-source package, or one fetched from another suite
# through a private apt configuration in the cache (the machine's apt sources are never changed).
#
#   scripts/setup/kernel-source.sh --version   the package version in use ("none" before set-up)
#   scripts/setup/kernel-source.sh --fetch     make sure the package is here (the newest of its suite
#                                        the first time; again with LAB_REFRESH=1)
#   scripts/setup/kernel-source.sh             fetch if needed, extract once, print the source tree
set -euo pipefail
. "$(dirname "$0")/../env.sh"

suite=${KERNEL_SUITE[$KERNEL]}
src_root=$CACHE/src
pinned=$src_root/$KERNEL_PKG.version   # the version fetched from $suite, once resolved

version() {
    if [[ -z $suite ]]; then
        dpkg-query -W -f '${Version}' "$KERNEL_PKG" 2>/dev/null || echo none
    else
        cat "$pinned" 2>/dev/null || echo none
    fi
}

# The Debian mirror the machine already uses (deb822 or one-line sources), else the default.
mirror() {
    local uri
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | sed -n 's|^URIs:[[:space:]]*\(https\{0,1\}://[^[:space:]]*/debian\)/\{0,1\}[[:space:]]*$|\1|p' | head -n1)
    [[ -n $uri ]] || uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | sed -n 's|^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\(https\{0,1\}://[^[:space:]]*/debian\)/\{0,1\}[[:space:]].*|\2|p' | head -n1)
    echo "${uri:-http://deb.debian.org/debian}"
}

# Downloads the newest $KERNEL_PKG of $suite into the cache and records its version.
fetch_from_suite() {
    local apt=$CACHE/apt/$suite debs=$src_root/debs
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$debs"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(mirror) $suite main" \
        > "$apt/sources.list"
    local opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
                -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
    log "resolving the newest $KERNEL_PKG in Debian $suite"
    apt-get "${opts[@]}" -qq update 2>"$apt/update.err" \
        || die "cannot read Debian $suite ($(tail -n1 "$apt/update.err")): $KERNEL_PKG cannot be had, so KERNEL=$KERNEL cannot be built"
    local v
    v=$(apt-cache "${opts[@]}" show "$KERNEL_PKG" 2>/dev/null | sed -n 's/^Version: //p' \
        | sort -V | tail -n1)
    [[ -n $v ]] || die "Debian $suite has no $KERNEL_PKG: KERNEL=$KERNEL cannot be built"
    if [[ ! -f $debs/$KERNEL_PKG-$v.deb ]]; then
        log "downloading $KERNEL_PKG $v (about 170 MB)"
        (cd "$debs" && apt-get "${opts[@]}" -qq download "$KERNEL_PKG=$v" >/dev/null) \
            || die "downloading $KERNEL_PKG $v from Debian $suite failed"
        mv "$debs/${KERNEL_PKG}_"*"_all.deb" "$debs/$KERNEL_PKG-$v.deb"
    fi
    echo "$v" > "$pinned"
}

fetch() {
    if [[ -z $suite ]]; then
        [[ -f /usr/src/$KERNEL_PKG.tar.xz ]] && return
        ((EUID == 0)) || die "$KERNEL_PKG is missing; run as root: apt-get install $KERNEL_PKG"
        log "installing $KERNEL_PKG from the machine's Debian sources"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$KERNEL_PKG" >/dev/null \
            || die "apt-get install $KERNEL_PKG failed: KERNEL=$KERNEL cannot be built"
    elif [[ ! -f $pinned || -n ${LAB_REFRESH:-} ]]; then
        fetch_from_suite
    elif [[ ! -f $src_root/debs/$KERNEL_PKG-$(version).deb && ! -f $src_root/$KERNEL-$(version)/$KERNEL_PKG/Makefile ]]; then
        fetch_from_suite
    fi
}

case ${1:-} in
    --version) version; exit 0 ;;
    --fetch) fetch; exit 0 ;;
    "") ;;
    *) die "kernel-source.sh: unknown argument '$1'" ;;
esac

fetch
v=$(version)
tree=$src_root/$KERNEL-$v/$KERNEL_PKG
if [[ ! -f $tree/Makefile ]]; then
    rm -rf "${tree%/*}"; mkdir -p "${tree%/*}"
    if [[ -z $suite ]]; then
        tarball=/usr/src/$KERNEL_PKG.tar.xz
    else
        log "unpacking $KERNEL_PKG $v"
        dpkg-deb -x "$src_root/debs/$KERNEL_PKG-$v.deb" "${tree%/*}/deb"
        tarball=${tree%/*}/deb/usr/src/$KERNEL_PKG.tar.xz
    fi
    log "extracting $KERNEL_PKG $v (1.7 GB)"
    tar -C "${tree%/*}" -xf "$tarball"
    rm -rf "${tree%/*}/deb"
fi
echo "$tree"
