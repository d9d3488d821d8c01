#!/usr/bin/env bash
# Starts a throw-away docker-registry on a free loopback port and runs the tag-removal benchmark
# against it (examples/bench_remove.rs). Extra arguments go to the benchmark, e.g. --concurrency 16.
# PROFILE=dev runs an unoptimized build (faster to build, slower client).
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-release}"
bin=/usr/bin/docker-registry
[ -x "$bin" ] || { echo "missing $bin: apt-get install docker-registry" >&2; exit 1; }

if [ "$profile" = release ]; then
  cargo build --release --example bench_remove
  exe=target/release/examples/bench_remove
else
  cargo build --example bench_remove
  exe=target/debug/examples/bench_remove
fi

dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$dir/config.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: registry-gc-bench
YML
"$bin" serve "$dir/config.yml" > "$dir/registry.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT

for _ in $(seq 1 100); do
  curl -fs -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" || { cat "$dir/registry.log"; exit 1; }

"$exe" --url "http://127.0.0.1:$port" "$@"
