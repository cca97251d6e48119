"""The suite cannot pass without its database services: scripts/services.sh fails when one does
not come up, and under CI=true a skipped PostgreSQL/MariaDB/Redis test fails the pytest run."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gateway import free_port

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("pg_isready", "mysqladmin", "redis-cli")  # the probes scripts/services.sh runs
STARTERS = ("pg_ctlcluster", "start-stop-daemon", "redis-server")


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _services_sh(tmp_path: Path, down: set[str]) -> subprocess.CompletedProcess[str]:
    """Run scripts/services.sh with the probes and starters replaced by stubs; the probes in
    ``down`` never answer, whatever is started."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for probe in SERVICES:
        answer = "exit 1" if probe in down else ("echo PONG" if probe == "redis-cli" else "exit 0")
        _stub(bin_dir, probe, answer)
    for starter in STARTERS:
        _stub(bin_dir, starter, f'echo "{starter} $*" >> "{tmp_path}/started"')
    _stub(bin_dir, "sleep", "exit 0")  # the waits, without waiting
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SERVICES_WAIT": "3"}
    return subprocess.run(["bash", str(ROOT / "scripts" / "services.sh")], env=env, capture_output=True,
                          text=True, timeout=60)


def test_services_sh_passes_when_every_service_answers(tmp_path: Path) -> None:
    done = _services_sh(tmp_path, down=set())
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "started").exists()  # nothing needed starting


@pytest.mark.parametrize(("down", "named"), [
    ({"pg_isready"}, ["PostgreSQL"]),
    ({"mysqladmin", "redis-cli"}, ["MariaDB", "Redis"]),
])
def test_services_sh_fails_loudly_when_a_service_does_not_come_up(tmp_path: Path, down: set[str],
                                                                  named: list[str]) -> None:
    done = _services_sh(tmp_path, down)
    assert done.returncode != 0
    assert "FAILED" in done.stderr
    for name in ("PostgreSQL", "MariaDB", "Redis"):
        assert (f"- {name}" in done.stderr) == (name in named), done.stderr
    started = (tmp_path / "started").read_text()
    assert len(started.splitlines()) == len(down)  # it tried to start each missing one


GENERATED = '''
import pytest
from tests.services import require_service

def test_needs_postgres():
    require_service("PostgreSQL", port={port})

def test_skipped_for_another_reason():
    pytest.skip("not on this platform")

def test_plain():
    assert True
'''


def _pytest(tmp_path: Path, ci: str | None, body: str) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess on one generated test file, with the guard of tests/services.py."""
    (tmp_path / "test_generated.py").write_text(body)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the project's settings
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "tests.services",
                           "-p", "no:cacheprovider", str(tmp_path / "test_generated.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_under_ci_a_skipped_database_test_fails_the_run(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    done = _pytest(tmp_path, "true", GENERATED.format(port=closed))
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout
    assert "1 passed, 2 skipped" in done.stdout
    assert "database tests skipped under CI=true" in done.stdout
    assert f"test_needs_postgres: Skipped: PostgreSQL is not running on 127.0.0.1:{closed}" in done.stdout
    assert "test_skipped_for_another_reason:" not in done.stdout.split("database tests skipped")[1]


def test_without_ci_the_same_skip_passes(tmp_path: Path) -> None:
    done = _pytest(tmp_path, None, GENERATED.format(port=free_port()))
    assert done.returncode == pytest.ExitCode.OK, done.stdout
    assert "1 passed, 2 skipped" in done.stdout and "database tests skipped" not in done.stdout


def test_under_ci_other_skips_and_reachable_services_pass(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listening:  # "PostgreSQL" answers here
        port = listening.getsockname()[1]
        done = _pytest(tmp_path, "true", GENERATED.format(port=port))
    assert done.returncode == pytest.ExitCode.OK, done.stdout
    assert "2 passed, 1 skipped" in done.stdout
