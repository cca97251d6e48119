"""The relay, straight through: auth → parse → price → reserve → upstream (retries) → settle."""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from quart import Response, current_app, request

from .. import models
from ..auth import authenticate_relay
from ..db import database_unavailable
from . import modes
from .channel_test import apply_health
from .context import ChannelRecord, RelayContext, RelayError, Usage
from .exchange import Chunks, Incoming, Reply
from .inbound import Inbound
from .plugin_modes import RelayMode, final_usage, prepare

if TYPE_CHECKING:
    from ..adaptor import Adaptor, RelayResult
    from ..gateway import Gateway
    from ..ledger import Hold

__all__ = ["error_reply", "error_response", "quart_response", "relay", "relay_reply"]

log = logging.getLogger("oneapi.relay")

SATURATED = "当前分组上游负载已饱和，请稍后再试 (the upstream of this group is saturated; please try again later)"


def new_request_id() -> str:
    return time.strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:12]


def error_reply(err: RelayError, request_id: str, inbound: Inbound | None = None) -> Reply:
    body = inbound.error_body(err, request_id) if inbound is not None else orjson.dumps(err.body(request_id))
    return Reply(err.status, "application/json", body, {"X-Oneapi-Request-Id": request_id})


def quart_response(reply: Reply) -> Response:
    response = Response(reply.body, reply.status, headers=reply.headers, content_type=reply.content_type)
    response.timeout = None  # no send timeout: spares Quart a wait_for task per response
    return response


def error_response(err: RelayError, request_id: str, inbound: Inbound | None = None) -> Response:
    return quart_response(error_reply(err, request_id, inbound))


async def _call_hooks(results: list[Any]) -> None:
    for result in results:
        if inspect.isawaitable(result):
            await result


def client_key(headers: Any = None) -> str:
    """The client's key, from whichever header its SDK sends it in (Quart's request by default)."""
    if headers is None:
        headers = request.headers
    return headers.get("authorization") or headers.get("x-api-key") or headers.get("api-key") or ""


def parse_request(
    incoming: Incoming, mode: modes.Mode | RelayMode, path_model: str | None, inbound: Inbound | None = None
) -> dict[str, Any]:
    """Body, payload/form, model and stream flag of the incoming request."""
    body = incoming.body
    content_type = incoming.headers.get("content-type") or ""
    out: dict[str, Any] = {"body": body, "content_type": content_type, "payload": None, "form": None}
    if mode.multipart:
        if "multipart/form-data" not in content_type or incoming.form is None:
            raise RelayError(400, "this endpoint expects multipart/form-data", "invalid_request_error",
                             "invalid_content_type")
        out["form"] = incoming.form
        out["model"] = out["form"].get("model") or mode.default_model
        out["is_stream"] = False
        return out
    if "json" not in content_type and content_type:
        raise RelayError(415, "the request body must be JSON (Content-Type: application/json)",
                         "invalid_request_error", "invalid_content_type")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RelayError(400, f"the request body is not valid JSON: {exc}", "invalid_request_error",
                         "invalid_json") from None
    if not isinstance(payload, dict):
        raise RelayError(400, "the request body must be a JSON object", "invalid_request_error", "invalid_json")
    if inbound is not None:
        out["inbound_payload"] = payload
        payload = inbound.to_openai(payload)
    model = payload.get("model") or path_model or mode.default_model
    if not isinstance(model, str) or not model:
        raise RelayError(400, "model is required", "invalid_request_error", "missing_model", "model")
    out.update(payload=payload, model=model, is_stream=payload.get("stream") is True)
    return out


async def relay(mode_name: str, path_model: str | None = None, inbound: Inbound | None = None) -> Response:
    """Relay the current Quart request (plugins' routes use this, e.g. with an ``inbound``)."""
    headers = request.headers
    body = await request.get_data(cache=False)
    form = None
    core_mode = modes.MODES.get(mode_name)  # a plugin's mode is never multipart
    if core_mode is not None and core_mode.multipart and "multipart/form-data" in headers.get("content-type", ""):
        form = dict((await request.form).items())
    assert isinstance(body, bytes)
    incoming = Incoming(headers, request.remote_addr or "", body, form)  # type: ignore[arg-type]  # Headers is a Mapping
    gw: Gateway = current_app.extensions["oneapi"]
    # Quart cancels a handler whose client left; the relay runs on, as in the fast lane, so an
    # upstream call that was made is settled (a stream nobody reads is closed and settled).
    work = asyncio.ensure_future(relay_reply(gw, incoming, mode_name, path_model, inbound))
    try:
        return quart_response(await asyncio.shield(work))
    except asyncio.CancelledError:
        work.add_done_callback(lambda done: _drop_unsent(gw, done))
        raise


