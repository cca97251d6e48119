"""Issue 18, the relay's findings, each shown against a real gateway over HTTP (loopback only):
image URLs never reach the gateway's own network (SSRF), a client cannot get a channel disabled,
malformed input is a 4xx (never charged), and more below."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.conftest import Admin, gateway_env, wait_logs
from tests.dbs import postgres_database
from tests.fakes._server import PNG_1X1, ThreadedFake
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess, api
from tests.services import require_service

pytestmark = pytest.mark.timeout(120)

PRICES = {"ModelRatio": '{"test-model": 2, "text-embedding-3-small": 1}', "CompletionRatio": '{"test-model": 3}'}
HI = [{"role": "user", "content": "hi"}]


def chat(gateway: GatewayProcess, key: str, body: dict[str, Any], headers: dict[str, str] | None = None,
         path: str = "/v1/chat/completions") -> httpx.Response:
    return httpx.post(gateway.base_url + path, json=body, timeout=30,
                      headers={"Authorization": f"Bearer sk-{key}", **(headers or {})})


# ------------------------------------------------------------------ 1. SSRF through image URLs


class ImageHost(ThreadedFake):
    """An image host on 127.0.0.1 recording what it serves: ``/png/{n}`` (a 1x1 PNG) and
    ``/to?url=...`` (a 302 there)."""

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/png/{n}", self._png)
        router.add_get("/to", self._to)

    def reset(self) -> None:
        self.paths: list[str] = []
        super().reset()

    async def _png(self, request: web.Request) -> web.Response:
        self.paths.append(request.path_qs)
        return web.Response(body=PNG_1X1, content_type="image/png")

    async def _to(self, request: web.Request) -> web.Response:
        self.paths.append(request.path_qs)
        raise web.HTTPFound(request.query["url"])


@pytest.fixture(scope="module")
def image_host() -> Iterator[ImageHost]:
    with ImageHost() as host:
        yield host


@pytest.fixture(scope="module")
def fetching(image_host: ImageHost, fake_openai: FakeOpenAI) -> Iterator[dict[str, Any]]:
    """A gateway that may fetch from the image host alone (FETCH_ALLOWED_NETWORKS names its port:
    the test-only way to have an "allowed" host on loopback), with a channel on the fake upstream."""
    gw = GatewayProcess(gateway_env(FETCH_ALLOWED_NETWORKS=f"127.0.0.1:{image_host.port}"), name="ssrf").start()
    try:
        admin = Admin(gw, gw.login())
        for key, value in PRICES.items():
            admin.option(key, value)
        admin.channel(fake_openai.base_url, "test-model")
        user = admin.user(quota=100_000_000)
        yield {"gateway": gw, "admin": admin, "user": user}
    finally:
        gw.stop()


def _images_prompt(world: dict[str, Any], upstream: FakeOpenAI, image_host: ImageHost, urls: list[str]) -> int:
    """Relay one chat message of these image URLs to an upstream that reports no usage (so the
    gateway counts the prompt itself); the prompt tokens it billed."""
    admin: Admin = world["admin"]
    token = admin.token(world["user"], remain_quota=50_000_000)
    upstream.include_usage = "never"
    image_host.reset()
    content = [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    reply = chat(world["gateway"], token["key"], {"model": "test-model", "messages": [{"role": "user", "content": content}]})
    assert reply.status_code == 200, reply.text
    (log,) = wait_logs(admin, token["name"], 1)
    return int(log["prompt_tokens"])


# 3 priming + 3 for the message + 1 for its role; an image of 1x1 is 255 tokens at high
# detail, one not measured counts as 1024x1024: 765 (One API's default).
BASE, SMALL, DEFAULT = 7, 255, 765


def test_ssrf_control_an_allowed_host_is_fetched(fetching, upstream, image_host) -> None:
    assert _images_prompt(fetching, upstream, image_host, [image_host.base_url + "/png/1"]) == BASE + SMALL
    assert image_host.paths == ["/png/1"]


def test_ssrf_loopback_and_private_literals_are_never_fetched(fetching, upstream, image_host) -> None:
    gw: GatewayProcess = fetching["gateway"]
    urls = [upstream.base_url + "/img/0.png",  # loopback, another port than the allowed one
            gw.base_url + "/api/user/self",  # the gateway itself
            "http://10.0.0.1/a.png", "http://192.168.1.1/b.png", "http://169.254.169.254/latest/meta-data/",
            f"http://[::1]:{upstream.port}/img/1.png", f"http://[::ffff:127.0.0.1]:{upstream.port}/img/2.png"]
    started = time.monotonic()
    assert _images_prompt(fetching, upstream, image_host, urls) == BASE + len(urls) * DEFAULT
    assert time.monotonic() - started < 8  # refused at once, not after connect timeouts
    assert [r.path for r in upstream.requests if not r.path.startswith("/v1/")] == []


def test_ssrf_a_name_resolving_to_loopback_is_never_fetched(fetching, upstream, image_host) -> None:
    urls = [f"http://localhost:{upstream.port}/img/0.png", f"http://localhost:{image_host.port}/png/9"]
    assert _images_prompt(fetching, upstream, image_host, urls) == BASE + DEFAULT + SMALL
    assert [r.path for r in upstream.requests if not r.path.startswith("/v1/")] == []
    assert image_host.paths == ["/png/9"]  # judged by what the name resolves to: the allowed address and port


def test_ssrf_a_redirect_from_an_allowed_host_to_loopback_is_not_followed(fetching, upstream, image_host) -> None:
    targets = [upstream.base_url + "/img/0.png", f"http://localhost:{upstream.port}/img/1.png"]
    urls = [f"{image_host.base_url}/to?url={target}" for target in targets]
    assert _images_prompt(fetching, upstream, image_host, urls) == BASE + 2 * DEFAULT
    assert sorted(image_host.paths) == sorted(u.removeprefix(image_host.base_url) for u in urls)
    assert [r.path for r in upstream.requests if not r.path.startswith("/v1/")] == []


def test_ssrf_at_most_eight_images_are_fetched_per_request(fetching, upstream, image_host) -> None:
    urls = [f"{image_host.base_url}/png/{i}" for i in range(20)]
    assert _images_prompt(fetching, upstream, image_host, urls + urls) == (
        3 + 3 + 1 + 2 * (8 * SMALL + 12 * DEFAULT))
    assert image_host.paths == [f"/png/{i}" for i in range(8)]


def test_ssrf_the_default_gateway_fetches_no_loopback_image(gateway, admin, upstream, image_host) -> None:
    """The session's gateway has no FETCH_ALLOWED_NETWORKS: even the image host is refused."""
    for key, value in PRICES.items():
        admin.option(key, value)
    channel = admin.channel(upstream.base_url, "test-model")
    try:
        world = {"gateway": gateway, "admin": admin, "user": admin.user(quota=100_000_000)}
        urls = [image_host.base_url + "/png/1", upstream.base_url + "/img/0.png"]
        assert _images_prompt(world, upstream, image_host, urls) == BASE + 2 * DEFAULT
        assert image_host.paths == []
    finally:
        admin.delete_channel(channel["id"])


