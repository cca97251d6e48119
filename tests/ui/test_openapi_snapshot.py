"""The web UI's API types cannot drift from the API.

``frontend/openapi.json`` must be what the app serves now (``scripts/openapi-snapshot.py``),
and ``frontend/src/api-types.ts`` what ``openapi-typescript`` makes of it. After changing a
route, a request body or a response shape: ``cd frontend && npm run gen:api``, and commit both.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
GENERATOR = FRONTEND / "node_modules" / ".bin" / "openapi-typescript"
FIX = "run `cd frontend && npm run gen:api` and commit frontend/openapi.json and src/api-types.ts"


def _snapshot_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "openapi_snapshot", ROOT / "scripts" / "openapi-snapshot.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_openapi_snapshot_is_what_the_app_serves() -> None:
    script = _snapshot_script()
    committed = (FRONTEND / "openapi.json").read_text(encoding="utf-8")
    assert committed == script.render(script.build()), f"frontend/openapi.json is stale: {FIX}"


def test_generated_types_match_the_snapshot(tmp_path: Path) -> None:
    if not GENERATOR.exists():
        pytest.skip("frontend/node_modules is not installed (npm ci)")
    out = tmp_path / "api-types.ts"
    done = subprocess.run(
        [str(GENERATOR), "openapi.json", "-o", str(out)],
        cwd=FRONTEND, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    committed = (FRONTEND / "src" / "api-types.ts").read_text(encoding="utf-8")
    assert committed == out.read_text(encoding="utf-8"), (
        f"frontend/src/api-types.ts is stale: {FIX}"
    )
