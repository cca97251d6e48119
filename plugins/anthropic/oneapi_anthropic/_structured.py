"""OpenAI ``response_format`` for Anthropic channels (structured outputs).

- ``json_schema`` on a model with Anthropic's structured outputs (Claude Opus 4.1, and the 4.5
  generation onwards: Sonnet 4.5, Haiku 4.5, Opus 4.5, ...) becomes
  ``output_config.format`` ``{"type": "json_schema", "schema": ...}``: the answer's text is the
  JSON. The schema is adapted as Anthropic's SDK does: objects get ``additionalProperties:
  false`` and the constraints Anthropic does not enforce (numeric bounds, string lengths,
  ``maxItems``, ``minItems`` above 1) move into the description.
- ``json_schema`` on older models, and ``json_object`` everywhere (Anthropic has no plain
  JSON mode), become a forced tool ``json_response`` whose ``input_schema`` is the schema (any
  object for ``json_object``); the tool's input is returned as the message content, with
  finish_reason ``stop`` (streams too). With the client's own tools the model must call one of
  them or the JSON tool (``tool_choice: any``); with ``thinking`` on, a forced tool is refused
  by Anthropic, so the choice is left to the model.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["JSON_TOOL", "apply_response_format", "json_tool_of", "native_structured_outputs"]

JSON_TOOL = "json_response"
_FAMILY = re.compile(r"^claude-(opus|sonnet|haiku)-(\d+)(?:-(\d{1,2}))?(?:-|$)")
_UNENFORCED = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
               "minLength", "maxLength", "maxItems", "minProperties", "maxProperties")


def native_structured_outputs(model: str) -> bool:
    """Whether Anthropic's ``output_config.format`` serves ``model``."""
    found = _FAMILY.match(model)
    if not found:
        return False
    family, major, minor = found.group(1), int(found.group(2)), int(found.group(3) or 0)
    return (major, minor) >= (4, 5) or (family == "opus" and (major, minor) >= (4, 1))


def _format(payload: dict[str, Any]) -> tuple[str, dict[str, Any] | None] | None:
    """(kind, schema) of the client's response_format, None for text or none."""
    fmt = payload.get("response_format")
    if not isinstance(fmt, dict):
        return None
    kind = fmt.get("type")
    if kind == "json_object":
        return "json_object", None
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return "json_schema", schema if isinstance(schema, dict) else None
    return None


def json_tool_of(payload: dict[str, Any], model: str) -> str | None:
    """The name of the forced JSON tool ``to_anthropic`` adds for ``payload``, if any."""
    found = _format(payload)
    if found is None:
        return None
    kind, schema = found
    if kind == "json_schema" and schema is not None and native_structured_outputs(model):
        return None
    return JSON_TOOL


def anthropic_schema(schema: Any) -> Any:
    """A copy of a JSON Schema in the subset Anthropic's structured outputs enforce."""
    if isinstance(schema, list):
        return [anthropic_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    notes: list[str] = []
    for key, value in schema.items():
        if key in _UNENFORCED or (key == "minItems" and isinstance(value, int) and value > 1):
            notes.append(f"{key}: {value}")
        elif key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, dict):
            out[key] = {name: anthropic_schema(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf", "allOf", "oneOf", "not", "prefixItems"):
            out[key] = anthropic_schema(value)
        elif key == "additionalProperties":
            continue
        else:
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        out["additionalProperties"] = False
    if notes:
        note = "{" + ", ".join(notes) + "}"
        out["description"] = f"{out['description']}\n\n{note}" if out.get("description") else note
    return out


def apply_response_format(payload: dict[str, Any], model: str, out: dict[str, Any]) -> None:
    """Add the client's ``response_format`` to the Anthropic request ``out`` (in place)."""
    found = _format(payload)
    if found is None:
        return
    kind, schema = found
    if kind == "json_schema" and schema is not None and native_structured_outputs(model):
        config = out.setdefault("output_config", {})
        config["format"] = {"type": "json_schema", "schema": anthropic_schema(schema)}
        return
    is_object = schema is not None and schema.get("type", "object") == "object"
    input_schema = {**schema, "type": "object"} if schema is not None and is_object else {"type": "object"}
    tool: dict[str, Any] = {"name": JSON_TOOL, "input_schema": input_schema,
                            "description": "Give your answer by calling this tool: its input is the answer, "
                                           "a JSON object."}
    spec = (payload.get("response_format") or {}).get("json_schema")
    if isinstance(spec, dict) and isinstance(spec.get("description"), str) and spec["description"]:
        tool["description"] = spec["description"]
    tools = out.setdefault("tools", [])
    client_tools = bool(tools)
    tools.append(tool)
    thinking = payload.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        out.setdefault("tool_choice", {"type": "auto"})
        return
    choice = out.get("tool_choice") or {}
    parallel = {k: v for k, v in choice.items() if k == "disable_parallel_tool_use"}
    if not client_tools or choice.get("type") == "none":
        out["tool_choice"] = {"type": "tool", "name": JSON_TOOL, **parallel}
    elif choice.get("type") in (None, "auto", "any"):
        out["tool_choice"] = {"type": "any", **parallel}