# ------------------------------------------------------------------ 2. a client disabling a channel


def _echo(message: str, code: str | None = "invalid_value") -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": "x", "code": code}}


@pytest.fixture
def auto_disable(admin: Admin) -> Iterator[None]:
    admin.option("AutomaticDisableChannelEnabled", "true")
    yield
    admin.option("AutomaticDisableChannelEnabled", "false")


def test_an_upstream_400_echoing_the_clients_input_never_disables_the_channel(
        gateway, admin, upstream, auto_disable) -> None:
    for key, value in PRICES.items():
        admin.option(key, value)
    channel = admin.channel(upstream.base_url, "test-model")
    token = admin.token(admin.user())
    try:
        for status, body in [(400, _echo("Invalid value: 'balance'. Supported values are: 'auto' and 'none'.")),
                             (400, _echo("Invalid 'user': 'your credit balance is too low; permission denied'")),
                             (404, _echo("The model `credit` does not exist", "model_not_found")),
                             (422, _echo("api key not valid: unexpected field 'insufficient balance'", None))]:
            upstream.fail(status, body, times=1)
            reply = chat(gateway, token["key"], {"model": "test-model", "messages": HI, "user": "balance"})
            assert reply.status_code == status, reply.text
            assert admin.root.get(f"/api/channel/{channel['id']}").json()["data"]["status"] == 1, body
        # the channel test (GET /api/channel/test/{id}) follows the same rule
        upstream.fail(400, _echo("Invalid value: 'balance'"), times=1)
        admin.root.get(f"/api/channel/test/{channel['id']}")
        assert admin.root.get(f"/api/channel/{channel['id']}").json()["data"]["status"] == 1
        assert chat(gateway, token["key"], {"model": "test-model", "messages": HI}).status_code == 200
        # an account-level failure still disables it (AutomaticDisableChannelEnabled is on)
        upstream.fail(429, {"error": {"message": "You exceeded your current quota, please check your plan and "
                                      "billing details.", "type": "insufficient_quota", "code": "insufficient_quota"}},
                      times=1)
        assert chat(gateway, token["key"], {"model": "test-model", "messages": HI}).status_code == 429
        assert admin.root.get(f"/api/channel/{channel['id']}").json()["data"]["status"] == 3
    finally:
        admin.delete_channel(channel["id"])


