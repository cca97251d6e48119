"""A fake Anthropic Messages API on 127.0.0.1 for the gateway's tests.

``FakeAnthropic`` serves ``POST /v1/messages`` (and ``GET /v1/models``) from an aiohttp app
in a background thread, validates requests the way Anthropic does (``x-api-key`` and
``anthropic-version`` headers, ``max_tokens`` required, user/assistant roles only, non-empty
text, ``tool_result`` ids answering the previous turn's ``tool_use`` ids, no trailing
whitespace in a final assistant turn, temperature 0..1), records every request and has
plain-attribute knobs::

    with FakeAnthropic(expected_key="sk-ant") as fake:
        ...  # point a type-14 channel at fake.base_url
        assert fake.requests[-1].json["max_tokens"] == 4096

Deterministic answers:

- text: ``chunk_count`` pieces ``"tok0 " "tok1 " ...``; one output token per piece. A stop
  sequence found in that text cuts it there (``stop_reason: stop_sequence``); ``max_tokens``
  below the piece count cuts it (``max_tokens``).
- tools given (and ``tool_choice`` not ``none``) and the last turn holds no tool_result: a
  ``tool_use`` of the first (or the chosen) tool with input ``TOOL_INPUT``; ``stop_reason:
  tool_use``; streamed as ``input_json_delta`` fragments.
- last turn holds tool_result blocks: ``"The tool returned <their text>"``.
- usage: ``input_tokens = INPUT_TOKENS`` (10), ``output_tokens`` as above, cache tokens from
  the ``cache_read`` / ``cache_creation`` knobs; the ``usage`` knob is merged over it.

Streams follow Anthropic's event sequence: message_start, content_block_start, ping,
content_block_delta..., content_block_stop, message_delta (stop_reason, usage), message_stop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.fakes._server import REC, UpstreamFake

INPUT_TOKENS = 10
TOOL_INPUT = {"x": 1}
MODELS = ("claude-3-5-haiku-20241022", "claude-sonnet-4-20250514", "claude-3-haiku-20240307")
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
_ERRORS: dict[int, tuple[str, str]] = {  # default error type and message per status
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}
_KNOBS: dict[str, Any] = {
    "chunk_count": 5, "chunk_interval": 0.0, "expected_key": None, "usage": None,
    "cache_read": 0, "cache_creation": 0, "fail_status": None, "fail_body": None,
    "fail_times": None, "hang_after_events": None, "error_after_events": None,
    "malformed": False,
}


def error_body(status: int, message: str | None = None, type_: str | None = None) -> dict[str, Any]:
    """Anthropic's error envelope."""
    default_type, default_message = _ERRORS.get(status, ("api_error", "Upstream error."))
    return {"type": "error", "error": {"type": type_ or default_type, "message": message or default_message},
            "request_id": "req_fake0001"}


