"""A fake Gemini API (Google AI Studio) on 127.0.0.1 for the gateway's tests.

``FakeGemini`` serves ``POST /{version}/models/{model}:generateContent``,
``:streamGenerateContent`` (SSE with ``?alt=sse``, else a JSON array) and
``:batchEmbedContents`` from an aiohttp app in a background thread, plus ``GET /img/{name}``
(a public 1x1 PNG for remote-image tests). It validates like Google does: the key in
``x-goog-api-key`` or ``?key=`` (missing: 403; wrong: 400 ``API_KEY_INVALID``), unknown
fields refused ("Invalid JSON payload received. Unknown name ..."), roles ``user``/``model``
only, one data field per part, as many functionResponse parts as the calls they answer,
non-empty ``properties`` for OBJECT parameters, known safety categories and thresholds.

Deterministic answers (per candidate; ``candidateCount`` candidates):

- text: ``chunk_count`` pieces ``"tok0 " "tok1 " ...``, one token each; ``stopSequences``
  cut the text; ``maxOutputTokens`` below the piece count cuts it (``MAX_TOKENS``).
- tools (mode not NONE) and no functionResponse in the last turn: one ``functionCall`` of
  the first (or only allowed) function with args ``TOOL_ARGS``; with the ``signature`` knob
  it carries that ``thoughtSignature`` and later turns must send it back (as Gemini 3 does).
- functionResponse in the last turn: ``"The tool returned <response.content or JSON>"``.
- usageMetadata: promptTokenCount ``PROMPT_TOKENS`` (10, plus ``cached`` tokens),
  candidatesTokenCount = pieces × candidates, thoughtsTokenCount = ``thoughts``.
- ``responseSchema`` given: the text is JSON matching it (``sample`` of the anthropic fake).
- embeddings: ``outputDimensionality`` (default ``EMBEDDING_DIM`` 8) values ``i + (j+1)/8``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.fakes._server import PNG_1X1, REC, UpstreamFake

PROMPT_TOKENS = 10
EMBEDDING_DIM = 8
TOOL_ARGS = {"x": 1}
CATEGORIES = {"HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
              "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_CIVIC_INTEGRITY"}
THRESHOLDS = {"BLOCK_NONE", "OFF", "BLOCK_ONLY_HIGH", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_LOW_AND_ABOVE",
              "HARM_BLOCK_THRESHOLD_UNSPECIFIED"}
_TOP = {"contents", "systemInstruction", "tools", "toolConfig", "safetySettings", "generationConfig",
        "cachedContent"}
_GENERATION = {"temperature", "topP", "topK", "maxOutputTokens", "stopSequences", "candidateCount",
               "responseMimeType", "responseSchema", "responseJsonSchema", "seed", "presencePenalty",
               "frequencyPenalty", "thinkingConfig", "responseModalities"}
_SCHEMA = {"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
           "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
           "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
_PART_DATA = {"text", "inlineData", "fileData", "functionCall", "functionResponse"}
_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
           500: "INTERNAL", 503: "UNAVAILABLE"}
_MESSAGES = {429: "Resource has been exhausted (e.g. check quota).", 500: "An internal error has occurred.",
             503: "The model is overloaded. Please try again later."}
_KNOBS: dict[str, Any] = {
    "chunk_count": 5, "chunk_interval": 0.0, "expected_key": None, "usage": None, "cached": 0,
    "thoughts": 0, "signature": None, "block_prompt": None, "fail_status": None, "fail_body": None,
    "fail_times": None, "hang_after_chunks": None, "malformed": False,
}


def error_body(status: int, message: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """Google's error envelope."""
    error: dict[str, Any] = {"code": status, "message": message or _MESSAGES.get(status, "Error."),
                             "status": _STATUS.get(status, "UNKNOWN")}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                             "domain": "googleapis.com"}]
    return {"error": error}


class BadRequest(Exception):
    """A 400 INVALID_ARGUMENT with Google's message."""


