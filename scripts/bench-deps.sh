#!/usr/bin/env bash
# What `make bench` needs besides the gateway: wrk (Debian) for the load, py-spy for --profile.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
if [ ! -x .venv/bin/py-spy ]; then
  .venv/bin/python -m pip install --quiet --no-build-isolation -c constraints.txt -e '.[bench]'
fi
