"""``/v1/oneapi/proxy/<channel>/<target>``: One API's raw pass-through to one channel.

Any method, any path under the channel's base URL; the client's headers go along with the
channel's own credentials in place of the client's. Nothing is billed, so only
administrators' tokens may use it (One API let anyone who named a channel through).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from quart import Response, current_app, request

from .. import models
from .._http import open_stream
from ..auth import authenticate_relay
from ..gateway import Gateway
from .context import RelayContext, RelayError
from .controller import client_key, error_response, new_request_id

__all__ = ["proxy"]

# Hop-by-hop and transport headers, and the client's own credentials: never forwarded.
_DROP_REQUEST = frozenset({
    "host", "content-length", "accept-encoding", "connection", "keep-alive", "transfer-encoding",
    "te", "upgrade", "proxy-authorization", "authorization", "x-api-key", "api-key", "cookie",
})  # fmt: skip
_DROP_RESPONSE = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "set-cookie"})


async def proxy(channel_id: int, target: str) -> Response:
    """Relay the current request as it is to ``channel_id``'s ``target`` path."""
    gw: Gateway = current_app.extensions["oneapi"]
    request_id = new_request_id()
    body = await request.get_data(cache=False)
    assert isinstance(body, bytes)
    try:
        token, user, _ = await authenticate_relay(gw.cache, client_key(), request.remote_addr or "")
        if user.role < models.ROLE_ADMIN:
            raise RelayError(403, "only administrators' tokens may use the channel proxy",
                             "permission_error", "proxy_not_allowed")
        channel = gw.cache.channels.by_id.get(channel_id)
        if channel is None or channel.status != models.CHANNEL_ENABLED:
            raise RelayError(403, f"channel {channel_id} does not exist or is disabled",
                             "permission_error", "channel_unavailable")
        adaptor = gw.adaptor(channel.type)
        if adaptor is None:
            raise RelayError(503, f"no loaded plugin serves channel type {channel.type}",
                             "one_api_error", "channel_type_unavailable")
        ctx = RelayContext(request_id=request_id, mode="proxy", endpoint="/" + target, token=token,
                           user=user, model="", body=body,
                           content_type=request.headers.get("content-type", ""), channel=channel)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST}
        credentials = {k: v for k, v in adaptor.request_headers(ctx).items()
                       if k.lower() not in ("content-type", "accept")}
        headers.update(credentials)
        url = f"{adaptor.base_url(channel)}/{target}"
        if request.query_string:
            url += "?" + request.query_string.decode("latin-1")
        timeouts = adaptor.upstream_timeouts(gw.settings, channel)
        assert gw.http is not None
        upstream = await open_stream(gw.http, request.method, url, headers=headers, content=body,
                                     timeout=timeouts)
    except RelayError as err:
        return error_response(err, request_id)
    except httpx.HTTPError as exc:
        return error_response(RelayError(502, f"the upstream could not be reached: {type(exc).__name__}",
                                         "upstream_error", "bad_gateway"), request_id)
    answer = Response(_body(upstream), upstream.status_code)
    for key, value in upstream.headers.multi_items():
        if key.lower() not in _DROP_RESPONSE:
            answer.headers.add(key, value)
    return answer


async def _body(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError:
        return  # the upstream broke off: the client sees a short body, as from the upstream
    finally:
        await upstream.aclose()
