#!/usr/bin/env bash
# Memory across runs (issue 12): a throw-away docker-registry and the release daemon (SQLite) on
# free loopback ports; scripts/bench/memory.py posts pipeline hooks, then triggers GC runs through
# the admin API, each removing freshly pushed and recorded tags, and prints the daemon's VmRSS after
# idle, after the deliveries and after every run, with a verdict (max RSS, growth from run 5 on).
#   scripts/bench-memory.sh [--deliveries N] [--runs N] [--tags N] [--limit-mib N]
# The daemon inherits the environment (e.g. MALLOC_ARENA_MAX=2 to compare); BIN= runs another
# binary instead of building target/release/registry-gc.
set -euo pipefail
cd "$(dirname "$0")/.."
registry_bin=/usr/bin/docker-registry
[ -x "$registry_bin" ] || { echo "missing $registry_bin: apt-get install docker-registry" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked --bin registry-gc >/dev/null 2>&1
fi
bin="${BIN:-target/release/registry-gc}"

work=$(mktemp -d)
reg_pid=""
gc_pid=""
stop() { # $1: pid variable name
  local pid="${!1}"
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  printf -v "$1" ''
}
trap 'stop gc_pid; stop reg_pid; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # $1 url, $2 log
  for _ in $(seq 1 100); do curl -fs -o /dev/null "$1" 2>/dev/null && return; sleep 0.1; done
  cat "$2" >&2; exit 1
}

reg_port=$(free_port)
cat > "$work/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$reg_port
  secret: registry-gc-bench
YML
"$registry_bin" serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
reg_pid=$!
wait_for "http://127.0.0.1:$reg_port/v2/" "$work/registry.log"

gc_port=$(free_port)
# Only ci-commit tags, deletable as soon as their pipeline finished (min_age 0): every run removes
# what was pushed and recorded just before it.
cat > "$work/config.toml" <<TOML
[server]
listen = "127.0.0.1:$gc_port"
admin_token = "bench-admin"
[database]
url = "sqlite://$work/gc.db"
[log]
filter = "warn"
[gc]
dry_run = false
schedule = ""
[gc.retention]
ci_commit_grace = "0s"
min_age = "0s"
[[registries]]
url = "http://127.0.0.1:$reg_port"
[[projects]]
path = "group/app"
id = 42
registry = "127.0.0.1:$reg_port"
webhook_tokens = ["bench-token"]
[[projects.images]]
name = "ci-commit"
kind = "ci-commit"
image = "\$CI_REGISTRY_IMAGE/app-ci:\$CI_COMMIT_SHA"
TOML
"$bin" serve --config "$work/config.toml" > "$work/serve.log" 2>&1 &
gc_pid=$!
wait_for "http://127.0.0.1:$gc_port/readyz" "$work/serve.log"

status=0
python3 scripts/bench/memory.py "$gc_pid" "http://127.0.0.1:$gc_port" "http://127.0.0.1:$reg_port" "$@" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then tail -n 20 "$work/serve.log" >&2; fi
exit "$status"
