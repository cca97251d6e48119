"""JSON Schema (OpenAI tools, json_schema response formats) → Gemini's OpenAPI-style Schema.

Gemini refuses fields it does not know (``additionalProperties``, ``$schema``, ``strict``,
...) with a 400, so only its own keys are kept: a type list with ``"null"`` becomes
``nullable``, ``const`` an ``enum``, and string formats other than ``enum``/``date-time``
are dropped.
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


def to_gemini_schema(schema: Any) -> Any:
    """A copy of ``schema`` with only what Gemini's Schema accepts."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _KEYS and key != "const":
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: to_gemini_schema(sub) for name, sub in value.items()}
        elif key == "items":
            out[key] = to_gemini_schema(value)
        elif key == "anyOf" and isinstance(value, list):
            out[key] = [to_gemini_schema(sub) for sub in value]
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
    if "enum" in out and out.get("type", "string") == "string":
        out["enum"] = [str(v) for v in out["enum"]]
    return out
