#!/usr/bin/env bash
# The whole suite: ruff and mypy, the database services it needs, the UI's tests (npm test), then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check oneapi plugins tests bench examples
.venv/bin/python -m mypy  # the core, as [tool.mypy] in pyproject.toml says
scripts/services.sh
if ! command -v chromium >/dev/null 2>&1; then  # the UI tests drive Debian's chromium
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ -f frontend/package.json ] && [ -d frontend/node_modules ]; then
  (cd frontend && npm test --silent)
fi
# Let every Python process cache the bytecode of the project (a gateway starts ~100 times).
unset PYTHONDONTWRITEBYTECODE
exec .venv/bin/python -m pytest -q --durations=25 "$@"
