"""What differs between the /v1 endpoints: how the model is found, what a request
is expected to cost, and how its final usage is known."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from .context import RelayContext, RelayError, Usage
from .sse import read_completion_events

if TYPE_CHECKING:
    from ..adaptor import RelayResult
    from ..billing import Price
    from ..gateway import Gateway
    from ..tokenizer import ImageFetcher, Tokenizer

__all__ = ["MODES", "Mode", "Plan"]


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to reserve before the upstream call, and the final quota from usage."""

    reserve: int
    quota_for: Callable[[Usage], int]


@dataclass(frozen=True, slots=True)
class Mode:
    """One kind of relay request."""

    name: str
    endpoint: str
    default_model: str = ""
    multipart: bool = False
    binary_response: bool = False
    token_priced: bool = True


MODES = {
    m.name: m
    for m in (
        Mode("chat", "/chat/completions"),
        Mode("completions", "/completions"),
        Mode("edits", "/edits"),
        Mode("embeddings", "/embeddings"),
        Mode("moderations", "/moderations", default_model="text-moderation-latest"),
        Mode("images", "/images/generations", default_model="dall-e-2", token_priced=False),
        Mode("speech", "/audio/speech", binary_response=True, token_priced=False),
        Mode("transcriptions", "/audio/transcriptions", "whisper-1", multipart=True),
        Mode("translations", "/audio/translations", "whisper-1", multipart=True),
    )
}


#: The /v1 route table: path -> mode (the fast lane and Quart's blueprint both serve it).
RELAY_ROUTES = {f"/v1{m.endpoint}": m.name for m in MODES.values()}


MAX_N = 128  # choices per request (OpenAI's limit)
MAX_OUTPUT_TOKENS = 2**31 - 1  # no model writes more; larger budgets would overflow the ledger's integers


def _completion_budget(gw: Gateway, payload: dict[str, Any]) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        value = payload.get(key)
        if _integer(value) and value > 0:
            return value * (payload.get("n") or 1)  # n is checked (check_input)
    return gw.options.int("PreConsumedQuota", 500)


def _integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _invalid(param: str, message: str, code: str = "invalid_value") -> RelayError:
    return RelayError(400, message, "invalid_request_error", code, param)


def _check_shapes(payload: dict[str, Any]) -> None:
    """Fields the gateway itself reads (to price, count or change the request) must have their
    type, or the client gets a 400 here rather than a 500 from deep inside."""
    n = payload.get("n")
    if n is not None and not (_integer(n) and 1 <= n <= MAX_N):
        raise _invalid("n", f"n must be an integer between 1 and {MAX_N}")
    for key in ("max_tokens", "max_completion_tokens"):
        value = payload.get(key)
        if _integer(value) and value > MAX_OUTPUT_TOKENS:
            raise _invalid(key, f"{key} must be at most {MAX_OUTPUT_TOKENS}")
    options = payload.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _invalid("stream_options", "stream_options must be an object")
    for key in ("tools", "functions"):
        value = payload.get(key)
        if value is not None and not isinstance(value, list):
            raise _invalid(key, f"{key} must be an array")


def check_input(ctx: RelayContext) -> None:
    """The fields a mode cannot go without, and the shapes of those the gateway reads;
    RelayError 400 naming the field."""
    payload = ctx.payload or {}
    if ctx.mode in ("chat", "completions", "edits"):
        _check_shapes(payload)
    if ctx.mode == "chat":
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RelayError(400, "messages must be a non-empty array", "invalid_request_error",
                             "invalid_messages", "messages")
        if not all(isinstance(message, dict) for message in messages):
            raise RelayError(400, "each message must be an object", "invalid_request_error",
                             "invalid_messages", "messages")
    elif ctx.mode == "edits" and not isinstance(payload.get("instruction"), str):
        raise RelayError(400, "instruction is required", "invalid_request_error", "missing_instruction",
                         "instruction")
    elif ctx.mode in ("embeddings", "moderations") and "input" not in payload:
        raise RelayError(400, "input is required", "invalid_request_error", "missing_input", "input")
    field = _TEXT_INPUT.get(ctx.mode)
    if field is not None and _nests_deeper(payload.get(field), 2):
        raise _invalid(field, f"{field} must be a string, an array of strings or of token ids, or an "
                              "array of token id arrays: arrays nest at most two deep")


_TEXT_INPUT = {"completions": "prompt", "edits": "input", "embeddings": "input", "moderations": "input"}


def _nests_deeper(value: Any, limit: int) -> bool:
    """Whether ``value`` has arrays nested more than ``limit`` deep (walked without recursion)."""
    if not isinstance(value, list):
        return False
    pending = [(value, 1)]
    while pending:
        items, depth = pending.pop()
        for item in items:
            if isinstance(item, list):
                if depth >= limit:
                    return True
                pending.append((item, depth + 1))
    return False


