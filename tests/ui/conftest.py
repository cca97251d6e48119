"""Fixtures of the browser tests: the built UI, a gateway of their own and Debian's chromium."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import gateway_env
from tests.gateway import ROOT, GatewayProcess

STATIC_INDEX = ROOT / "oneapi" / "static" / "index.html"
BUILD_SCRIPT = ROOT / "scripts" / "build-frontend.sh"
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def _ui_sources() -> list[Path]:
    """What the bundle is built from (the same list as the Makefile's rule)."""
    front = ROOT / "frontend"
    files = [p for p in (front / "src").rglob("*") if p.is_file()]
    return files + [p for p in (front / "index.html", front / "package.json") if p.exists()]


def _needs_build() -> bool:
    if not STATIC_INDEX.exists():
        return True
    built = STATIC_INDEX.stat().st_mtime
    return any(p.stat().st_mtime > built for p in _ui_sources())


@pytest.fixture(scope="session")
def built_ui() -> Path:
    """oneapi/static, built with scripts/build-frontend.sh when missing or older than its sources."""
    if _needs_build():
        if not (ROOT / "frontend" / "package.json").exists():
            pytest.fail("frontend/package.json is missing: nothing to build the web UI from")
        done = subprocess.run(
            [str(BUILD_SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        )
        if done.returncode != 0 or not STATIC_INDEX.exists():
            pytest.fail(
                f"building the web UI failed ({BUILD_SCRIPT.name} exited {done.returncode}); "
                f"run `make frontend` to see why.\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
    return STATIC_INDEX.parent


@pytest.fixture(scope="module")
def ui_gateway(built_ui: Path) -> Iterator[GatewayProcess]:
    """A gateway of the UI tests alone: they change root's password."""
    gw = GatewayProcess(gateway_env(), name="ui").start()
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.txt")]:
        old.unlink()
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not executable:
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()
