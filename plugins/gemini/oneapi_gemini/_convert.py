"""OpenAI chat and embeddings requests → Gemini ``generateContent`` / ``batchEmbedContents``.

Request rules:

- ``system``/``developer`` messages become ``systemInstruction`` (Gemma models, which have
  none, get them as a leading user turn); ``assistant`` is role ``model``; consecutive
  turns of one role are merged.
- images: ``data:`` URLs and fetched http(s) images become ``inlineData``; so do
  ``input_audio`` and ``file`` parts with base64 data.
- ``tools`` → ``functionDeclarations`` (parameters cleaned to Gemini's Schema),
  ``tool_choice`` → ``toolConfig``; assistant ``tool_calls`` → ``functionCall`` parts and
  ``tool`` messages → ``functionResponse`` parts (the name is found from the call id).
  A call id we issued carries Gemini's ``thoughtSignature`` (after ``SIGNATURE_MARK``), which
  is sent back with the call as thinking models require.
- ``temperature``, ``top_p``, ``top_k``, ``max_tokens``/``max_completion_tokens``, ``stop``,
  ``n``, ``seed``, penalties, ``response_format`` (JSON mode and schemas) and
  ``reasoning_effort`` (a thinking budget) go into ``generationConfig``.
"""

from __future__ import annotations

from typing import Any

import orjson

from oneapi.plugin import RelayError

from ._schema import to_gemini_schema

__all__ = ["SAFETY_CATEGORIES", "SIGNATURE_MARK", "image_urls", "to_gemini", "to_gemini_embeddings"]

SIGNATURE_MARK = "__thought__"
SAFETY_CATEGORIES = (
    "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_CIVIC_INTEGRITY",
)
_THINKING_BUDGETS = {"none": 0, "minimal": 0, "low": 1024, "medium": 8192, "high": 24576}
Images = dict[str, tuple[str, str]]  # http(s) URL -> (mime type, base64 data)


def _bad(message: str, param: str = "messages") -> RelayError:
    return RelayError(400, message, "invalid_request_error", "invalid_request", param)


def _data_url(url: str) -> tuple[str, str] | None:
    if not url.startswith("data:"):
        return None
    head, sep, data = url[5:].partition(",")
    if not sep or ";base64" not in head:
        raise _bad("data URLs must be base64-encoded (data:<type>;base64,<data>)")
    return head.split(";")[0] or "application/octet-stream", data


def _image_url(part: dict[str, Any]) -> str:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise _bad("image_url.url is required")
    return url


def image_urls(payload: dict[str, Any]) -> set[str]:
    """The http(s) image URLs of a chat payload (to fetch before converting it)."""
    urls: set[str] = set()
    for message in payload.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else ():
            if isinstance(part, dict) and part.get("type") == "image_url":
                url = _image_url(part)
                if url.startswith(("http://", "https://")):
                    urls.add(url)
    return urls


