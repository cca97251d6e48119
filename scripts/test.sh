#!/usr/bin/env bash
# The whole suite: starts the database services it needs, then pytest (and the UI's vitest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh
if ! command -v chromium >/dev/null 2>&1; then  # the UI tests drive Debian's chromium
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ -f frontend/package.json ] && [ -d frontend/node_modules ]; then
  (cd frontend && npm test --silent)
fi
exec .venv/bin/python -m pytest -q "$@"
