#!/usr/bin/env bash
# The Helm chart's tests (tests/chart, pytest): render deploy/helm/registry-gc with Helm's own
# template engine (helm-python-sdk: Helm v4's Go SDK in a library, no helm binary), validate every
# object against Kubernetes' JSON schemas, check the chart's own rules, and check the alerts with
# promtool. Installs what it needs first, idempotently, under the cache directory
# (RGC_CACHE_DIR, default ~/.cache/registry-gc): a venv with the pinned tests/chart/requirements.txt,
# and promtool taken from Debian's prometheus package (extracted, not installed: no server starts).
# A tool that cannot be installed fails the run; no test is ever skipped. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
cache="${RGC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/registry-gc}"
mkdir -p "$cache"

req=tests/chart/requirements.txt
venv="$cache/chart-venv-$(sha256sum "$req" | cut -c1-16)"
if [ ! -f "$venv/.complete" ]; then
  echo "test-chart.sh: installing $req into $venv"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$req"
  "$venv/bin/pip" check --disable-pip-version-check >/dev/null
  touch "$venv/.complete"
fi

promtool="$cache/promtool/promtool"
if [ ! -x "$promtool" ]; then
  echo "test-chart.sh: extracting promtool from Debian's prometheus package"
  tmp=$(mktemp -d)
  chmod 755 "$tmp"   # apt-get download drops privileges to _apt where it can
  if ! (cd "$tmp" && apt-get download -qq prometheus 2>/dev/null); then
    $SUDO apt-get update -qq
    (cd "$tmp" && apt-get download -qq prometheus)
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root"
  install -D -m 0755 "$tmp/root/usr/bin/promtool" "$promtool"
  rm -rf "$tmp"
fi

export PROMTOOL="$promtool" PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m pytest tests/chart -p no:cacheprovider -q "$@"
