"""Test plugin: channel type 9999 "Echo" that answers chat requests itself, plus /echo/ping
and a relay mode of its own (``echo_words`` at /v1/echo/words).

It exists to prove that the core relays a channel type it has never heard of, that a plugin
distribution is discovered through its entry point, and that every hook is called.
"""

from __future__ import annotations

import os
import time
from typing import Any

import orjson
from quart import Blueprint

from oneapi.plugin import (
    Adaptor,
    ChannelType,
    ConfigField,
    Job,
    ModelPrices,
    OptionSpec,
    PaymentProvider,
    Price,
    RelayContext,
    RelayError,
    RelayMode,
    RelayResult,
    Usage,
    current_services,
    hookimpl,
    relay_request,
)

MARKS = os.environ.get("ONEAPI_ECHO_MARKS", "")


def _mark(name: str) -> None:
    if MARKS:
        with open(MARKS, "a") as fh:
            fh.write(name + "\n")


class _Answer:
    """Stands in for an upstream response: the echo never leaves the process."""

    status_code = 200
    headers = {"content-type": "application/json"}

    async def aclose(self) -> None:
        return None


class EchoAdaptor(Adaptor):
    """Answers without any upstream: the reply is the last user message reversed."""

    async def send(self, ctx: RelayContext, timeout: float | None) -> Any:
        return _Answer()

    async def read_response(self, ctx: RelayContext, response: Any) -> RelayResult:
        if ctx.mode == "echo_words":  # the plugin's own relay mode
            words = str((ctx.payload or {})["text"]).split()[::-1]
            return RelayResult(200, orjson.dumps({"words": words}), json={"words": words})
        text = str((ctx.payload or {})["messages"][-1]["content"])[::-1]
        body = {
            "id": "echo-1", "object": "chat.completion", "created": int(time.time()), "model": ctx.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        }
        return RelayResult(200, orjson.dumps(body), usage=Usage(7, 3), json=body)


@hookimpl
def register_channel_types() -> list[ChannelType]:
    _mark("register_channel_types")
    return [ChannelType(9999, "Echo", EchoAdaptor, models=("echo-1",),
                        config_fields=(ConfigField("flavour", "Flavour", "口味"),))]


@hookimpl
def register_model_prices() -> ModelPrices:
    _mark("register_model_prices")
    return ModelPrices(model_ratios={"echo-1": 1}, completion_ratios={"echo-1": 2})


@hookimpl
def extend_status(services: Any) -> dict[str, Any]:
    _mark("extend_status")
    return {"echo_greeting": services.options.get("EchoGreeting"), "docs_link": "https://echo.example/docs"}


@hookimpl
def register_options() -> list[OptionSpec]:
    _mark("register_options")
    return [OptionSpec("EchoGreeting", "hello", lambda v: None if v else "must not be empty")]


@hookimpl
def register_blueprints(app: Any) -> list[Blueprint]:
    _mark("register_blueprints")
    bp = Blueprint("echo", __name__)
    if os.environ.get("ONEAPI_ECHO_REQUEST_HANDLERS"):
        # app-wide handlers: they must run for SDK clients' /v1 requests too
        @app.after_request
        async def tag(response: Any) -> Any:
            response.headers["x-echo-seen"] = "1"
            return response

    @bp.post("/v1/echo/words")
    async def words() -> Any:
        return await relay_request("echo_words")

    @bp.get("/echo/ping")
    async def ping() -> Any:
        return {"pong": True}

    return [bp]


class EchoWords(RelayMode):
    """A relay mode of the plugin's own: ``{"model", "text"}`` answered with the words reversed,
    billed per word (the answer's usage) and served by Echo channels only."""

    name = "echo_words"
    endpoint = "/echo/words"

    def serves(self, channel_type: int) -> bool:
        return channel_type == 9999

    def check(self, ctx: RelayContext) -> None:
        if not isinstance((ctx.payload or {}).get("text"), str):
            raise RelayError(400, "text is required", "invalid_request_error", "missing_text", "text")

    def prompt_texts(self, ctx: RelayContext) -> list[str]:
        return [(ctx.payload or {})["text"]]

    def answer(self, ctx: RelayContext, result: RelayResult) -> RelayResult:
        words = (result.json or {})["words"]
        body = {"words": words, "mode": ctx.mode, "endpoint": ctx.endpoint}
        return RelayResult(200, orjson.dumps(body), usage=Usage(len(words) * 10), json=body)


@hookimpl
def register_relay_modes() -> list[RelayMode]:
    _mark("register_relay_modes")
    return [EchoWords()]


async def _tick(gw: Any) -> None:
    _mark("job_ran")
    if os.environ.get("ONEAPI_ECHO_JOB_FAIL"):
        raise RuntimeError("echo job fails on purpose")


async def _any_tick(gw: Any) -> None:
    _mark("any_job_ran")


@hookimpl
def register_jobs() -> list[Job]:
    _mark("register_jobs")
    # echo-any runs on every node: while it ticks, a master-only job at its interval would too
    return [Job("echo-tick", lambda gw: float(os.environ.get("ONEAPI_ECHO_JOB_INTERVAL", "0")), _tick,
                master_only=True),
            Job("echo-any", lambda gw: float(os.environ.get("ONEAPI_ECHO_ANY_JOB_INTERVAL", "0")), _any_tick,
                master_only=False)]


class EchoPay(PaymentProvider):
    name = "echo-pay"
    methods = ("echo",)


@hookimpl
def register_payment_providers() -> list[PaymentProvider]:
    _mark("register_payment_providers")
    return [EchoPay()]


@hookimpl
def transform_request(ctx: RelayContext, payload: dict[str, Any] | None) -> None:
    _mark("transform_request")
    if payload and payload.get("user") == "services-check":
        # the Services are reachable on both paths to the relay (fast lane and Quart)
        ctx.extra["echo_flavour"] = current_services().options.get("QuotaPerUnit")
        _mark(f"services:{ctx.extra['echo_flavour']}")
    if payload and payload.get("user") == "blocked-by-echo":
        raise RelayError(400, "rejected by the echo plugin", "invalid_request_error", "echo_rejected")


@hookimpl
def transform_response(ctx: RelayContext, result: Any) -> None:
    _mark("transform_response")


@hookimpl
def calculate_quota(ctx: RelayContext, usage: Usage, price: Price, quota: int) -> int | None:
    _mark("calculate_quota")
    if ctx.model == "echo-1" and (ctx.payload or {}).get("user") == "double-price":
        # the price and the core's answer arrive as arguments: a surcharge on the core's price
        assert price.model_ratio == 1 and price.completion_ratio == 2
        return quota * 2 + int(price.group_ratio * 100)
    if ctx.model == "echo-1" and (ctx.payload or {}).get("user") == "flat-price":
        return 4242
    if ctx.model == "echo-1" and (ctx.payload or {}).get("user") == "negative-price":
        return -500  # a broken plugin: must never credit quota
    return None


@hookimpl
def quota_consumed(ctx: RelayContext, quota: int) -> None:
    _mark(f"quota_consumed:{quota}")


@hookimpl
def payment_completed(order: Any) -> None:
    _mark("payment_completed")