def sample(schema: Any, root: Any, depth: int = 0) -> Any:
    """A deterministic value that matches a JSON Schema (refs, enums, objects, arrays, scalars)."""
    if not isinstance(schema, dict) or depth > 6:
        return None
    if "$ref" in schema:
        target = root
        for step in str(schema["$ref"]).lstrip("#/").split("/"):
            target = target.get(step, {}) if isinstance(target, dict) else {}
        return sample(target, root, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return sample(schema[key][0], root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "object")
    kind = next((k for k in kind if k != "null"), "null") if isinstance(kind, list) else kind
    if kind == "object":
        return {name: sample(sub, root, depth + 1) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [sample(schema.get("items") or {}, root, depth + 1)]
    return {"string": "tok", "integer": 1, "number": 1.5, "boolean": True}.get(str(kind))


class BadRequest(Exception):
    """A 400 invalid_request_error with Anthropic's message."""


class FakeAnthropic(UpstreamFake):
    """A fake Anthropic API. Knobs are plain attributes (set them between requests); keyword
    arguments of the constructor set their starting values, which ``reset()`` restores.
    ``fail(status, body=None, times=None)`` answers the next ``times`` requests (None: all)
    with ``status``; body: a dict as JSON, str/bytes raw, None Anthropic's error for it.
    """

    chunk_count: int  # text pieces (or tool argument fragments) per answer (5)
    chunk_interval: float  # seconds between stream events
    expected_key: str | None  # the only x-api-key accepted (None: any)
    usage: dict[str, int] | None  # merged over the answer's usage
    cache_read: int  # cache_read_input_tokens
    cache_creation: int  # cache_creation_input_tokens
    hang_after_events: int | None  # close the connection after this many stream events
    error_after_events: int | None  # send an overloaded_error event after this many events
    malformed: bool  # answer 200 with a body that is not JSON
    _knobs = _KNOBS

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/messages", self._messages)
        router.add_post("/v1/messages/count_tokens", self._count_tokens)
        router.add_get("/v1/models", self._models)
        router.add_route("*", "/{tail:.*}", self._not_found)

    # ----- every request ---------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        await self._record(request)
        key = request.headers.get("x-api-key")
        if not key or (self.expected_key is not None and key != self.expected_key):
            return web.json_response(error_body(401), status=401)
        if not request.headers.get("anthropic-version"):
            return web.json_response(error_body(400, "anthropic-version: header is required"), status=400)
        if (failure := self._failure(error_body)) is not None:
            return failure
        return await handler(request)

    # ----- validation --------------------------------------------------------------------
    @staticmethod
    def _check_block(where: str, role: str, block: Any, asked: set[str]) -> None:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            if not isinstance(block.get("text"), str) or not block["text"]:
                raise BadRequest(f"{where}: text content blocks must be non-empty")
        elif kind in ("image", "document"):
            source = block.get("source") or {}
            if source.get("type") == "base64":
                if kind == "image" and source.get("media_type") not in IMAGE_TYPES:
                    raise BadRequest(f"{where}.source.media_type: Input should be one of {sorted(IMAGE_TYPES)}")
                try:
                    base64.b64decode(source.get("data") or "", validate=True)
                except (binascii.Error, ValueError):
                    raise BadRequest(f"{where}.source.data: invalid base64 data") from None
            elif source.get("type") != "url" or not str(source.get("url", "")).startswith(("http://", "https://")):
                raise BadRequest(f"{where}.source: Input tag {source.get('type')!r} is invalid")
        elif kind == "tool_use":
            if role != "assistant" or not block.get("id") or not block.get("name") \
                    or not isinstance(block.get("input"), dict):
                raise BadRequest(f"{where}: tool_use blocks need id, name and an input object")
        elif kind == "tool_result":
            if role != "user" or block.get("tool_use_id") not in asked:
                raise BadRequest(f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: "
                                 f"{block.get('tool_use_id')}. Each `tool_result` block must have a "
                                 "corresponding `tool_use` block in the previous message.")
        elif kind not in ("thinking", "redacted_thinking"):
            raise BadRequest(f"{where}.type: Input tag {kind!r} is invalid")

    def _validate(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise BadRequest("There was an issue with your request body: not a JSON object")
        for name in ("model", "max_tokens", "messages"):
            if name not in body:
                raise BadRequest(f"{name}: Field required")
        if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
            raise BadRequest("max_tokens: Input should be a positive integer")
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages: at least one message is required")
        system = body.get("system")
        if system is not None and not isinstance(system, str) and not (
                isinstance(system, list) and all(b.get("type") == "text" and b.get("text") for b in system)):
            raise BadRequest("system: Input should be a string or a list of text blocks")
        temperature = body.get("temperature")
        if temperature is not None and not 0 <= temperature <= 1:
            raise BadRequest("temperature: Input should be less than or equal to 1")
        asked: set[str] = set()
        for i, message in enumerate(messages):
            role, content = message.get("role"), message.get("content")
            if role not in ("user", "assistant"):
                raise BadRequest(f"messages.{i}.role: Input should be 'user' or 'assistant'")
            if isinstance(content, str):
                if not content:
                    raise BadRequest(f"messages.{i}: user messages must have non-empty content")
                blocks: list[Any] = [{"type": "text", "text": content}]
            elif isinstance(content, list) and content:
                blocks = content
            else:
                raise BadRequest(f"messages.{i}: all messages must have non-empty content")
            for j, block in enumerate(blocks):
                self._check_block(f"messages.{i}.content.{j}", role, block, asked)
            answered = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
            if role == "user" and asked - answered:
                raise BadRequest(f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                                 f"immediately after: {', '.join(sorted(asked - answered))}")
            asked = {b["id"] for b in blocks if b.get("type") == "tool_use"}
        last = messages[-1]
        if last["role"] == "assistant":
            text = last["content"] if isinstance(last["content"], str) else (last["content"][-1].get("text") or "")
            if text != text.rstrip():
                raise BadRequest("messages: final assistant content cannot end with trailing whitespace")
        output = body.get("output_config")
        if output is not None:
            fmt = output.get("format") if isinstance(output, dict) else None
            if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
                raise BadRequest("output_config.format: Input should be a json_schema format with a schema")
            if not str(body["model"]).startswith(("claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5")):
                raise BadRequest(f"'{body['model']}' does not support output format.")
        if "response_format" in body:
            raise BadRequest("response_format: Extra inputs are not permitted")
        metadata = body.get("metadata")
        if metadata is not None and (not isinstance(metadata, dict) or set(metadata) - {"user_id"}):
            raise BadRequest("metadata: Extra inputs are not permitted")
        choice = body.get("tool_choice")
        if choice is not None and choice.get("type") not in ("auto", "any", "tool", "none"):
            raise BadRequest("tool_choice.type: Input tag is invalid")
        for k, tool in enumerate(body.get("tools") or ()):
            if not tool.get("name") or (tool.get("input_schema") or {}).get("type") != "object":
                raise BadRequest(f"tools.{k}: tools need a name and an input_schema of type object")

    # ----- endpoints -------------------------------------------------------------------
    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """The content block, stop reason and usage the fake answers ``body`` with."""
        last = body["messages"][-1]
        blocks = last["content"] if isinstance(last["content"], list) else []
        results = [b for b in blocks if b.get("type") == "tool_result"]
        tools, choice = body.get("tools") or [], body.get("tool_choice") or {}
        k = self.chunk_count
        if results:
            said = " ".join(r["content"] if isinstance(r.get("content"), str) else
                            " ".join(c.get("text", "") for c in r.get("content") or ()) for r in results)
            text = f"The tool returned {said}"
            pieces = [text[i * len(text) // k:(i + 1) * len(text) // k] for i in range(k)]
        elif tools and choice.get("type") != "none":
            name = choice["name"] if choice.get("type") == "tool" else tools[0]["name"]
            schema = next((t.get("input_schema") for t in tools if t.get("name") == name), None) or {}
            # a closed schema (additionalProperties false) gets an input that matches it
            tool_input = sample(schema, schema) if schema.get("additionalProperties") is False else TOOL_INPUT
            arguments = json.dumps(tool_input)
            fragments = [arguments[i * len(arguments) // k:(i + 1) * len(arguments) // k] for i in range(k)]
            block = {"type": "tool_use", "id": f"toolu_fake{next(self._ids):06d}", "name": name,
                     "input": tool_input}
            return {"block": block, "fragments": fragments, "stop": "tool_use", "sequence": None, "output": k}
        elif ((body.get("output_config") or {}).get("format") or {}).get("type") == "json_schema":
            schema = body["output_config"]["format"]["schema"]
            text = json.dumps(sample(schema, schema))
            pieces = [text[i * len(text) // k:(i + 1) * len(text) // k] for i in range(k)]
        else:
            pieces = [f"tok{i} " for i in range(k)]
        stop, sequence = "end_turn", None
        text = "".join(pieces)
        for seq in body.get("stop_sequences") or ():
            if seq in text:
                text, stop, sequence = text[:text.index(seq)], "stop_sequence", seq
                pieces = [text]
                break
        if len(pieces) > body["max_tokens"]:
            pieces, stop = pieces[:body["max_tokens"]], "max_tokens"
        return {"block": {"type": "text", "text": "".join(pieces)}, "fragments": pieces, "stop": stop,
                "sequence": sequence, "output": len(pieces)}

    def _usage(self, output: int) -> dict[str, Any]:
        return {"input_tokens": INPUT_TOKENS, "cache_creation_input_tokens": self.cache_creation,
                "cache_read_input_tokens": self.cache_read, "output_tokens": output, **(self.usage or {})}

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = request[REC].json
        try:
            self._validate(body)
        except BadRequest as exc:
            return web.json_response(error_body(400, str(exc)), status=400)
        if self.malformed:
            return web.Response(body=b"{not json", content_type="application/json")
        answer = self._answer(body)
        mid = f"msg_fake{next(self._ids):06d}"
        usage = self._usage(answer["output"])
        if not body.get("stream"):
            return web.json_response({
                "id": mid, "type": "message", "role": "assistant", "model": body["model"],
                "content": [answer["block"]], "stop_reason": answer["stop"],
                "stop_sequence": answer["sequence"], "usage": usage})
        block = answer["block"]
        start = {**block, "text": ""} if block["type"] == "text" else {**block, "input": {}}
        delta_type = "text_delta" if block["type"] == "text" else "input_json_delta"
        field = "text" if block["type"] == "text" else "partial_json"
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": {
                "id": mid, "type": "message", "role": "assistant", "model": body["model"], "content": [],
                "stop_reason": None, "stop_sequence": None, "usage": {**usage, "output_tokens": 1}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start}),
            ("ping", {"type": "ping"}),
        ]
        if block["type"] == "tool_use":
            answer["fragments"] = ["", *answer["fragments"]]
        events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                            "delta": {"type": delta_type, field: piece}})
                   for piece in answer["fragments"]]
        events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                   ("message_delta", {"type": "message_delta", "delta": {
                       "stop_reason": answer["stop"], "stop_sequence": answer["sequence"]}, "usage": usage}),
                   ("message_stop", {"type": "message_stop"})]
        return await self._sse(request, events)

    async def _sse(self, request: web.Request, events: list[tuple[str, dict[str, Any]]]) -> web.StreamResponse:
        hang, fail_at, interval = self.hang_after_events, self.error_after_events, self.chunk_interval
        resp = web.StreamResponse(headers={"Cache-Control": "no-cache"})
        resp.content_type = "text/event-stream"
        await resp.prepare(request)
        try:
            for sent, (name, data) in enumerate(events):
                if hang is not None and sent >= hang:
                    if request.transport is not None:
                        request.transport.close()
                    return resp
                if fail_at is not None and sent >= fail_at:
                    name, data = "error", {"type": "error", "error": {"type": "overloaded_error",
                                                                      "message": "Overloaded"}}
                if sent and interval:
                    await asyncio.sleep(interval)
                await resp.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                if name == "error":
                    break
            await resp.write_eof()
        except ConnectionError:
            pass
        return resp

    async def _count_tokens(self, request: web.Request) -> web.StreamResponse:
        """Anthropic's token count: the messages' length in characters // 4 + 7 (no max_tokens)."""
        body = request[REC].json
        if not isinstance(body, dict) or not body.get("model") or not isinstance(body.get("messages"), list):
            return web.json_response(error_body(400, "model, messages: Field required"), status=400)
        if "max_tokens" in body:
            return web.json_response(error_body(400, "max_tokens: Extra inputs are not permitted"), status=400)
        return web.json_response({"input_tokens": len(json.dumps(body["messages"])) // 4 + 7})

    async def _models(self, request: web.Request) -> web.StreamResponse:
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in MODELS]
        return web.json_response({"data": data, "has_more": False, "first_id": MODELS[0],
                                  "last_id": MODELS[-1]})

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(error_body(404, f"Not found: {request.method} {request.path}"), status=404)
