"""One API compatibility: its web console's and its scripts' calls, replayed route by route.

Written from One API's public source (songquanpeng/one-api: ``router/api.go``, the React
console ``web/default/src``, ``middleware/auth.go``, ``docs/API.md``), not from this gateway's
handlers. One entry per call the console makes (the file it comes from in the comment): the
method, the path exactly as the console builds it (trailing slash and query string included),
the body exactly as it sends it (whole rows read back, ``password: ""``, ``aff_code: null``,
``count: NaN`` serialised as null, ...), and what the console reads from the answer.

Each call runs twice: with the console's path and with its trailing slash toggled (One API's
router matches both). One API's conventions asserted everywhere:

* every answer is the envelope ``{"success", "message", ...}``, HTTP 200 also for business
  errors (the console reads ``message`` only from 2xx answers);
* HTTP 401 only when neither a session nor an ``Authorization`` header came (the console
  takes 401 for "session expired" and sends the user to the login page);
* scripts authenticate with ``Authorization: <access token>`` (``Bearer`` optional); an
  invalid one is a business error (200), not a 401;
* unknown /api routes answer 404.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.api.conftest import PASSWORD, Api, insert_logs, unique
from tests.fakes.openai_upstream import FakeOpenAI

UPSTREAM_KEY = "sk-compat-upstream-key-0001"
CLOSED = "http://127.0.0.1:9"  # nothing listens there
NOW = int(time.time())
# LogsTable: start = Date.parse(timestamp2string(0)) / 1000, end = now + 1 hour
LOG_RANGE = f"start_timestamp=0&end_timestamp={NOW + 3600}"
# EditChannel's config state as it stringifies it when the channel had none
EMPTY_CONFIG = json.dumps(
    {"region": "", "sk": "", "ak": "", "user_id": "", "vertex_ai_project_id": "", "vertex_ai_adc": ""}
)

Ctx = dict[str, Any]
Check = Callable[[dict[str, Any], Ctx, "World"], None]


class World:
    """The identities and records the calls act on, one set per gateway (database)."""

    def __init__(self, api: Api, upstream: FakeOpenAI) -> None:
        self.api = api
        self.upstream = upstream
        self.user, self.user_client = api.user_client()
        self.admin, self.admin_client = api.user_client(role=10)
        self.root_id = int(api.ok(api.root, "GET", "/api/user/self")["id"])
        self.user_access_token = str(api.ok(self.user_client, "GET", "/api/user/token"))
        self.admin_access_token = str(api.ok(self.admin_client, "GET", "/api/user/token"))
        # something in every list the console shows: a token, a topup log, a consume log
        self.token = api.ok(self.user_client, "POST", "/api/token/", json={"name": "compat"})
        api.ok(api.root, "POST", "/api/topup", json={"user_id": self.user["id"], "quota": 1000})
        insert_logs(api, [{
            "user_id": self.user["id"], "created_at": NOW - 60, "type": 2,
            "username": self.user["username"], "token_name": "compat", "model_name": "gpt-4o-mini",
            "quota": 150, "prompt_tokens": 10, "completion_tokens": 5, "channel_id": 1,
            "request_id": "compat-1", "content": "model ratio 0.075",
        }])  # fmt: skip

    def client(self, who: str) -> httpx.Client:
        if who == "user":
            return self.user_client
        if who == "admin":
            return self.admin_client
        if who == "root":
            return self.api.root
        assert who in ("anonymous", "script"), who
        return self.api.client()  # a fresh client: no session cookie

    # records made for one call (a call may change or delete them)

    def channel(self, **fields: Any) -> dict[str, Any]:
        body = {"type": 1, "name": unique("c"), "key": "sk-compat-channel-key-0001",
                "base_url": CLOSED, "models": "gpt-4o-mini", "group": "default", **fields}  # fmt: skip
        return dict(self.api.ok(self.api.root, "POST", "/api/channel/", json=body)[0])

    def live_channel(self) -> dict[str, Any]:
        return self.channel(base_url=self.upstream.base_url, key=UPSTREAM_KEY)

    def token_of_user(self, **fields: Any) -> dict[str, Any]:
        body = {"name": unique("t"), **fields}
        return dict(self.api.ok(self.user_client, "POST", "/api/token/", json=body))

    def code(self, quota: int = 100) -> dict[str, Any]:
        keys = self.api.ok(
            self.api.root, "POST", "/api/redemption/", json={"name": "compat", "quota": quota}
        )
        found = self.api.ok(self.api.root, "GET", "/api/redemption/search", params={"keyword": keys[0]})
        return {"key": keys[0], **next(r for r in found if r["key"] == keys[0])}

    def fresh_user(self, role: int = 1) -> Ctx:
        """A new user logged in (``client``), for calls that change or end their own account."""
        user, client = self.api.user_client(role)
        return {"user": user, "client": client, "username": user["username"], "id": user["id"]}

    def target_user(self, role: int = 1) -> Ctx:
        """A new user an admin acts on (no login: password hashing is slow)."""
        user = self.api.user(role)
        return {"user": user, "username": user["username"], "id": user["id"]}

    def option(self, key: str) -> str:
        rows = self.api.ok(self.api.root, "GET", "/api/option/")
        return str(next(r["value"] for r in rows if r["key"] == key))


@dataclass(frozen=True)
class Call:
    """One call of One API's console or of a script, and what One API answers to it."""

    name: str
    who: str  # anonymous | user | admin | root | script | fresh (ctx["client"], from prepare)
    method: str
    path: str  # str.format'ed with the context
    body: Any = None  # a JSON value, or a function (ctx, world) -> JSON value
    success: bool = True
    status: int = 200
    prepare: Callable[[World], Ctx] | None = None
    check: Check | None = None
    headers: Callable[[Ctx, World], dict[str, str]] | None = None
    cleanup: Callable[[Ctx, World], None] | None = None
    retry_on: str = ""  # a refusal saying this is retried for a while (a run in progress)
    marks: tuple[Any, ...] = field(default=())