# ------------------------------------------------------------------ 3. malformed input: 4xx, never charged

BROWSER = {"Origin": "https://app.example"}  # takes Quart's path instead of the fast lane
PATHS = pytest.mark.parametrize("headers", [{}, BROWSER], ids=["fast-lane", "quart"])


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


MALFORMED: dict[str, tuple[str, dict[str, Any]]] = {
    "n-string": ("chat", {"model": "test-model", "messages": HI, "n": "two"}),
    "n-list": ("chat", {"model": "test-model", "messages": HI, "n": [1]}),
    "n-huge": ("chat", {"model": "test-model", "messages": HI, "n": 10**40}),
    "n-64bit": ("chat", {"model": "test-model", "messages": HI, "n": 2**63}),
    "n-zero": ("chat", {"model": "test-model", "messages": HI, "n": 0}),
    "n-completions": ("completions", {"model": "test-model", "prompt": "hi", "n": "2"}),
    "max-tokens-64bit": ("chat", {"model": "test-model", "messages": HI, "max_tokens": 2**62}),
    "stream-options-number": ("chat", {"model": "test-model", "messages": HI, "stream_options": 5}),
    "stream-options-list": ("chat", {"model": "test-model", "messages": HI, "stream": True, "stream_options": [1]}),
    "tools-number": ("chat", {"model": "test-model", "messages": HI, "tools": 5}),
    "messages-strings-system-prompt": ("chat", {"model": "prompted-model", "messages": ["hi"]}),
    "messages-mixed-system-prompt": ("chat", {"model": "prompted-model", "messages": [5, {"role": "user", "content": "x"}]}),
    "messages-strings": ("chat", {"model": "test-model", "messages": ["hi", None]}),
    "embeddings-nested": ("embeddings", {"model": "text-embedding-3-small", "input": _nested(500)}),
    "embeddings-nested-mapped": ("embeddings", {"model": "mapped-embedding", "input": _nested(300)}),
}


@pytest.fixture(scope="module")
def malformed_world(admin: Admin, fake_openai: FakeOpenAI) -> Iterator[dict[str, Any]]:
    admin.option("ModelRatio", '{"test-model": 2, "text-embedding-3-small": 1, "prompted-model": 1, '
                               '"mapped-embedding": 1}')
    channels = [admin.channel(fake_openai.base_url, "test-model,text-embedding-3-small"),
                admin.channel(fake_openai.base_url, "prompted-model", system_prompt="Answer briefly."),
                admin.channel(fake_openai.base_url, "mapped-embedding",
                              model_mapping='{"mapped-embedding": "text-embedding-3-small"}')]
    user = admin.user(quota=10_000_000)
    token = admin.token(user, remain_quota=5_000_000)
    yield {"user": user, "token": token}
    for channel in channels:
        admin.delete_channel(channel["id"])


def _openai_error(reply: httpx.Response) -> dict[str, Any]:
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text[:500])
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"], error
    return dict(error)


@PATHS
@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_input_is_a_4xx_in_openais_shape_and_never_charged(
        gateway, admin, upstream, malformed_world, case, headers) -> None:
    mode, body = MALFORMED[case]
    path = {"chat": "/v1/chat/completions", "completions": "/v1/completions", "embeddings": "/v1/embeddings"}[mode]
    token, user = malformed_world["token"], malformed_world["user"]
    reply = chat(gateway, token["key"], body, headers, path)
    _openai_error(reply)
    admin.settled(user["id"])  # no hold left open
    assert admin.user_row(user["id"])["quota"] == 10_000_000
    assert admin.logs(token_name=token["name"], type=2) == []


LONG_KEYS = {"49": "a" * 49, "4k": "b" * 4096, "60k": "Zq" * 30 * 1024, "64k": "Yr" * 32 * 1024}


