#!/usr/bin/env bash
# `make run [SCENARIO=name] [PANIC=1]`: the demo of a scenario (qemu/demo.sh in a fresh guest),
# explained by splat and checked. PANIC=1: the kernel panics at the deadlock (lab demo checks the
# value, and that the scenario can panic, before a guest starts).
set -euo pipefail
. "$(dirname "$0")/../env.sh"
args=("${SCENARIO:-abba}")
[[ -z ${PANIC+set} ]] || args+=("--panic=$PANIC")
exec "$REPO_ROOT/scripts/target/release/lab" demo "${args[@]}"