def _drop_unsent(gw: Gateway, work: asyncio.Future[Reply]) -> None:
    if work.cancelled() or work.exception() is not None:
        return
    body = work.result().body
    if isinstance(body, Chunks):
        gw.in_background(body.aclose())


async def relay_reply(gw: Gateway, incoming: Incoming, mode_name: str, path_model: str | None = None,
                      inbound: Inbound | None = None) -> Reply:
    """Relay one /v1 request; every failure becomes an error in the client's shape."""
    request_id = new_request_id()
    ctx: RelayContext | None = None
    hold: Hold | None = None
    try:
        token, user, pinned = await authenticate_relay(gw.cache, client_key(incoming.headers), incoming.remote_addr)
        mode = modes.MODES.get(mode_name) or gw.registry.relay_modes[mode_name]
        parsed = parse_request(incoming, mode, path_model, inbound)
        if token.models is not None and parsed["model"] not in token.models:
            raise RelayError(403, f"this token may not use model {parsed['model']}", "permission_error",
                             "model_not_allowed", "model")
        ctx = RelayContext(request_id=request_id, mode=mode.name, endpoint=mode.endpoint, token=token,
                           user=user, model=parsed["model"], body=parsed["body"],
                           content_type=parsed["content_type"], payload=parsed["payload"],
                           form=parsed["form"], is_stream=parsed["is_stream"])
        if ctx.payload is not None:
            options = ctx.payload.get("stream_options")  # its type is checked below (check_input)
            ctx.client_wants_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            ctx.raw_body = ctx.body
        if inbound is not None:
            ctx.inbound = inbound
            ctx.inbound_payload = parsed["inbound_payload"]
            ctx.raw_body = None
            ctx.client_wants_usage = True  # the converter needs the usage chunk
        if ctx.payload is not None and "model" not in ctx.payload:  # from the path or the default
            ctx.payload = {**ctx.payload, "model": ctx.model}
            ctx.raw_body = None
        await _call_hooks(gw.pm.hook.transform_request(ctx=ctx, payload=ctx.payload))
        price = gw.pricing.price(ctx.model, user.group)
        if isinstance(mode, RelayMode):
            reserve = prepare(gw, ctx, mode, price)
        else:
            modes.check_input(ctx)
            ctx.prompt_tokens = await modes.count_prompt(gw.estimator, ctx)
            plan = modes.plan(gw, ctx, price)
            ctx.price, ctx.quota_for = price, plan.quota_for
            reserve = plan.reserve
        hold = await gw.ledger.reserve(ctx, reserve)
        response = await _attempts(gw, ctx, pinned, hold)
        hold = None  # settlement owns it now
        return response
    except RelayError as err:
        if hold is not None:
            gw.ledger.release(hold)
        return error_reply(err, request_id, inbound)
    except asyncio.CancelledError:  # the client left (Quart cancels its handler): nothing was delivered
        if hold is not None:
            gw.ledger.release(hold)
        raise
    except (RecursionError, orjson.JSONEncodeError) as exc:  # from the client's JSON, never a bug of ours
        if hold is not None:
            gw.ledger.release(hold)
        log.info("request %s: the request body cannot be handled: %s", request_id, type(exc).__name__)
        return error_reply(RelayError(400, "the request body is nested too deeply or holds a number out of "
                                      "range", "invalid_request_error", "invalid_json"), request_id, inbound)
    except Exception as exc:
        if hold is not None:
            gw.ledger.release(hold)
        if database_unavailable(exc):  # not a bug: the client may retry
            log.warning("request %s: the database is unavailable: %s", request_id, exc)
            return error_reply(RelayError(503, "the gateway's database is unavailable; the request was not "
                                          "charged, please retry", "one_api_error", "database_unavailable"),
                               request_id, inbound)
        log.exception("request %s failed inside the gateway", request_id)
        return error_reply(RelayError(500, "the gateway failed to handle this request; it was not "
                                         "charged", "one_api_error", "internal_error"), request_id, inbound)


