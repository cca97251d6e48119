"""Fetches of URLs from clients' requests (oneapi/_egress.py): public addresses only, checked
after DNS resolution and on every redirect; the tokenizer fetches at most a few per request."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from oneapi._egress import Allowance, Egress, FetchError, parse_allowances, public_address
from oneapi.settings import SettingsError, load_settings
from oneapi.tokenizer import MAX_IMAGE_FETCHES, Tokenizer
from tests.fakes._server import PNG_1X1

pytestmark = pytest.mark.timeout(30)

NOT_PUBLIC = ["127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
              "100.100.100.200", "100.64.0.1", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1",
              "255.255.255.255", "198.18.0.1", "168.63.129.16", "::1", "::", "fe80::1", "fd00:ec2::254",
              "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::1",
              "64:ff9b::a9fe:a9fe", "2001:0:4136:e378:8000:63bf:3fff:fdd2"]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8",
          "64:ff9b::808:808"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_private_loopback_link_local_multicast_reserved_and_metadata_are_not_public(address: str) -> None:
    assert not public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are(address: str) -> None:
    assert public_address(ipaddress.ip_address(address))


def test_allowances_parse_networks_with_optional_ports() -> None:
    assert parse_allowances("") == ()
    parsed = parse_allowances(" 10.1.0.0/16, 127.0.0.1:8080 ,[fd00::/8]:443, ::1")
    assert parsed == (Allowance(ipaddress.ip_network("10.1.0.0/16")),
                      Allowance(ipaddress.ip_network("127.0.0.1/32"), 8080),
                      Allowance(ipaddress.ip_network("fd00::/8"), 443),
                      Allowance(ipaddress.ip_network("::1/128")))
    assert parsed[1].admits(ipaddress.ip_address("127.0.0.1"), 8080)
    assert not parsed[1].admits(ipaddress.ip_address("127.0.0.1"), 8081)
    for bad in ("example.com", "10.0.0.0/33", "127.0.0.1:0", "1.2.3.4:99999"):
        with pytest.raises(ValueError):
            parse_allowances(bad)


def test_the_setting_defaults_to_empty_and_refuses_a_bad_entry() -> None:
    assert load_settings().fetch_allowed == ()
    assert load_settings(FETCH_ALLOWED_NETWORKS="127.0.0.1:80").fetch_allowed == (
        Allowance(ipaddress.ip_network("127.0.0.1/32"), 80),)
    with pytest.raises(SettingsError, match="FETCH_ALLOWED_NETWORKS"):
        load_settings(FETCH_ALLOWED_NETWORKS="intranet")


class Host:
    """An image host on 127.0.0.1: ``/png/{n}`` a 1x1 PNG, ``/to?url=`` a redirect."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.port = 0
        self.runner: web.AppRunner | None = None

    async def start(self) -> Host:
        async def png(request: web.Request) -> web.Response:
            self.paths.append(request.path_qs)
            return web.Response(body=PNG_1X1, content_type="image/png")

        async def to(request: web.Request) -> web.Response:
            self.paths.append(request.path_qs)
            raise web.HTTPFound(request.query["url"])

        app = web.Application()
        app.router.add_get("/png/{n}", png)
        app.router.add_get("/to", to)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def hosts() -> AsyncIterator[tuple[Host, Host]]:
    """Two hosts: the first allowed by port, the second (the "internal" one) not."""
    first, second = await Host().start(), await Host().start()
    yield first, second
    for host in (first, second):
        assert host.runner is not None
        await host.runner.cleanup()


def _allowing(host: Host) -> Egress:
    return Egress(parse_allowances(f"127.0.0.1:{host.port}"))


async def _refused(egress: Egress, url: str) -> str:
    with pytest.raises(FetchError) as caught:
        await egress.fetch(url, max_bytes=4096, timeout=5)
    return str(caught.value)