def _parts(content: Any, images: Images) -> list[dict[str, Any]]:
    """Gemini parts for an OpenAI message content."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise _bad("message content must be a string or an array of content parts")
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        inline: tuple[str, str] | None = None
        if kind == "text":
            if part.get("text"):
                parts.append({"text": str(part["text"])})
            continue
        if kind == "image_url":
            url = _image_url(part)
            inline = _data_url(url) or images.get(url)
            if inline is None:
                raise _bad("image_url.url must be a data: URL or an http(s) URL")
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            inline = (f"audio/{audio.get('format') or 'wav'}", str(audio.get("data") or ""))
        elif kind == "file":
            inline = _data_url(str((part.get("file") or {}).get("file_data") or ""))
            if inline is None:
                raise _bad("file parts need file_data as a base64 data: URL (file_id is not supported)")
        else:
            raise _bad(f"content part type {kind!r} is not supported by Gemini channels")
        parts.append({"inlineData": {"mimeType": inline[0], "data": inline[1]}})
    return parts


def _function_call(call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    raw = fn.get("arguments") or "{}"
    try:
        args = orjson.loads(raw) if isinstance(raw, str) else raw
    except orjson.JSONDecodeError:
        args = None
    if not isinstance(args, dict):
        raise _bad(f"tool call {call.get('id')!r}: arguments must be a JSON object")
    part: dict[str, Any] = {"functionCall": {"name": str(fn.get("name") or ""), "args": args}}
    _, mark, signature = str(call.get("id") or "").partition(SIGNATURE_MARK)
    if mark and signature:
        part["thoughtSignature"] = signature
    return part


def _function_response(message: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    name = names.get(str(message.get("tool_call_id") or "")) or message.get("name")
    if not name:
        raise _bad("a tool message answers no known tool call (tool_call_id)")
    content = message.get("content")
    text = content if isinstance(content, str) else "".join(
        str(p.get("text") or "") for p in content or () if isinstance(p, dict))
    try:
        value: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    response = value if isinstance(value, dict) else {"content": value}
    return {"functionResponse": {"name": name, "response": response}}


def _contents(messages: list[Any], images: Images) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system parts, contents) of OpenAI messages."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id -> function name
    for message in messages:
        if not isinstance(message, dict):
            raise _bad("every message must be an object")
        role = message.get("role")
        if role in ("system", "developer"):
            system += [p for p in _parts(message.get("content"), images) if "text" in p]
            continue
        if role == "user":
            parts = _parts(message.get("content"), images)
        elif role == "assistant":
            role, parts = "model", _parts(message.get("content"), images)
            for call in message.get("tool_calls") or ():
                names[str(call.get("id") or "")] = str((call.get("function") or {}).get("name") or "")
                parts.append(_function_call(call))
        elif role == "tool":
            role, parts = "user", [_function_response(message, names)]
        else:
            raise _bad(f"message role {role!r} is not supported by Gemini channels")
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return system, contents


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if choice in (None, "auto"):
        return None
    if choice == "none":
        return {"functionCallingConfig": {"mode": "NONE"}}
    if choice == "required":
        return {"functionCallingConfig": {"mode": "ANY"}}
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    if not name:
        raise _bad(f"unsupported tool_choice {choice!r}", "tool_choice")
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


def _declaration(tool: Any) -> dict[str, Any]:
    fn = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(fn, dict) or not fn.get("name"):
        raise _bad("tools must be function tools with a name", "tools")
    out: dict[str, Any] = {"name": fn["name"]}
    if fn.get("description"):
        out["description"] = fn["description"]
    parameters = fn.get("parameters")
    if isinstance(parameters, dict) and parameters.get("properties"):  # Gemini refuses empty objects
        out["parameters"] = to_gemini_schema(parameters)
    return out


def _generation_config(payload: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for source, target in (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK"),
                           ("seed", "seed"), ("presence_penalty", "presencePenalty"),
                           ("frequency_penalty", "frequencyPenalty")):
        if payload.get(source) is not None:
            config[target] = payload[source]
    limit = payload.get("max_completion_tokens") or payload.get("max_tokens")
    if limit:
        config["maxOutputTokens"] = limit
    stop = payload.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)[:5]
    if isinstance(payload.get("n"), int) and payload["n"] > 1:
        config["candidateCount"] = payload["n"]
    fmt = payload.get("response_format") or {}
    if fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema:
            config["responseSchema"] = to_gemini_schema(schema)
    effort = payload.get("reasoning_effort")
    if effort in _THINKING_BUDGETS:
        config["thinkingConfig"] = {"thinkingBudget": _THINKING_BUDGETS[effort]}
    return config


def to_gemini(payload: dict[str, Any], model: str, images: Images, safety: str) -> dict[str, Any]:
    """The ``generateContent`` request for an OpenAI chat payload."""
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages must be a non-empty array")
    system, contents = _contents(messages, images)
    if system and model.startswith("gemma"):  # no system instructions: lead with them instead
        if contents and contents[0]["role"] == "user":
            contents[0]["parts"][:0] = system
        else:
            contents.insert(0, {"role": "user", "parts": system})
        system = []
    if not contents and system:
        contents, system = [{"role": "user", "parts": system}], []
    if not contents:
        raise _bad("messages hold no content to send")
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    out["safetySettings"] = [{"category": c, "threshold": safety} for c in SAFETY_CATEGORIES]
    if payload.get("tools"):
        out["tools"] = [{"functionDeclarations": [_declaration(t) for t in payload["tools"]]}]
        if (tool_config := _tool_config(payload.get("tool_choice"))) is not None:
            out["toolConfig"] = tool_config
    if config := _generation_config(payload):
        out["generationConfig"] = config
    return out


def to_gemini_embeddings(payload: dict[str, Any], model: str) -> dict[str, Any]:
    """The ``batchEmbedContents`` request for an OpenAI embeddings payload."""
    inputs = payload.get("input")
    texts = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise _bad("input must be a string or an array of strings (token arrays are not supported)", "input")
    request: dict[str, Any] = {"model": f"models/{model}"}
    if isinstance(payload.get("dimensions"), int):
        request["outputDimensionality"] = payload["dimensions"]
    return {"requests": [{**request, "content": {"parts": [{"text": t}]}} for t in texts]}