async def _attempts(gw: Gateway, ctx: RelayContext, pinned: int | None, hold: Hold) -> Reply:
    """Try channels until one answers; retry others on retryable errors."""
    tried: set[int] = set()
    retries = 0 if pinned is not None else max(gw.options.int("RetryTimes"), 0)
    rng = random.Random()
    last: RelayError | None = None
    client_payload = ctx.payload
    plugin_mode = gw.registry.relay_modes.get(ctx.mode)
    for _ in range(retries + 1):
        channel = _choose(gw, ctx, pinned, tried, rng)
        if channel is None:
            break
        tried.add(channel.id)
        adaptor = gw.adaptor(channel.type)
        if adaptor is None:
            last = RelayError(503, f"channel {channel.id} has type {channel.type}, which no loaded plugin provides",
                              "one_api_error", "channel_type_unavailable", retryable=True)
            continue
        if plugin_mode is not None and not plugin_mode.serves(channel.type):
            last = RelayError(501, f"channel {channel.id} has type {channel.type}, which does not serve "
                              f"/v1{ctx.endpoint}", "one_api_error", "unsupported_endpoint", retryable=True)
            continue
        ctx.channel = channel
        ctx.upstream_model = channel.model_mapping.get(ctx.model, ctx.model)
        ctx.payload = _with_system_prompt(ctx, client_payload, channel)
        try:
            return await _one_attempt(gw, ctx, adaptor, hold)
        except RelayError as err:
            last = err
            if err.disable_channel:
                await apply_health(gw, channel, passed=False, disable=True, reason=err.message)
            if not err.retryable:
                raise
            log.info("request %s: channel %s failed (%s), %s", ctx.request_id, channel.id, err.status,
                     "retrying" if len(tried) <= retries else "giving up")
    if last is None:
        raise RelayError(503, f"当前分组 {ctx.group} 下对于模型 {ctx.model} 无可用渠道 "
                         f"(no channel available for model {ctx.model} in group {ctx.group})",
                         "one_api_error", "model_not_available")
    if last.status == 429:
        last.message = SATURATED
    raise last


def _with_system_prompt(
    ctx: RelayContext, payload: dict[str, Any] | None, channel: ChannelRecord
) -> dict[str, Any] | None:
    """The channel's forced system prompt replaces the first system message, or leads."""
    if not channel.system_prompt or ctx.mode != "chat" or payload is None:
        return payload
    messages = list(payload.get("messages") or [])
    prompt = {"role": "system", "content": channel.system_prompt}
    if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system":
        messages[0] = prompt
    else:
        messages.insert(0, prompt)
    ctx.raw_body = None
    ctx.system_prompt_reset = True
    return {**payload, "messages": messages}


def _choose(gw: Gateway, ctx: RelayContext, pinned: int | None, tried: set[int],
            rng: random.Random) -> ChannelRecord | None:
    table = gw.cache.channels
    if pinned is None:
        return table.pick(ctx.group, ctx.model, tried, rng)
    if pinned in tried:
        return None
    channel = table.by_id.get(pinned)
    if channel is None or channel.status != models.CHANNEL_ENABLED:
        raise RelayError(403, f"channel {pinned} does not exist or is disabled", "permission_error",
                         "channel_unavailable")
    return channel


async def _one_attempt(gw: Gateway, ctx: RelayContext, adaptor: Adaptor, hold: Hold) -> Reply:
    timeout = adaptor.upstream_timeouts(gw.settings, ctx.channel)
    try:
        upstream = await adaptor.send(ctx, timeout)
    except httpx.TimeoutException:
        raise RelayError(504, f"channel {ctx.channel.id if ctx.channel else 0} timed out", "upstream_error",
                         "upstream_timeout", retryable=True) from None
    except httpx.HTTPError as exc:
        raise RelayError(502, f"channel {ctx.channel.id if ctx.channel else 0} is unreachable: {exc}",
                         "upstream_error", "upstream_unreachable", retryable=True) from None
    if upstream.status_code >= 400:
        try:
            raise await adaptor.read_error(ctx, upstream)
        finally:
            await upstream.aclose()
    if ctx.is_stream and adaptor.is_stream(ctx, upstream):
        return _stream(gw, ctx, adaptor, upstream, hold)
    core_mode = modes.MODES.get(ctx.mode)
    if core_mode is not None and core_mode.binary_response:
        return _passthrough(gw, ctx, upstream, hold)
    try:
        result = await adaptor.read_response(ctx, upstream)
    except httpx.TimeoutException:
        raise RelayError(504, f"channel {ctx.channel.id if ctx.channel else 0} stopped sending its answer",
                         "upstream_error", "upstream_timeout", retryable=True) from None
    finally:
        await upstream.aclose()
    plugin_mode = gw.registry.relay_modes.get(ctx.mode) if core_mode is None else None
    if plugin_mode is not None:
        result = plugin_mode.answer(ctx, result)
    if result.usage is not None:
        ctx.usage = result.usage
    await _call_hooks(gw.pm.hook.transform_response(ctx=ctx, result=result))
    ctx.delivered = True
    _settle_later(gw, ctx, hold, result)
    inbound = _converting_inbound(ctx, adaptor)
    if inbound is not None:
        result = inbound.result(ctx, result)
    return Reply(result.status, result.content_type, result.body, {"X-Oneapi-Request-Id": ctx.request_id})


