#!/usr/bin/env python3
"""Write the app's /api/openapi.json to frontend/openapi.json (the web UI's types come from it).

The app is built in-process with the core and the plugins of this repository (plugins/*,
whatever ONEAPI_PLUGINS / ONEAPI_DISABLED_PLUGINS say), on a throwaway SQLite file; nothing is
served. ``info.version`` is left out, so a version bump alone changes nothing.

    .venv/bin/python scripts/openapi-snapshot.py          # write frontend/openapi.json
    .venv/bin/python scripts/openapi-snapshot.py --check  # exit 1 when it is out of date
    cd frontend && npm run gen:api                       # both steps: snapshot, then types
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "frontend" / "openapi.json"


def repository_plugins() -> list[str]:
    """Entry-point names of the plugins under plugins/ (never a test or third-party one)."""
    names = []
    for project in sorted(ROOT.glob("plugins/*/pyproject.toml")):
        text = project.read_text(encoding="utf-8")
        section = re.search(r"^\[project\.entry-points\.oneapi\]\n((?:[^\[\n].*\n?)*)", text, re.M)
        if section:
            names += re.findall(r"^(\w[\w-]*)\s*=", section.group(1), re.M)
    return names


def build() -> dict[str, Any]:
    """The document the app serves, without ``info.version``."""
    sys.path.insert(0, str(ROOT))
    from oneapi.api.openapi import build_openapi
    from oneapi.app import create_app
    from oneapi.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            SQLITE_PATH=str(Path(tmp) / "snapshot.db"),
            SESSION_SECRET="snapshot",
            ONEAPI_PLUGINS=",".join(repository_plugins()),
            ONEAPI_DISABLED_PLUGINS="",
        )
        app = create_app(settings)

        async def document() -> dict[str, Any]:
            async with app.app_context():
                return build_openapi()

        doc = asyncio.run(document())
    doc["info"].pop("version", None)
    return doc


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when stale")
    parser.add_argument("--output", type=Path, default=SNAPSHOT)
    args = parser.parse_args()
    text = render(build())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run `cd frontend && npm run gen:api`")
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
