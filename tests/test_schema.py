"""An existing One API database keeps working on all three databases (issue 17, "drop-in").

One API's latest schema is made by hand, table by table as its GORM models create it per
dialect (column types, defaults, index names), plus a column no version of either project has
(``legacy_note``) and the Midjourney fork's table; rows are put in as One API writes them, some
with the NULLs an older One API's rows have in columns added since. The gateway is started on
it: its migrations adopt it without recreating or losing anything, and logins, tokens,
channels, logs, quotas, relaying, edits and redemption codes keep working, the columns an edit
does not touch (known or not) untouched."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import bcrypt
import openai
import pytest

from oneapi.db import Database, dsn_to_url
from oneapi.schema import introspect
from oneapi.settings import Settings, load_settings
from tests.conftest import Admin, gateway_env, wait_logs
from tests.dbs import mariadb_database, postgres_database
from tests.fakes.openai_upstream import PROMPT_TOKENS, FakeOpenAI
from tests.gateway import GatewayProcess, api

pytestmark = pytest.mark.timeout(120)

# GORM's DataTypeOf, per dialect, for the Go kinds One API's models use: ``pk`` an int primary
# key (auto increment), ``int`` Go int/int64 (a ``bigint`` tag without ``type:`` changes
# nothing), ``int32`` the tag ``type:int``, ``uint`` *uint, ``str`` a string GORM gives no size,
# ``istr`` a string it gives 191 on MySQL (indexed, unique, with a default or a key). Anything
# else is an explicit ``type:`` and is used as written.
GORM_TYPES = {
    "sqlite": {"pk": "integer PRIMARY KEY AUTOINCREMENT", "int": "integer", "int32": "int",
               "uint": "integer", "bool": "numeric", "float": "real", "str": "text", "istr": "text"},
    "postgres": {"pk": "bigserial", "int": "bigint", "int32": "int", "uint": "bigint",
                 "bool": "boolean", "float": "decimal", "str": "text", "istr": "text"},
    "mysql": {"pk": "bigint AUTO_INCREMENT", "int": "bigint", "int32": "int", "uint": "bigint unsigned",
              "bool": "boolean", "float": "double", "str": "longtext", "istr": "varchar(191)"},
}
UNKNOWN = ("legacy_note", "varchar(191)", "NOT NULL DEFAULT ''")  # in no version of either project

# songquanpeng/one-api, model/*.go (master): (column, kind, constraint), in struct order.
ONE_API_TABLES: dict[str, list[tuple[str, ...]]] = {
    "users": [  # model/user.go (verification_code is gorm:"-:all": not a column)
        ("id", "pk"), ("username", "istr", "UNIQUE"), ("password", "str", "NOT NULL"),
        ("display_name", "istr"), ("role", "int32", "DEFAULT 1"), ("status", "int32", "DEFAULT 1"),
        ("email", "istr"), ("github_id", "istr"), ("wechat_id", "istr"), ("lark_id", "istr"),
        ("oidc_id", "istr"), ("access_token", "char(32)"), ("quota", "int", "DEFAULT 0"),
        ("used_quota", "int", "DEFAULT 0"), ("request_count", "int32", "DEFAULT 0"),
        ("group", "varchar(32)", "DEFAULT 'default'"), ("aff_code", "varchar(32)"),
        ("inviter_id", "int32"), UNKNOWN,
    ],
    "tokens": [  # model/token.go
        ("id", "pk"), ("user_id", "int"), ("key", "char(48)"), ("status", "int", "DEFAULT 1"),
        ("name", "istr"), ("created_time", "int"), ("accessed_time", "int"),
        ("expired_time", "int", "DEFAULT -1"), ("remain_quota", "int", "DEFAULT 0"),
        ("unlimited_quota", "bool", "DEFAULT false"), ("used_quota", "int", "DEFAULT 0"),
        ("models", "istr", "DEFAULT ''"), ("subnet", "istr", "DEFAULT ''"), UNKNOWN,
    ],
    "channels": [  # model/channel.go
        ("id", "pk"), ("type", "int", "DEFAULT 0"), ("key", "text"), ("status", "int", "DEFAULT 1"),
        ("name", "istr"), ("weight", "uint", "DEFAULT 0"), ("created_time", "int"), ("test_time", "int"),
        ("response_time", "int"), ("base_url", "istr", "DEFAULT ''"), ("other", "str"),
        ("balance", "float"), ("balance_updated_time", "int"), ("models", "str"),
        ("group", "varchar(32)", "DEFAULT 'default'"), ("used_quota", "int", "DEFAULT 0"),
        ("model_mapping", "varchar(1024)", "DEFAULT ''"), ("priority", "int", "DEFAULT 0"),
        ("config", "str"), ("system_prompt", "text"), UNKNOWN,
    ],
    "abilities": [  # model/ability.go: the key is (group, model, channel_id)
        ("group", "varchar(32)", "KEY"), ("model", "istr", "KEY"), ("channel_id", "int", "KEY"),
        ("enabled", "bool"), ("priority", "int", "DEFAULT 0"),
    ],
    "logs": [  # model/log.go
        ("id", "pk"), ("user_id", "int"), ("created_at", "int"), ("type", "int"), ("content", "str"),
        ("username", "istr", "DEFAULT ''"), ("token_name", "istr", "DEFAULT ''"),
        ("model_name", "istr", "DEFAULT ''"), ("quota", "int", "DEFAULT 0"),
        ("prompt_tokens", "int", "DEFAULT 0"), ("completion_tokens", "int", "DEFAULT 0"),
        ("channel_id", "int"), ("request_id", "istr", "DEFAULT ''"), ("elapsed_time", "int", "DEFAULT 0"),
        ("is_stream", "bool", "DEFAULT false"), ("system_prompt_reset", "bool", "DEFAULT false"),
    ],
    "redemptions": [  # model/redemption.go (count is gorm:"-:all")
        ("id", "pk"), ("user_id", "int"), ("key", "char(32)"), ("status", "int", "DEFAULT 1"),
        ("name", "istr"), ("quota", "int", "DEFAULT 100"), ("created_time", "int"), ("redeemed_time", "int"),
    ],
    "options": [("key", "istr", "KEY"), ("value", "str")],  # model/option.go
}
# GORM's index names: idx_<table>_<column> for index/uniqueIndex, or the tag's own name.
ONE_API_INDEXES = [
    ("idx_users_username", "users", "username", False), ("idx_users_display_name", "users", "display_name", False),
    ("idx_users_email", "users", "email", False), ("idx_users_github_id", "users", "github_id", False),
    ("idx_users_wechat_id", "users", "wechat_id", False), ("idx_users_lark_id", "users", "lark_id", False),
    ("idx_users_oidc_id", "users", "oidc_id", False), ("idx_users_access_token", "users", "access_token", True),
    ("idx_users_aff_code", "users", "aff_code", True), ("idx_users_inviter_id", "users", "inviter_id", False),
    ("idx_tokens_key", "tokens", "key", True), ("idx_tokens_name", "tokens", "name", False),
    ("idx_channels_name", "channels", "name", False),
    ("idx_abilities_channel_id", "abilities", "channel_id", False),
    ("idx_abilities_priority", "abilities", "priority", False),
    ("idx_logs_user_id", "logs", "user_id", False), ("idx_created_at_type", "logs", "created_at,type", False),
    ("index_username_model_name", "logs", "model_name,username", False),
    ("idx_logs_token_name", "logs", "token_name", False), ("idx_logs_model_name", "logs", "model_name", False),
    ("idx_logs_channel_id", "logs", "channel_id", False),
    ("idx_redemptions_key", "redemptions", "key", True), ("idx_redemptions_name", "redemptions", "name", False),
]
# The Midjourney fork's table (New API): no token_id, no task_id of ours.
MIDJOURNEYS = (
    'CREATE TABLE midjourneys (id {pk}, code {int}, user_id {int}, action varchar(40), mj_id {istr}, '
    'prompt {str}, prompt_en {str}, description {str}, state {str}, submit_time {int}, start_time {int}, '
    'finish_time {int}, image_url {str}, status varchar(20), progress varchar(30), fail_reason {str}, '
    'channel_id {int}, quota {int}, buttons {str}, properties {str}{key})'
)


def one_api_schema(dialect: str) -> list[str]:
    """One API's tables and indexes as GORM's AutoMigrate makes them (names double-quoted:
    ``Database.sql`` turns them into backticks on MySQL)."""
    types = GORM_TYPES[dialect]
    statements = []
    for table, columns in ONE_API_TABLES.items():
        defs, key = [], []
        for name, kind, *constraint in columns:
            extra = [c for c in constraint if c != "KEY"]
            if kind == "pk" and dialect != "sqlite" or "KEY" in constraint:
                key.append(f'"{name}"')
            defs.append(" ".join([f'"{name}"', types.get(kind, kind), *extra]))
        if key:
            defs.append(f"PRIMARY KEY ({', '.join(key)})")
        statements.append(f'CREATE TABLE "{table}" ({", ".join(defs)})')
    for name, table, cols, unique in ONE_API_INDEXES:
        quoted = ", ".join(f'"{c}"' for c in cols.split(","))
        statements.append(f'CREATE {"UNIQUE " if unique else ""}INDEX "{name}" ON "{table}" ({quoted})')
    key = "" if dialect == "sqlite" else ", PRIMARY KEY (id)"
    statements.append(MIDJOURNEYS.format(**types, key=key))
    return statements


def one_api_hash(password: str) -> str:
    """A password hash as One API's Go bcrypt writes it ($2a$; fewer rounds to keep the test quick)."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2a$", 1)


