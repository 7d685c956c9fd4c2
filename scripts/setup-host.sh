#!/usr/bin/env bash
# Install what the lab needs on the host: Debian packages, the source of the kernel series
# $KERNEL, the rust-src component, and a pinned bindgen-cli under the cache. Idempotent and silent
# when everything is there.
set -euo pipefail
. "$(dirname "$0")/env.sh"

missing=()
for entry in "${HOST_PACKAGES[@]}"; do
    pkg=${entry%%:*} probe=${entry#*:}
    if [[ $probe == /* ]]; then [[ -e $probe ]] || missing+=("$pkg")
    else command -v "$probe" >/dev/null || missing+=("$pkg"); fi
done
if ((${#missing[@]})); then
    cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    if ((EUID != 0)); then
        die "missing packages; run as root:  $cmd"
    fi
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$REPO_ROOT/scripts/kernel-source.sh" --fetch

command -v rustc >/dev/null && command -v cargo >/dev/null \
    || die "no Rust toolchain: install rustup (https://rustup.rs) or Debian's rustc-web, then retry"
sysroot=$(rustc --print sysroot)
if [[ ! -d $sysroot/lib/rustlib/src/rust/library/core ]]; then
    command -v rustup >/dev/null \
        || die "rustc has no rust-src; with Debian's rustc-web install rust-web-src"
    log "adding the rust-src component"
    timeout 300 rustup component add rust-src >/dev/null
fi

if [[ "$(bindgen --version 2>/dev/null)" != "bindgen $BINDGEN_VERSION" ]]; then
    log "installing bindgen-cli $BINDGEN_VERSION (libclang $LLVM_VERSION) under $TOOLS (about a minute)"
    cargo install --quiet --locked bindgen-cli --version "$BINDGEN_VERSION" --root "$TOOLS"
fi

# drgn, for `make diagnose`: only when asked for (--drgn), into a virtual environment of its own.
if [[ ${1:-} == --drgn && ! -x $DRGN ]]; then
    log "installing drgn $DRGN_VERSION from PyPI under $TOOLS"
    venv=$(dirname "$(dirname "$DRGN")")
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "drgn==$DRGN_VERSION"
    "$DRGN" --version >/dev/null || die "drgn $DRGN_VERSION does not run"
fi
