"""The plugin contract: discovery, blocking, conflicts, and a test per hook."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pluggy
import pytest

from oneapi import ChannelType, ModelPrices, hookimpl, hookspecs
from oneapi.adaptor import Adaptor
from oneapi.plugins import get_plugin_manager
from oneapi.registry import StartupError, build_registry
from tests.conftest import Admin, gateway_env
from tests.gateway import GatewayProcess, api

pytestmark = pytest.mark.timeout(90)

HOOKS = sorted(n for n in dir(hookspecs) if n.startswith(("register_", "transform_", "calculate_", "quota_",
                                                            "payment_", "extend_")))


@pytest.fixture(scope="module")
def marks_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("marks") / "marks.txt"


@pytest.fixture(scope="module")
def echo_gw(marks_file: Path) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(gateway_env(ONEAPI_ECHO_MARKS=str(marks_file), ONEAPI_ECHO_JOB_INTERVAL="0.2"),
                        name="echo").start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def echo_admin(echo_gw: GatewayProcess) -> Admin:
    return Admin(echo_gw, echo_gw.login())


@pytest.fixture(scope="module")
def echo_token(echo_admin: Admin) -> dict:
    echo_admin.channel("", "echo-1", type=9999)
    return echo_admin.token(echo_admin.user())


def marks(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def echo_chat(gw: GatewayProcess, token: dict, **extra) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(gw.base_url + "/v1/chat/completions", headers={"Authorization": "Bearer sk-" + token["key"]},
                      json={"model": "echo-1", "messages": [{"role": "user", "content": "abc"}], **extra})


def log_of(admin: Admin, response: httpx.Response) -> dict:
    """The consume log row of one relayed response (found by its request id)."""
    request_id = response.headers["x-oneapi-request-id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [log for log in admin.logs(type=2) if log["request_id"] == request_id]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no log for request {request_id}")


def test_every_hook_has_a_test() -> None:
    tested = {name.removeprefix("test_hook_") for name in globals() if name.startswith("test_hook_")}
    assert set(HOOKS) == tested


def test_firstresult_hooks_are_synchronous_specs() -> None:
    pm = pluggy.PluginManager("oneapi")
    pm.add_hookspecs(hookspecs)
    assert pm.hook.calculate_quota.spec.opts["firstresult"] is True


def test_hook_register_channel_types(echo_gw, echo_admin, echo_token) -> None:
    types = {t["id"]: t for t in api(echo_admin.root, "GET", "/api/channel/types")}
    assert types[9999]["name"] == "Echo" and types[9999]["config_fields"][0]["key"] == "flavour"
    r = echo_chat(echo_gw, echo_token)  # the core relays a type it has never heard of
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "cba"


def test_hook_register_model_prices(echo_gw, echo_admin, echo_token) -> None:
    log = log_of(echo_admin, echo_chat(echo_gw, echo_token))
    assert log["quota"] == math.ceil(1 * (7 + 3 * 2))


def test_hook_extend_status(echo_gw, echo_admin) -> None:
    status = api(echo_admin.root, "GET", "/api/status")
    assert status["echo_greeting"] == "hello"  # from the plugin, with its option's value
    assert status["docs_link"] == "https://echo.example/docs"  # overrides the core's default ("")
    assert status["data_export_default_time"] == "hour"  # a key no plugin sets: the core's


def test_hook_register_options(echo_admin) -> None:
    options = {o["key"]: o["value"] for o in api(echo_admin.root, "GET", "/api/option/")}
    assert options["EchoGreeting"] == "hello"
    r = echo_admin.root.put("/api/option/", json={"key": "EchoGreeting", "value": ""})
    assert r.json()["success"] is False and "must not be empty" in r.json()["message"]


def test_hook_register_blueprints(echo_gw, echo_admin) -> None:
    assert httpx.get(echo_gw.base_url + "/echo/ping").json() == {"pong": True}
    plugins = {p["name"]: p for p in api(echo_admin.root, "GET", "/api/plugins")}
    assert "/echo/ping" in plugins["echo"]["routes"]


def test_hook_register_jobs(echo_gw, marks_file) -> None:
    deadline = time.monotonic() + 10
    while "job_ran" not in marks(marks_file) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "job_ran" in marks(marks_file)


def test_slave_runs_no_master_jobs(tmp_path) -> None:
    marks_path = tmp_path / "slave-marks.txt"
    master = GatewayProcess(gateway_env(SQLITE_PATH=str(tmp_path / "s.db")), name="master").start()
    master.stop()  # creates the schema, as the master does
    gw = GatewayProcess(gateway_env(ONEAPI_ECHO_MARKS=str(marks_path), ONEAPI_ECHO_JOB_INTERVAL="0.1",
                                    ONEAPI_ECHO_ANY_JOB_INTERVAL="0.1", NODE_TYPE="slave",
                                    SQLITE_PATH=str(tmp_path / "s.db")), name="slave").start()
    try:
        deadline = time.monotonic() + 10  # the slave's own jobs run three rounds at that interval ...
        while marks(marks_path).count("any_job_ran") < 3:
            assert time.monotonic() < deadline, marks(marks_path)
            time.sleep(0.05)
        assert "register_jobs" in marks(marks_path) and "job_ran" not in marks(marks_path)  # ... none
    finally:
        gw.stop()


def test_hook_register_relay_modes(echo_gw, echo_admin, echo_token) -> None:
    url = echo_gw.base_url + "/v1/echo/words"
    headers = {"Authorization": "Bearer sk-" + echo_token["key"]}
    r = httpx.post(url, headers=headers, json={"model": "echo-1", "text": "one two three"})
    assert r.status_code == 200, r.text
    assert r.json() == {"words": ["three", "two", "one"], "mode": "echo_words", "endpoint": "/echo/words"}
    log = log_of(echo_admin, r)  # billed from the mode's answer: 10 per word, model ratio 1
    assert log["quota"] == 30 and log["prompt_tokens"] == 30 and log["model_name"] == "echo-1"
    bad = httpx.post(url, headers=headers, json={"model": "echo-1"})  # the mode's own check
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "text"


def test_a_plugin_may_not_claim_a_core_relay_mode() -> None:
    from oneapi.plugin import RelayMode

    class Chat(RelayMode):
        name = "chat"

    class A:
        @hookimpl
        def register_relay_modes(self) -> list[RelayMode]:
            return [Chat()]

    pm, _ = get_plugin_manager(allowed=set())
    pm.register(A(), name="plugin-a")
    with pytest.raises(StartupError, match="relay mode 'chat'.*core"):
        build_registry(pm)


def test_hook_register_payment_providers(echo_gw) -> None:
    status = httpx.get(echo_gw.base_url + "/api/status").json()["data"]
    assert {"name": "echo", "type": "echo", "provider": "echo-pay"} in status["pay_methods"]


def test_hook_register_models(echo_gw) -> None:
    import sqlite3  # the Midjourney plugin's app: its table made, its migration recorded at start-up

    with sqlite3.connect(echo_gw.env["SQLITE_PATH"]) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        apps = {row[0] for row in db.execute("SELECT app FROM tortoise_migrations")}
    assert "midjourneys" in tables and {"models", "midjourney"} <= apps


def test_hook_transform_request(echo_gw, echo_token) -> None:
    r = echo_chat(echo_gw, echo_token, user="blocked-by-echo")
    assert r.status_code == 400 and r.json()["error"]["code"] == "echo_rejected"


def test_hook_transform_response(echo_gw, echo_token, marks_file) -> None:
    before = marks(marks_file).count("transform_response")
    echo_chat(echo_gw, echo_token)
    assert marks(marks_file).count("transform_response") == before + 1


def test_hook_calculate_quota(echo_gw, echo_admin, echo_token) -> None:
    assert log_of(echo_admin, echo_chat(echo_gw, echo_token, user="flat-price"))["quota"] == 4242


def test_calculate_quota_receives_the_price_and_the_core_quota(echo_gw, echo_admin, echo_token) -> None:
    log = log_of(echo_admin, echo_chat(echo_gw, echo_token, user="double-price"))
    assert log["quota"] == math.ceil(1 * (7 + 3 * 2)) * 2 + 100  # group ratio 1


def test_a_negative_calculate_quota_is_replaced_by_the_core_price(echo_gw, echo_admin, echo_token) -> None:
    log = log_of(echo_admin, echo_chat(echo_gw, echo_token, user="negative-price"))
    assert log["quota"] == math.ceil(1 * (7 + 3 * 2))  # the core's formula, not a credit of 500
    assert "calculate_quota returned -500" in echo_gw.log()


def test_hook_quota_consumed(echo_gw, echo_admin, echo_token, marks_file) -> None:
    log_of(echo_admin, echo_chat(echo_gw, echo_token))
    deadline = time.monotonic() + 5  # the hook runs right after the log row is written
    while "quota_consumed:13" not in marks(marks_file) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "quota_consumed:13" in marks(marks_file)


def test_hook_payment_completed(marks_file, monkeypatch) -> None:
    monkeypatch.setenv("ONEAPI_ECHO_MARKS", str(marks_file))
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "plugins" / "site"))
    import importlib

    import oneapi_echo

    importlib.reload(oneapi_echo)
    pm, _ = get_plugin_manager(allowed={"echo"})
    assert "echo" in {name for name, _ in pm.list_name_plugin()}
    pm.hook.payment_completed(order={"trade_no": "t1"})
    assert "payment_completed" in marks(marks_file)


def test_duplicate_registrations_stop_start_up_naming_both() -> None:
    class A:
        @hookimpl
        def register_channel_types(self) -> list[ChannelType]:
            return [ChannelType(777, "A", Adaptor)]

        @hookimpl
        def register_model_prices(self) -> ModelPrices:
            return ModelPrices(model_ratios={"m": 1})

    class B:
        @hookimpl
        def register_channel_types(self) -> list[ChannelType]:
            return [ChannelType(777, "B", Adaptor)]

    pm, _ = get_plugin_manager(allowed=set())
    pm.register(A(), name="plugin-a")
    pm.register(B(), name="plugin-b")
    with pytest.raises(StartupError, match="channel type 777.*plugin-a.*plugin-b|plugin-b.*plugin-a"):
        build_registry(pm)
    pm.unregister(name="plugin-b")

    class C:
        @hookimpl
        def register_model_prices(self) -> ModelPrices:
            return ModelPrices(model_ratios={"m": 2})

    pm.register(C(), name="plugin-c")
    with pytest.raises(StartupError, match="price of model 'm'"):
        build_registry(pm)


def test_discovery_and_blocking_through_entry_points(tmp_path) -> None:
    loaded = GatewayProcess(gateway_env(), name="all").start()
    try:
        plugins = {p["name"]: p for p in api(loaded.login(), "GET", "/api/plugins")}
        assert plugins["openai"]["distribution"] == "oneapi-openai" and plugins["openai"]["version"]
        assert plugins["echo"]["distribution"] == "oneapi-echo"
        assert {t["id"] for t in plugins["openai"]["channel_types"]} >= {1, 36, 50}
    finally:
        loaded.stop()
    blocked = GatewayProcess(gateway_env(ONEAPI_DISABLED_PLUGINS="echo,openai"), name="blocked").start()
    try:
        root = blocked.login()
        names = {p["name"] for p in api(root, "GET", "/api/plugins")}
        assert "echo" not in names and "openai" not in names
        types = {t["id"] for t in api(root, "GET", "/api/channel/types")}
        assert 1 not in types and 9999 not in types
        assert "pong" not in httpx.get(blocked.base_url + "/echo/ping").text  # only the web UI's page
        assert httpx.get(blocked.base_url + "/api/status").json()["success"]
    finally:
        blocked.stop()
    only = GatewayProcess(gateway_env(ONEAPI_PLUGINS="echo"), name="only").start()
    try:
        names = {p["name"] for p in api(only.login(), "GET", "/api/plugins")}
        assert "echo" in names and "openai" not in names
    finally:
        only.stop()


# --- one front door for /v1: plugin request handlers and Services on both paths ---

BROWSER = {"Origin": "https://app.example"}


@pytest.mark.parametrize("headers", [{}, BROWSER], ids=["sdk", "browser"])
def test_services_are_reachable_from_a_hook_on_both_paths_to_the_relay(
        echo_gw, echo_token, marks_file, headers) -> None:
    before = marks(marks_file).count("services:500000")
    reply = httpx.post(echo_gw.base_url + "/v1/chat/completions",
                       headers={"Authorization": "Bearer sk-" + echo_token["key"], **headers},
                       json={"model": "echo-1", "messages": [{"role": "user", "content": "abc"}],
                             "user": "services-check"})
    assert reply.status_code == 200, reply.text
    assert marks(marks_file).count("services:500000") == before + 1
    assert "x-echo-seen" not in reply.headers  # this gateway's echo installs no request handlers


@pytest.fixture(scope="module")
def handlers_gw() -> Iterator[GatewayProcess]:
    gw = GatewayProcess(gateway_env(ONEAPI_ECHO_REQUEST_HANDLERS="1"), name="echo-handlers").start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def handlers_token(handlers_gw: GatewayProcess) -> dict:
    admin = Admin(handlers_gw, handlers_gw.login())
    admin.channel("", "echo-1", type=9999)
    return admin.token(admin.user())


@pytest.mark.parametrize("headers", [{}, BROWSER], ids=["sdk", "browser"])
def test_a_plugins_app_wide_request_handlers_see_sdk_requests_too(handlers_gw, handlers_token, headers) -> None:
    token = handlers_token
    reply = httpx.post(handlers_gw.base_url + "/v1/chat/completions",
                       headers={"Authorization": "Bearer sk-" + token["key"], **headers},
                       json={"model": "echo-1", "messages": [{"role": "user", "content": "abc"}]})
    assert reply.status_code == 200, reply.text
    assert reply.headers.get("x-echo-seen") == "1"
    assert "/v1 is served by Quart only" in handlers_gw.log()
