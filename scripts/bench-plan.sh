#!/usr/bin/env bash
# Scale benchmark for the retention planner: 10k, 100k and 1M tags, each size in its own child
# process (peak RSS from /proc/self/status VmHWM). Release build; pass sizes to override, e.g.
#   scripts/bench-plan.sh 10000 100000
# --one-project (the default) plans every app as one project in one call; --per-project plans app by
# app (the daemon's shape). Each row ends with its ratio to the pre-#12 baseline (95075de).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --example plan_scale
exec target/release/examples/plan_scale "$@"
