"""A fake Ollama server (native API) on 127.0.0.1, for the example plugin's tests.

``FakeOllama`` serves ``POST /api/chat`` from an aiohttp app in a background thread: a whole
JSON answer with ``"stream": false``, else NDJSON (``application/x-ndjson``, one object per
line, the last with ``"done": true`` and the counts), as Ollama does when ``stream`` is left out.
It checks what Ollama checks: a pulled model (else 404 ``model "x" not found, try pulling it
first``), ``messages`` a list, ``images`` valid base64 (Go decodes them into bytes), ``format``
"json" or a schema object; with ``expected_key`` set, ``Authorization: Bearer <key>`` (as a
proxy in front of Ollama, or ollama.com, does). Errors are ``{"error": "..."}``.

Deterministic answers: ``chunk_count`` pieces ``"tok0 " "tok1 " ...`` (one token each);
``options.stop`` cuts the text before a stop string; ``options.num_predict`` below the piece
count cuts it (``done_reason`` "length"). ``prompt_eval_count`` is ``PROMPT_TOKENS`` (left out
with ``prompt_cached``), ``eval_count`` the number of pieces sent.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.fakes._server import REC, UpstreamFake, serve_until_interrupted

PROMPT_TOKENS = 26
MODELS = ("llama3.1", "gemma3", "mistral", "llava")
_KNOBS: dict[str, Any] = {
    "chunk_count": 5, "chunk_interval": 0.0, "expected_key": None, "models": MODELS, "prompt_cached": False,
    "error_after_chunks": None, "fail_status": None, "fail_body": None, "fail_times": None,
}
_MESSAGES = {400: "invalid request", 401: "unauthorized", 403: "forbidden", 429: "too many requests",
             500: "an error was encountered while running the model", 502: "bad gateway",
             503: "server busy, please try again.  maximum pending requests exceeded"}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """Ollama's error body."""
    return {"error": message or _MESSAGES.get(status, "error")}


class BadRequest(Exception):
    """A 400 with Ollama's message."""


class FakeOllama(UpstreamFake):
    """A fake Ollama server. Knobs are plain attributes (set them between requests); keyword
    arguments of the constructor set their starting values, which ``reset()`` restores.
    ``fail(status, body=None, times=None)`` answers the next ``times`` requests (None: all)
    with ``status``; body: a dict as JSON, str/bytes raw, None Ollama's error for the status.
    """

    chunk_count: int  # text pieces per answer (5)
    chunk_interval: float  # seconds between NDJSON lines
    expected_key: str | None  # the bearer key required (None: no check, as a local Ollama)
    models: tuple[str, ...]  # the models "pulled" on this server
    prompt_cached: bool  # leave prompt_eval_count out (Ollama does when the prompt was cached)
    error_after_chunks: int | None  # stream this many pieces, then an {"error": ...} line
    _knobs = _KNOBS

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/api/chat", self._chat)
        router.add_route("*", "/{tail:.*}", self._not_found)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        await self._record(request)
        if self.expected_key is not None and request.headers.get("Authorization") != f"Bearer {self.expected_key}":
            return web.json_response(error_body(401), status=401)
        if (failure := self._failure(error_body)) is not None:
            return failure
        try:
            return await handler(request)
        except BadRequest as exc:
            return web.json_response(error_body(400, str(exc)), status=400)

    def _validate(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise BadRequest("invalid request body")
        if not body.get("model"):
            raise BadRequest("model is required")
        if not isinstance(body.get("messages"), list):
            raise BadRequest("json: cannot unmarshal messages")
        if not isinstance(body.get("stream", True), bool):
            raise BadRequest("json: cannot unmarshal stream")
        for message in body["messages"]:
            for image in message.get("images") or ():
                try:
                    base64.b64decode(image, validate=True)
                except (binascii.Error, ValueError, TypeError):
                    raise BadRequest("illegal base64 data at input byte 0") from None
        fmt = body.get("format")
        if fmt not in (None, "", "json") and not isinstance(fmt, dict):
            raise BadRequest(f"invalid format: {json.dumps(fmt)!r} is not 'json' or a valid JSON schema")

    def _pieces(self, options: dict[str, Any]) -> tuple[list[str], str]:
        """The text pieces of the answer and its done_reason."""
        pieces, reason = [f"tok{i} " for i in range(self.chunk_count)], "stop"
        text = "".join(pieces)
        for stop in options.get("stop") or ():
            if stop in text:
                pieces = [text[: text.index(stop)]]
                break
        limit = options.get("num_predict")
        if isinstance(limit, int) and 0 <= limit < len(pieces):
            pieces, reason = pieces[:limit], "length"
        return pieces, reason

    def _final(self, model: str, content: str, reason: str, pieces: int) -> dict[str, Any]:
        final: dict[str, Any] = {
            "model": model, "created_at": _now(), "message": {"role": "assistant", "content": content},
            "done_reason": reason, "done": True, "total_duration": 5_000_000, "load_duration": 1_000_000,
            "prompt_eval_count": PROMPT_TOKENS, "prompt_eval_duration": 1_000_000, "eval_count": pieces,
            "eval_duration": 3_000_000,
        }
        if self.prompt_cached:
            del final["prompt_eval_count"]
        return final

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = request[REC].json
        self._validate(body)
        model = body["model"]
        if model not in self.models and model.removesuffix(":latest") not in self.models:
            return web.json_response(error_body(404, f'model "{model}" not found, try pulling it first'),
                                     status=404)
        pieces, reason = self._pieces(body.get("options") or {})
        if body.get("stream") is False:
            return web.json_response(self._final(model, "".join(pieces), reason, len(pieces)))
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        try:
            for sent, piece in enumerate(pieces):
                if self.error_after_chunks is not None and sent >= self.error_after_chunks:
                    await response.write(json.dumps(error_body(500)).encode() + b"\n")
                    await response.write_eof()
                    return response
                if sent and self.chunk_interval:
                    await asyncio.sleep(self.chunk_interval)
                line = {"model": model, "created_at": _now(), "message": {"role": "assistant", "content": piece},
                        "done": False}
                await response.write(json.dumps(line).encode() + b"\n")
            await response.write(json.dumps(self._final(model, "", reason, len(pieces))).encode() + b"\n")
            await response.write_eof()
        except ConnectionError:
            pass
        return response

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=404, text="404 page not found")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


if __name__ == "__main__":
    serve_until_interrupted(FakeOllama(port=11434), lambda fake: f"fake Ollama on {fake.base_url}")
