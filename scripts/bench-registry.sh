#!/usr/bin/env bash
# Starts a throw-away docker-registry on a free loopback port and runs the tag-removal benchmark
# against it (examples/bench_remove.rs). Extra arguments go to the benchmark, e.g. --concurrency 16.
# PROFILE=dev runs an unoptimized build (faster to build, slower client).
# Then the baseline users know: the seeds' per-tag shell method (SEED_METHOD, default
# ../shared/bench/seed-method.sh) on SEED_SAMPLE (default 100) tags of one more seeded repository,
# and its time per tag against the batch client's.
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
# `wait` on the killed registry returns 143: that must not become the script's exit status.
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT

for _ in $(seq 1 100); do
  curl -fs -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" || { cat "$dir/registry.log"; exit 1; }

seed_method="${SEED_METHOD:-../shared/bench/seed-method.sh}"
seed_sample="${SEED_SAMPLE:-100}"
list_args=()
[ -x "$seed_method" ] && list_args=(--seed-list "$dir/seed-tags.txt")
"$exe" --url "http://127.0.0.1:$port" "${list_args[@]}" "$@" | tee "$dir/bench.txt"

if [ ! -x "$seed_method" ]; then
  echo "seeds' method: $seed_method not found; set SEED_METHOD to compare against it" >&2
  exit 0
fi
batch_ms=$(awk -F': ' '/^batch client ms\/tag/ {print $2}' "$dir/bench.txt")
seed_line=$("$seed_method" --registry "127.0.0.1:$port" -q delete-tags "$dir/seed-tags.txt" "$seed_sample" | tail -n 1)
echo "seeds' method: $seed_line"
seed_ms=$(sed -n 's/.*s, \([0-9.]*\) ms\/tag.*/\1/p' <<<"$seed_line")
[ -n "$seed_ms" ] || { echo "could not read the seeds' method's time per tag" >&2; exit 1; }
awk -v s="$seed_ms" -v b="$batch_ms" \
  'BEGIN { printf "ratio seeds'"'"' method/batch client, per tag: %.1fx (%.1f ms vs %.3f ms)\n", s / b, s, b }'
