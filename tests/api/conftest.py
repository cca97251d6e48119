"""Fixtures of the /api tests: one gateway process per database (SQLite, PostgreSQL,
MariaDB when reachable), reused by every test of the session, and helpers to call it."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.dbs import mariadb_database, postgres_database
from tests.gateway import GatewayProcess
from tests.services import require_service

PASSWORD = "password123"
_names = itertools.count(1)


def unique(prefix: str = "u") -> str:
    """A fresh name of at most 12 characters (One API's username limit)."""
    return f"{prefix}{next(_names)}{uuid.uuid4().hex[:4]}"[:12]


class Api:
    """A running gateway plus helpers for its management API."""

    def __init__(self, proc: GatewayProcess, dialect: str, dsn: str) -> None:
        self.proc = proc
        self.dialect = dialect
        self.dsn = dsn
        self.base_url = proc.base_url
        self.root = self.login("root", "123456")

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, **kw)

    def login(self, username: str, password: str = PASSWORD) -> httpx.Client:
        client = self.client()
        r = client.post("/api/user/login", json={"username": username, "password": password})
        assert r.status_code == 200 and r.json()["success"], r.text
        return client

    def call(
        self, client: httpx.Client, method: str, path: str, **kw: Any
    ) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body); every /api answer must be the JSON envelope."""
        r = client.request(method, path, **kw)
        assert r.status_code < 500, f"{method} {path} -> {r.status_code} {r.text[:300]}"
        body = r.json()
        assert isinstance(body, dict) and "success" in body, r.text[:300]
        return r.status_code, body

    def ok(self, client: httpx.Client, method: str, path: str, **kw: Any) -> Any:
        """``data`` of a successful call (fails the test otherwise)."""
        status, body = self.call(client, method, path, **kw)
        assert status == 200 and body["success"], f"{method} {path} -> {status} {body}"
        return body.get("data")

    def refused(
        self, client: httpx.Client, method: str, path: str, status: int = 200, **kw: Any
    ) -> str:
        """The message of a refused call: ``success: false`` with HTTP ``status`` (One API
        answers 200 to anything the user can fix, 401 only when no credentials came at all)."""
        code, body = self.call(client, method, path, **kw)
        assert not body["success"] and code == status, f"{method} {path} -> {code} {body}"
        return str(body["message"])

    def user(self, role: int = 1, quota: int = 0, password: str = PASSWORD) -> dict[str, Any]:
        """A new user (admin: promoted by root) as the admin API shows it."""
        name = unique()
        created = self.ok(
            self.root, "POST", "/api/user/", json={"username": name, "password": password}
        )
        if role >= 10:
            self.ok(
                self.root,
                "POST",
                "/api/user/manage",
                json={"id": created["id"], "action": "promote"},
            )
        if quota:
            self.ok(self.root, "PUT", "/api/user/", json={"id": created["id"], "quota": quota})
        return dict(self.ok(self.root, "GET", f"/api/user/{created['id']}"))

    def user_client(self, role: int = 1, quota: int = 0) -> tuple[dict[str, Any], httpx.Client]:
        user = self.user(role, quota)
        return user, self.login(user["username"])

    def option(self, key: str, value: str) -> None:
        self.ok(self.root, "PUT", "/api/option/", json={"key": key, "value": value})

    def close(self) -> None:
        self.root.close()


def _start(stack: ExitStack, dialect: str) -> Api:
    env = {"CRITICAL_RATE_LIMIT": "0", "GLOBAL_API_RATE_LIMIT": "0", "SQL_MAX_OPEN_CONNS": "10"}
    dsn = ""
    if dialect == "postgres":
        require_service("PostgreSQL")
        dsn = stack.enter_context(postgres_database())
    elif dialect == "mariadb":
        require_service("MariaDB")
        dsn = stack.enter_context(mariadb_database())
    if dsn:
        env["SQL_DSN"] = dsn
    proc = GatewayProcess(env, name=f"api-{dialect}").start()
    stack.callback(proc.stop)
    if not dsn:
        dsn = proc.env["SQLITE_PATH"]
    return Api(proc, dialect, dsn)


DIALECTS = [d for d in os.environ.get("ONEAPI_TEST_DBS", "sqlite,postgres,mariadb").split(",") if d]


@pytest.fixture(scope="session", params=DIALECTS)
def api(request: pytest.FixtureRequest) -> Iterator[Api]:
    """The gateway on one database; every test using it runs once per database."""
    with ExitStack() as stack:
        gw = _start(stack, request.param)
        stack.callback(gw.close)
        yield gw


@pytest.fixture
def root(api: Api) -> httpx.Client:
    return api.root


LOG_COLUMNS = (
    "user_id",
    "created_at",
    "type",
    "content",
    "username",
    "token_name",
    "model_name",
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "channel_id",
    "request_id",
    "elapsed_time",
    "is_stream",
    "system_prompt_reset",
)


def insert_logs(api: Api, rows: list[dict[str, Any]]) -> None:
    """Write log rows straight into the gateway's database (as the relay would)."""
    defaults = {
        "content": "",
        "username": "",
        "token_name": "",
        "model_name": "",
        "quota": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "channel_id": 0,
        "request_id": "",
        "elapsed_time": 0,
        "is_stream": False,
        "system_prompt_reset": False,
    }
    values = [tuple({**defaults, **row}[c] for c in LOG_COLUMNS) for row in rows]
    names = ", ".join(LOG_COLUMNS)
    if api.dialect == "sqlite":
        import sqlite3

        with sqlite3.connect(api.dsn, timeout=30) as conn:
            marks = ", ".join("?" for _ in LOG_COLUMNS)
            conn.executemany(f"INSERT INTO logs ({names}) VALUES ({marks})", values)
        return
    import asyncio

    async def write() -> None:
        if api.dialect == "postgres":
            import asyncpg

            conn = await asyncpg.connect(api.dsn)
            marks = ", ".join(f"${i + 1}" for i in range(len(LOG_COLUMNS)))
            await conn.executemany(f"INSERT INTO logs ({names}) VALUES ({marks})", values)
            await conn.close()
        else:
            import asyncmy

            database = api.dsn.split(")/", 1)[1].split("?", 1)[0]
            conn = await asyncmy.connect(
                host="127.0.0.1", port=3306, user="root", password="", db=database
            )
            async with conn.cursor() as cur:
                marks = ", ".join("%s" for _ in LOG_COLUMNS)
                await cur.executemany(f"INSERT INTO logs ({names}) VALUES ({marks})", values)
            await conn.commit()
            conn.close()

    asyncio.run(write())
