"""Settings validation, the command line, and `make run` answering /api/status."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from oneapi import __version__
from oneapi.settings import SettingsError, load_settings
from tests.gateway import ROOT, free_port

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("PORT", "abc", "PORT"),
        ("PORT", "70000", "PORT"),
        ("NODE_TYPE", "boss", "NODE_TYPE"),
        ("SYNC_FREQUENCY", "0", "SYNC_FREQUENCY"),
        ("BATCH_UPDATE_ENABLED", "maybe", "BATCH_UPDATE_ENABLED"),
        ("RELAY_TIMEOUT", "-1", "RELAY_TIMEOUT"),
        ("GLOBAL_API_RATE_LIMIT", "lots", "GLOBAL_API_RATE_LIMIT"),
    ],
)
def test_bad_setting_names_the_variable(monkeypatch, name, value, fragment) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=fragment) as err:
        load_settings()
    assert "\n" not in str(err.value)


def test_settings_defaults_and_aliases(monkeypatch) -> None:
    monkeypatch.setenv("SQL_MAX_LIFETIME", "33")
    settings = load_settings()
    assert settings.PORT == 3000 and settings.NODE_TYPE == "master" and settings.SQL_CONN_MAX_LIFETIME == 33
    assert settings.GLOBAL_API_RATE_LIMIT == 180 and settings.GLOBAL_WEB_RATE_LIMIT == 60
    monkeypatch.setenv("ONEAPI_PLUGINS", "openai, echo")
    monkeypatch.setenv("ONEAPI_DISABLED_PLUGINS", "azure")
    settings = load_settings()
    assert settings.allowed_plugins == {"openai", "echo"} and settings.disabled_plugins == {"azure"}


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "oneapi", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


def test_cli_version_and_help() -> None:
    assert run_cli("--version").stdout.strip() == f"oneapi {__version__}"
    help_text = run_cli("--help").stdout
    assert "--port" in help_text and "--log-dir" in help_text


def test_cli_bad_environment_is_one_clear_line() -> None:
    result = run_cli("--port", "3000", env={"NODE_TYPE": "boss"})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "NODE_TYPE" in result.stderr


def test_make_run_serves_status_and_stops_on_sigterm(tmp_path) -> None:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "SQLITE_PATH": str(tmp_path / "db.sqlite"),
           "SESSION_SECRET": "x"}
    proc = subprocess.Popen(["make", "--no-print-directory", "run", f"PORT={port}"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=1)
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("make run did not answer /api/status")
        status = r.json()
        assert status["success"] and status["data"]["version"] == __version__
        assert status["data"]["system_name"] == "One API"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=40)
    assert b"Tortoise-ORM shutdown" in out  # after_serving ran: a graceful stop
    assert (ROOT / "logs" / "oneapi.log").exists()


def test_web_pages_spa_fallback_and_rate_limit(tmp_path) -> None:
    from tests.conftest import gateway_env
    from tests.gateway import GatewayProcess

    gw = GatewayProcess(gateway_env(GLOBAL_WEB_RATE_LIMIT="3"), name="web").start()
    try:
        pages = [httpx.get(f"{gw.base_url}/some/deep/link{i}") for i in range(4)]
        assert [p.status_code for p in pages] == [200, 200, 200, 429]
        assert "text/html" in pages[0].headers["content-type"]
        api_404 = httpx.get(f"{gw.base_url}/api/definitely-not-a-route")
        assert api_404.status_code == 404 and api_404.json()["success"] is False
        v1_404 = httpx.get(f"{gw.base_url}/v1/definitely-not-a-route")
        assert v1_404.status_code == 404 and "error" in v1_404.json()
    finally:
        gw.stop()