async def test_loopback_private_and_link_local_literals_are_refused_before_connecting(hosts: Any) -> None:
    first, _ = hosts
    egress = Egress()
    assert "not a public address" in await _refused(egress, first.url("/png/1"))
    for url in ("http://10.0.0.1/a.png", "http://169.254.169.254/latest/meta-data/", "http://[::1]:80/",
                "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "https://192.168.0.1/"):
        assert "not a public address" in await _refused(egress, url), url
    assert first.paths == []


async def test_a_name_resolving_to_loopback_is_refused(hosts: Any) -> None:
    first, _ = hosts
    message = await _refused(Egress(), f"http://localhost:{first.port}/png/1")
    assert "localhost" in message and "not a public address" in message
    assert first.paths == []


async def test_an_allowed_host_is_fetched_and_its_redirect_to_loopback_is_refused(hosts: Any) -> None:
    first, second = hosts
    egress = _allowing(first)
    fetched = await egress.fetch(first.url("/png/1"), max_bytes=4096, timeout=5)
    assert fetched.data == PNG_1X1 and fetched.content_type == "image/png"
    # allowed host -> loopback literal on another port, and -> a name resolving to loopback
    for target in (second.url("/png/2"), f"http://localhost:{second.port}/png/3"):
        assert "not a public address" in await _refused(egress, first.url(f"/to?url={target}"))
    assert second.paths == []
    # a redirect to the allowed host itself is followed (each hop checked, not forbidden)
    again = await egress.fetch(first.url(f"/to?url={first.url('/png/4')}"), max_bytes=4096, timeout=5)
    assert again.data == PNG_1X1


async def test_redirect_loops_stop_and_only_http_is_fetched(hosts: Any) -> None:
    first, _ = hosts
    egress = _allowing(first)
    loop = first.url("/to?url=" + first.url("/to?url=" + first.url("/to?url=" + first.url("/to?url=/png/1"))))
    assert "redirects" in await _refused(egress, loop)
    for url in ("file:///etc/passwd", "ftp://example.com/x", "gopher://127.0.0.1/", "http:///nohost"):
        await _refused(egress, url)


async def test_whole_bodies_are_capped(hosts: Any) -> None:
    first, _ = hosts
    egress = _allowing(first)
    assert "larger than" in str(await _whole_refused(egress, first.url("/png/1"), len(PNG_1X1) - 1))
    fetched = await egress.fetch(first.url("/png/1"), max_bytes=10, timeout=5)
    assert fetched.data == PNG_1X1[:10]  # cut short, not refused


async def _whole_refused(egress: Egress, url: str, max_bytes: int) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await egress.fetch(url, max_bytes=max_bytes, timeout=5, whole=True)
    return caught.value


def _image(url: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}


async def test_token_counting_fetches_at_most_a_few_images_and_estimates_the_rest() -> None:
    fetched: list[str] = []

    async def fetch(url: str) -> bytes:
        fetched.append(url)
        return PNG_1X1  # 1x1: one tile, 170 + 85

    urls = [f"https://img.example/{i}.png" for i in range(20)]
    tok = Tokenizer(approximate=True)
    messages = [_image(url) for url in urls + urls]  # repeats are fetched once
    total = await tok.count_messages_async("gpt-4o", messages, fetch)
    assert MAX_IMAGE_FETCHES == 8 and fetched == urls[:8]  # the first ones, in message order
    per_message = 3 + 1  # 3 per message + the role "user"
    assert total == 3 + 40 * per_message + 2 * (8 * 255 + 12 * 765)


async def test_a_refused_fetch_counts_as_the_high_detail_default() -> None:
    async def refuse(url: str) -> bytes:
        raise FetchError("refused to fetch from 127.0.0.1: not a public address")

    tok = Tokenizer(approximate=True)
    assert await tok.count_messages_async("gpt-4o", [_image("http://127.0.0.1/a.png")], refuse) == 3 + 4 + 765