def _check_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, dict):
        return
    for key in schema:
        if key not in _SCHEMA:
            raise BadRequest(f'Invalid JSON payload received. Unknown name "{key}" at \'{where}\': '
                             "Cannot find field.")
    if str(schema.get("type", "")).upper() == "OBJECT" and not schema.get("properties"):
        raise BadRequest(f"* GenerateContentRequest.{where}.properties: should be non-empty for OBJECT type")
    if "enum" in schema and (str(schema.get("type", "")).upper() != "STRING"
                             or not all(isinstance(v, str) for v in schema["enum"])):
        raise BadRequest(f"Invalid value at '{where}.enum[0]' (TYPE_STRING): enum is only for STRING types")
    for name, sub in (schema.get("properties") or {}).items():
        _check_schema(sub, f"{where}.properties[{name}].value")
    for n, sub in enumerate(schema.get("anyOf") or ()):
        _check_schema(sub, f"{where}.any_of[{n}]")
    if "items" in schema:
        _check_schema(schema["items"], f"{where}.items")


class FakeGemini(UpstreamFake):
    """A fake Gemini API. Knobs are plain attributes (set them between requests); keyword
    arguments of the constructor set their starting values, which ``reset()`` restores.
    ``fail(status, body=None, times=None)`` answers the next ``times`` requests (None: all)
    with ``status``; body: a dict as JSON, str/bytes raw, None Google's error for it.
    """

    chunk_count: int  # text pieces per candidate (5)
    chunk_interval: float  # seconds between stream chunks
    expected_key: str | None  # the only key accepted (None: any non-empty key)
    usage: dict[str, int] | None  # merged over usageMetadata
    cached: int  # cachedContentTokenCount (also counted in promptTokenCount)
    thoughts: int  # thoughtsTokenCount
    signature: str | None  # thoughtSignature put on function calls, then required back
    block_prompt: str | None  # a blockReason (e.g. "SAFETY"): answer promptFeedback only
    hang_after_chunks: int | None  # close the connection after this many stream chunks
    malformed: bool  # answer 200 with a body that is not JSON
    _knobs = _KNOBS

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/img/{name}", self._image)
        router.add_post("/{version}/models/{call}", self._models_call)
        router.add_route("*", "/{tail:.*}", self._not_found)

    # ----- every request ---------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/img/"):
            return await handler(request)
        await self._record(request)
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if not key:
            return web.json_response(error_body(403, "Method doesn't allow unregistered callers (callers "
                                                     "without established identity). Please use API Key or "
                                                     "other form of API consumer identity to call this API."),
                                     status=403)
        if self.expected_key is not None and key != self.expected_key:
            return web.json_response(error_body(400, "API key not valid. Please pass a valid API key.",
                                                "API_KEY_INVALID"), status=400)
        if (failure := self._failure(error_body)) is not None:
            return failure
        try:
            return await handler(request)
        except BadRequest as exc:
            return web.json_response(error_body(400, str(exc)), status=400)

    # ----- validation ------------------------------------------------------------------
    def _validate(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise BadRequest("Invalid JSON payload received.")
        for key in body:
            if key not in _TOP:
                raise BadRequest(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
        calls = 0
        for i, content in enumerate(contents):
            if content.get("role") not in ("user", "model"):
                raise BadRequest("Please use a valid role: user, model.")
            parts = content.get("parts")
            if not isinstance(parts, list) or not parts:
                raise BadRequest(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.")
            for j, part in enumerate(parts):
                fields = set(part) & _PART_DATA
                if len(fields) != 1 or set(part) - _PART_DATA - {"thought", "thoughtSignature"}:
                    raise BadRequest(f"* GenerateContentRequest.contents[{i}].parts[{j}].data: required oneof "
                                     "field 'data' must have one initialized field")
                if "inlineData" in part:
                    try:
                        base64.b64decode(part["inlineData"].get("data") or "", validate=True)
                    except (binascii.Error, ValueError):
                        raise BadRequest(f"Invalid value at 'contents[{i}].parts[{j}].inline_data.data' "
                                         "(TYPE_BYTES), Base64 decoding failed") from None
                if "functionCall" in part and self.signature is not None \
                        and part.get("thoughtSignature") != self.signature:
                    raise BadRequest(f"Function call is missing a thought_signature in functionCall parts. "
                                     f"Position: contents[{i}].parts[{j}]")
            answers = sum("functionResponse" in p for p in parts)
            if answers and answers != calls:
                raise BadRequest("Please ensure that the number of function response parts is equal to the "
                                 "number of function call parts of the function call turn.")
            calls = sum("functionCall" in p for p in parts)
        for k, setting in enumerate(body.get("safetySettings") or ()):
            if setting.get("category") not in CATEGORIES or setting.get("threshold") not in THRESHOLDS:
                raise BadRequest(f"Invalid value at 'safety_settings[{k}]'")
        for key in body.get("generationConfig") or {}:
            if key not in _GENERATION:
                raise BadRequest(f'Invalid JSON payload received. Unknown name "{key}" at '
                                 "'generation_config': Cannot find field.")
        for t, tool in enumerate(body.get("tools") or ()):
            for d, declaration in enumerate(tool.get("functionDeclarations") or ()):
                if not declaration.get("name"):
                    raise BadRequest(f"* GenerateContentRequest.tools[{t}].function_declarations[{d}].name: "
                                     "Invalid function name.")
                _check_schema(declaration.get("parameters"), f"tools[{t}].function_declarations[{d}].parameters")
        generation = body.get("generationConfig") or {}
        if "responseSchema" in generation:
            if generation.get("responseMimeType") != "application/json":
                raise BadRequest("* GenerationConfig.response_schema: response_mime_type must be application/json")
            _check_schema(generation["responseSchema"], "generation_config.response_schema")

    # ----- answers ---------------------------------------------------------------------
    def _answer(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        """The parts of one candidate, one per stream chunk, and its finish reason."""
        last, k = body["contents"][-1]["parts"], self.chunk_count
        responses = [p["functionResponse"] for p in last if "functionResponse" in p]
        declarations = [d for t in body.get("tools") or () for d in t.get("functionDeclarations") or ()]
        config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        generation = body.get("generationConfig") or {}
        if responses:
            said = " ".join(r["response"]["content"] if isinstance(r["response"].get("content"), str)
                            else json.dumps(r["response"]) for r in responses)
            text = f"The tool returned {said}"
            return [{"text": text[i * len(text) // k:(i + 1) * len(text) // k]} for i in range(k)], "STOP"
        if declarations and config.get("mode") != "NONE":
            name = (config.get("allowedFunctionNames") or [declarations[0]["name"]])[0]
            part: dict[str, Any] = {"functionCall": {"name": name, "args": TOOL_ARGS}}
            if self.signature is not None:
                part["thoughtSignature"] = self.signature
            return [part], "STOP"
        if generation.get("responseSchema"):  # a schema: JSON text that matches it, in pieces
            from tests.fakes.anthropic_upstream import sample
            schema = generation["responseSchema"]
            text = json.dumps(sample(schema, schema))
            return [{"text": text[i * len(text) // k:(i + 1) * len(text) // k]} for i in range(k)], "STOP"
        pieces, finish = [f"tok{i} " for i in range(k)], "STOP"
        text = "".join(pieces)
        for seq in generation.get("stopSequences") or ():
            if seq in text:
                pieces = [text[:text.index(seq)]]
                break
        limit = generation.get("maxOutputTokens")
        if limit is not None and len(pieces) > limit:
            pieces, finish = pieces[:limit], "MAX_TOKENS"
        return [{"text": p} for p in pieces], finish

    def _usage(self, output: int) -> dict[str, Any]:
        usage = {"promptTokenCount": PROMPT_TOKENS + self.cached, "candidatesTokenCount": output,
                 "totalTokenCount": PROMPT_TOKENS + self.cached + output + self.thoughts,
                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS + self.cached}]}
        if self.cached:
            usage["cachedContentTokenCount"] = self.cached
        if self.thoughts:
            usage["thoughtsTokenCount"] = self.thoughts
        return {**usage, **(self.usage or {})}

    async def _models_call(self, request: web.Request) -> web.StreamResponse:
        model, _, action = request.match_info["call"].partition(":")
        if request.match_info["version"] not in ("v1", "v1beta", "v1alpha"):
            return await self._not_found(request)
        body = request[REC].json
        if action == "batchEmbedContents":
            return self._embed(model, body)
        if action not in ("generateContent", "streamGenerateContent"):
            return await self._not_found(request)
        self._validate(body)
        if self.malformed:
            return web.Response(body=b"{not json", content_type="application/json")
        rid, version = f"fakeresp{next(self._ids):06d}", model
        if self.block_prompt:
            answer = {"promptFeedback": {"blockReason": self.block_prompt}, "usageMetadata": self._usage(0),
                      "modelVersion": version, "responseId": rid}
            return await self._respond(request, action, [answer])
        parts, finish = self._answer(body)
        n = int((body.get("generationConfig") or {}).get("candidateCount") or 1)
        output = sum(1 for p in parts if "text" in p) * n or n * self.chunk_count
        if action == "generateContent":
            merged = "".join(p.get("text", "") for p in parts)
            whole = [{"text": merged}] if "text" in parts[0] else parts
            return web.json_response({"candidates": [
                {"content": {"parts": whole, "role": "model"}, "finishReason": finish, "index": i}
                for i in range(n)], "usageMetadata": self._usage(output), "modelVersion": version,
                "responseId": rid})
        chunks = []
        for c, part in enumerate(parts):
            final = c == len(parts) - 1
            candidates = [{"content": {"parts": [part], "role": "model"}, "index": i,
                           **({"finishReason": finish} if final else {})} for i in range(n)]
            usage = self._usage(output) if final else {"promptTokenCount": PROMPT_TOKENS + self.cached,
                                                       "totalTokenCount": PROMPT_TOKENS + self.cached}
            chunks.append({"candidates": candidates, "usageMetadata": usage, "modelVersion": version,
                           "responseId": rid})
        return await self._respond(request, action, chunks)

    async def _respond(self, request: web.Request, action: str,
                       chunks: list[dict[str, Any]]) -> web.StreamResponse:
        if action == "generateContent":
            return web.json_response(chunks[0])
        if request.query.get("alt") != "sse":
            return web.json_response(chunks)
        hang, interval = self.hang_after_chunks, self.chunk_interval
        resp = web.StreamResponse()
        resp.content_type = "text/event-stream"
        await resp.prepare(request)
        try:
            for sent, chunk in enumerate(chunks):
                if hang is not None and sent >= hang:
                    if request.transport is not None:
                        request.transport.close()
                    return resp
                if sent and interval:
                    await asyncio.sleep(interval)
                await resp.write(b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n")
            await resp.write_eof()
        except ConnectionError:
            pass
        return resp

    def _embed(self, model: str, body: Any) -> web.StreamResponse:
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            raise BadRequest("* BatchEmbedContentsRequest.requests: requests is not specified")
        embeddings = []
        for i, item in enumerate(requests):
            if item.get("model") != f"models/{model}":
                raise BadRequest(f"* BatchEmbedContentsRequest.requests[{i}].model: Model names should match "
                                 "the model name in the request URL.")
            if not ((item.get("content") or {}).get("parts") or [{}])[0].get("text"):
                raise BadRequest(f"* BatchEmbedContentsRequest.requests[{i}].content: text is required")
            dim = int(item.get("outputDimensionality") or EMBEDDING_DIM)
            embeddings.append({"values": [i + (j + 1) / 8 for j in range(dim)]})
        return web.json_response({"embeddings": embeddings})

    async def _image(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=PNG_1X1, content_type="image/png")

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(error_body(404, f"{request.path} is not found"), status=404)
