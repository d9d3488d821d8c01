#!/usr/bin/env bash
# Webhook ingest benchmark (issue 12): the release daemon on SQLite and on Postgres, driven by wrk
# from loopback with real pipeline hooks (each its own Idempotency-Key), at several connection
# counts; GET /healthz measured the same way is the ceiling. Prints a table with throughput, p99 and
# the ratio to /healthz, and checks that the pipelines recorded equal the 200 answers.
#   scripts/bench-ingest.sh [SECONDS per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
command -v wrk >/dev/null || { echo "bench-ingest: install wrk (apt-get install wrk)" >&2; exit 1; }
cargo build --release --locked --bin registry-gc >/dev/null 2>&1
bin=target/release/registry-gc
work=$(mktemp -d)
pid=""
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap 'stop; rm -rf "$work"' EXIT

# The fixture's pipeline for project 42 with a placeholder id.
python3 - "$work/body.json" <<'PY'
import json, sys
d = json.load(open("tests/fixtures/gitlab/pipeline.json"))
d["project"]["id"] = 42
d["project"]["path_with_namespace"] = "group/app"
d["object_attributes"]["id"] = 0
text = json.dumps(d).replace('"id": 0,', '"id": __PIPELINE__,', 1)
open(sys.argv[1], "w").write(text)
PY

start() { # $1 database url
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$work/config.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
admin_token = "bench-admin"
[database]
url = "$1"
[log]
filter = "warn"
[gc]
schedule = ""
[[projects]]
path = "group/app"
id = 42
webhook_tokens = ["bench-token"]
[[projects.images]]
name = "ci-commit"
kind = "ci-commit"
image = "registry.example.com/group/app-ci:\$CI_COMMIT_SHA"
TOML
  "$bin" serve --config "$work/config.toml" > "$work/serve.log" 2>&1 &
  pid=$!
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -fs "$url/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  cat "$work/serve.log" >&2; exit 1
}

runs=0
run() { # $1 path, $2 connections -> "rps p99 ok"
  local out
  if [ "$1" = /healthz ]; then
    out=$(wrk -t2 -c"$2" -d"${secs}s" --latency "$url/healthz")
    echo "$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}') $(echo "$out" | awk '/ 99%/ {print $2}') -"
  else
    out=$(wrk -t2 -c"$2" -d"${secs}s" --latency -s scripts/bench/ingest.lua "$url/webhooks/gitlab" -- "$work/body.json" "$3")
    echo "$(echo "$out" | awk '/^rps/ {print $2}') $(echo "$out" | awk '/^p99_ms/ {print $2"ms"}') $(echo "$out" | awk '/^status 200/ {print $3}')"
  fi
}

recorded() { # pipelines in the database
  curl -fs -H "Authorization: Bearer bench-admin" "$url/api/v1/projects/42/pipelines" \
    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["pipelines"]))'
}

printf "%-10s %-6s %10s %10s %8s %10s %10s\n" backend conns "req/s" p99 "vs/healthz" "200s" recorded
for backend in sqlite postgres; do
  if [ "$backend" = sqlite ]; then
    rm -f "$work"/gc.db*; start "sqlite://$work/gc.db"
  else
    db="rgc_bench_$$"
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -qc "CREATE DATABASE $db" >/dev/null
    start "postgres://postgres@127.0.0.1:5432/$db"
  fi
  total=0
  inflight=0
  for c in 8 32 128; do
    read -r hrps hp99 _ < <(run /healthz "$c")
    runs=$((runs + 1))
    read -r rps p99 ok < <(run /webhooks/gitlab "$c" "$runs")
    total=$((total + ${ok:-0}))
    inflight=$((inflight + c))
    ratio=$(python3 -c "print(f'{${rps:-0}/${hrps:-1}:.3f}')")
    printf "%-10s %-6s %10s %10s %8s %10s %10s\n" "$backend" "c$c" "$rps" "$p99" "$ratio" "${ok:-0}" "-"
    printf "%-10s %-6s %10s %10s\n" "" "" "$hrps" "$hp99 (healthz)"
  done
  got=$(recorded)
  # wrk stops with up to one request per connection still in flight; those may be recorded although
  # wrk never counted their answer, so the recorded count lies in [200s, 200s + connections].
  verdict=MISMATCH
  if [ "$got" -ge "$total" ] && [ "$got" -le $((total + inflight)) ]; then verdict=OK; fi
  echo "$backend: ${total} answered 200, ${got} pipelines recorded (at most ${inflight} in flight when wrk stopped) $verdict"
  stop
  [ "$backend" = postgres ] && psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null
done
