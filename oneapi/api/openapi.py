"""GET /api/openapi.json: an OpenAPI 3.1 document built from the app's url_map.

Every rule under /api appears (plugins' included); request bodies and the ``data`` of answers
come from the pydantic models named by ``@doc``, the role needed from ``@require_role``
(``x-min-role``). The web UI's types are generated from it (``frontend/src/api-types.ts``).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter
from quart import Blueprint, current_app, jsonify
from quart.typing import ResponseReturnValue

from .. import __version__

__all__ = ["blueprint", "build_openapi"]

_PARAM = re.compile(r"<(?:(?P<conv>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_ROLE_NAMES = {1: "user", 10: "admin", 100: "root"}


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for match in _PARAM.finditer(rule):
        kind = "integer" if match["conv"] == "int" else "string"
        params.append(
            {"name": match["name"], "in": "path", "required": True, "schema": {"type": kind}}
        )
    return _PARAM.sub(lambda m: "{" + m["name"] + "}", rule), params


def _answer(response: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """The envelope, with the schema of its ``data`` when the view names one."""
    envelope = {"$ref": "#/components/schemas/Envelope"}
    if response is None:
        return envelope
    schema = TypeAdapter(response).json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    if schema.get("type") == "object" and "title" in schema:
        schemas[schema["title"]] = schema
        schema = {"$ref": f"#/components/schemas/{schema['title']}"}
    data = {"type": "object", "required": ["data"], "properties": {"data": schema}}
    return {"allOf": [envelope, data]}


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
        }
    }
    for rule in sorted(current_app.url_map.iter_rules(), key=lambda r: r.rule):
        if not (rule.rule == "/api" or rule.rule.startswith("/api/")):
            continue
        view = current_app.view_functions.get(rule.endpoint)
        api_doc: dict[str, Any] = getattr(view, "api_doc", {}) or {}
        min_role = getattr(view, "min_role", None)
        path, params = _path(rule.rule)
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
                + [
                    {
                        "name": name,
                        "in": "query",
                        "required": False,
                        "description": text,
                        "schema": {"type": "string"},
                    }
                    for name, text in (api_doc.get("query") or {}).items()
                ],
                "responses": {
                    "200": {
                        "description": "the envelope",
                        "content": {
                            "application/json": {
                                "schema": _answer(api_doc.get("response"), schemas)
                            }
                        },
                    },
                    "4XX": {"description": "refused: success is false and message says why"},
                },
                "x-min-role": _ROLE_NAMES.get(min_role, "public") if min_role else "public",
            }
            if min_role:
                operation["security"] = [{"session": []}, {"accessToken": []}]
            body = api_doc.get("body")
            if body is not None:
                schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[body.__name__] = schema
                operation["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{body.__name__}"}
                        }
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
