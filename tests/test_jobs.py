"""Background jobs on the master: channel tests, balances, log retention, failures retried."""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.conftest import Admin, gateway_env
from tests.gateway import GatewayProcess, api
from tests.test_scaleout import wait_until

pytestmark = pytest.mark.timeout(90)


def test_channel_tests_and_balances_run_on_schedule(upstream) -> None:
    gw = GatewayProcess(gateway_env(CHANNEL_TEST_FREQUENCY="0.02", CHANNEL_UPDATE_FREQUENCY="0.02"),
                        name="jobs").start()
    try:
        admin = Admin(gw, gw.login())
        channel = admin.channel(upstream.base_url, "gpt-4o-mini")
        wait_until(lambda: api(admin.root, "GET", f"/api/channel/{channel['id']}")["test_time"] > 0, 20)
        wait_until(lambda: api(admin.root, "GET", f"/api/channel/{channel['id']}")["balance"] == 75, 20)
        assert any(r.path.endswith("/dashboard/billing/subscription") for r in upstream.requests)
        assert any(r.path.endswith("/chat/completions") for r in upstream.requests)
    finally:
        gw.stop()


def test_log_retention_deletes_only_old_logs(tmp_path) -> None:
    db_path = tmp_path / "retention.db"
    gw = GatewayProcess(gateway_env(SYNC_FREQUENCY="1", SQLITE_PATH=str(db_path)), name="retention").start()
    try:
        admin = Admin(gw, gw.login())
        now = int(time.time())
        with sqlite3.connect(db_path) as conn:
            conn.executemany(
                "INSERT INTO logs (user_id, created_at, type, content, username, token_name, model_name, quota, "
                "prompt_tokens, completion_tokens, channel_id, request_id, elapsed_time, is_stream, "
                "system_prompt_reset) VALUES (1, ?, 2, ?, 'root', '', 'm', 1, 0, 0, 0, '', 0, 0, 0)",
                [(now - 3 * 86400, "old"), (now - 60, "fresh")],
            )
        admin.option("LogRetentionDays", "2")
        wait_until(lambda: [log["content"] for log in admin.logs(type=2)] == ["fresh"], 15)
    finally:
        gw.stop()


def test_a_failing_job_logs_and_runs_again(tmp_path) -> None:
    marks = tmp_path / "marks.txt"
    gw = GatewayProcess(gateway_env(ONEAPI_ECHO_MARKS=str(marks), ONEAPI_ECHO_JOB_INTERVAL="0.2",
                                    ONEAPI_ECHO_JOB_FAIL="1"), name="failjob").start()
    try:
        wait_until(lambda: marks.exists() and marks.read_text().count("job_ran") >= 3, 15)
        assert "job echo-tick failed; it runs again next round" in gw.log()
        assert gw.proc is not None and gw.proc.poll() is None
    finally:
        gw.stop()
