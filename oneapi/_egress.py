"""Fetching URLs that clients put in requests (``image_url`` parts): public addresses only.

The gateway fetches a client's image URL to count its tokens (when the upstream reported no
usage) and, for plugins that send images inline, to inline it. Such a URL must never reach into the gateway's
own network, so a fetch connects only to public addresses: never to private, loopback,
link-local, multicast, reserved, unspecified or shared (CGNAT) ones, nor to a cloud metadata
address. A host name is checked after DNS resolution, by the resolver of the very connection
that is made (the connection goes to the address that was checked, so a second DNS answer
cannot swap it); an address in the URL is checked before connecting; every redirect is
checked again (at most ``MAX_REDIRECTS``). A refused fetch raises ``FetchError`` like any
other failed one.

``FETCH_ALLOWED_NETWORKS`` (``Settings.fetch_allowed``) lists exceptions: networks, each
optionally limited to one port (``10.1.2.0/24``, ``127.0.0.1:8080``, ``[fd00::1]:443``), for
an internal image store, or a test's fake host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

__all__ = ["Allowance", "Egress", "FetchError", "Fetched", "parse_allowances", "public_address"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_REDIRECTS = 3
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
# Public addresses that answer only from inside a cloud (Azure's WireServer / IMDS relay).
_METADATA = frozenset({ipaddress.ip_address("168.63.129.16")})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FetchError(ValueError):
    """A fetch failed or was refused; the message says why (never the response body)."""


def public_address(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address a user's URL may reach. IPv6 forms that
    carry an IPv4 address (mapped, 6to4, NAT64) are judged by that address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.teredo is not None:
            return False
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return public_address(embedded)
    return not (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in _METADATA
    )


@dataclass(frozen=True, slots=True)
class Allowance:
    """A non-public network fetches may reach anyway (``port`` None: any port)."""

    network: IPNetwork
    port: int | None = None

    def admits(self, address: IPAddress, port: int) -> bool:
        return address.version == self.network.version and address in self.network and (
            self.port is None or self.port == port)


_WITH_PORT = re.compile(r"^\[(?P<v6>[^\]]+)\]:(?P<p6>\d+)$|^(?P<v4>[0-9./]+):(?P<p4>\d+)$")


def parse_allowances(text: str) -> tuple[Allowance, ...]:
    """``FETCH_ALLOWED_NETWORKS``: comma-separated networks, each optionally ``:port`` (an IPv6
    network with a port in brackets: ``[fd00::/8]:443``). ValueError names a bad entry."""
    found: list[Allowance] = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        match = _WITH_PORT.match(entry)
        port: int | None = None
        network = entry.strip("[]")
        if match:
            network = match["v6"] or match["v4"]
            port = int(match["p6"] or match["p4"])
            if not 0 < port < 65536:
                raise ValueError(f"bad port in {entry!r}")
        try:
            found.append(Allowance(ipaddress.ip_network(network, strict=False), port))
        except ValueError:
            raise ValueError(f"{entry!r} is not a network (CIDR), optionally with :port") from None
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a fetch read: the leading ``data`` of the body (all of it unless cut short)."""

    data: bytes
    content_type: str


class _Refused(OSError):
    """Raised by the resolver (aiohttp reports resolver OSErrors as connection errors)."""


class Egress:
    """Fetches URLs clients gave, from public addresses only (see the module)."""

    def __init__(self, allowances: Iterable[Allowance] = (), *, user_agent: str = "oneapi") -> None:
        self.allowances = tuple(allowances)
        self.user_agent = user_agent

    def check(self, address: IPAddress, port: int, host: str = "") -> None:
        """Raise FetchError unless ``address`` may be reached on ``port``."""
        if public_address(address) or any(a.admits(address, port) for a in self.allowances):
            return
        named = f"{host} ({address})" if host and host != str(address) else str(address)
        raise FetchError(f"refused to fetch from {named}: not a public address")

    async def fetch(self, url: str, *, max_bytes: int, timeout: float,
                    enough: Callable[[bytes], bool] | None = None, whole: bool = False) -> Fetched:
        """GET ``url`` (http or https) within ``timeout`` seconds; the body's first ``max_bytes``
        (or, with ``whole``, FetchError when it is longer), stopping early once ``enough(data)``.
        Redirects are followed (``MAX_REDIRECTS``), each one checked. FetchError on any failure."""
        try:
            async with asyncio.timeout(timeout):
                async with self._session() as session:
                    return await self._follow(session, url, max_bytes, enough, whole)
        except TimeoutError:
            raise FetchError(f"no answer within {timeout:g} s") from None
        except _Refused as exc:
            raise FetchError(str(exc)) from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, _Refused):
                raise FetchError(str(exc.os_error)) from None
            raise FetchError(f"cannot connect: {exc}") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}") from None

    def _session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(resolver=_CheckedResolver(self), use_dns_cache=False, limit=4)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                     trust_env=False, headers={"User-Agent": self.user_agent})

    async def _follow(self, session: aiohttp.ClientSession, url: str, max_bytes: int,
                      enough: Callable[[bytes], bool] | None, whole: bool) -> Fetched:
        target = self._target(url)
        for _ in range(MAX_REDIRECTS + 1):
            async with session.get(target, allow_redirects=False) as response:
                location = response.headers.get("Location")
                if response.status in _REDIRECTS and location:
                    target = self._target(str(target.join(URL(location))))
                    continue
                if response.status >= 400:
                    raise FetchError(f"HTTP {response.status}")
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    if whole and len(data) + len(chunk) > max_bytes:
                        raise FetchError(f"larger than {max_bytes} bytes")
                    data += chunk[: max_bytes - len(data)]
                    if len(data) >= max_bytes or (enough is not None and enough(bytes(data))):
                        break
                return Fetched(bytes(data), response.headers.get("Content-Type", ""))
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    def _target(self, url: str) -> URL:
        """The URL to request, refused unless http(s) with a host; an address in it is checked
        here (the resolver sees only names)."""
        try:
            target = URL(url)
        except (ValueError, TypeError):
            raise FetchError("not a valid URL") from None
        if target.scheme not in ("http", "https") or not target.host:
            raise FetchError("only http(s) URLs with a host are fetched")
        try:
            address = ipaddress.ip_address(target.host)
        except ValueError:
            return target  # a name: checked after resolution
        self.check(address, target.port or 0)
        return target


class _CheckedResolver(AbstractResolver):
    """The system resolver, refusing names with any address a fetch may not reach."""

    def __init__(self, egress: Egress) -> None:
        self._egress = egress
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            try:
                self._egress.check(ipaddress.ip_address(result["host"]), port, host)
            except (FetchError, ValueError) as exc:
                raise _Refused(str(exc)) from None
        return results

    async def close(self) -> None:
        await self._inner.close()