def _converting_inbound(ctx: RelayContext, adaptor: Adaptor) -> Inbound | None:
    """The client's format converter, unless this adaptor speaks that format natively."""
    inbound = ctx.inbound
    if inbound is None or inbound.name in adaptor.native_inbound:
        return None
    return inbound


def _stream(gw: Gateway, ctx: RelayContext, adaptor: Adaptor, upstream: httpx.Response, hold: Hold) -> Reply:
    chunks = adaptor.stream_response(ctx, upstream)
    inbound = _converting_inbound(ctx, adaptor)
    if inbound is not None:
        chunks = inbound.stream(ctx, chunks)

    async def body() -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in chunks:
                ctx.delivered = True
                yield chunk
        except httpx.HTTPError as exc:
            log.warning("request %s: upstream stream broke: %s", ctx.request_id, exc)

    return Reply(200, "text/event-stream", Chunks(body(), _finisher(gw, ctx, upstream, hold)),
                 {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-Oneapi-Request-Id": ctx.request_id})


def _passthrough(gw: Gateway, ctx: RelayContext, upstream: httpx.Response, hold: Hold) -> Reply:
    async def body() -> AsyncGenerator[bytes, None]:
        async for chunk in upstream.aiter_raw():
            ctx.delivered = True
            yield chunk

    return Reply(upstream.status_code, upstream.headers.get("content-type", "application/octet-stream"),
                 Chunks(body(), _finisher(gw, ctx, upstream, hold)), {"X-Oneapi-Request-Id": ctx.request_id})


def _finisher(gw: Gateway, ctx: RelayContext, upstream: httpx.Response, hold: Hold) -> Callable[[], Awaitable[None]]:
    """What ends a streamed reply: close the upstream, settle for what was delivered."""

    async def finish() -> None:
        try:
            await upstream.aclose()
        finally:
            _settle_later(gw, ctx, hold, None)

    return finish


def _settle_later(gw: Gateway, ctx: RelayContext, hold: Hold, result: RelayResult | None) -> None:
    if not ctx.delivered:  # nothing reached the client: the hold goes back at once
        gw.ledger.release(hold)
        return
    gw.in_background(_settle(gw, ctx, hold, result))


async def _settle(gw: Gateway, ctx: RelayContext, hold: Hold, result: RelayResult | None) -> None:
    """Charge the final quota with its consume log, tell the plugins. The hold is settled
    whatever fails here: at the reservation when the usage cannot be known."""
    usage = Usage()
    quota = hold.amount
    note = ""
    try:
        usage = await modes.final_usage(gw, ctx, result) if ctx.mode in modes.MODES else final_usage(ctx)
        quota = _valid_quota(gw, ctx, usage)
    except Exception:
        log.exception("request %s: its usage could not be read; charged its reservation", ctx.request_id)
        note = "; usage unknown, charged the reservation"
    finally:  # also when cancelled at shutdown: a hold never outlives its request
        gw.ledger.settle(hold, quota, ctx.channel.id if ctx.channel else 0,
                         _consume_log(ctx, usage, note))
    await gw.services.quota_consumed(ctx, quota)


def _valid_quota(gw: Gateway, ctx: RelayContext, usage: Usage) -> int:
    """calculate_quota's answer, or the core's formula where a plugin gave no whole, non-negative number."""
    assert ctx.quota_for is not None
    core = ctx.quota_for(usage)
    quota = gw.pm.hook.calculate_quota(ctx=ctx, usage=usage, price=ctx.price, quota=core)
    if quota is None:
        return 0
    if isinstance(quota, bool) or not isinstance(quota, int) or quota < 0:
        log.error("request %s: calculate_quota returned %r; charged the core's price %d instead",
                  ctx.request_id, quota, core)
        return int(core)
    return quota


def _consume_log(ctx: RelayContext, usage: Usage, note: str) -> dict[str, Any]:
    price = ctx.price
    assert price is not None
    content = (f"model ratio {price.model_ratio:g}, group ratio {price.group_ratio:g}, "
               f"completion ratio {price.completion_ratio:g}"
               + (f", price ${price.per_call_usd:g}/call" if price.per_call_usd is not None else ""))
    return {
        "created_at": int(time.time()), "content": content + note, "username": ctx.user.username,
        "token_name": ctx.token.name, "model_name": ctx.model, "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "elapsed_time": int((time.monotonic() - ctx.started) * 1000), "is_stream": ctx.is_stream,
        "system_prompt_reset": ctx.system_prompt_reset,
    }