# what the console reads from an answer ------------------------------------------------------


def data_is(kind: type | tuple[type, ...]) -> Check:
    def check(body: dict[str, Any], ctx: Ctx, world: World) -> None:
        assert isinstance(body.get("data"), kind), body
        assert not isinstance(body["data"], bool) or kind is bool, body

    return check


def rows_with(*keys: str, nonempty: bool = False) -> Check:
    """``data`` is a list of objects with ``keys`` (the table columns the console renders)."""

    def check(body: dict[str, Any], ctx: Ctx, world: World) -> None:
        rows = body.get("data")
        assert isinstance(rows, list), body
        assert rows or not nonempty, "the console would show an empty table"
        for row in rows:
            assert isinstance(row, dict) and set(keys) <= set(row), (keys, row)

    return check


def object_with(*keys: str, **values: Any) -> Check:
    def check(body: dict[str, Any], ctx: Ctx, world: World) -> None:
        data = body.get("data")
        assert isinstance(data, dict) and set(keys) <= set(data), (keys, body)
        for key, value in values.items():
            want = value(ctx) if callable(value) else value
            assert data[key] == want, (key, data[key], want)

    return check


def top_level_number(key: str) -> Check:
    """ChannelsTable reads ``time`` / ``balance`` from the answer itself, not from data."""

    def check(body: dict[str, Any], ctx: Ctx, world: World) -> None:
        assert isinstance(body.get(key), int | float) and not isinstance(body[key], bool), body

    return check


def all_of(*checks: Check) -> Check:
    def check(body: dict[str, Any], ctx: Ctx, world: World) -> None:
        for one in checks:
            one(body, ctx, world)

    return check


TOKEN_COLUMNS = ("id", "name", "key", "status", "used_quota", "remain_quota", "unlimited_quota",
                 "created_time", "expired_time", "models", "subnet")  # fmt: skip
CHANNEL_COLUMNS = ("id", "name", "group", "type", "status", "response_time", "test_time",
                   "balance", "priority", "weight", "models", "base_url", "model_mapping",
                   "config", "other")  # fmt: skip
USER_COLUMNS = ("id", "username", "display_name", "email", "group", "quota", "used_quota",
                "request_count", "role", "status")  # fmt: skip
CODE_COLUMNS = ("id", "name", "key", "status", "quota", "created_time", "redeemed_time")
LOG_COLUMNS = ("id", "created_at", "request_id", "type", "token_name", "model_name",
               "prompt_tokens", "completion_tokens", "quota", "content", "elapsed_time",
               "is_stream", "system_prompt_reset")  # fmt: skip
STATUS_KEYS = (
    # App.js, LoginForm, RegisterForm, PersonalSetting, Home, TopUp, TokensTable
    "version", "start_time", "system_name", "logo", "footer_html", "quota_per_unit",
    "display_in_currency", "chat_link", "top_up_link", "server_address", "email_verification",
    "github_oauth", "github_client_id", "turnstile_check", "turnstile_site_key",
)  # fmt: skip
STATUS_LOGINS = ("wechat_login", "wechat_qrcode", "lark_client_id")  # One API's other logins


def token_keys_without_prefix(body: dict[str, Any], ctx: Ctx, world: World) -> None:
    """TokensTable copies ``sk-${token.key}``: the key comes without its prefix."""
    rows = body["data"] if isinstance(body["data"], list) else [body["data"]]
    for row in rows:
        assert isinstance(row["key"], str) and not row["key"].startswith("sk-"), row


def key_not_sent(body: dict[str, Any], ctx: Ctx, world: World) -> None:
    """One API leaves the key out of GET /api/channel/:id; here it is blank: never sent."""
    assert body["data"].get("key", "") == "", body["data"]["key"]


def key_kept(body: dict[str, Any], ctx: Ctx, world: World) -> None:
    """EditChannel sends ``key: ""`` back (the key is never sent to it): the key stays."""
    revealed = world.api.ok(world.api.root, "POST", f"/api/channel/{ctx['id']}/key", json={})
    assert revealed["key"] == ctx["secret"], revealed


def self_renamed(body: dict[str, Any], ctx: Ctx, world: World) -> None:
    assert world.api.ok(ctx["client"], "GET", "/api/user/self")["display_name"] == "Compat Name"


def balance_is_number(body: dict[str, Any], ctx: Ctx, world: World) -> None:
    """ChannelsTable renders ``balance.toFixed(2)``."""
    for row in body["data"]:
        assert isinstance(row["balance"], int | float) and not isinstance(row["balance"], bool), row


def model_cards(body: dict[str, Any], ctx: Ctx, world: World) -> None:
    """EditChannel: ``res.data.data.map((model) => model.id)``."""
    cards = body["data"]
    assert isinstance(cards, list) and cards, body
    assert all(isinstance(c, dict) and isinstance(c.get("id"), str) for c in cards), cards[:3]


def models_by_type(body: dict[str, Any], ctx: Ctx, world: World) -> None:
    """helpers loadChannelModels / getChannelModels(type): ``{type: [model names]}``."""
    data = body["data"]
    assert isinstance(data, dict) and data.get("1"), body
    assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in data.values())