ROOT_ACCESS_TOKEN = "0123456789abcdef0123456789abcdef"
ALICE_KEY = "AliceLegacy01234" + "0123456789abcdef0123456789abcdef"  # 16 + 32, as One API makes them
ROOT_KEY = "RootLegacyKey987" + "fedcba9876543210fedcba9876543210"
GIFT_CODE = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
USED_CODE = "aaaabbbbccccddddeeeeffff00001111"
UPSTREAM_KEY = "sk-upstream-legacy"
SYSTEM_PROMPT = "You are the legacy assistant."
CHANNEL_CONFIG = json.dumps({"region": "", "sk": "", "ak": "", "user_id": "", "vertex_ai_project_id": "",
                             "vertex_ai_adc": ""})
MODEL_RATIO = {"gpt-4o": 2.5, "gpt-4o-mini": 0.075}
GROUP_RATIO = {"default": 1, "vip": 2, "svip": 1}
T0 = 1700000000


def one_api_rows(upstream: str) -> list[tuple[str, dict[str, Any]]]:
    """Rows as One API writes them (ids from the sequences: users 1 root, 2 alice; ...)."""
    return [
        ("users", {"username": "root", "password": one_api_hash("one-api-pass"), "display_name": "Root User",
                   "role": 100, "status": 1, "email": "root@example.com", "github_id": "", "wechat_id": "",
                   "lark_id": "", "oidc_id": "", "access_token": ROOT_ACCESS_TOKEN, "quota": 500000000000000,
                   "used_quota": 0, "request_count": 0, "group": "default", "aff_code": "ab12",
                   "inviter_id": 0, "legacy_note": "root's note"}),
        ("users", {"username": "alice", "password": one_api_hash("alice-pass-1"), "display_name": "Alice",
                   "role": 1, "status": 1, "email": "alice@example.com", "github_id": "gh-4242",
                   "wechat_id": "wx-alice", "lark_id": "lark-alice", "oidc_id": "oidc-alice",
                   "access_token": "fedcba9876543210fedcba9876543210", "quota": 10_000_000,
                   "used_quota": 1000, "request_count": 3, "group": "vip", "aff_code": "cd34",
                   "inviter_id": 1, "legacy_note": "alice's note"}),
        # An account from an older One API: the columns AutoMigrate added since (without a
        # default) are NULL in its row.
        ("users", {"username": "bob", "password": one_api_hash("bob-pass-12"), "display_name": "Bob", "role": 1,
                   "status": 1, "email": "", "github_id": "", "wechat_id": "", "quota": 0, "used_quota": 0,
                   "request_count": 0, "group": "default"}),
        ("tokens", {"user_id": 1, "key": ROOT_KEY, "status": 1, "name": "root-unlimited",
                    "created_time": T0, "accessed_time": T0, "expired_time": -1, "remain_quota": 0,
                    "unlimited_quota": True, "used_quota": 0, "models": "", "subnet": "",
                    "legacy_note": "root token note"}),
        ("tokens", {"user_id": 2, "key": ALICE_KEY, "status": 1, "name": "alice-limited",
                    "created_time": T0, "accessed_time": T0 + 5, "expired_time": -1, "remain_quota": 5_000_000,
                    "unlimited_quota": False, "used_quota": 1000, "models": "gpt-4o,gpt-4o-mini",
                    "subnet": "127.0.0.0/8", "legacy_note": "alice token note"}),
        ("channels", {"type": 1, "key": UPSTREAM_KEY, "status": 1, "name": "legacy openai", "weight": 3,
                      "created_time": T0, "test_time": T0 + 60, "response_time": 321, "base_url": upstream,
                      "other": "legacy-other", "balance": 12.5, "balance_updated_time": T0 + 70,
                      "models": "gpt-4o,gpt-4o-mini", "group": "default,vip", "used_quota": 999,
                      "model_mapping": '{"gpt-4-legacy": "gpt-4o"}', "priority": 5, "config": CHANNEL_CONFIG,
                      "system_prompt": SYSTEM_PROMPT, "legacy_note": "channel note"}),
        ("channels", {"type": 3, "key": "azure-key", "status": 2, "name": "legacy azure", "created_time": T0,
                      "base_url": "https://legacy.openai.azure.com", "other": "2024-02-15-preview",
                      "models": "gpt-4o", "group": "default"}),  # never tested, no config: NULLs
        *[("abilities", {"group": g, "model": m, "channel_id": 1, "enabled": True, "priority": 5})
          for g in ("default", "vip") for m in ("gpt-4o", "gpt-4o-mini")],
        ("abilities", {"group": "default", "model": "gpt-4o", "channel_id": 2, "enabled": False, "priority": 0}),
        ("logs", {"user_id": 2, "created_at": T0 + 100, "type": 2, "content": "倍率：0.07 × 2 × 4",
                  "username": "alice", "token_name": "alice-limited", "model_name": "gpt-4o-mini",
                  "quota": 1000, "prompt_tokens": 600, "completion_tokens": 400, "channel_id": 1,
                  "request_id": "2023111422133320000000", "elapsed_time": 812, "is_stream": True,
                  "system_prompt_reset": True}),
        ("logs", {"user_id": 2, "created_at": T0 + 50, "type": 1, "content": "通过兑换码充值 $2.000000 额度",
                  "username": "alice", "quota": 0}),  # channel_id NULL
        ("logs", {"user_id": 1, "created_at": T0 + 10, "type": 4, "content": "legacy system log",
                  "username": "root", "quota": 0}),
        ("redemptions", {"user_id": 1, "key": GIFT_CODE, "status": 1, "name": "gift", "quota": 250_000,
                         "created_time": T0, "redeemed_time": 0}),
        ("redemptions", {"user_id": 1, "key": USED_CODE, "status": 3, "name": "spent", "quota": 1_000_000,
                         "created_time": T0, "redeemed_time": T0 + 50}),
        *[("options", {"key": k, "value": v}) for k, v in {
            "SystemName": "Legacy One API", "QuotaPerUnit": "500000", "LogConsumeEnabled": "true",
            "ModelRatio": json.dumps(MODEL_RATIO), "CompletionRatio": json.dumps({"gpt-4o": 4, "gpt-4o-mini": 4}),
            "GroupRatio": json.dumps(GROUP_RATIO), "DisplayInCurrencyEnabled": "true",
            "TopUpLink": "https://shop.example.com", "SomeFutureOption": "kept"}.items()],
        ("midjourneys", {"code": 1, "user_id": 1, "action": "IMAGINE", "mj_id": "1700000000123",
                         "prompt": "a cat", "submit_time": T0, "status": "SUCCESS", "progress": "done",
                         "channel_id": 1, "quota": 50000}),
    ]


