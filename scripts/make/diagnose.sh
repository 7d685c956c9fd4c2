#!/usr/bin/env bash
# `make diagnose` and `make gdb` (the Makefile has built the debug variant of the kernel and the
# module against it): installs drgn if it is missing, then hands over to the lab binary.
#
#   scripts/make/diagnose.sh diagnose    SCENARIO, and CORE=FILE (save a memory dump) or FROM=FILE
#   scripts/make/diagnose.sh gdb         SCENARIO
set -euo pipefail
. "$(dirname "$0")/../env.sh"
export LAB_VARIANT=debug
args=("$1" "${SCENARIO:-abba}")
case $1 in
    diagnose)
        "$REPO_ROOT/scripts/setup/setup-host.sh" --drgn
        export DRGN
        [[ -z ${CORE:-} ]] || args+=(--core "$CORE")
        [[ -z ${FROM:-} ]] || args+=(--from "$FROM") ;;
    gdb) ;;
    *) die "diagnose.sh: diagnose or gdb" ;;
esac
exec "$REPO_ROOT/scripts/target/release/lab" "${args[@]}"