def dashboard_rows(body: dict[str, Any], ctx: Ctx, world: World) -> None:
    """Dashboard: ``item.Day``, ``item.ModelName``, ``item.RequestCount``, ``item.Quota``,
    ``item.PromptTokens``, ``item.CompletionTokens`` (Go's field names, no JSON tags)."""
    rows = body["data"]
    assert isinstance(rows, list) and rows, body
    for row in rows:
        assert {"Day", "ModelName", "RequestCount", "Quota", "PromptTokens", "CompletionTokens"} <= set(row)
        time.strptime(row["Day"], "%Y-%m-%d")


def options_list(body: dict[str, Any], ctx: Ctx, world: World) -> None:
    """SystemSetting / OperationSetting / OtherSetting: ``data.forEach(item => item.key ...)``;
    ``EmailDomainWhitelist.split(',')``; ``JSON.parse`` of the ratio options; secrets hidden."""
    rows = body["data"]
    assert isinstance(rows, list) and all(set(r) >= {"key", "value"} for r in rows), rows[:3]
    values = {r["key"]: r["value"] for r in rows}
    assert all(isinstance(v, str) for v in values.values())
    assert isinstance(values.get("EmailDomainWhitelist"), str)
    for key in ("ModelRatio", "GroupRatio", "CompletionRatio"):
        json.loads(values[key])
    # One API leaves the secrets out; here they are listed blank: never sent either way
    assert not [k for k, v in values.items() if k.endswith(("Token", "Secret")) and v], "secrets"
    for key in ("Notice", "About", "Footer", "SystemName", "Logo", "HomePageContent",
                "TopUpLink", "ChatLink", "QuotaPerUnit", "RetryTimes", "ServerAddress",
                "RegisterEnabled", "PasswordLoginEnabled", "TurnstileCheckEnabled"):  # fmt: skip
        assert key in values, key


# bodies as the console builds them ----------------------------------------------------------


def edit_token_body(ctx: Ctx, world: World) -> dict[str, Any]:
    """EditToken.submit (edit): the GET answer, models split then joined, expired_time kept."""
    data = copy.deepcopy(world.api.ok(world.user_client, "GET", f"/api/token/{ctx['id']}"))
    data["models"] = ",".join(data["models"].split(",")) if data["models"] else ""
    data["remain_quota"] = int(data["remain_quota"])
    return {**data, "id": ctx["id"]}


def edit_channel_body(ctx: Ctx, world: World) -> dict[str, Any]:
    """EditChannel.loadChannel + submit (edit): the whole GET answer, groups array added,
    model_mapping pretty-printed, config re-stringified, ``key: ""`` (not sent back)."""
    data = copy.deepcopy(world.api.ok(world.api.root, "GET", f"/api/channel/{ctx['id']}"))
    models = data["models"].split(",") if data["models"] else []
    data["groups"] = data["group"].split(",") if data["group"] else []
    if data["model_mapping"]:
        data["model_mapping"] = json.dumps(json.loads(data["model_mapping"]), indent=2)
    config = json.loads(data["config"]) if data["config"] else json.loads(EMPTY_CONFIG)
    data["models"] = ",".join(models)
    data["group"] = ",".join(data["groups"])
    data["config"] = json.dumps(config)
    return {**data, "id": ctx["id"]}


def edit_user_body(ctx: Ctx, world: World) -> dict[str, Any]:
    """EditUser (admin, /user/edit/:id): the GET answer with ``password: ""``, id, quota."""
    data = copy.deepcopy(world.api.ok(world.api.root, "GET", f"/api/user/{ctx['id']}"))
    data["password"] = ""
    return {**data, "id": ctx["id"], "quota": int(data["quota"])}


def edit_self_body(ctx: Ctx, world: World) -> dict[str, Any]:
    """EditUser (self, /user/edit): GET /api/user/self with ``password: ""``, sent back whole."""
    data = copy.deepcopy(world.api.ok(ctx["client"], "GET", "/api/user/self"))
    data["password"] = ""
    data["display_name"] = "Compat Name"
    return data


def edit_code_body(ctx: Ctx, world: World) -> dict[str, Any]:
    """EditRedemption.submit (edit): the GET answer, ``count: parseInt(undefined)`` = NaN,
    which JSON.stringify sends as null."""
    data = copy.deepcopy(world.api.ok(world.api.root, "GET", f"/api/redemption/{ctx['id']}"))
    return {**data, "count": None, "quota": int(data["quota"]), "id": ctx["id"]}


def put_same_option(key: str, pretty: bool = False) -> Callable[[Ctx, World], dict[str, Any]]:
    """SystemSetting / OperationSetting / OtherSetting.updateOption: ``{key, value}``; the
    value written back is the current one, so nothing changes for the other tests."""

    def body(ctx: Ctx, world: World) -> dict[str, Any]:
        value = world.option(key)
        ctx["restore"] = (key, value)
        if pretty:  # OperationSetting pretty-prints the JSON options and sends that text
            value = json.dumps(json.loads(value), indent=2)
        return {"key": key, "value": value}

    return body


def restore_option(ctx: Ctx, world: World) -> None:
    if "restore" in ctx:
        key, value = ctx["restore"]
        world.api.option(key, value)


def register_body(ctx: Ctx, world: World) -> dict[str, Any]:
    """RegisterForm.handleSubmit: the whole form plus ``aff_code`` (null without ?aff=)."""
    return {"username": ctx["username"], "password": PASSWORD, "password2": PASSWORD,
            "email": "", "verification_code": "", "aff_code": ctx.get("aff")}  # fmt: skip


def manage(action: str) -> Callable[[Ctx, World], dict[str, Any]]:
    """UsersTable.manageUser: ``{username, action}``."""
    return lambda ctx, world: {"username": ctx["username"], "action": action}