def insert(table: str, row: dict[str, Any]) -> tuple[str, list[Any]]:
    cols = ", ".join(f'"{c}"' for c in row)
    return f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" for _ in row)})', list(row.values())


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        yield ""
    elif kind == "postgres":
        with postgres_database() as dsn:
            yield dsn
    else:
        with mariadb_database() as dsn:
            yield dsn


class RawSQL:
    """Plain SQL on the gateway's database from the test, beside the running gateway."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def run(self, work: Callable[[Database], Any]) -> Any:
        async def go() -> Any:
            db = Database(self.settings)
            await db.connect()
            try:
                return await work(db)
            finally:
                await db.close()

        return asyncio.run(go())

    def rows(self, text: str, *values: Any) -> list[dict[str, Any]]:
        return self.run(lambda db: db.fetch(text, list(values)))  # type: ignore[no-any-return]

    def row(self, table: str, row_id: int, columns: str) -> dict[str, Any]:
        cols = ", ".join(f'"{c.strip()}"' for c in columns.split(","))
        (found,) = self.rows(f'SELECT {cols} FROM "{table}" WHERE id = ?', row_id)
        return {k.lower(): (bool(v) if k in BOOLEANS else float(v) if k == "balance" and v is not None else v)
                for k, v in found.items()}


BOOLEANS = {"unlimited_quota", "is_stream", "system_prompt_reset", "enabled"}


async def _seed(db: Database, upstream: str) -> None:
    for statement in one_api_schema(db.dialect):
        await db.execute(statement)
    for table, row in one_api_rows(upstream):
        await db.execute(*insert(table, row))


def _fails(client: Any, method: str, path: str, **kw: Any) -> str:
    """An /api call that must be refused: its message (whatever the HTTP status)."""
    body = client.request(method, path, **kw).json()
    assert body.get("success") is False, body
    return str(body.get("message"))


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mariadb"])
def test_one_api_database_keeps_working(kind, tmp_path, upstream: FakeOpenAI) -> None:
    upstream.expected_key = UPSTREAM_KEY  # the legacy channel's key is what goes upstream
    with database(kind) as dsn:
        env = gateway_env(SQL_DSN=dsn, SQLITE_PATH=str(tmp_path / "one-api.db"))
        sql = RawSQL(load_settings(SQL_DSN=dsn, SQLITE_PATH=env["SQLITE_PATH"]))
        sql.run(lambda db: _seed(db, upstream.base_url))
        gw = GatewayProcess(env, name=kind).start()  # the gateway adopts the database itself
        try:
            _adopted(gw, sql)
            root, alice = _logins(gw)
            _reads(gw, root, alice)
            _relay_is_billed(gw, sql, root, alice, upstream)
            _edits_keep_other_columns(gw, sql, root, alice)
            _redemption(sql, root, alice)
            root.close()
            alice.close()
        finally:
            gw.stop()
        assert sql.run(lambda db: db.pending_migrations()) == []


def _adopted(gw: GatewayProcess, sql: RawSQL) -> None:
    """Both baselines recorded as applied (nothing recreated), every row and column still there."""
    recorded = {(r["app"], r["name"]) for r in sql.rows("SELECT app, name FROM tortoise_migrations")}
    assert recorded >= {("models", "0001_initial"), ("models", "0002_abilities"), ("midjourney", "0001_initial")}
    log = gw.log_path.read_text(errors="replace")
    assert "adopting the existing tables of app models" in log
    assert "adopting the existing tables of app midjourney" in log
    counts = {t: sql.rows(f'SELECT COUNT(*) AS n FROM "{t}"')[0]["n"] for t in ONE_API_TABLES if t != "options"}
    assert counts == {"users": 3, "tokens": 2, "channels": 2, "abilities": 5, "logs": 3, "redemptions": 2}
    options = {r["key"]: r["value"] for r in sql.rows('SELECT "key", value FROM options')}
    seeded = {row["key"]: row["value"] for table, row in one_api_rows("") if table == "options"}
    assert {k: options.get(k) for k in seeded} == seeded  # none written over, the unknown one kept
    for table in ONE_API_TABLES:  # One API's indexes all still there (adoption only adds)
        have = {i.name for i in sql.run(lambda db, t=table: introspect.indexes(db.conn, t))}
        assert {name for name, t, _, _ in ONE_API_INDEXES if t == table} <= have, table
    notes = {t: [r["legacy_note"] for r in sql.rows(f'SELECT legacy_note FROM "{t}" ORDER BY id')]
             for t in ("users", "tokens", "channels")}
    assert notes == {"users": ["root's note", "alice's note", ""], "tokens": ["root token note", "alice token note"],
                     "channels": ["channel note", ""]}
    (mj,) = sql.rows("SELECT prompt, quota, token_id, task_id FROM midjourneys")
    assert mj == {"prompt": "a cat", "quota": 50000, "token_id": 0, "task_id": None}  # the fork's row, ours added


def _logins(gw: GatewayProcess) -> tuple[Any, Any]:
    """One API's $2a$ bcrypt hashes log in; its access token authenticates /api."""
    root = gw.login("root", "one-api-pass")
    alice = gw.login("alice", "alice-pass-1")
    bob = gw.login("bob", "bob-pass-12")  # an account from an older One API
    me = api(bob, "GET", "/api/user/self")
    bob.close()
    assert (me["username"], me["lark_id"], me["oidc_id"], me["inviter_id"]) == ("bob", "", "", 0)
    assert _fails(gw.client(), "POST", "/api/user/login", json={"username": "alice", "password": "wrong-pass"})
    assert api(root, "GET", "/api/status")["system_name"] == "Legacy One API"
    me = api(root, "GET", "/api/user/self")
    assert (me["username"], me["role"], me["quota"]) == ("root", 100, 500000000000000)
    with gw.client(headers={"Authorization": f"Bearer {ROOT_ACCESS_TOKEN}"}) as by_token:
        assert api(by_token, "GET", "/api/user/self")["username"] == "root"
    return root, alice