async def count_prompt(tok: Tokenizer, ctx: RelayContext, fetch_image: ImageFetcher | None = None) -> int:
    """Prompt tokens of the request by ``tok``: the estimating tokenizer reserves quota on the
    hot path; the exact one counts only when the upstream reported no usage."""
    payload = ctx.payload or {}
    if ctx.mode == "chat":
        count = await tok.count_messages_async(ctx.model, payload["messages"], fetch_image)
        if payload.get("tools"):
            count += tok.count_tools(ctx.model, payload["tools"])
        return count
    if ctx.mode == "completions":
        return tok.count_input(ctx.model, payload.get("prompt", ""))
    if ctx.mode == "edits":
        return tok.count_input(ctx.model, [payload.get("input") or "", payload["instruction"]])
    if ctx.mode in ("embeddings", "moderations"):
        return tok.count_input(ctx.model, payload["input"])
    return 0


def plan(gw: Gateway, ctx: RelayContext, price: Price) -> Plan:
    """Reserve and final-quota rules for this request's mode."""
    pricing = gw.pricing
    payload = ctx.payload or {}
    if ctx.mode == "images":
        n = payload.get("n", 1)
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
            raise RelayError(400, "n must be an integer between 1 and 10", "invalid_request_error",
                             "invalid_n", "n")
        if not isinstance(payload.get("prompt"), str) or not payload["prompt"]:
            raise RelayError(400, "prompt is required", "invalid_request_error", "missing_prompt", "prompt")
        size = str(payload.get("size") or "1024x1024")
        quota = pricing.image_quota(price, ctx.model, size, str(payload.get("quality") or ""), n)
        return Plan(quota, lambda usage: quota)
    if ctx.mode == "speech":
        text = payload.get("input")
        if not isinstance(text, str) or not text:
            raise RelayError(400, "input is required", "invalid_request_error", "missing_input", "input")
        if len(text) > 4096:
            raise RelayError(400, "input must be at most 4096 characters", "invalid_request_error",
                             "input_too_long", "input")
        if price.per_call_usd is not None:
            quota = pricing.text_quota(price, Usage())
        else:
            quota = max(1, int(len(text) * price.model_ratio * price.group_ratio))
        return Plan(quota, lambda usage: quota)
    budget = 0 if ctx.mode in ("embeddings", "moderations") else _completion_budget(gw, payload)
    if ctx.mode in ("transcriptions", "translations"):
        budget = gw.options.int("PreConsumedQuota", 500)
    reserve = pricing.text_quota(price, Usage(ctx.prompt_tokens, budget))
    return Plan(reserve, lambda usage: pricing.text_quota(price, usage))


def _texts_of(result: Any) -> list[str]:
    texts: list[str] = []
    for choice in (result or {}).get("choices") or ():
        message = choice.get("message") or {}
        content = message.get("content") if message else choice.get("text")
        if isinstance(content, str):
            texts.append(content)
        for call in message.get("tool_calls") or ():
            fn = call.get("function") or {}
            texts.append((fn.get("name") or "") + (fn.get("arguments") or ""))
    return texts


async def final_usage(gw: Gateway, ctx: RelayContext, result: RelayResult | None) -> Usage:
    """The request's usage: the upstream's when it gave one, else counted with tiktoken."""
    tok = gw.tokenizer
    if ctx.mode in ("transcriptions", "translations") and result is not None:
        text = transcript_text(result.body, result.content_type)
        return Usage(0, await tok.count_text_async(ctx.model, text))
    if ctx.usage is not None and (ctx.usage.prompt_tokens or ctx.usage.completion_tokens):
        return ctx.usage
    prompt = await count_prompt(tok, ctx, gw.fetch_image)
    if ctx.mode in ("embeddings", "moderations"):
        return Usage(prompt, 0)
    read_completion_events(ctx)
    texts = _texts_of(result.json) if result is not None and result.json else ctx.completion_text
    completion = await tok.count_text_async(ctx.model, "".join(texts)) if texts else 0
    return Usage(prompt, completion)


def transcript_text(body: bytes, content_type: str) -> str:
    """The words of a transcription answer in any response_format."""
    text = body.decode("utf-8", "replace")
    if "json" in content_type:
        try:
            return str(json.loads(text).get("text", ""))
        except (json.JSONDecodeError, AttributeError):
            return ""
    lines = [
        line for line in text.splitlines()
        if line.strip() and "-->" not in line and not line.strip().isdigit() and line.strip() != "WEBVTT"
    ]
    return "\n".join(lines)
