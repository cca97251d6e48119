"""A fake OpenAI upstream on 127.0.0.1 for the gateway's tests.

``FakeOpenAI`` serves OpenAI's wire format from an aiohttp app in a background thread with
its own event loop, records every request, and has plain-attribute knobs that tests set
between requests::

    with FakeOpenAI(expected_key="sk-up") as fake:
        client = openai.OpenAI(base_url=fake.base_url + "/v1", api_key="sk-up")
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        assert fake.requests[-1].json["model"] == "gpt-4o-mini"

Deterministic output (see the module constants):

- chat / completions: each choice's text is ``chunk_count`` chunks ``"tok0 " "tok1 " ...``
  (default ``"tok0 tok1 tok2 tok3 tok4 "``); a tool-call answer calls the first tool with
  ``TOOL_ARGUMENTS`` (``{"x": 1}``) cut into ``chunk_count`` argument chunks. Usage:
  ``prompt_tokens = PROMPT_TOKENS`` (10), ``completion_tokens = chunk_count * n`` (one token
  per chunk per choice), ``total_tokens`` their sum.
- embeddings: ``EMBEDDING_DIM`` (8) floats per input, ``i + (j + 1) / 8`` for input ``i``,
  component ``j``; ``prompt_tokens = total_tokens = 3 * number of inputs``.
- audio speech: ``SPEECH_BYTES_PER_CHAR`` (32) bytes per character of ``input``.
- transcriptions / translations: always ``TRANSCRIPT``, lasting ``AUDIO_SECONDS`` (2.5).
- images: ``{base_url}/img/{k}.png`` (served, a 1x1 PNG) or that PNG as ``b64_json``.

Foreground use: ``python -m tests.fakes.openai_upstream --port 8081 --latency 0.1``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import struct
import time
from typing import Any, Literal

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.fakes._server import PNG_1X1, REC, UpstreamFake, serve_until_interrupted
from tests.fakes._server import FailBody as FailBody  # re-exported, as before the move
from tests.fakes._server import RecordedRequest as RecordedRequest
from tests.fakes._server import UploadedFile as UploadedFile

PROMPT_TOKENS = 10
EMBEDDING_DIM = 8
EMBEDDING_TOKENS_PER_INPUT = 3
TOOL_ARGUMENTS = '{"x": 1}'
TRANSCRIPT = "The quick brown fox jumps over the lazy dog."
AUDIO_SECONDS = 2.5
SPEECH_BYTES_PER_CHAR = 32
SYSTEM_FINGERPRINT = "fp_fake000001"
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-3.5-turbo", "gpt-3.5-turbo-instruct",
                  "text-embedding-3-small", "text-embedding-ada-002", "omni-moderation-latest",
                  "dall-e-3", "tts-1", "whisper-1")
_SPEECH_FRAME = b"\xff\xf3\x14\xc4" + bytes(range(SPEECH_BYTES_PER_CHAR - 4))
_SPEECH_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac",
                 "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm"}
_MODERATION_CATEGORIES = ("sexual", "sexual/minors", "harassment", "harassment/threatening",
                          "hate", "hate/threatening", "illicit", "illicit/violent", "self-harm",
                          "self-harm/intent", "self-harm/instructions", "violence",
                          "violence/graphic")
_ERROR_KINDS: dict[int, tuple[str, str, str | None]] = {  # when fail_body is None
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    429: ("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error", None),
}
_KNOBS: dict[str, Any] = {
    "latency": 0.0, "chunk_count": 5, "chunk_interval": 0.0, "include_usage": "auto",
    "usage": None, "fail_status": None, "fail_body": None, "fail_times": None,
    "expected_key": None, "hang_after_chunks": None, "hang_mode": "close",
    "hard_limit_usd": 100.0, "total_usage_cents": 2500.0, "models": DEFAULT_MODELS,
}


def error_body(message: str, type_: str = "invalid_request_error", code: str | None = None,
               param: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _error(status: int, message: str, type_: str = "invalid_request_error",
           code: str | None = None, param: str | None = None) -> web.Response:
    return web.json_response(error_body(message, type_, code, param), status=status)


def _split(text: str, parts: int) -> list[str]:
    """``text`` cut into ``parts`` consecutive pieces (some may be empty)."""
    return [text[i * len(text) // parts:(i + 1) * len(text) // parts] for i in range(parts)]


def _count_inputs(value: Any) -> int:
    """How many inputs an embeddings or moderations ``input`` holds."""
    many = isinstance(value, list) and value and not isinstance(value[0], int)
    return len(value) if many else 1


class FakeOpenAI(UpstreamFake):
    """A fake OpenAI API on 127.0.0.1 that records requests and obeys behaviour knobs.

    Knobs are plain attributes; constructor keywords set their starting values, which
    ``reset()`` restores:

    * ``latency`` - seconds before answering any request (default 0).
    * ``chunk_count`` - chunks per choice (default 5); ``chunk_interval`` - seconds between
      stream events (default 0).
    * ``include_usage`` - ``"auto"``: a stream ends with a usage chunk only if the request
      had ``stream_options.include_usage``; ``"always"``; ``"never"``: no usage anywhere,
      non-stream bodies included.
    * ``usage`` - dict merged over the computed chat/completions usage (``total_tokens`` is
      recomputed unless given).
    * ``fail_status`` / ``fail_body`` / ``fail_times`` - answer the next ``fail_times``
      requests (``None``: all) with this status. Body: dict sent as JSON, str/bytes sent raw
      (as HTML if it starts with ``<``), ``None`` an OpenAI error. ``fail()`` sets all three.
    * ``expected_key`` - if set, any other ``Authorization: Bearer`` gets a 401
      ``invalid_api_key``.
    * ``hang_after_chunks`` - a stream stops after this many ``data:`` events; then
      ``hang_mode="close"`` closes the connection mid-body, ``"stall"`` sends nothing more
      until the client leaves or the fake stops.
    * ``hard_limit_usd`` (100), ``total_usage_cents`` (2500) - the billing endpoints, so the
      One API balance is ``hard_limit_usd - total_usage_cents / 100`` (75).
    * ``models`` - the ids ``GET /v1/models`` lists.

    Order per request: record, ``latency``, key check, failure injection, endpoint.
    """

    latency: float
    chunk_count: int
    chunk_interval: float
    include_usage: Literal["auto", "always", "never"]
    usage: dict[str, int] | None
    expected_key: str | None
    hang_after_chunks: int | None
    hang_mode: Literal["close", "stall"]
    hard_limit_usd: float
    total_usage_cents: float
    models: list[str]

    _knobs = _KNOBS

    def _fresh(self, name: str, value: Any) -> Any:
        return list(value) if name == "models" else value

    def _routes(self, router: web.UrlDispatcher) -> None:
        post = {"chat/completions": self._chat, "completions": self._completions, "edits": self._edits,
                "embeddings": self._embeddings, "moderations": self._moderations,
                "images/generations": self._images, "audio/speech": self._speech,
                "audio/transcriptions": self._transcribe, "audio/translations": self._transcribe}
        for path, handler in post.items():
            router.add_post(f"/v1/{path}", handler)
        router.add_get("/v1/models", self._models)
        for prefix in ("", "/v1"):
            router.add_get(f"{prefix}/dashboard/billing/subscription", self._subscription)
            router.add_get(f"{prefix}/dashboard/billing/usage", self._billing_usage)
        router.add_get("/img/{name}", self._image_file)
        router.add_route("*", "/{tail:.*}", self._not_found)

    # ----- every request ---------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        await self._record(request)
        if self.latency:
            await asyncio.sleep(self.latency)
        if request.path.startswith("/img/"):  # public, like OpenAI's image URLs
            return await handler(request)
        key, got = self.expected_key, request.headers.get("Authorization", "")
        if key is not None and got != f"Bearer {key}":
            got = got.removeprefix("Bearer ")
            masked = got[:3] + "*" * (len(got) - 7) + got[-4:] if len(got) > 7 else got
            return _error(401, f"Incorrect API key provided: {masked}. You can find your API "
                          "key at https://platform.openai.com/account/api-keys.",
                          code="invalid_api_key")
        if (failure := self._take_failure()) is None:
            return await handler(request)
        status, body = failure
        if body is None:
            kind = _ERROR_KINDS.get(status, ("Upstream error.", "server_error", None))
            return _error(status, *kind)
        if isinstance(body, dict):
            return web.json_response(body, status=status)
        raw = body.encode() if isinstance(body, str) else body
        ctype = "text/html" if raw.lstrip().startswith(b"<") else "text/plain"
        return web.Response(body=raw, status=status, content_type=ctype, charset="utf-8")

    # ----- helpers ---------------------------------------------------------------------
    @staticmethod
    def _json_body(request: web.Request, *required: str) -> dict[str, Any] | web.Response:
        """The request's JSON object, or the 400 OpenAI would send."""
        body = request[REC].json
        if not isinstance(body, dict):
            return _error(400, "We could not parse the JSON body of your request. The OpenAI "
                          "API expects a JSON payload, but what was sent was not valid JSON.")
        for name in ("model", *required):
            if name not in body:
                return _error(400, f"Missing required parameter: '{name}'.", param=name,
                              code="missing_required_parameter")
        return body

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}fake{next(self._ids):08d}"

    def _usage(self, completion: int) -> dict[str, int]:
        usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": completion,
                 **(self.usage or {})}
        usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
        return usage

    def _stream_usage(self, body: dict[str, Any]) -> bool:
        if self.include_usage != "auto":
            return self.include_usage == "always"
        options = body.get("stream_options")
        return isinstance(options, dict) and bool(options.get("include_usage"))

    async def _sse(self, request: web.Request, events: list[dict[str, Any]]) -> web.StreamResponse:
        """Send ``events`` as ``data:`` lines then ``[DONE]``, obeying the hang knobs."""
        interval, hang_after = self.chunk_interval, self.hang_after_chunks
        hang_mode = self.hang_mode
        resp = web.StreamResponse(headers={"Cache-Control": "no-cache"})
        resp.content_type, resp.charset = "text/event-stream", "utf-8"
        await resp.prepare(request)
        lines = [b"data: %s\n\n" % json.dumps(e, separators=(",", ":")).encode() for e in events]
        try:
            for sent, line in enumerate([*lines, b"data: [DONE]\n\n"]):
                if hang_after is not None and sent >= hang_after:
                    await self._hang(request, hang_mode)
                    return resp
                if sent and interval:
                    await asyncio.sleep(interval)
                await resp.write(line)
            await resp.write_eof()
        except ConnectionError:  # the client went away
            pass
        return resp

    async def _hang(self, request: web.Request, mode: str) -> None:
        assert self._stopping is not None
        while mode == "stall" and not self._stopping.is_set() and request.transport is not None \
                and not request.transport.is_closing():
            try:
                await asyncio.wait_for(self._stopping.wait(), 0.05)
            except TimeoutError:
                pass
        if request.transport is not None:
            request.transport.close()

    # ----- endpoints -------------------------------------------------------------------
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = self._json_body(request, "messages")
        if isinstance(body, web.Response):
            return body
        model, n, k = body["model"], int(body.get("n") or 1), self.chunk_count
        cid, created, usage = self._new_id("chatcmpl-"), int(time.time()), self._usage(k * n)
        messages, tools = body["messages"], body.get("tools") or []
        last = messages[-1] if isinstance(messages, list) and messages else {}
        tool = None
        if tools and dict(last).get("role") != "tool" and body.get("tool_choice") != "none":
            tool = str((tools[0].get("function") or {}).get("name", ""))
        pieces = _split(TOOL_ARGUMENTS, k) if tool is not None else [f"tok{i} " for i in range(k)]
        finish = "stop" if tool is None else "tool_calls"

        def call(j: int, arguments: str) -> dict[str, Any]:
            return {"id": f"call_{cid[-8:]}{j}", "type": "function",
                    "function": {"name": tool, "arguments": arguments}}

        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": "".join(pieces),
                                       "refusal": None, "annotations": []}
            choices = [{"index": j, "message": message if tool is None else
                        {**message, "content": None, "tool_calls": [call(j, TOOL_ARGUMENTS)]},
                        "logprobs": None, "finish_reason": finish} for j in range(n)]
            out = {"id": cid, "object": "chat.completion", "created": created, "model": model,
                   "choices": choices, "usage": usage, "service_tier": "default",
                   "system_fingerprint": SYSTEM_FINGERPRINT}
            if self.include_usage == "never":
                del out["usage"]
            return web.json_response(out)

        with_usage = self._stream_usage(body)

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
            return {"id": cid, "object": "chat.completion.chunk", "created": created,
                    "model": model, "service_tier": "default",
                    "system_fingerprint": SYSTEM_FINGERPRINT, "choices": choices,
                    **({"usage": None} if with_usage else {}), **extra}

        def delta(j: int, d: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
            return chunk([{"index": j, "delta": d, "logprobs": None, "finish_reason": reason}])

        first: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
        events = [delta(j, first if tool is None else {**first, "content": None, "tool_calls":
                                                        [{"index": 0, **call(j, "")}]})
                  for j in range(n)]
        for piece in pieces:
            d = ({"content": piece} if tool is None else
                 {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            events += [delta(j, d) for j in range(n)]
        events += [delta(j, {}, finish) for j in range(n)]
        if with_usage:
            events.append(chunk([], usage=usage))
        return await self._sse(request, events)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = self._json_body(request, "prompt")
        if isinstance(body, web.Response):
            return body
        n, text = int(body.get("n") or 1), [f"tok{i} " for i in range(self.chunk_count)]
        cid, created = self._new_id("cmpl-"), int(time.time())

        def wrap(texts: list[tuple[int, str, str | None]], **extra: Any) -> dict[str, Any]:
            choices = [{"text": t, "index": j, "logprobs": None, "finish_reason": r}
                       for j, t, r in texts]
            return {"id": cid, "object": "text_completion", "created": created,
                    "model": body["model"], "system_fingerprint": SYSTEM_FINGERPRINT,
                    "choices": choices, **extra}

        usage = {"usage": self._usage(self.chunk_count * n)}
        if not body.get("stream"):
            out = wrap([(j, "".join(text), "stop") for j in range(n)], **usage)
            if self.include_usage == "never":
                del out["usage"]
            return web.json_response(out)
        events = [wrap([(j, piece, None)]) for piece in text for j in range(n)]
        events += [wrap([(j, "", "stop")]) for j in range(n)]
        if self._stream_usage(body):
            events.append(wrap([], **usage))
        return await self._sse(request, events)

    async def _edits(self, request: web.Request) -> web.StreamResponse:
        """The retired /v1/edits (One API still relays it): the input with the instruction."""
        body = self._json_body(request, "instruction")
        if isinstance(body, web.Response):
            return body
        text = f"{body.get('input', '')} [{body['instruction']}]"
        choices = [{"text": text, "index": j} for j in range(int(body.get("n") or 1))]
        return web.json_response({"object": "edit", "created": int(time.time()), "choices": choices,
                                  "usage": self._usage(self.chunk_count)})

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body = self._json_body(request, "input")
        if isinstance(body, web.Response):
            return body
        count, data = _count_inputs(body["input"]), []
        for i in range(count):
            embedding: Any = [i + (j + 1) / 8 for j in range(EMBEDDING_DIM)]
            if body.get("encoding_format") == "base64":
                packed = struct.pack(f"<{EMBEDDING_DIM}f", *embedding)
                embedding = base64.b64encode(packed).decode()
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        tokens = EMBEDDING_TOKENS_PER_INPUT * count
        return web.json_response({"object": "list", "data": data, "model": body["model"],
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def _moderations(self, request: web.Request) -> web.StreamResponse:
        body = request[REC].json
        if not isinstance(body, dict) or "input" not in body:
            return _error(400, "Missing required parameter: 'input'.", param="input")
        cats = _MODERATION_CATEGORIES
        result = {"flagged": False, "categories": dict.fromkeys(cats, False),
                  "category_scores": dict.fromkeys(cats, 1e-06),
                  "category_applied_input_types": {c: ["text"] for c in cats}}
        return web.json_response({"id": self._new_id("modr-"),
                                  "model": body.get("model", "omni-moderation-latest"),
                                  "results": [result] * _count_inputs(body["input"])})

    async def _images(self, request: web.Request) -> web.StreamResponse:
        body = self._json_body(request, "prompt")
        if isinstance(body, web.Response):
            return body
        data: list[dict[str, Any]] = []
        for k in range(1, int(body.get("n") or 1) + 1):
            data.append({"b64_json": base64.b64encode(PNG_1X1).decode()}
                        if body.get("response_format") == "b64_json"
                        else {"url": f"{self.base_url}/img/{k}.png"})
            if str(body["model"]).startswith("dall-e-3"):
                data[-1]["revised_prompt"] = body["prompt"]
        return web.json_response({"created": int(time.time()), "data": data})

    async def _image_file(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=PNG_1X1, content_type="image/png")

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        body = self._json_body(request, "input", "voice")
        if isinstance(body, web.Response):
            return body
        ctype = _SPEECH_TYPES.get(str(body.get("response_format") or "mp3"), "audio/mpeg")
        return web.Response(body=_SPEECH_FRAME * len(str(body["input"])), content_type=ctype)

    async def _transcribe(self, request: web.Request) -> web.StreamResponse:
        rec = request[REC]
        for name in ("file", "model"):
            if name not in rec.files and name not in rec.form:
                return _error(400, f"Missing required parameter: '{name}'.", param=name)
        fmt, end = rec.form.get("response_format", "json"), f"00:00:{AUDIO_SECONDS:06.3f}"
        if fmt == "json":
            return web.json_response({"text": TRANSCRIPT})
        if fmt == "verbose_json":
            segment = {"id": 0, "seek": 0, "start": 0.0, "end": AUDIO_SECONDS,
                       "text": f" {TRANSCRIPT}", "tokens": [50364, 440, 1702, 50489],
                       "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 0.9,
                       "no_speech_prob": 0.01}
            task = "translate" if request.path.endswith("translations") else "transcribe"
            return web.json_response({"task": task, "language": "english",
                                      "duration": AUDIO_SECONDS, "text": TRANSCRIPT,
                                      "segments": [segment]})
        texts = {"text": f"{TRANSCRIPT}\n",
                 "srt": f"1\n00:00:00,000 --> {end.replace('.', ',')}\n{TRANSCRIPT}\n\n",
                 "vtt": f"WEBVTT\n\n00:00:00.000 --> {end}\n{TRANSCRIPT}\n\n"}
        if fmt not in texts:
            return _error(400, f"Invalid response_format: '{fmt}'.", param="response_format")
        return web.Response(text=texts[fmt], content_type="text/plain")

    async def _models(self, request: web.Request) -> web.StreamResponse:
        data = [{"id": m, "object": "model", "created": 1686935002, "owned_by": "openai"}
                for m in self.models]
        return web.json_response({"object": "list", "data": data})

    async def _subscription(self, request: web.Request) -> web.StreamResponse:
        usd = self.hard_limit_usd
        return web.json_response({
            "object": "billing_subscription", "has_payment_method": True, "canceled": False,
            "canceled_at": None, "delinquent": None, "access_until": 4102444800,
            "soft_limit": int(usd * 1e6), "hard_limit": int(usd * 1e6),
            "system_hard_limit": int(usd * 1e6), "soft_limit_usd": usd, "hard_limit_usd": usd,
            "system_hard_limit_usd": usd, "plan": {"title": "Pay-as-you-go", "id": "payg"},
            "account_name": "Fake Org", "po_number": None, "billing_email": None,
            "tax_ids": None, "billing_address": None, "business_address": None})

    async def _billing_usage(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"object": "list", "daily_costs": [],
                                  "total_usage": self.total_usage_cents})

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        return _error(404, f"Invalid URL ({request.method} {request.path})")


def main(argv: list[str] | None = None) -> None:
    """Serve a FakeOpenAI in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description="Fake OpenAI upstream on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--chunk-count", type=int, default=5)
    parser.add_argument("--chunk-interval", type=float, default=0.0)
    parser.add_argument("--include-usage", choices=["auto", "always", "never"], default="auto")
    parser.add_argument("--expected-key", default=None)
    knobs = vars(parser.parse_args(argv))
    serve_until_interrupted(FakeOpenAI(knobs.pop("port"), **knobs),
                            lambda fake: f"FakeOpenAI listening on {fake.base_url}")


if __name__ == "__main__":
    main()
