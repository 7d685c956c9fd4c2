#!/usr/bin/env bash
# `make run [SCENARIO=name]`: the demo of a scenario (qemu/demo.sh in a fresh guest), explained
# by splat and checked.
set -euo pipefail
. "$(dirname "$0")/../env.sh"
exec "$REPO_ROOT/scripts/target/release/lab" demo "${SCENARIO:-abba}"
