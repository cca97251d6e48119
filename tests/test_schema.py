"""An existing One API database (its original schema, rows in it, the Midjourney fork's table)
keeps working on all three databases: migrations adopt it without recreating or losing anything."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import bcrypt
import pytest
from oneapi_midjourney._models import Midjourney

from oneapi import models
from oneapi.db import Database, dsn_to_url
from oneapi.settings import load_settings
from tests.conftest import gateway_env
from tests.dbs import mariadb_database, postgres_database
from tests.gateway import GatewayProcess, api

pytestmark = pytest.mark.timeout(120)


def one_api_schema(dialect: str) -> list[str]:
    """One API's tables as its GORM models create them (column names and kinds, by hand)."""
    q = "`" if dialect == "mysql" else '"'
    pk = {"sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT", "postgres": "BIGSERIAL PRIMARY KEY",
          "mysql": "BIGINT AUTO_INCREMENT PRIMARY KEY"}[dialect]
    text = "LONGTEXT" if dialect == "mysql" else "TEXT"
    boolean = "BOOLEAN" if dialect != "mysql" else "TINYINT(1)"
    real = "DOUBLE PRECISION" if dialect == "postgres" else ("DOUBLE" if dialect == "mysql" else "REAL")
    return [
        f"CREATE TABLE users (id {pk}, username VARCHAR(191) UNIQUE, password {text} NOT NULL, "
        f"display_name VARCHAR(191), role BIGINT DEFAULT 1, status BIGINT DEFAULT 1, email VARCHAR(191), "
        f"github_id VARCHAR(191), wechat_id VARCHAR(191), lark_id VARCHAR(191), oidc_id VARCHAR(191), "
        f"access_token CHAR(32) UNIQUE, quota BIGINT DEFAULT 0, used_quota BIGINT DEFAULT 0, "
        f"request_count BIGINT DEFAULT 0, {q}group{q} VARCHAR(32) DEFAULT 'default', "
        f"aff_code VARCHAR(32) UNIQUE, inviter_id BIGINT)",
        f"CREATE TABLE tokens (id {pk}, user_id BIGINT, {q}key{q} CHAR(48) UNIQUE, status BIGINT DEFAULT 1, "
        f"name VARCHAR(191), created_time BIGINT, accessed_time BIGINT, expired_time BIGINT DEFAULT -1, "
        f"remain_quota BIGINT DEFAULT 0, unlimited_quota {boolean} DEFAULT false, used_quota BIGINT DEFAULT 0, "
        f"models {text}, subnet VARCHAR(191) DEFAULT '')",
        f"CREATE TABLE channels (id {pk}, type BIGINT DEFAULT 0, {q}key{q} {text}, status BIGINT DEFAULT 1, "
        f"name VARCHAR(191), weight BIGINT DEFAULT 0, created_time BIGINT, test_time BIGINT, "
        f"response_time BIGINT, base_url VARCHAR(191) DEFAULT '', other {text}, balance {real}, "
        f"balance_updated_time BIGINT, models {text}, {q}group{q} VARCHAR(32) DEFAULT 'default', "
        f"used_quota BIGINT DEFAULT 0, model_mapping VARCHAR(1024) DEFAULT '', priority BIGINT DEFAULT 0, "
        f"config {text}, system_prompt {text})",
        f"CREATE TABLE abilities ({q}group{q} VARCHAR(32) NOT NULL, model VARCHAR(191) NOT NULL, "
        f"channel_id BIGINT NOT NULL, enabled {boolean}, priority BIGINT DEFAULT 0, "
        f"PRIMARY KEY ({q}group{q}, model, channel_id))",
        f"CREATE TABLE logs (id {pk}, user_id BIGINT, created_at BIGINT, type BIGINT, content {text}, "
        f"username VARCHAR(191) DEFAULT '', token_name VARCHAR(191) DEFAULT '', model_name VARCHAR(191) DEFAULT '', "
        f"quota BIGINT DEFAULT 0, prompt_tokens BIGINT DEFAULT 0, completion_tokens BIGINT DEFAULT 0, "
        f"channel_id BIGINT, request_id VARCHAR(191) DEFAULT '', elapsed_time BIGINT DEFAULT 0, "
        f"is_stream {boolean} DEFAULT false, system_prompt_reset {boolean} DEFAULT false)",
        f"CREATE TABLE redemptions (id {pk}, user_id BIGINT, {q}key{q} CHAR(32) UNIQUE, status BIGINT DEFAULT 1, "
        f"name VARCHAR(191), quota BIGINT DEFAULT 100, created_time BIGINT, redeemed_time BIGINT)",
        f"CREATE TABLE options ({q}key{q} VARCHAR(191) PRIMARY KEY, value {text})",
        # The Midjourney fork's table (New API): no token_id, no task_id of ours.
        f"CREATE TABLE midjourneys (id {pk}, code BIGINT, user_id BIGINT, action VARCHAR(40), "
        f"mj_id VARCHAR(191), prompt {text}, prompt_en {text}, description {text}, state {text}, "
        f"submit_time BIGINT, start_time BIGINT, finish_time BIGINT, image_url {text}, status VARCHAR(20), "
        f"progress VARCHAR(30), fail_reason {text}, channel_id BIGINT, quota BIGINT, buttons {text}, "
        f"properties {text})",
    ]