@pytest.mark.parametrize("size", list(LONG_KEYS))
@pytest.mark.parametrize("where", ["v1-fast-lane", "v1-quart", "mj", "messages"])
def test_an_overlong_api_key_is_refused_before_any_lookup_and_never_logged(gateway, where, size) -> None:
    key = LONG_KEYS[size]
    body = {"model": "test-model", "messages": HI, "max_tokens": 5, "prompt": "a cat"}
    headers = {"Authorization": f"Bearer sk-{key}"}
    if where == "v1-quart":
        headers.update(BROWSER)
    path = {"mj": "/mj/submit/imagine", "messages": "/v1/messages"}.get(where, "/v1/chat/completions")
    if where == "messages":
        headers = {"x-api-key": f"sk-{key}", "anthropic-version": "2023-06-01"}
    reply = httpx.post(gateway.base_url + path, json=body, headers=headers, timeout=30)
    assert reply.status_code in (401, 431) if size == "64k" else reply.status_code == 401, (
        reply.status_code, reply.text[:300])
    if where.startswith("v1") and reply.status_code == 401:
        assert reply.json()["error"]["code"] == "invalid_api_key"
    time.sleep(0.1)
    logged = gateway.log_path.read_text(errors="replace")
    assert key[:40] not in logged


# ------------------------------------------------------------------ 4. trusted proxies

SUBNET = "198.51.100.0/24"  # the token may be used from there only


def _rotating_forwarded_for(request: httpx.Request) -> None:
    """The test's own management calls each come from another address (not rate limited)."""
    _rotating_forwarded_for.count = getattr(_rotating_forwarded_for, "count", 0) + 1  # type: ignore[attr-defined]
    n = _rotating_forwarded_for.count  # type: ignore[attr-defined]
    request.headers["X-Forwarded-For"] = f"192.0.2.{n % 250 + 1}, 10.{n // 250 % 250}.0.1"


@pytest.fixture(scope="module")
def proxied(fake_openai: FakeOpenAI) -> Iterator[dict[str, Any]]:
    """A gateway behind a "reverse proxy" on 127.0.0.1 (TRUSTED_PROXIES), /api limited to 30
    requests per 3 minutes per client, with a token usable from SUBNET only."""
    gw = GatewayProcess(gateway_env(TRUSTED_PROXIES="127.0.0.1/32", GLOBAL_API_RATE_LIMIT="30"),
                        name="proxied").start()
    try:
        root = gw.client(event_hooks={"request": [_rotating_forwarded_for]})
        assert root.post("/api/user/login", json={"username": "root", "password": "123456"}).json()["success"]
        admin = Admin(gw, root)
        for key, value in PRICES.items():
            admin.option(key, value)
        admin.channel(fake_openai.base_url, "test-model")
        user = admin.user(quota=100_000_000)
        token = admin.token(user, subnet=SUBNET)
        yield {"gateway": gw, "admin": admin, "token": token}
    finally:
        gw.stop()


def _via_proxy(forwarded_for: str | None = None, real_ip: str | None = None) -> dict[str, str]:
    headers = {}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    if real_ip is not None:
        headers["X-Real-IP"] = real_ip
    return headers


@PATHS
def test_behind_a_trusted_proxy_the_token_subnet_sees_the_client(proxied, headers) -> None:
    gw, key = proxied["gateway"], proxied["token"]["key"]
    body = {"model": "test-model", "messages": HI}
    assert chat(gw, key, body, {**headers, **_via_proxy("198.51.100.7")}).status_code == 200
    assert chat(gw, key, body, {**headers, **_via_proxy(real_ip="198.51.100.8")}).status_code == 200
    refused = chat(gw, key, body, {**headers, **_via_proxy("203.0.113.5")})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "ip_not_allowed"
    # an address the client wrote to the left of what the proxy saw is not believed
    forged = chat(gw, key, body, {**headers, **_via_proxy("198.51.100.7, 203.0.113.5")})
    assert forged.status_code == 403 and "203.0.113.5" in forged.json()["error"]["message"]
    assert chat(gw, key, body, headers).status_code == 403  # the proxy itself (127.0.0.1) is not the client


def test_behind_a_trusted_proxy_mj_sees_the_client(proxied) -> None:
    gw, key = proxied["gateway"], proxied["token"]["key"]

    def fetch(forwarded_for: str) -> httpx.Response:
        return httpx.get(gw.base_url + "/mj/task/no-such-task/fetch", timeout=30,
                         headers={"Authorization": f"Bearer sk-{key}", "X-Forwarded-For": forwarded_for})

    assert fetch("198.51.100.7").status_code == 404  # authenticated: the task does not exist
    assert fetch("203.0.113.5").status_code == 403


def test_the_api_rate_limit_counts_each_client_behind_the_proxy(proxied) -> None:
    gw = proxied["gateway"]

    def status(**kw: str | None) -> int:
        return httpx.get(gw.base_url + "/api/status", headers=_via_proxy(**kw), timeout=30).status_code

    assert [status(forwarded_for="198.51.100.20") for _ in range(30)] == [200] * 30
    assert status(forwarded_for="198.51.100.20") == 429
    assert status(forwarded_for="203.0.113.99, 198.51.100.20") == 429  # a forged left hop changes nothing
    assert status(forwarded_for="198.51.100.21") == 200  # another client behind the same proxy
    assert status(real_ip="198.51.100.22") == 200


