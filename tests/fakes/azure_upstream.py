"""A fake Azure OpenAI resource on 127.0.0.1 for the gateway's tests.

``FakeAzure`` serves ``POST /openai/deployments/{deployment}/{chat/completions, completions,
embeddings, images/generations, audio/speech, audio/transcriptions}?api-version=...`` and Azure's v1 API
(``/openai/v1/chat/completions``) from an aiohttp app in a background thread. It checks
what Azure checks: the ``api-key`` header (401 "Access denied ..."), an api-version
(404 "Resource not found" without one), the deployment (404 ``DeploymentNotFound`` when
``deployments`` is set and it is not listed), and ``stream_options`` only from api-version
2024-09-01 on. Answers carry Azure's content filter annotations:

- chat non-stream: ``prompt_filter_results`` and per choice ``content_filter_results``;
- chat stream: a first chunk with ``choices: []``, empty id/model and only
  ``prompt_filter_results`` (Azure's quirk), then OpenAI chunks with filter results, the
  usage chunk when ``stream_options.include_usage`` was asked, ``[DONE]``.

Text is ``chunk_count`` pieces ``"tok0 " ...``; usage ``prompt_tokens = PROMPT_TOKENS`` (10),
``completion_tokens = chunk_count``. Tools given and the last message not a tool result: a
call of the first tool with ``TOOL_ARGUMENTS``. A tool result last: ``"The tool returned X"``.
``content_filter = "prompt"`` answers Azure's 400 content_filter error (with ``innererror``);
``"completion"`` ends the answer with ``finish_reason: content_filter``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.fakes._server import REC, UpstreamFake

PROMPT_TOKENS = 10
EMBEDDING_DIM = 8
TOOL_ARGUMENTS = '{"x": 1}'
STREAM_OPTIONS_SINCE = "2024-09-01"
TRANSCRIPT = "The quick brown fox jumps over the lazy dog."
SPEECH_FRAME = b"\xff\xf3\x14\xc4" + bytes(28)  # 32 bytes of "audio" per input character
_SAFE = {"filtered": False, "severity": "safe"}
FILTER_RESULTS = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
PROMPT_FILTER = [{"prompt_index": 0, "content_filter_results": {
    **FILTER_RESULTS, "jailbreak": {"filtered": False, "detected": False}}}]
FILTERED_MESSAGE = ("The response was filtered due to the prompt triggering Azure OpenAI's content management "
                    "policy. Please modify your prompt and retry. To learn more about our content filtering "
                    "policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766")
_ERRORS = {
    401: ("401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
                 "valid key for an active subscription and use a correct regional API endpoint for your resource."),
    429: ("429", "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 "
                 "have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after "
                 "6 seconds."),
    500: ("InternalServerError", "The server had an error while processing your request. Sorry about that!"),
}
_KNOBS: dict[str, Any] = {
    "chunk_count": 5, "expected_key": None, "deployments": None, "content_filter": None,
    "fail_status": None, "fail_body": None, "fail_times": None,
}


def error_body(http: int, code: str | None = None, message: str | None = None, **extra: Any) -> dict[str, Any]:
    """Azure's error envelope (``code``/``message``, OpenAI fields where Azure has them)."""
    default_code, default_message = _ERRORS.get(http, (str(http), "Upstream error."))
    return {"error": {"code": code or default_code, "message": message or default_message, **extra}}