ROOT_HASH = bcrypt.hashpw(b"one-api-pass", bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2a$")


def one_api_rows(dialect: str) -> list[str]:
    q = "`" if dialect == "mysql" else '"'
    true = "1" if dialect != "postgres" else "true"
    return [
        f"INSERT INTO users (username, password, display_name, role, status, quota, {q}group{q}, aff_code, "
        f"access_token) VALUES ('root', '{ROOT_HASH}', 'Root', 100, 1, 123456789, 'default', 'ab12', "
        f"'0123456789abcdef0123456789abcdef')",
        f"INSERT INTO tokens (user_id, {q}key{q}, status, name, created_time, expired_time, remain_quota, "
        f"unlimited_quota, models, subnet) VALUES (1, '{'k' * 48}', 1, 'legacy', 1700000000, -1, 4242, {true}, "
        f"'gpt-4o,gpt-4o-mini', '')",
        f"INSERT INTO channels (type, {q}key{q}, status, name, weight, models, {q}group{q}, priority, "
        f"model_mapping, base_url) VALUES (1, 'sk-old', 1, 'legacy channel', 0, 'gpt-4o', 'default', 3, '', "
        f"'http://127.0.0.1:9')",
        f"INSERT INTO abilities ({q}group{q}, model, channel_id, enabled, priority) "
        f"VALUES ('default', 'gpt-4o', 1, {true}, 3)",
        "INSERT INTO logs (user_id, created_at, type, content, username, quota) "
        "VALUES (1, 1700000000, 2, 'old log', 'root', 77)",
        f"INSERT INTO redemptions (user_id, {q}key{q}, status, name, quota, created_time) "
        f"VALUES (1, '{'r' * 32}', 1, 'gift', 1000, 1700000000)",
        f"INSERT INTO options ({q}key{q}, value) VALUES ('SystemName', 'Legacy One API')",
        "INSERT INTO midjourneys (code, user_id, action, mj_id, prompt, submit_time, status, progress, "
        "channel_id, quota) VALUES (1, 1, 'IMAGINE', '1700000000123', 'a cat', 1700000000, 'SUCCESS', "
        "'done', 1, 50000)",
    ]


@contextlib.contextmanager
def database(kind: str, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if kind == "sqlite":
        yield ""
    elif kind == "postgres":
        with postgres_database() as dsn:
            yield dsn
    else:
        with mariadb_database() as dsn:
            yield dsn


async def _seed_and_read(settings) -> dict:  # type: ignore[no-untyped-def]
    db = Database(settings)
    await db.connect()
    try:
        for statement in one_api_schema(db.dialect) + one_api_rows(db.dialect):
            await db.execute(statement)
        steps = [str(step) for step in await db.migrate()]
        assert await db.migrate() == []  # idempotent
        mj = await Midjourney.get(mj_id="1700000000123")
        user = await models.User.get(username="root")
        token = await models.Token.get(name="legacy")
        channel = await models.Channel.get(name="legacy channel")
        out = {
            "user": (user.quota, user.role, user.aff_code),
            "token": (token.key, token.remain_quota, token.unlimited_quota, token.models),
            "channel": (channel.priority, channel.models, channel.openai_organization),
            "log": (await models.Log.get(content="old log")).quota,
            "redemption": (await models.Redemption.get(name="gift")).quota,
            "option": (await models.Option.get(key="SystemName")).value,
            "midjourney": (mj.prompt, mj.quota, mj.token_id, mj.task_id),
            "steps": steps,
            "recorded": await db.fetch("SELECT app, name FROM tortoise_migrations ORDER BY app, name"),
        }
        await models.Channel.filter(id=channel.id).update(openai_organization="org-new")
        return out
    finally:
        await db.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mariadb"])
def test_one_api_database_keeps_working(kind, tmp_path) -> None:
    with database(kind, tmp_path) as dsn:
        env = gateway_env(SQL_DSN=dsn, SQLITE_PATH=str(tmp_path / "one-api.db"))
        settings = load_settings(**{k: v for k, v in env.items() if k in ("SQL_DSN", "SQLITE_PATH")})
        read = asyncio.run(_seed_and_read(settings))
        assert read["user"] == (123456789, 100, "ab12")
        assert read["token"] == ("k" * 48, 4242, True, "gpt-4o,gpt-4o-mini")
        assert read["channel"] == (3, "gpt-4o", None)  # the added column exists, empty
        assert (read["log"], read["redemption"], read["option"]) == (77, 1000, "Legacy One API")
        assert read["midjourney"] == ("a cat", 50000, 0, None)  # the fork's row, our columns added
        # Both baselines adopted (nothing recreated), the later migrations applied, all recorded.
        assert read["steps"][:1] == ["models.0001_initial (adopted existing tables)"]
        assert "midjourney.0001_initial (adopted existing tables)" in read["steps"]
        assert {(r["app"], r["name"]) for r in read["recorded"]} >= {
            ("models", "0001_initial"), ("models", "0002_abilities"), ("midjourney", "0001_initial")}
        gw = GatewayProcess(env, name=kind).start()
        try:
            client = gw.login("root", "one-api-pass")  # One API's bcrypt hash works
            assert api(client, "GET", "/api/status")["system_name"] == "Legacy One API"
            users = api(client, "GET", "/api/user/")
            assert [u["username"] for u in users] == ["root"]  # no second root was created
            channel = api(client, "GET", "/api/channel/1")
            assert channel["name"] == "legacy channel" and channel["openai_organization"] == "org-new"
            tokens = api(client, "GET", "/api/token/")
            assert tokens[0]["key"] == "k" * 48 and tokens[0]["remain_quota"] == 4242
        finally:
            gw.stop()


def test_dsn_forms() -> None:
    pg = dsn_to_url(load_settings(SQL_DSN="postgres://u:p@h:5432/db", SQL_MAX_LIFETIME=42))
    assert pg.startswith("postgres://u:p@h:5432/db?") and "max_inactive_connection_lifetime=42" in pg
    url = dsn_to_url(load_settings(SQL_DSN="root:secret@tcp(127.0.0.1:3306)/oneapi?charset=utf8mb4&parseTime=True"))
    assert url.startswith("mysql://root:secret@127.0.0.1:3306/oneapi?charset=utf8mb4&")
    assert "parseTime" not in url and "pool_recycle=60" in url
    assert dsn_to_url(load_settings(SQL_DSN="mysql://a@h/db")).startswith("mysql://a@h/db?")
    with pytest.raises(ValueError, match="SQL_DSN"):
        dsn_to_url(load_settings(SQL_DSN="nonsense"))


def test_fresh_database_gets_root_with_default_password(tmp_path) -> None:
    gw = GatewayProcess(gateway_env(), name="fresh").start()
    try:
        client = gw.login("root", "123456")
        me = api(client, "GET", "/api/user/self")
        assert me["role"] == 100 and me.get("root_password_unchanged") is True
        assert api(client, "GET", "/api/status")["root_password_unchanged"] is True
        assert "CHANGE IT" in gw.log()
    finally:
        gw.stop()