def auth(token_of: Callable[[Ctx, World], str]) -> Callable[[Ctx, World], dict[str, str]]:
    return lambda ctx, world: {"Authorization": token_of(ctx, world)}


NEW_CHANNEL = {  # EditChannel.submit (add) with the form's initial inputs filled in
    "name": "compat-new", "type": 1, "key": "sk-compat-new-channel-key", "base_url": "",
    "other": "", "model_mapping": "", "models": "gpt-4o-mini,gpt-4o", "groups": ["default"],
    "group": "default", "config": EMPTY_CONFIG,
}  # fmt: skip
NEW_TOKEN = {  # EditToken.submit (add): originInputs, models joined
    "name": "compat-new", "remain_quota": 500000, "expired_time": -1, "unlimited_quota": False,
    "models": "", "subnet": "",
}  # fmt: skip
MISSING = 2_147_480_000

CALLS: list[Call] = [
    # --- public: App.js, Home, About, LoginForm, RegisterForm, PasswordReset*, utils.js ---
    Call("status", "anonymous", "GET", "/api/status",  # App.js loadStatus
         check=object_with(*STATUS_KEYS)),
    Call("status: One API's other logins", "anonymous", "GET", "/api/status",  # LoginForm
         check=object_with(*STATUS_LOGINS)),
    Call("notice", "anonymous", "GET", "/api/notice", check=data_is(str)),  # Home
    Call("home page content", "anonymous", "GET", "/api/home_page_content",  # Home
         check=data_is(str)),
    Call("about", "anonymous", "GET", "/api/about", check=data_is(str)),  # About
    Call("login", "anonymous", "POST", "/api/user/login",  # LoginForm.handleSubmit
         body=lambda ctx, w: {"username": w.user["username"], "password": PASSWORD},
         check=object_with("id", "username", "display_name", "role", "status",
                           username=lambda ctx: ctx["username"]),
         prepare=lambda w: {"username": w.user["username"]}),
    Call("login: wrong password", "anonymous", "POST", "/api/user/login",  # LoginForm
         body=lambda ctx, w: {"username": w.user["username"], "password": "wrong-password"},
         success=False),
    Call("login: empty form", "anonymous", "POST", "/api/user/login",  # LoginForm
         body={"username": "", "password": ""}, success=False),
    Call("register", "anonymous", "POST", "/api/user/register?turnstile=",  # RegisterForm
         prepare=lambda w: {"username": unique("r")}, body=register_body),
    Call("register with ?aff= code", "anonymous", "POST", "/api/user/register?turnstile=",
         prepare=lambda w: {"username": unique("r"),  # RegisterForm: localStorage aff
                            "aff": w.api.ok(w.user_client, "GET", "/api/user/aff")},
         body=register_body),
    Call("register: name taken", "anonymous", "POST", "/api/user/register?turnstile=",
         prepare=lambda w: {"username": w.user["username"]}, body=register_body,
         success=False),
    Call("verification code without SMTP", "anonymous", "GET",  # RegisterForm, PersonalSetting
         "/api/verification?email=compat@example.com&turnstile=", success=False),
    Call("password reset mail", "anonymous", "GET",  # PasswordResetForm.handleSubmit
         "/api/reset_password?email=nobody-compat@example.com&turnstile=", success=False),
    Call("password reset: bad link", "anonymous", "POST", "/api/user/reset",  # PasswordResetConfirm
         body={"email": "nobody-compat@example.com", "token": "not-a-token"}, success=False),
    Call("oauth state", "anonymous", "GET", "/api/oauth/state",  # components/utils.js
         check=data_is(str)),
    Call("github login: no such state", "anonymous", "GET",  # GitHubOAuth.sendCode
         "/api/oauth/github?code=compat&state=compat", success=False),
    Call("lark login: no such state", "anonymous", "GET", "/api/oauth/lark?code=compat&state=compat",  # LarkOAuth
         success=False),
    Call("oidc login: no such state", "anonymous", "GET",  # router/api.go: auth.OidcAuth
         "/api/oauth/oidc?code=compat&state=compat", success=False),
    Call("wechat login while off", "anonymous", "GET", "/api/oauth/wechat?code=123456",  # LoginForm
         success=False),
    Call("logout", "fresh", "GET", "/api/user/logout",  # Header.logout
         prepare=lambda w: w.fresh_user()),
    # --- the user's pages: PersonalSetting, EditUser (self), TopUp, EditToken, Dashboard ---
    Call("self", "user", "GET", "/api/user/self",  # TopUp.getUserQuota, EditUser.loadUser
         check=object_with("id", "username", "display_name", "quota", "group", "role", "status",
                           "email", "github_id", "wechat_id")),
    Call("update self, password empty", "fresh", "PUT", "/api/user/self",  # EditUser (self)
         prepare=lambda w: w.fresh_user(), body=edit_self_body, check=self_renamed),
    Call("access token", "fresh", "GET", "/api/user/token",  # PersonalSetting.generateAccessToken
         prepare=lambda w: w.fresh_user(), check=data_is(str)),
    Call("aff code", "user", "GET", "/api/user/aff", check=data_is(str)),  # PersonalSetting
    Call("delete self", "fresh", "DELETE", "/api/user/self",  # PersonalSetting.deleteAccount
         prepare=lambda w: w.fresh_user()),
    Call("bind email: wrong code", "user", "GET",  # PersonalSetting.bindEmail
         "/api/oauth/email/bind?email=compat@example.com&code=000000", success=False),
    Call("bind wechat while off", "user", "GET", "/api/oauth/wechat/bind?code=123456",
         success=False),  # PersonalSetting.bindWeChat
    Call("redeem a code", "user", "POST", "/api/user/topup",  # TopUp.topUp: quota + data
         prepare=lambda w: w.code(quota=77), body=lambda ctx, w: {"key": ctx["key"]},
         check=lambda body, ctx, w: (isinstance(body["data"], int) and body["data"] == 77)
         or pytest.fail(str(body))),
    Call("redeem a used code", "user", "POST", "/api/user/topup",  # TopUp.topUp
         prepare=lambda w: used_code(w),
         body=lambda ctx, w: {"key": ctx["key"]}, success=False),
    Call("redeem a wrong code", "user", "POST", "/api/user/topup",  # TopUp.topUp
         body={"key": "no-such-code-0000000000000000000"}, success=False),
    Call("available models", "user", "GET", "/api/user/available_models",  # EditToken
         check=lambda body, ctx, w: all(isinstance(m, str) for m in body["data"])
         or pytest.fail(str(body))),
    Call("models by channel type", "user", "GET", "/api/models",  # helpers loadChannelModels
         check=models_by_type),
    Call("dashboard", "user", "GET", "/api/user/dashboard", check=dashboard_rows),  # Dashboard
    # --- TokensTable / EditToken ---
    Call("tokens", "user", "GET", "/api/token/?p=0&order=",  # TokensTable.loadTokens
         check=all_of(rows_with(*TOKEN_COLUMNS, nonempty=True), token_keys_without_prefix)),
    Call("tokens by remaining quota", "user", "GET", "/api/token/?p=0&order=remain_quota",
         check=rows_with(*TOKEN_COLUMNS, nonempty=True)),  # TokensTable orderBy
    Call("token search", "user", "GET", "/api/token/search?keyword=compat",  # TokensTable
         check=rows_with(*TOKEN_COLUMNS, nonempty=True)),
    Call("disable a token", "user", "PUT", "/api/token/?status_only=true",  # manageToken
         prepare=lambda w: w.token_of_user(), body=lambda ctx, w: {"id": ctx["id"], "status": 2},
         check=object_with("status", status=2)),
    Call("enable a token", "user", "PUT", "/api/token/?status_only=true",  # manageToken
         prepare=lambda w: disabled_token(w), body=lambda ctx, w: {"id": ctx["id"], "status": 1},
         check=object_with("status", status=1)),
    Call("delete a token", "user", "DELETE", "/api/token/{id}/",  # manageToken('delete')
         prepare=lambda w: w.token_of_user()),
    Call("delete someone else's token", "admin", "DELETE", "/api/token/{id}/",
         prepare=lambda w: w.token_of_user(), success=False),
    Call("create a token", "user", "POST", "/api/token/", body=NEW_TOKEN),  # EditToken (add)
    Call("create a token: name too long", "user", "POST", "/api/token/",  # EditToken (add)
         body={**NEW_TOKEN, "name": "n" * 31}, success=False),
    Call("read a token", "user", "GET", "/api/token/{id}",  # EditToken.loadToken
         prepare=lambda w: w.token_of_user(models="gpt-4o-mini,gpt-4o"),
         check=all_of(object_with(*TOKEN_COLUMNS), token_keys_without_prefix)),
    Call("update a token with its whole row", "user", "PUT", "/api/token/",  # EditToken (edit)
         prepare=lambda w: w.token_of_user(models="gpt-4o-mini"), body=edit_token_body,
         check=object_with("id", "name")),
    Call("missing token", "user", "GET", f"/api/token/{MISSING}", success=False),
    # --- LogsTable (a user) ---
    Call("own logs", "user", "GET",  # LogsTable.loadLogs (not admin)
         f"/api/log/self/?p=0&type=0&token_name=&model_name=&{LOG_RANGE}",
         check=rows_with(*LOG_COLUMNS, nonempty=True)),
    Call("own log stat", "user", "GET",  # LogsTable.getLogSelfStat: stat.quota
         f"/api/log/self/stat?type=0&token_name=&model_name=&{LOG_RANGE}",
         check=object_with("quota")),
    Call("own log search", "user", "GET", "/api/log/self/search?keyword=gpt",  # LogsTable
         check=rows_with(*LOG_COLUMNS, nonempty=True)),
    # --- UsersTable / AddUser / EditUser (admin) ---
    Call("users", "admin", "GET", "/api/user/?p=0&order=",  # UsersTable.loadUsers
         check=rows_with(*USER_COLUMNS, nonempty=True)),
    Call("users by quota", "admin", "GET", "/api/user/?p=0&order=quota",  # UsersTable orderBy
         check=rows_with(*USER_COLUMNS, nonempty=True)),
    Call("user search", "admin", "GET", "/api/user/search?keyword={username}",  # UsersTable
         prepare=lambda w: {"username": w.user["username"]},
         check=rows_with(*USER_COLUMNS, nonempty=True)),
    Call("disable a user", "admin", "POST", "/api/user/manage",  # UsersTable.manageUser
         prepare=lambda w: w.target_user(), body=manage("disable"),
         check=object_with("status", "role", status=2)),
    Call("enable a user", "admin", "POST", "/api/user/manage",  # UsersTable.manageUser
         prepare=lambda w: disabled_user(w, login=False), body=manage("enable"),
         check=object_with("status", "role", status=1)),
    Call("promote a user", "root", "POST", "/api/user/manage",  # UsersTable.manageUser
         prepare=lambda w: w.target_user(), body=manage("promote"),
         check=object_with("role", role=10)),
    Call("demote an admin", "root", "POST", "/api/user/manage",  # UsersTable.manageUser
         prepare=lambda w: w.target_user(role=10), body=manage("demote"),
         check=object_with("role", role=1)),
    Call("delete a user", "admin", "POST", "/api/user/manage",  # UsersTable.manageUser
         prepare=lambda w: w.target_user(), body=manage("delete")),
    Call("admin disables root", "admin", "POST", "/api/user/manage",  # UsersTable
         body={"username": "root", "action": "disable"}, success=False),
    Call("add a user", "admin", "POST", "/api/user/",  # AddUser.submit
         prepare=lambda w: {"username": unique("a")},
         body=lambda ctx, w: {"username": ctx["username"], "display_name": "", "password": PASSWORD}),
    Call("add a user: name taken", "admin", "POST", "/api/user/",  # AddUser.submit
         body=lambda ctx, w: {"username": w.user["username"], "display_name": "",
                              "password": PASSWORD}, success=False),
    Call("read a user", "admin", "GET", "/api/user/{id}",  # EditUser.loadUser
         prepare=lambda w: w.target_user(), check=object_with(*USER_COLUMNS)),
    Call("admin reads root", "admin", "GET", "/api/user/{id}",  # UsersTable → EditUser
         prepare=lambda w: {"id": w.root_id}, success=False),
    Call("update a user with the whole row", "admin", "PUT", "/api/user/",  # EditUser.submit
         prepare=lambda w: w.target_user(), body=edit_user_body),
    Call("groups", "admin", "GET", "/api/group/",  # EditUser / EditChannel fetchGroups
         check=lambda body, ctx, w: (body["data"] and all(isinstance(g, str) for g in body["data"]))
         or pytest.fail(str(body))),
    Call("delete a user by id", "admin", "DELETE", "/api/user/{id}",  # router: DeleteUser
         prepare=lambda w: w.target_user()),
    Call("admin deletes root", "admin", "DELETE", "/api/user/{id}",  # router: DeleteUser
         prepare=lambda w: {"id": w.root_id}, success=False),
    Call("top up a user", "admin", "POST", "/api/topup",  # router: AdminTopUp (scripts)
         body=lambda ctx, w: {"user_id": w.user["id"], "quota": 5, "remark": "compat"}),
    # --- ChannelsTable / EditChannel ---
    Call("channels", "admin", "GET", "/api/channel/?p=0",  # ChannelsTable.loadChannels
         prepare=lambda w: w.channel(),
         check=all_of(rows_with(*CHANNEL_COLUMNS, nonempty=True), balance_is_number)),
    Call("channel search", "admin", "GET", "/api/channel/search?keyword={name}",  # ChannelsTable
         prepare=lambda w: w.channel(), check=rows_with(*CHANNEL_COLUMNS, nonempty=True)),
    Call("disable a channel", "admin", "PUT", "/api/channel/",  # manageChannel('disable')
         prepare=lambda w: w.channel(), body=lambda ctx, w: {"id": ctx["id"], "status": 2},
         check=object_with("status", status=2)),
    Call("enable a channel", "admin", "PUT", "/api/channel/",  # manageChannel('enable')
         prepare=lambda w: w.channel(status=2), body=lambda ctx, w: {"id": ctx["id"], "status": 1},
         check=object_with("status", status=1)),
    Call("channel priority", "admin", "PUT", "/api/channel/",  # manageChannel('priority')
         prepare=lambda w: w.channel(), body=lambda ctx, w: {"id": ctx["id"], "priority": 5},
         check=object_with("status")),
    Call("channel weight", "admin", "PUT", "/api/channel/",  # manageChannel('weight')
         prepare=lambda w: w.channel(), body=lambda ctx, w: {"id": ctx["id"], "weight": 0},
         check=object_with("status")),
    Call("delete a channel", "admin", "DELETE", "/api/channel/{id}/",  # manageChannel('delete')
         prepare=lambda w: w.channel()),
    Call("test a channel", "admin", "GET", "/api/channel/test/{id}/",  # ChannelsTable.testChannel
         prepare=lambda w: w.live_channel(), check=top_level_number("time")),
    Call("test a dead channel", "admin", "GET", "/api/channel/test/{id}/",  # testChannel
         prepare=lambda w: w.channel(), success=False),
    Call("test all channels", "admin", "GET", "/api/channel/test?scope=disabled",  # testChannels
         retry_on="already running"),  # One API too refuses a second run while one runs
    Call("delete disabled channels", "admin", "DELETE", "/api/channel/disabled",
         prepare=lambda w: w.channel(status=2),  # ChannelsTable.deleteAllDisabledChannels
         check=lambda body, ctx, w: (isinstance(body["data"], int) and body["data"] >= 1)
         or pytest.fail(str(body))),
    Call("update a balance", "admin", "GET", "/api/channel/update_balance/{id}/",
         prepare=lambda w: w.live_channel(),  # ChannelsTable.updateChannelBalance
         check=top_level_number("balance")),
    Call("update a dead channel's balance", "admin", "GET", "/api/channel/update_balance/{id}/",
         prepare=lambda w: w.channel(), success=False),  # ChannelsTable.updateChannelBalance
    Call("update all balances", "admin", "GET", "/api/channel/update_balance"),  # ChannelsTable
    Call("channel models", "admin", "GET", "/api/channel/models",  # EditChannel.fetchModels
         check=model_cards),
    Call("create a channel", "admin", "POST", "/api/channel/", body=NEW_CHANNEL),  # EditChannel
    Call("create a channel without a key", "admin", "POST", "/api/channel/",  # EditChannel
         body={**NEW_CHANNEL, "key": ""}, success=False),
    Call("read a channel", "admin", "GET", "/api/channel/{id}",  # EditChannel.loadChannel
         prepare=lambda w: w.channel(model_mapping='{"gpt-4o-mini": "gpt-4o"}'),
         check=all_of(object_with(*CHANNEL_COLUMNS), key_not_sent)),
    Call("update a channel with the whole row", "admin", "PUT", "/api/channel/",
         prepare=lambda w: {**w.channel(model_mapping='{"gpt-4o-mini": "gpt-4o"}'),
                            "secret": "sk-compat-channel-key-0001"},
         body=edit_channel_body,  # EditChannel.submit (edit)
         check=all_of(object_with("status", status=1), key_kept)),
    Call("missing channel", "admin", "GET", f"/api/channel/{MISSING}", success=False),
    # --- RedemptionsTable / EditRedemption ---
    Call("codes", "admin", "GET", "/api/redemption/?p=0",  # RedemptionsTable.loadRedemptions
         prepare=lambda w: w.code(), check=rows_with(*CODE_COLUMNS, nonempty=True)),
    Call("code search", "admin", "GET", "/api/redemption/search?keyword=compat",  # RedemptionsTable
         prepare=lambda w: w.code(), check=rows_with(*CODE_COLUMNS, nonempty=True)),
    Call("disable a code", "admin", "PUT", "/api/redemption/?status_only=true",  # manageRedemption
         prepare=lambda w: w.code(), body=lambda ctx, w: {"id": ctx["id"], "status": 2},
         check=object_with("status", status=2)),
    Call("enable a code", "admin", "PUT", "/api/redemption/?status_only=true",  # manageRedemption
         prepare=lambda w: disabled_code(w), body=lambda ctx, w: {"id": ctx["id"], "status": 1},
         check=object_with("status", status=1)),
    Call("delete a code", "admin", "DELETE", "/api/redemption/{id}/",  # manageRedemption
         prepare=lambda w: w.code()),
    Call("create codes", "admin", "POST", "/api/redemption/",  # EditRedemption.submit (add)
         body={"name": "compat", "quota": 100000, "count": 2},
         check=lambda body, ctx, w: (len(body["data"]) == 2
                                     and all(isinstance(k, str) for k in body["data"]))
         or pytest.fail(str(body))),
    Call("read a code", "admin", "GET", "/api/redemption/{id}",  # EditRedemption.loadRedemption
         prepare=lambda w: w.code(), check=object_with(*CODE_COLUMNS)),
    Call("update a code with the whole row", "admin", "PUT", "/api/redemption/",
         prepare=lambda w: w.code(), body=edit_code_body,  # EditRedemption.submit (edit)
         check=object_with("quota")),
    # --- LogsTable (an admin) / OperationSetting ---
    Call("all logs", "admin", "GET",  # LogsTable.loadLogs (admin)
         f"/api/log/?p=0&type=0&username=&token_name=&model_name=&{LOG_RANGE}&channel=",
         check=rows_with(*LOG_COLUMNS, "channel", "username", nonempty=True)),
    Call("log stat", "admin", "GET",  # LogsTable.getLogStat
         f"/api/log/stat?type=0&username=&token_name=&model_name=&{LOG_RANGE}&channel=",
         check=object_with("quota")),
    Call("consume logs of a user", "admin", "GET",  # LogsTable with filters filled in
         "/api/log/?p=0&type=2&username={username}&token_name=compat&model_name=gpt-4o-mini"
         f"&{LOG_RANGE}&channel=1",
         prepare=lambda w: {"username": w.user["username"]},
         check=rows_with(*LOG_COLUMNS, nonempty=True)),
    Call("log search", "admin", "GET", "/api/log/search?keyword=gpt",  # router: SearchAllLogs
         check=rows_with(*LOG_COLUMNS, nonempty=True)),
    Call("delete old logs", "admin", "DELETE", "/api/log/?target_timestamp=1",  # deleteHistoryLogs
         check=data_is(int)),
    Call("delete logs without a time", "admin", "DELETE", "/api/log/?target_timestamp=",
         success=False),  # OperationSetting with the date field cleared
    # --- settings (root): SystemSetting / OperationSetting / OtherSetting ---
    Call("options", "root", "GET", "/api/option/", check=options_list),  # getOptions
    Call("save the notice", "root", "PUT", "/api/option/", body=put_same_option("Notice"),
         cleanup=restore_option),  # OtherSetting.submitNotice
    Call("toggle a switch", "root", "PUT", "/api/option/",  # SystemSetting checkbox
         body=put_same_option("RegisterEnabled"), cleanup=restore_option),
    Call("save a number", "root", "PUT", "/api/option/",  # OperationSetting 'quota'
         body=put_same_option("QuotaForNewUser"), cleanup=restore_option),
    Call("save pretty-printed ratios", "root", "PUT", "/api/option/",  # OperationSetting 'ratio'
         body=put_same_option("GroupRatio", pretty=True), cleanup=restore_option),
    Call("enable GitHub without its keys", "root", "PUT", "/api/option/",  # SystemSetting
         body={"key": "GitHubOAuthEnabled", "value": "true"}, success=False),
    Call("enable Turnstile without its keys", "root", "PUT", "/api/option/",  # SystemSetting
         body={"key": "TurnstileCheckEnabled", "value": "true"}, success=False),
    Call("save the Lark client id", "root", "PUT", "/api/option/",  # SystemSetting.submitLarkOAuth
         body=put_same_option("LarkClientId"), cleanup=restore_option),
    Call("enable WeChat without its server", "root", "PUT", "/api/option/",  # SystemSetting
         body={"key": "WeChatAuthEnabled", "value": "true"}, success=False,
         check=lambda body, ctx, w: "unknown" not in body["message"].lower()
         or pytest.fail(body["message"])),
    # --- roles and credentials (middleware/auth.go) ---
    Call("no credentials", "anonymous", "GET", "/api/user/self", success=False, status=401),
    Call("no credentials, admin route", "anonymous", "GET", "/api/channel/?p=0", success=False,
         status=401),
    Call("user on an admin route", "user", "GET", "/api/channel/?p=0", success=False),
    Call("admin on a root route", "admin", "GET", "/api/option/", success=False),
    Call("disabled user's session", "fresh", "GET", "/api/user/self", success=False,
         prepare=lambda w: disabled_user(w)),
    # --- scripts: Authorization: <access token> (docs/API.md) ---
    Call("script: self", "script", "GET", "/api/user/self",
         headers=auth(lambda ctx, w: w.user_access_token),
         check=object_with("id", id=lambda ctx: ctx["user_id"]),
         prepare=lambda w: {"user_id": w.user["id"]}),
    Call("script: Bearer access token", "script", "GET", "/api/user/self",
         headers=auth(lambda ctx, w: "Bearer " + w.user_access_token), check=object_with("id")),
    Call("script: invalid access token", "script", "GET", "/api/user/self",
         headers=auth(lambda ctx, w: "not-a-valid-access-token"), success=False),
    Call("script: create a token", "script", "POST", "/api/token/",
         headers=auth(lambda ctx, w: w.user_access_token), body={"name": "script"}),
    Call("script: list tokens", "script", "GET", "/api/token/?p=0",
         headers=auth(lambda ctx, w: w.user_access_token), check=rows_with(*TOKEN_COLUMNS)),
    Call("script: test a channel", "script", "GET", "/api/channel/test/{id}",  # docs/API.md
         prepare=lambda w: w.live_channel(), headers=auth(lambda ctx, w: w.admin_access_token),
         check=top_level_number("time")),
    Call("script: create a channel", "script", "POST", "/api/channel/",
         headers=auth(lambda ctx, w: w.admin_access_token), body={**NEW_CHANNEL, "name": "script"}),
    Call("script: channels as a user", "script", "GET", "/api/channel/?p=0",
         headers=auth(lambda ctx, w: w.user_access_token), success=False),
    Call("script: disabled user's token", "script", "GET", "/api/user/self",
         prepare=lambda w: disabled_user(w), headers=auth(lambda ctx, w: ctx["access_token"]),
         success=False),
    # --- unknown routes ---
    Call("unknown route", "anonymous", "GET", "/api/no_such_route", success=False, status=404),
    Call("unknown route, logged in", "root", "POST", "/api/channel/no/such/route", body={},
         success=False, status=404),
]


