"""The client's address behind trusted reverse proxies (oneapi/client_ip.py, TRUSTED_PROXIES)."""

from __future__ import annotations

from typing import Any

import pytest

from oneapi.client_ip import TrustedProxies, client_address, parse_networks
from oneapi.settings import SettingsError, load_settings

PROXIES = parse_networks("10.0.0.0/8, 127.0.0.1, ::1")


@pytest.mark.parametrize(("peer", "forwarded", "real_ip", "client"), [
    ("203.0.113.9", ["198.51.100.7"], "198.51.100.8", "203.0.113.9"),  # not a trusted peer: headers ignored
    ("127.0.0.1", [], None, "127.0.0.1"),
    ("127.0.0.1", ["198.51.100.7"], None, "198.51.100.7"),
    ("127.0.0.1", ["1.1.1.1, 198.51.100.7"], None, "198.51.100.7"),  # the left one came from the client
    ("127.0.0.1", ["1.1.1.1", "198.51.100.7, 10.1.1.1"], None, "198.51.100.7"),  # repeated headers, proxy chain
    ("127.0.0.1", ["10.2.2.2, 10.1.1.1"], None, "10.2.2.2"),  # all trusted: the leftmost
    ("127.0.0.1", ["198.51.100.7:4567"], None, "198.51.100.7"),
    ("127.0.0.1", ["[2001:db8::7]:443"], None, "2001:db8::7"),
    ("::1", ["2001:db8::7"], None, "2001:db8::7"),
    ("127.0.0.1", ["198.51.100.7, unknown"], None, "127.0.0.1"),  # not an address: the last trusted hop
    ("127.0.0.1", ["unknown, 10.1.1.1"], None, "10.1.1.1"),
    ("127.0.0.1", [], "198.51.100.8", "198.51.100.8"),
    ("127.0.0.1", [], "junk", "127.0.0.1"),
    ("127.0.0.1", ["198.51.100.7"], "198.51.100.8", "198.51.100.7"),  # X-Forwarded-For first
    ("::ffff:127.0.0.1", ["198.51.100.7"], None, "198.51.100.7"),
])
def test_client_address(peer: str, forwarded: list[str], real_ip: str | None, client: str) -> None:
    assert client_address(peer, forwarded, real_ip, PROXIES) == client


def test_no_trusted_proxies_means_no_header_is_honoured() -> None:
    assert client_address("127.0.0.1", ["198.51.100.7"], "198.51.100.8", ()) == "127.0.0.1"


def test_the_setting_defaults_to_empty_and_refuses_a_bad_entry() -> None:
    assert load_settings().trusted_proxies == ()
    assert [str(n) for n in load_settings(TRUSTED_PROXIES="10.0.0.0/8, 127.0.0.1").trusted_proxies] == [
        "10.0.0.0/8", "127.0.0.1/32"]
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        load_settings(TRUSTED_PROXIES="proxy.internal")


async def _seen(peer: str, headers: list[tuple[bytes, bytes]], kind: str = "http") -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    scope = {"type": kind, "client": (peer, 5555), "scheme": "http" if kind == "http" else "ws",
             "headers": headers}
    await TrustedProxies(app, PROXIES)(scope, None, None)
    return seen


async def test_the_middleware_rewrites_client_and_scheme_for_trusted_peers_only() -> None:
    headers = [(b"x-forwarded-for", b"1.1.1.1, 198.51.100.7"), (b"x-forwarded-proto", b"https")]
    seen = await _seen("127.0.0.1", headers)
    assert (seen["client"], seen["scheme"]) == (("198.51.100.7", 5555), "https")
    seen = await _seen("203.0.113.9", headers)
    assert (seen["client"], seen["scheme"]) == (("203.0.113.9", 5555), "http")
    seen = await _seen("127.0.0.1", [(b"x-real-ip", b"198.51.100.8"), (b"x-forwarded-proto", b"gopher")])
    assert (seen["client"], seen["scheme"]) == (("198.51.100.8", 5555), "http")
    seen = await _seen("127.0.0.1", [(b"x-forwarded-proto", b"https")], kind="websocket")
    assert seen["scheme"] == "wss"