class FakeAzure(UpstreamFake):
    """A fake Azure OpenAI resource. Knobs are plain attributes (set them between requests);
    keyword arguments of the constructor set their starting values, which ``reset()``
    restores. ``fail(status, body=None, times=None)`` answers the next ``times`` requests
    (None: all) with ``status``; body: a dict as JSON, str/bytes raw, None Azure's error.
    """

    chunk_count: int  # text pieces per answer (5)
    expected_key: str | None  # the only api-key accepted (None: any)
    deployments: list[str] | None  # deployments that exist (None: any name)
    content_filter: str | None  # None, "prompt" (400 error) or "completion" (filtered finish)
    _knobs = _KNOBS

    def _routes(self, router: web.UrlDispatcher) -> None:
        for task, handler in (("chat/completions", self._chat), ("completions", self._completions),
                              ("embeddings", self._embeddings), ("images/generations", self._images),
                              ("audio/speech", self._speech), ("audio/transcriptions", self._transcribe)):
            router.add_post(f"/openai/deployments/{{deployment}}/{task}", handler)
        router.add_post("/openai/v1/chat/completions", self._chat)
        router.add_route("*", "/{tail:.*}", self._not_found)

    # ----- every request ---------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        rec = await self._record(request)
        key = request.headers.get("api-key")
        if not key or (self.expected_key is not None and key != self.expected_key):
            return web.json_response(error_body(401), status=401)
        v1 = request.path.startswith("/openai/v1/")
        if not v1 and not request.query.get("api-version"):
            return web.json_response(error_body(404, "404", "Resource not found"), status=404)
        name = request.match_info.get("deployment")
        if name is not None and self.deployments is not None and name not in self.deployments:
            return web.json_response(error_body(
                404, "DeploymentNotFound", "The API deployment for this resource does not exist. If you "
                "created the deployment within the last 5 minutes, please wait a moment and try again."),
                status=404)
        if (failure := self._failure(error_body)) is not None:
            return failure
        if not isinstance(rec.json, dict) and not request.content_type.startswith("multipart/"):
            return web.json_response(error_body(400, "BadRequest", "Invalid JSON body."), status=400)
        if self.content_filter == "prompt":
            return web.json_response(error_body(
                400, "content_filter", FILTERED_MESSAGE, param="prompt", type=None, status=400,
                innererror={"code": "ResponsibleAIPolicyViolation", "content_filter_result": {
                    **FILTER_RESULTS, "violence": {"filtered": True, "severity": "medium"},
                    "jailbreak": {"filtered": False, "detected": False}}}), status=400)
        return await handler(request)

    # ----- endpoints -------------------------------------------------------------------
    def _model(self, request: web.Request) -> str:
        return str(request[REC].json.get("model") or request.match_info.get("deployment") or "")

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = request[REC].json
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return web.json_response(error_body(400, "BadRequest", "'messages' is a required property"), status=400)
        version = request.query.get("api-version", "v1")
        if "stream_options" in body and version != "v1" and version[:10] < STREAM_OPTIONS_SINCE:
            return web.json_response(error_body(
                400, None, "Unrecognized request argument supplied: stream_options", type="invalid_request_error",
                param=None), status=400)
        k, cid, created = self.chunk_count, f"chatcmpl-azure{next(self._ids):06d}", int(time.time())
        last, tools = body["messages"][-1], body.get("tools") or []
        if last.get("role") == "tool":
            text = f"The tool returned {last.get('content')}"
            pieces = [text[i * len(text) // k:(i + 1) * len(text) // k] for i in range(k)]
        else:
            pieces = [f"tok{i} " for i in range(k)]
        tool = tools[0]["function"]["name"] if tools and last.get("role") != "tool" else None
        finish = "tool_calls" if tool else ("content_filter" if self.content_filter == "completion" else "stop")
        usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": k, "total_tokens": PROMPT_TOKENS + k,
                 "prompt_tokens_details": {"cached_tokens": 0}}
        model = "gpt-4o-2024-11-20"
        call = {"id": f"call_azure{next(self._ids):06d}", "type": "function",
                "function": {"name": tool, "arguments": TOOL_ARGUMENTS}}
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": None if tool else "".join(pieces),
                                       "refusal": None}
            if tool:
                message["tool_calls"] = [call]
            return web.json_response({
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "prompt_filter_results": PROMPT_FILTER, "system_fingerprint": "fp_azure01", "usage": usage,
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None,
                             "content_filter_results": {} if tool else FILTER_RESULTS}]})

        def chunk(delta: dict[str, Any], reason: str | None = None, filters: Any = FILTER_RESULTS) -> dict[str, Any]:
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "system_fingerprint": "fp_azure01", "choices": [{
                        "index": 0, "delta": delta, "finish_reason": reason, "logprobs": None,
                        "content_filter_results": filters}]}

        events: list[dict[str, Any]] = [
            {"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": PROMPT_FILTER},
            chunk({"role": "assistant", "content": "", "refusal": None}, filters={})]
        if tool:
            events.append(chunk({"tool_calls": [{"index": 0, **call}]}, filters={}))
        else:
            events += [chunk({"content": piece}) for piece in pieces]
        events.append(chunk({}, finish, filters={}))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                           "choices": [], "usage": usage})
        resp = web.StreamResponse()
        resp.content_type = "text/event-stream"
        await resp.prepare(request)
        for event in events:
            await resp.write(b"data: " + json.dumps(event).encode() + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        pieces = [f"tok{i} " for i in range(self.chunk_count)]
        return web.json_response({
            "id": f"cmpl-azure{next(self._ids):06d}", "object": "text_completion", "created": int(time.time()),
            "model": "gpt-35-turbo-instruct", "prompt_filter_results": PROMPT_FILTER,
            "choices": [{"text": "".join(pieces), "index": 0, "finish_reason": "stop", "logprobs": None,
                         "content_filter_results": FILTER_RESULTS}],
            "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": len(pieces),
                      "total_tokens": PROMPT_TOKENS + len(pieces)}})

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        inputs = request[REC].json.get("input")
        count = len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
        data = [{"object": "embedding", "index": i, "embedding": [i + (j + 1) / 8 for j in range(EMBEDDING_DIM)]}
                for i in range(count)]
        return web.json_response({"object": "list", "data": data, "model": "text-embedding-3-small",
                                  "usage": {"prompt_tokens": 3 * count, "total_tokens": 3 * count}})

    async def _images(self, request: web.Request) -> web.StreamResponse:
        body = request[REC].json
        data = [{"url": f"{self.base_url}/img/{k}.png", "revised_prompt": body.get("prompt"),
                 "content_filter_results": FILTER_RESULTS, "prompt_filter_results": FILTER_RESULTS}
                for k in range(1, int(body.get("n") or 1) + 1)]
        return web.json_response({"created": int(time.time()), "data": data})

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=SPEECH_FRAME * len(str(request[REC].json.get("input") or "")),
                            content_type="audio/mpeg")

    async def _transcribe(self, request: web.Request) -> web.StreamResponse:
        if "file" not in request[REC].files:
            return web.json_response(error_body(400, "BadRequest", "'file' is a required property"), status=400)
        return web.json_response({"text": TRANSCRIPT})

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(error_body(404, "404", "Resource not found"), status=404)