def disabled_user(world: World, login: bool = True) -> Ctx:
    ctx = world.fresh_user() if login else world.target_user()
    if login:
        ctx["access_token"] = world.api.ok(ctx["client"], "GET", "/api/user/token")
    world.api.ok(world.api.root, "POST", "/api/user/manage",
                 json={"username": ctx["username"], "action": "disable"})  # fmt: skip
    return ctx


def disabled_token(world: World) -> Ctx:
    token = world.token_of_user(remain_quota=10)
    world.api.ok(world.user_client, "PUT", "/api/token/", params={"status_only": "true"},
                 json={"id": token["id"], "status": 2})  # fmt: skip
    return token


def disabled_code(world: World) -> Ctx:
    code = world.code()
    world.api.ok(world.api.root, "PUT", "/api/redemption/", params={"status_only": "true"},
                 json={"id": code["id"], "status": 2})  # fmt: skip
    return code


def used_code(world: World) -> Ctx:
    code = world.code()
    world.api.ok(world.admin_client, "POST", "/api/user/topup", json={"key": code["key"]})
    return code


def toggle_slash(path: str) -> str:
    base, sep, query = path.partition("?")
    base = base[:-1] if base.endswith("/") else base + "/"
    return base + sep + query


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(expected_key=UPSTREAM_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def world(api: Api, upstream: FakeOpenAI) -> Iterator[World]:
    world = World(api, upstream)
    yield world
    world.user_client.close()
    world.admin_client.close()


def _params() -> list[Any]:
    out = []
    for call in CALLS:
        for variant in ("as sent", "slash toggled"):
            out.append(pytest.param(call, variant, id=f"{call.name} [{variant}]", marks=call.marks))
    return out


def test_every_call_has_a_unique_name() -> None:
    names = [c.name for c in CALLS]
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]


