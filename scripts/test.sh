#!/usr/bin/env bash
# Runs the whole test suite on a Debian machine, installing what it needs first (idempotent):
# docker-registry (distribution 2.8), skopeo, apache2-utils (bcrypt htpasswd) and a Postgres that
# answers on 127.0.0.1:5432 with trust auth for local test databases.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
fresh_postgres=no
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  missing+=(postgresql)
  fresh_postgres=yes
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ! pg_up; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ "$fresh_postgres" = yes ]; then
    # A Postgres we just installed: let local test connections in without a password.
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  echo "test.sh: starting Postgres $version"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
fi
if ! pg_up; then
  echo "test.sh: Postgres does not answer on 127.0.0.1:5432; the store tests need it" >&2
  exit 1
fi

# Unit tests, the binary's tests and the integration binary (the crate has no doc tests), then the
# Helm chart's tests (scripts/test-chart.sh, pytest), then one closing line with the totals of both.
log=$(mktemp)
chart_log=$(mktemp)
trap 'rm -f "$log" "$chart_log"' EXIT
status=0
cargo test --locked --lib --bins --tests "$@" 2>&1 | tee "$log" || status=$?
# The binary as the image builds it (the Dockerfile's `cargo build --locked`, here without
# --release to spare CI a second optimised build): it starts, checks the image's default
# configuration and serves health, metrics and a token-protected API.
image_passed=0 image_failed=0
if cargo build --locked --bin registry-gc 2>&1 | tail -n 2 && scripts/check-image-build.sh target/debug/registry-gc; then
  image_passed=1
else
  image_failed=1
  status=1
fi
chart_status=0
scripts/test-chart.sh 2>&1 | tee "$chart_log" || chart_status=$?
# pytest's summary line, e.g. "236 passed, 2 failed, 1 error in 9.81s": errors count as failures.
read -r chart_passed chart_failed < <(awk '/ in [0-9.]+s/ && /(passed|failed|error)/ {
    p = f = 0
    for (i = 2; i <= NF; i++) {
      if ($i ~ /^passed/) p = $(i-1)
      if ($i ~ /^(failed|errors?)/) f += $(i-1)
    }
  } END { print p + 0, f + 0 }' "$chart_log")
if [ "$chart_status" != 0 ] && [ "$chart_failed" = 0 ]; then
  chart_failed=1   # the chart tests could not run (an install failed): count it, never hide it
fi
chart_passed=$((chart_passed + image_passed))
chart_failed=$((chart_failed + image_failed))
awk -v cp="$chart_passed" -v cf="$chart_failed" \
  '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p + cp, f + cf }' "$log"
if [ "$status" = 0 ]; then status=$chart_status; fi
exit "$status"