def _reads(gw: GatewayProcess, root: Any, alice: Any) -> None:
    """Users, tokens, channels, logs and codes read back as One API's front-end asks for them."""
    users = api(root, "GET", "/api/user/", params={"p": 0, "order": ""})
    assert [u["username"] for u in users] == ["bob", "alice", "root"]
    # GORM reads NULL as the zero value: so does the gateway (no null where One API gives "" or 0)
    assert {k: users[0][k] for k in ("email", "lark_id", "oidc_id", "aff_code", "inviter_id", "quota")} == {
        "email": "", "lark_id": "", "oidc_id": "", "aff_code": "", "inviter_id": 0, "quota": 0}
    assert {k: users[1][k] for k in ("display_name", "role", "status", "email", "github_id", "wechat_id",
                                     "lark_id", "oidc_id", "quota", "used_quota", "request_count", "group",
                                     "aff_code", "inviter_id")} == {
        "display_name": "Alice", "role": 1, "status": 1, "email": "alice@example.com", "github_id": "gh-4242",
        "wechat_id": "wx-alice", "lark_id": "lark-alice", "oidc_id": "oidc-alice", "quota": 10_000_000,
        "used_quota": 1000, "request_count": 3, "group": "vip", "aff_code": "cd34", "inviter_id": 1}
    (token,) = api(alice, "GET", "/api/token/", params={"p": 0, "order": ""})
    assert {k: token[k] for k in ("id", "key", "name", "status", "created_time", "accessed_time", "expired_time",
                                  "remain_quota", "unlimited_quota", "used_quota", "models", "subnet")} == {
        "id": 2, "key": ALICE_KEY, "name": "alice-limited", "status": 1, "created_time": T0,
        "accessed_time": T0 + 5, "expired_time": -1, "remain_quota": 5_000_000, "unlimited_quota": False,
        "used_quota": 1000, "models": "gpt-4o,gpt-4o-mini", "subnet": "127.0.0.0/8"}
    (token,) = api(root, "GET", "/api/token/", params={"p": 0, "order": ""})
    assert (token["key"], token["unlimited_quota"]) == (ROOT_KEY, True)
    channels = {c["id"]: c for c in api(root, "GET", "/api/channel/", params={"p": 0})}
    assert {k: channels[1][k] for k in ("type", "status", "name", "weight", "created_time", "test_time",
                                        "response_time", "other", "balance", "balance_updated_time", "models",
                                        "group", "used_quota", "model_mapping", "priority", "config",
                                        "system_prompt")} == {
        "type": 1, "status": 1, "name": "legacy openai", "weight": 3, "created_time": T0, "test_time": T0 + 60,
        "response_time": 321, "other": "legacy-other", "balance": 12.5, "balance_updated_time": T0 + 70,
        "models": "gpt-4o,gpt-4o-mini", "group": "default,vip", "used_quota": 999,
        "model_mapping": '{"gpt-4-legacy": "gpt-4o"}', "priority": 5, "config": CHANNEL_CONFIG,
        "system_prompt": SYSTEM_PROMPT}
    assert {k: channels[2][k] for k in ("type", "status", "other", "balance", "balance_updated_time", "test_time",
                                        "response_time", "config", "system_prompt", "weight", "priority")} == {
        "type": 3, "status": 2, "other": "2024-02-15-preview", "balance": 0, "balance_updated_time": 0,
        "test_time": 0, "response_time": 0, "config": "", "system_prompt": "", "weight": 0, "priority": 0}
    end = int(time.time()) + 3600
    logs = api(root, "GET", "/api/log/", params={"p": 0, "type": 0, "username": "", "token_name": "",
                                                  "model_name": "", "start_timestamp": 0, "end_timestamp": end,
                                                  "channel": ""})
    assert [(g["username"], g["type"], g["quota"], g["channel"]) for g in logs] == [
        ("root", 4, 0, 0), ("alice", 1, 0, 0), ("alice", 2, 1000, 1)]  # by id, newest first
    consume = logs[2]
    assert {k: consume[k] for k in ("created_at", "token_name", "model_name", "prompt_tokens",
                                    "completion_tokens", "channel", "request_id", "elapsed_time", "is_stream",
                                    "system_prompt_reset")} == {
        "created_at": T0 + 100, "token_name": "alice-limited", "model_name": "gpt-4o-mini", "prompt_tokens": 600,
        "completion_tokens": 400, "channel": 1, "request_id": "2023111422133320000000", "elapsed_time": 812,
        "is_stream": True, "system_prompt_reset": True}
    mine = api(alice, "GET", "/api/log/self", params={"p": 0, "type": 0, "token_name": "", "model_name": "",
                                                      "start_timestamp": 0, "end_timestamp": end})
    assert [(g["type"], g["content"]) for g in mine] == [(1, "通过兑换码充值 $2.000000 额度"),
                                                        (2, "倍率：0.07 × 2 × 4")]
    codes = api(root, "GET", "/api/redemption/", params={"p": 0})
    assert sorted((c["key"], c["status"], c["quota"]) for c in codes) == [
        (GIFT_CODE, 1, 250_000), (USED_CODE, 3, 1_000_000)]