@pytest.mark.parametrize(("call", "variant"), _params())
def test_one_api_call(world: World, call: Call, variant: str) -> None:
    ctx: Ctx = call.prepare(world) if call.prepare else {}
    path = call.path.format(**ctx)
    if variant == "slash toggled":
        path = toggle_slash(path)
    client = ctx["client"] if call.who == "fresh" else world.client(call.who)
    kwargs: dict[str, Any] = {}
    if call.method in ("POST", "PUT"):
        body = call.body(ctx, world) if callable(call.body) else copy.deepcopy(call.body)
        kwargs["json"] = body
    if call.headers:
        kwargs["headers"] = call.headers(ctx, world)
    try:
        r = client.request(call.method, path, **kwargs)
        deadline = time.monotonic() + 20
        while call.retry_on and call.retry_on in r.text and time.monotonic() < deadline:
            time.sleep(0.2)
            r = client.request(call.method, path, **kwargs)
        assert r.status_code == call.status, f"{call.method} {path} -> {r.status_code} {r.text[:300]}"
        answer = r.json()
        assert isinstance(answer, dict) and isinstance(answer.get("message"), str), answer
        assert answer.get("success") is call.success, f"{call.method} {path} -> {answer}"
        if not call.success:
            assert answer["message"], "the console shows the message: it must say why"
        if call.check:
            call.check(answer, ctx, world)
    finally:
        if call.cleanup:
            call.cleanup(ctx, world)
        if call.who in ("anonymous", "script", "fresh"):
            client.close()
