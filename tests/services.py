"""The database services the suite needs, and the rule that CI never skips their tests.

A test of PostgreSQL, MariaDB or Redis calls ``require_service`` and is skipped when the port
is closed (handy on a laptop). Under ``CI=true`` such a skip fails the run: the hooks below
(imported into ``tests/conftest.py``, so active for the whole suite) note every skipped test
whose reason names one of those backends and, at the end, set a failing exit status and say
which tests were skipped and why.
"""

from __future__ import annotations

import os
import re
import socket

import pytest

PORTS = {"PostgreSQL": 5432, "MariaDB": 3306, "Redis": 6379}
BACKEND_SKIP = re.compile(r"\b(PostgreSQL|MariaDB|MySQL|Redis)\b", re.IGNORECASE)
_seen: list[tuple[str, str]] = []  # (test id, skip reason) of this session's backend skips


def reachable(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def require_service(name: str, port: int | None = None) -> None:
    """Skip the calling test (or fixture) when ``name`` (a key of ``PORTS``) does not answer."""
    port = PORTS[name] if port is None else port
    if not reachable(port):
        pytest.skip(f"{name} is not running on 127.0.0.1:{port}")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def pytest_sessionstart(session: pytest.Session) -> None:
    _seen.clear()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = _reason(report)
        if BACKEND_SKIP.search(reason):
            _seen.append((report.nodeid, reason))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if in_ci() and _seen and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not (in_ci() and _seen):
        return
    terminalreporter.section("database tests skipped under CI=true", sep="=", red=True, bold=True)
    terminalreporter.line(f"{len(_seen)} test(s) of PostgreSQL/MariaDB/Redis were skipped; with CI=true "
                          "that fails the run (scripts/services.sh starts the services):", red=True)
    for nodeid, reason in _seen[:20]:
        terminalreporter.line(f"  {nodeid}: {reason}")
    if len(_seen) > 20:
        terminalreporter.line(f"  ... and {len(_seen) - 20} more")
