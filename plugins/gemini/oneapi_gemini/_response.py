"""Gemini answers → OpenAI: ``chat.completion``, ``chat.completion.chunk`` SSE, embeddings.

Candidates become choices: text parts the message content, ``thought`` parts
``reasoning_content``, ``functionCall`` parts ``tool_calls`` (finish reason ``tool_calls``).
``usageMetadata`` becomes usage: prompt = promptTokenCount (+ toolUsePromptTokenCount),
completion = candidatesTokenCount + thoughtsTokenCount, cached = cachedContentTokenCount.
"""

from __future__ import annotations

import base64
import struct
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson

from oneapi.plugin import RelayContext, RelayError, Usage, iter_data

from ._convert import SIGNATURE_MARK

__all__ = ["blocked_error", "convert_stream", "embeddings_to_openai", "openai_usage", "to_openai",
           "usage_of"]

FINISH_REASONS = {
    "STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}
DONE = b"data: [DONE]\n\n"


def usage_of(meta: dict[str, Any]) -> Usage:
    prompt = int(meta.get("promptTokenCount") or 0) + int(meta.get("toolUsePromptTokenCount") or 0)
    completion = int(meta.get("candidatesTokenCount") or 0) + int(meta.get("thoughtsTokenCount") or 0)
    return Usage(prompt, completion, int(meta.get("cachedContentTokenCount") or 0))


def openai_usage(usage: Usage, meta: dict[str, Any]) -> dict[str, Any]:
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": int(meta.get("thoughtsTokenCount") or 0)}}


def blocked_error(data: dict[str, Any]) -> RelayError:
    """The error for an answer without candidates (a blocked prompt, or nothing at all)."""
    reason = (data.get("promptFeedback") or {}).get("blockReason")
    if reason:
        return RelayError(400, f"the prompt was blocked by Gemini ({reason})", "invalid_request_error",
                          "content_filter", "messages")
    return RelayError(502, "Gemini returned no candidates", "upstream_error", "empty_response", retryable=True)


def _call(part: dict[str, Any]) -> dict[str, Any]:
    call = part["functionCall"] or {}
    call_id = f"call_{uuid.uuid4().hex[:24]}"
    if part.get("thoughtSignature"):
        call_id += SIGNATURE_MARK + str(part["thoughtSignature"])
    return {"id": call_id, "type": "function",
            "function": {"name": call.get("name") or "", "arguments": orjson.dumps(call.get("args") or {}).decode()}}


def _read_parts(candidate: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """(text, thoughts, tool calls) of a candidate."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in (candidate.get("content") or {}).get("parts") or ():
        if part.get("functionCall"):
            calls.append(_call(part))
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else texts).append(part["text"])
    return "".join(texts), "".join(thoughts), calls


def _finish(reason: Any, calls: bool) -> str:
    finish = FINISH_REASONS.get(str(reason), "stop")
    return "tool_calls" if calls and finish == "stop" else finish


def to_openai(data: dict[str, Any], model: str) -> tuple[dict[str, Any], Usage]:
    """An OpenAI ``chat.completion`` (and its usage) for a ``generateContent`` answer."""
    candidates = data.get("candidates") or []
    if not candidates:
        raise blocked_error(data)
    choices = []
    for i, candidate in enumerate(candidates):
        text, thoughts, calls = _read_parts(candidate)
        message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
        if calls:
            message["tool_calls"] = calls
        if thoughts:
            message["reasoning_content"] = thoughts
        choices.append({"index": int(candidate.get("index") or i), "message": message, "logprobs": None,
                        "finish_reason": _finish(candidate.get("finishReason"), bool(calls))})
    meta = data.get("usageMetadata") or {}
    usage = usage_of(meta)
    answer = {"id": f"chatcmpl-{data.get('responseId') or uuid.uuid4().hex}", "object": "chat.completion",
              "created": int(time.time()), "model": model, "choices": choices,
              "usage": openai_usage(usage, meta)}
    return answer, usage


def embeddings_to_openai(data: dict[str, Any], model: str, prompt_tokens: int,
                         encoding: str | None) -> tuple[dict[str, Any], Usage]:
    """OpenAI's embeddings list for a ``batchEmbedContents`` answer (usage counted locally)."""
    items = []
    for i, embedding in enumerate(data.get("embeddings") or ()):
        values: Any = [float(v) for v in embedding.get("values") or ()]
        if encoding == "base64":
            values = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
        items.append({"object": "embedding", "index": i, "embedding": values})
    usage = Usage(prompt_tokens, 0)
    return {"object": "list", "data": items, "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}, usage


class _Converter:
    """Turns Gemini stream answers into OpenAI chunks, one choice per candidate."""

    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.started: set[int] = set()
        self.calls: dict[int, int] = {}  # candidate -> tool calls sent
        self.meta: dict[str, Any] = {}
        self.finished = False

    def chunk(self, index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.ctx.model,
                "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        return b"data: " + orjson.dumps(body) + b"\n\n"

    def feed(self, data: dict[str, Any]) -> list[bytes]:
        if data.get("usageMetadata"):
            self.meta = data["usageMetadata"]
        candidates = data.get("candidates") or []
        if not candidates and (data.get("promptFeedback") or {}).get("blockReason"):
            self.finished = True
            return [self.chunk(0, {"role": "assistant", "content": ""}, "content_filter")]
        out: list[bytes] = []
        for i, candidate in enumerate(candidates):
            index = int(candidate.get("index") or i)
            text, thoughts, calls = _read_parts(candidate)
            delta: dict[str, Any] = {}
            if index not in self.started:
                self.started.add(index)
                delta["role"] = "assistant"
            if text or "role" in delta:
                delta["content"] = text
            if thoughts:
                delta["reasoning_content"] = thoughts
            if calls:
                sent = self.calls.get(index, 0)
                delta["tool_calls"] = [{"index": sent + k, **call} for k, call in enumerate(calls)]
                self.calls[index] = sent + len(calls)
            self.ctx.completion_text += [text, thoughts] + [
                c["function"]["name"] + c["function"]["arguments"] for c in calls]
            if delta:
                out.append(self.chunk(index, delta))
            if candidate.get("finishReason"):
                self.finished = True
                out.append(self.chunk(index, {}, _finish(candidate["finishReason"], index in self.calls)))
        return out

    def end(self) -> list[bytes]:
        if not self.finished:
            return []  # cut short: no [DONE]; the core bills the collected text
        out = []
        if self.meta:
            self.ctx.usage = usage_of(self.meta)
            if self.ctx.client_wants_usage:
                body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                        "model": self.ctx.model, "choices": [],
                        "usage": openai_usage(self.ctx.usage, self.meta)}
                out.append(b"data: " + orjson.dumps(body) + b"\n\n")
        return [*out, DONE]


async def convert_stream(ctx: RelayContext, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """OpenAI SSE bytes for a ``streamGenerateContent?alt=sse`` byte stream.

    Gemini marks no end of stream: once some candidate had a finishReason, the end of the
    upstream body completes the answer (usage from the last usageMetadata, then [DONE]).
    """
    converter = _Converter(ctx)
    async for data in iter_data(chunks):
        try:
            answer = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
            error = answer["error"]
            body = {"error": {"message": str(error.get("message") or "upstream stream error"),
                              "type": "upstream_error", "param": None, "code": error.get("status")}}
            yield b"data: " + orjson.dumps(body) + b"\n\n"
            return
        if isinstance(answer, dict):
            for out in converter.feed(answer):
                yield out
    for out in converter.end():
        yield out
