"""The client's address behind reverse proxies the operator trusts (``TRUSTED_PROXIES``).

Behind a reverse proxy every connection comes from the proxy: rate limits and token subnet
checks would see one address for all clients. When the direct peer is in ``TRUSTED_PROXIES``
(comma-separated CIDRs; empty by default, then no header is ever honoured), the client is the
rightmost address of ``X-Forwarded-For`` that is not itself a trusted proxy (what the proxy
nearest to the client saw; anything to its left came from the client and may be forged), or,
without that header, ``X-Real-IP``; ``X-Forwarded-Proto`` (http/https) gives the scheme.

``TrustedProxies`` applies this once per request at the front of the ASGI app, by rewriting
the scope's ``client`` (and ``scheme``): the fast lane, Quart's ``request.remote_addr`` (the
/v1 routes, /api's rate limits, plugins' routes such as /mj) and everything else see the
client's address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any

__all__ = ["TrustedProxies", "client_address", "parse_networks"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """Comma-separated CIDRs (or single addresses); ValueError names a bad entry."""
    found: list[IPNetwork] = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            found.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not a network (CIDR) or address") from None
    return tuple(found)


def _address(text: str) -> IPAddress | None:
    """An address from a header hop: ``1.2.3.4``, ``1.2.3.4:5678``, ``[::1]:80``, ``::1``."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress | None, networks: Sequence[IPNetwork]) -> bool:
    return address is not None and any(
        address.version == net.version and address in net for net in networks)


def client_address(peer: str, forwarded_for: Iterable[str], real_ip: str | None,
                   trusted: Sequence[IPNetwork]) -> str:
    """The client's address: ``peer`` unless it is a trusted proxy; then the rightmost
    ``X-Forwarded-For`` hop (all values, in order) that is not trusted (the leftmost when all
    are), else ``X-Real-IP``, else ``peer``. A hop that is not an address ends the walk at the
    last trusted one."""
    if not trusted or not _trusted(_address(peer), trusted):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    if hops:
        client = peer
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                return client
            client = str(address)
            if not _trusted(address, trusted):
                return client
        return client
    if real_ip:
        address = _address(real_ip)
        if address is not None:
            return str(address)
    return peer


class TrustedProxies:
    """ASGI middleware: the scope's ``client`` and ``scheme`` as the trusted proxy saw them."""

    def __init__(self, app: ASGIApp, networks: Sequence[IPNetwork]) -> None:
        self.app = app
        self.networks = tuple(networks)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and _trusted(_address(client[0]), self.networks):
            forwarded: list[str] = []
            real_ip = proto = None
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    forwarded.append(value.decode("latin-1"))
                elif name == b"x-real-ip":
                    real_ip = value.decode("latin-1")
                elif name == b"x-forwarded-proto":
                    proto = value.decode("latin-1").rpartition(",")[2].strip().lower()
            scope = dict(scope)
            scope["client"] = (client_address(client[0], forwarded, real_ip, self.networks), client[1])
            if proto in ("http", "https"):
                ws = scope["type"] == "websocket"
                scope["scheme"] = {"http": "ws", "https": "wss"}[proto] if ws else proto
        await self.app(scope, receive, send)
