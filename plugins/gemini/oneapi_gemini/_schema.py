"""JSON Schema (OpenAI tools, json_schema response formats) → Gemini's OpenAPI-style Schema.

Gemini refuses fields it does not know (``additionalProperties``, ``$schema``, ``strict``,
...) with a 400, so only its own keys are kept: a type list with ``"null"`` becomes
``nullable``, ``const`` an ``enum``, and string formats other than ``enum``/``date-time``
are dropped. ``$ref``s into ``$defs``/``definitions`` (what pydantic emits for nested models)
are inlined, with their sibling keys, and so are single-entry ``allOf``s; a recursive model is
cut after a few levels. Gemini takes ``enum`` only on STRING types: an enum (or const) of
numbers or booleans keeps its type and becomes a note in the description (the answer stays
a number, as the client's schema wants), an untyped enum becomes a string enum.
"""

from __future__ import annotations

from typing import Any

__all__ = ["to_gemini_schema"]

_KEYS = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum",
}
_FORMATS = {"string": {"enum", "date-time"}, "integer": {"int32", "int64"}, "number": {"float", "double"}}


_MAX_DEPTH = 8  # $ref expansions on one path (a recursive model is cut there)


def _resolve(ref: Any, defs: dict[str, Any]) -> Any:
    """The definition a local ``$ref`` (``#/$defs/Name``, ``#/definitions/Name``) points at."""
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return None
    node: Any = {"$defs": defs, "definitions": defs}
    for step in ref[2:].split("/"):
        step = step.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or step not in node:
            return None
        node = node[step]
    return node


def _inline(schema: dict[str, Any], defs: dict[str, Any], depth: int) -> tuple[dict[str, Any], int]:
    """``schema`` with a ``$ref`` (or a single-entry ``allOf``) merged in, and the new depth."""
    while True:
        if "$ref" in schema:
            target = _resolve(schema["$ref"], defs)
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            if depth >= _MAX_DEPTH or not isinstance(target, dict):
                return {**rest, "type": "string", "description": rest.get("description")
                        or "(a nested value, as JSON text)"}, depth
            schema, depth = {**target, **rest}, depth + 1
        elif isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1 \
                and isinstance(schema["allOf"][0], dict):
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            schema = {**schema["allOf"][0], **rest}
        else:
            return schema, depth


def to_gemini_schema(schema: Any, defs: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A copy of ``schema`` with only what Gemini's Schema accepts."""
    if not isinstance(schema, dict):
        return schema
    if defs is None:
        defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    schema, depth = _inline(schema, defs, depth)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _KEYS and key != "const":
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: to_gemini_schema(sub, defs, depth) for name, sub in value.items()}
        elif key == "items":
            out[key] = to_gemini_schema(value, defs, depth)
        elif key == "anyOf" and isinstance(value, list):
            out[key] = [to_gemini_schema(sub, defs, depth) for sub in value]
        elif key == "const":
            out["enum"] = [value]
        elif key == "type" and isinstance(value, list):
            kinds = [k for k in value if k != "null"]
            if len(kinds) < len(value):
                out["nullable"] = True
            if kinds:
                out["type"] = kinds[0]
        else:
            out[key] = value
    if "format" in out and out["format"] not in _FORMATS.get(str(out.get("type")), ()):
        del out["format"]
    if "enum" in out:
        _string_enum(out)
    return out


def _string_enum(out: dict[str, Any]) -> None:
    """Make ``out``'s enum one Gemini takes (strings, on a STRING type), in place."""
    values = out["enum"] if isinstance(out["enum"], list) else [out["enum"]]
    kind = out.get("type")
    if kind in ("integer", "number", "boolean") or (kind is None and values and all(
            isinstance(v, int | float) for v in values)):
        del out["enum"]
        allowed = ", ".join("true" if v is True else "false" if v is False else str(v) for v in values)
        note = f"One of: {allowed}." if len(values) > 1 else f"Always {allowed}."
        out["description"] = f"{out['description']} {note}" if out.get("description") else note
        if kind is None:
            out["type"] = "integer" if all(isinstance(v, int) for v in values) else "number"
        return
    out["type"] = "string"
    out["enum"] = [v if isinstance(v, str) else "null" if v is None else str(v) for v in values]