@PATHS
def test_without_trusted_proxies_forwarded_headers_are_ignored(gateway, admin, upstream, headers) -> None:
    for key, value in PRICES.items():
        admin.option(key, value)
    channel = admin.channel(upstream.base_url, "test-model")
    try:
        token = admin.token(admin.user(), subnet=SUBNET)
        reply = chat(gateway, token["key"], {"model": "test-model", "messages": HI},
                     {**headers, "X-Forwarded-For": "198.51.100.7", "X-Real-IP": "198.51.100.7"})
        assert reply.status_code == 403 and "127.0.0.1" in reply.json()["error"]["message"]
    finally:
        admin.delete_channel(channel["id"])


# ------------------------------------------------------------------ 5. Redis unreachable: invalidations missed


class RedisCut:
    """A TCP proxy on 127.0.0.1 in front of Redis that can be cut: ``refuse`` resets every
    connection and every new one; ``blackhole`` keeps them open but passes nothing either way
    (as a dead network path does); ``restore`` forwards again (for new connections)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "open"
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    def __enter__(self) -> RedisCut:
        self._thread.start()
        self._call(self._listen())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._close_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def cut(self, mode: str) -> None:
        self.mode = mode
        if mode == "refuse":
            self._call(self._reset_all())

    def restore(self) -> None:
        self.mode = "open"
        self._call(self._reset_all())  # the black-holed connections are dead: clients reconnect

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _reset_all(self) -> None:
        for writer in list(self._writers):
            sock = writer.get_extra_info("socket")
            with contextlib.suppress(OSError):
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        self._writers.clear()

    async def _close_all(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._reset_all()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "refuse":
            writer.transport.abort()
            return
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer),
                             return_exceptions=True)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        while data := await src.read(65536):
            if self.mode != "open":
                continue  # black hole: swallowed
            dst.write(data)
            await dst.drain()
        dst.close()


def _wait_for(predicate: Any, timeout: float) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.timeout(180)
@pytest.mark.parametrize("cut", ["refuse", "blackhole"])
def test_a_token_disabled_on_one_node_is_refused_by_another_within_a_second_while_redis_is_unreachable(
        upstream, cut) -> None:
    require_service("PostgreSQL")
    require_service("Redis")
    with postgres_database() as dsn, RedisCut(6379) as redis_cut:
        common = {"SQL_DSN": dsn, "REDIS_CONN_STRING": f"redis://127.0.0.1:{redis_cut.port}/7",
                  "SESSION_SECRET": "shared-secret"}
        a = GatewayProcess(gateway_env(**common), name="node-a").start()
        b = GatewayProcess(gateway_env(NODE_TYPE="slave", **common), name="node-b").start()
        try:
            admin = Admin(a, a.login())
            for key, value in PRICES.items():
                admin.option(key, value)
            admin.channel(upstream.base_url, "test-model")
            user = admin.user(quota=100_000_000)
            token, spare = admin.token(user), admin.token(user)
            owner = a.login(user["username"], "password123")
            body = {"model": "test-model", "messages": HI}
            _wait_for(lambda: chat(b, token["key"], body).status_code == 200, 5)
            assert chat(b, spare["key"], body).status_code == 200
            time.sleep(1.5)  # both entries are now older than any bound: B holds them for SYNC_FREQUENCY
            redis_cut.cut(cut)
            api(owner, "PUT", "/api/token/", params={"status_only": "true"}, json={"id": token["id"], "status": 2})
            took = _wait_for(lambda: chat(b, token["key"], body).status_code == 401, 10)
            assert took < 2.0, f"node B served the disabled token for {took:.1f} s"
            assert chat(b, spare["key"], body).status_code == 200  # B goes on serving from the database
            assert chat(a, spare["key"], body).status_code == 200
            redis_cut.restore()
            api(owner, "PUT", "/api/token/", params={"status_only": "true"}, json={"id": token["id"], "status": 1})
            _wait_for(lambda: chat(b, token["key"], body).status_code == 200, 10)
            # back to normal: a write on A reaches B through Redis again
            _wait_for(lambda: "Redis is back" in b.log(), 15)
            api(owner, "PUT", "/api/token/", params={"status_only": "true"}, json={"id": spare["id"], "status": 2})
            assert _wait_for(lambda: chat(b, spare["key"], body).status_code == 401, 2.0) < 2.0
        finally:
            b.stop()
            a.stop()
