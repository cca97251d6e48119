"""GET /api/openapi.json: an OpenAPI 3.1 document built from the app's url_map.

Every rule under /api appears (plugins' included); request bodies and the ``data`` of answers
come from the pydantic models named by ``@doc``, the role needed from ``@require_role``
(``x-min-role``). The web UI's types are generated from it (``frontend/src/api-types.ts``).

Query parameters are described by ``@doc(query={name: ...})``: a text (a free string), or one of
``query_int``/``query_text``/``query_enum`` below, which state the range, length or choices the
view enforces (``int_arg``/``str_arg``); ``PAGE`` is ``p`` and ``page_size`` of every list.
``tests/api/test_schemathesis.py`` holds the document to what the API accepts and refuses.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter
from quart import Blueprint, current_app, jsonify
from quart.typing import ResponseReturnValue

from .. import __version__
from ._common import Body

__all__ = ["PAGE", "blueprint", "build_openapi", "query_enum", "query_int", "query_text"]

_PARAM = re.compile(r"<(?:(?P<conv>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_ROLE_NAMES = {1: "user", 10: "admin", 100: "root"}
_REFUSAL = {"$ref": "#/components/schemas/Refusal"}
_NO_BODY = frozenset({"GET", "DELETE"})


def query_int(description: str, low: int, high: int, required: bool = False) -> dict[str, Any]:
    """An integer query parameter within [low, high] (``int_arg(name, default, low, high)``)."""
    schema = {"type": "integer", "minimum": low, "maximum": high}
    return {"description": description, "schema": schema, "required": required}


def query_text(
    description: str, max_length: int = 191, required: bool = False, **schema: Any
) -> dict[str, Any]:
    """A text query parameter of at most ``max_length`` characters (``str_arg``); ``required``:
    not blank. ``schema``: more keywords (``format``)."""
    text = {"type": "string", "maxLength": max_length, **schema}
    if required:
        text.setdefault("pattern", r"\S")  # not blank: the value is stripped
    return {"description": description, "schema": text, "required": required}


def query_enum(description: str, *choices: str, blank: bool = True) -> dict[str, Any]:
    """A parameter taking one of ``choices`` (``blank``: or nothing, meaning the default)."""
    values = [*choices, ""] if blank else list(choices)
    return {"description": description, "schema": {"type": "string", "enum": values}}


#: ``p`` and ``page_size`` of every paginated list (``page_params``).
PAGE = {
    "p": query_int("page, 0-based", 0, 10_000_000),
    "page_size": query_int("rows per page (default 10)", 1, 100),
}


def _query_param(name: str, spec: Any) -> dict[str, Any]:
    if isinstance(spec, dict):
        schema = spec.get("schema", {"type": "string"})
        description = str(spec.get("description", ""))
        required = bool(spec.get("required", False))
    else:
        schema, description, required = {"type": "string"}, str(spec), False
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema}


def _path(rule: str, described: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The OpenAPI path of a rule and its parameters (``described``: from ``@doc(path=...)``)."""
    params = []
    for match in _PARAM.finditer(rule):
        kind = "integer" if match["conv"] == "int" else "string"
        param = {"name": match["name"], "in": "path", "required": True, "schema": {"type": kind}}
        if (spec := described.get(match["name"])) is not None:
            param["schema"] = spec.get("schema", param["schema"])
            param["description"] = str(spec.get("description", ""))
        params.append(param)
    return _PARAM.sub(lambda m: "{" + m["name"] + "}", rule), params


def _answer(response: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """The envelope: with the schema of its ``data`` when the view names one, or a refusal
    (One API answers what the user can fix with HTTP 200 and ``success: false``)."""
    envelope = {"$ref": "#/components/schemas/Envelope"}
    if response is None:
        return envelope
    schema = TypeAdapter(response).json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    if schema.get("type") == "object" and "title" in schema:
        schemas[schema["title"]] = schema
        schema = {"$ref": f"#/components/schemas/{schema['title']}"}
    data = {
        "type": "object",
        "required": ["success", "data"],
        "properties": {"success": {"const": True}, "data": schema},
    }
    return {"oneOf": [{"allOf": [envelope, data]}, _REFUSAL]}


def _content(api_doc: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """What a 200 answer holds: the JSON envelope, or (``response_text``) one of those texts."""
    texts = api_doc.get("response_text")
    if texts:
        return {"text/plain": {"schema": {"type": "string", "enum": list(texts)}}}
    return {"application/json": {"schema": _answer(api_doc.get("response"), schemas)}}


def build_openapi() -> dict[str, Any]:
    """The document for the current app."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {
        "Envelope": {
            "type": "object",
            "required": ["success", "message"],
            "properties": {
                "success": {"type": "boolean"},
                "message": {"type": "string"},
                "data": {},
                "total": {"type": "integer", "description": "lists: number of all matching rows"},
            },
        },
        "Refusal": {
            "type": "object",
            "description": "a refusal: message says why (New API's top-up routes: message "
            '"error" and data why)',
            "required": ["success", "message"],
            "properties": {
                "success": {"const": False},
                "message": {"type": "string"},
                "data": {},
            },
        },
    }
    for rule in sorted(current_app.url_map.iter_rules(), key=lambda r: r.rule):
        if not (rule.rule == "/api" or rule.rule.startswith("/api/")):
            continue
        view = current_app.view_functions.get(rule.endpoint)
        api_doc: dict[str, Any] = getattr(view, "api_doc", {}) or {}
        min_role = getattr(view, "min_role", None)
        path, params = _path(rule.rule, api_doc.get("path") or {})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation: dict[str, Any] = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "summary": api_doc.get("summary") or (view.__doc__ or "").strip().split("\n")[0]
                if view
                else "",
                "tags": [
                    rule.endpoint.split(".")[1]
                    if rule.endpoint.count(".") >= 2
                    else rule.endpoint.split(".")[0]
                ],
                "parameters": params
                + [_query_param(name, spec) for name, spec in (api_doc.get("query") or {}).items()],
                "responses": {
                    "200": {"description": "the envelope", "content": _content(api_doc, schemas)},
                    "4XX": {
                        "description": "refused: success is false and message says why (401: no "
                        "credentials; 404: no such route; 429: rate limited)",
                        "content": {"application/json": {"schema": _REFUSAL}},
                    },
                },
                "x-min-role": _ROLE_NAMES.get(min_role, "public") if min_role else "public",
            }
            if min_role:
                operation["security"] = [{"session": []}, {"accessToken": []}]
            body = api_doc.get("body")
            if body is not None and method not in _NO_BODY:
                schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[body.__name__] = schema
                media_type = api_doc.get("body_media_type") or "application/json"
                operation["requestBody"] = {
                    "required": body is not Body,  # Body itself: the view reads no body
                    "content": {
                        media_type: {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}
                    },
                }
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "oneapi management API",
            "version": __version__,
            "description": "One API compatible /api: envelope {success, message, data}; lists take p "
            "(0-based) and page_size (1-100, default 10) and return total.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                "accessToken": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def blueprint() -> Blueprint:
    bp = Blueprint("openapi", __name__)

    @bp.get("/openapi.json")
    async def openapi() -> ResponseReturnValue:
        """This document."""
        return jsonify(build_openapi())

    return bp