def _relay_is_billed(gw: GatewayProcess, sql: RawSQL, root: Any, alice: Any, upstream: FakeOpenAI) -> None:
    """The legacy limited token relays through the legacy channel (its key, its system prompt)
    and both quotas go down by exactly the logged quota."""
    client = openai.OpenAI(api_key="sk-" + ALICE_KEY, base_url=gw.base_url + "/v1", max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "tok0 tok1 tok2 tok3 tok4 "
    sent = upstream.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent.json["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    admin = Admin(gw, root)
    log = wait_logs(admin, "alice-limited", 2)[0]
    admin.settled(2)
    quota = math.ceil(GROUP_RATIO["vip"] * MODEL_RATIO["gpt-4o"] * (PROMPT_TOKENS + 5 * 4))  # vip × ratio × tokens
    assert (log["quota"], log["model_name"], log["channel"], log["user_id"]) == (quota, "gpt-4o", 1, 2)
    assert sql.row("tokens", 2, "remain_quota, used_quota, legacy_note") == {
        "remain_quota": 5_000_000 - quota, "used_quota": 1000 + quota, "legacy_note": "alice token note"}
    assert sql.row("users", 2, "quota, used_quota, request_count, legacy_note") == {
        "quota": 10_000_000 - quota, "used_quota": 1000 + quota, "request_count": 4, "legacy_note": "alice's note"}
    (row,) = sql.rows("SELECT quota, token_name, type FROM logs WHERE id = ?", log["id"])
    assert row == {"quota": quota, "token_name": "alice-limited", "type": 2}
    assert api(alice, "GET", "/api/user/self")["quota"] == 10_000_000 - quota
    assert api(alice, "GET", "/api/token/", params={"p": 0})[0]["remain_quota"] == 5_000_000 - quota
    stat = api(alice, "GET", "/api/log/self/stat", params={"type": 2, "token_name": "", "model_name": "",
                                                           "start_timestamp": 0, "end_timestamp": 0})
    assert stat["quota"] == 1000 + quota
    assert api(root, "GET", "/api/log/stat", params={"type": 2, "username": "alice"})["quota"] == 1000 + quota


CHANNEL_KEPT = ("type, key, status, weight, created_time, test_time, response_time, base_url, other, balance, "
                "balance_updated_time, models, group, model_mapping, config, system_prompt, legacy_note")
USER_KEPT = ("username, password, role, status, email, github_id, wechat_id, lark_id, oidc_id, access_token, "
             "used_quota, group, aff_code, inviter_id, legacy_note")


def _edits_keep_other_columns(gw: GatewayProcess, sql: RawSQL, root: Any, alice: Any) -> None:
    """Channel, user and token edits as One API's front-end sends them (the whole row back)
    change what was edited and nothing else: not the columns the form leaves out, not the
    columns this gateway does not know."""
    channel_before = sql.row("channels", 1, CHANNEL_KEPT + ", used_quota")
    shown = api(root, "GET", "/api/channel/1")
    api(root, "PUT", "/api/channel/", json={**shown, "key": "", "name": "legacy openai (edited)", "priority": 7})
    assert sql.row("channels", 1, CHANNEL_KEPT + ", used_quota") == channel_before
    assert sql.row("channels", 1, "name, priority") == {"name": "legacy openai (edited)", "priority": 7}
    abilities = sql.rows('SELECT "group", model, priority FROM abilities WHERE channel_id = 1')
    assert sorted((a["group"], a["model"], a["priority"]) for a in abilities) == [
        ("default", "gpt-4o", 7), ("default", "gpt-4o-mini", 7), ("vip", "gpt-4o", 7), ("vip", "gpt-4o-mini", 7)]

    # The older channel: what the form shows as 0 and "" for its NULLs stays NULL unless edited.
    shown = api(root, "GET", "/api/channel/2")
    api(root, "PUT", "/api/channel/", json={**shown, "key": "", "name": "legacy azure (edited)"})
    assert sql.row("channels", 2, "name, other, balance, balance_updated_time, test_time, response_time") == {
        "name": "legacy azure (edited)", "other": "2024-02-15-preview", "balance": None,
        "balance_updated_time": None, "test_time": None, "response_time": None}

    user_before = sql.row("users", 2, USER_KEPT + ", request_count")
    api(root, "PUT", "/api/user/", json={"id": 2, "username": "alice", "display_name": "Alice B.", "password": "",
                                         "github_id": "gh-4242", "wechat_id": "wx-alice",
                                         "email": "alice@example.com", "quota": 20_000_000, "group": "vip"})
    assert sql.row("users", 2, USER_KEPT + ", request_count") == user_before
    assert sql.row("users", 2, "display_name, quota") == {"display_name": "Alice B.", "quota": 20_000_000}
    gw.login("alice", "alice-pass-1").close()  # the old password still logs in
    api(root, "PUT", "/api/user/", json={"id": 3, "username": "bob", "display_name": "Bob", "password": "",
                                         "github_id": "", "wechat_id": "", "email": "", "quota": 5000,
                                         "group": "default"})
    assert sql.row("users", 3, "quota, lark_id, oidc_id, access_token, aff_code, inviter_id, legacy_note") == {
        "quota": 5000, "lark_id": None, "oidc_id": None, "access_token": None, "aff_code": None,
        "inviter_id": None, "legacy_note": ""}

    token_before = sql.row("tokens", 2, 'user_id, key, status, created_time, used_quota, legacy_note')
    api(alice, "PUT", "/api/token/", json={"id": 2, "name": "alice-limited", "remain_quota": 4_000_000,
                                           "expired_time": -1, "unlimited_quota": False,
                                           "models": "gpt-4o,gpt-4o-mini", "subnet": "127.0.0.0/8"})
    assert sql.row("tokens", 2, 'user_id, key, status, created_time, used_quota, legacy_note') == token_before
    assert sql.row("tokens", 2, "remain_quota")["remain_quota"] == 4_000_000
    # New rows go into tables with a NOT NULL column the gateway does not know (its default fills it).
    api(alice, "POST", "/api/token/", json={"name": "new-token", "remain_quota": 1000, "expired_time": -1,
                                            "unlimited_quota": False})
    assert sql.rows("SELECT user_id, legacy_note FROM tokens WHERE name = 'new-token'") == [
        {"user_id": 2, "legacy_note": ""}]


def _redemption(sql: RawSQL, root: Any, alice: Any) -> None:
    """A legacy code is redeemed once; a code One API marked used is refused."""
    assert api(alice, "POST", "/api/user/topup", json={"key": GIFT_CODE}) == 250_000
    assert sql.row("users", 2, "quota, legacy_note") == {"quota": 20_250_000, "legacy_note": "alice's note"}
    code = sql.row("redemptions", 1, "status, redeemed_time, quota")
    assert code["status"] == 3 and code["redeemed_time"] >= int(time.time()) - 600 and code["quota"] == 250_000
    assert _fails(alice, "POST", "/api/user/topup", json={"key": GIFT_CODE})
    assert _fails(alice, "POST", "/api/user/topup", json={"key": USED_CODE})
    assert api(alice, "GET", "/api/user/self")["quota"] == 20_250_000


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
