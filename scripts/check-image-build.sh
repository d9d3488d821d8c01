#!/usr/bin/env bash
# Checks a release binary the way the container image uses it, without a container engine:
#   scripts/check-image-build.sh target/release/registry-gc
# 1. `--version` names the version in Cargo.toml;
# 2. `check-config` accepts the image's default configuration (deploy/registry-gc.toml);
# 3. `serve` with that configuration and the Helm chart's environment (loopback port, SQLite in a
#    temporary directory, admin token as { env = "RGC_ADMIN_TOKEN" }) answers /healthz, /readyz and
#    /metrics, and refuses /api/v1 without the token.
# Build the binary with the Dockerfile's own command: cargo build --release --locked
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:?usage: scripts/check-image-build.sh PATH/TO/registry-gc}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
fail() { echo "check-image-build: $*" >&2; exit 1; }

want=$(awk -F'"' '/^version *=/ { print $2; exit }' Cargo.toml)
got=$("$bin" --version)
[ "$got" = "registry-gc $want" ] || fail "--version printed '$got', expected 'registry-gc $want'"

# Built with .cargo/config.toml: jemalloc returns what a GC run freed (issue 12, bench-memory.sh).
grep -aq 'dirty_decay_ms:1000' "$bin" \
  || fail "built without .cargo/config.toml's jemalloc options (memory would stay high after runs)"

"$bin" check-config --config deploy/registry-gc.toml >/dev/null \
  || fail "check-config rejects deploy/registry-gc.toml"

work=$(mktemp -d)
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
(
  cd "$work"
  export REGISTRY_GC__SERVER__LISTEN="127.0.0.1:$port"
  export REGISTRY_GC__DATABASE__URL="sqlite://$work/registry-gc.db"
  export REGISTRY_GC__SERVER__ADMIN_TOKEN='{env="RGC_ADMIN_TOKEN"}'
  export RGC_ADMIN_TOKEN="$token"
  exec "$bin" serve --config "$OLDPWD/deploy/registry-gc.toml"
) >"$work/serve.log" 2>&1 &
pid=$!

url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fsS "$url/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; fail "serve exited"; }
  sleep 0.1
done
[ "$(curl -fsS "$url/healthz")" = ok ] || fail "/healthz did not answer ok"
# The daemon listens before its migrations are done: /readyz says 503 until then (bounded wait).
for _ in $(seq 1 100); do
  [ "$(curl -fsS "$url/readyz" 2>/dev/null)" = ready ] && break
  sleep 0.1
done
[ "$(curl -fsS "$url/readyz")" = ready ] || { cat "$work/serve.log" >&2; fail "/readyz did not answer ready within 10 s"; }
curl -fsS "$url/metrics" | grep -q '^registry_gc_database_up 1' || fail "/metrics has no registry_gc_database_up 1"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v1/projects")
[ "$code" = 401 ] || fail "/api/v1 without the token answered $code, expected 401"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$url/api/v1/projects")
[ "$code" = 200 ] || fail "/api/v1 with the token answered $code, expected 200"
echo "check-image-build: $got starts, checks deploy/registry-gc.toml, serves health, metrics and a token-protected API"
