#!/usr/bin/env bash
# The whole suite: starts the database services it needs, then pytest (and the UI's vitest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh
if [ -f frontend/package.json ] && [ -d frontend/node_modules ]; then
  (cd frontend && npm test --silent)
fi
exec .venv/bin/python -m pytest -q "$@"
