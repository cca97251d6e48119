"""The Gemini adaptor's request converters in-process: OpenAI chat → ``generateContent``,
embeddings → ``batchEmbedContents``, JSON Schema → Gemini's Schema (no gateway, no upstream)."""

from __future__ import annotations

from typing import Any

import pytest
from oneapi_gemini._convert import (
    SAFETY_CATEGORIES,
    SIGNATURE_MARK,
    image_urls,
    to_gemini,
    to_gemini_embeddings,
)
from oneapi_gemini._schema import to_gemini_schema

from oneapi.plugin import RelayError

PNG = "iVBORw0KGgo="


def convert(*messages: dict[str, Any], model: str = "gemini-2.5-flash", images: dict[str, Any] | None = None,
            **fields: Any) -> dict[str, Any]:
    payload = {"model": "m", "messages": list(messages) or [{"role": "user", "content": "hi"}], **fields}
    return to_gemini(payload, model, images or {}, "BLOCK_NONE")


def test_roles_system_instruction_and_merged_turns() -> None:
    out = convert({"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
                  {"role": "user", "content": [{"type": "text", "text": "there"}, {"type": "text", "text": ""}]},
                  {"role": "assistant", "content": "Hello."}, {"role": "developer", "content": "French."},
                  {"role": "user", "content": "again"})
    assert out["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "French."}]}
    assert out["contents"] == [{"role": "user", "parts": [{"text": "hi"}, {"text": "there"}]},
                               {"role": "model", "parts": [{"text": "Hello."}]},
                               {"role": "user", "parts": [{"text": "again"}]}]
    assert out["safetySettings"] == [{"category": c, "threshold": "BLOCK_NONE"} for c in SAFETY_CATEGORIES]
    assert "generationConfig" not in out and "tools" not in out


def test_gemma_takes_the_system_text_as_its_first_user_turn() -> None:
    out = convert({"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}, model="gemma-3-27b-it")
    assert "systemInstruction" not in out
    assert out["contents"] == [{"role": "user", "parts": [{"text": "Be brief."}, {"text": "hi"}]}]
    leading = convert({"role": "system", "content": "S"}, {"role": "assistant", "content": "A"}, model="gemma-2")
    assert leading["contents"][0] == {"role": "user", "parts": [{"text": "S"}]}


def test_only_system_text_becomes_a_user_turn() -> None:
    out = convert({"role": "system", "content": "Say hi."})
    assert out["contents"] == [{"role": "user", "parts": [{"text": "Say hi."}]}] and "systemInstruction" not in out


@pytest.mark.parametrize("messages", [[], [{"role": "user", "content": ""}], [{"role": "critic", "content": "x"}],
                                      ["not an object"]])
def test_nothing_to_send_or_an_unknown_role_is_a_400(messages) -> None:
    with pytest.raises(RelayError) as refused:
        to_gemini({"messages": messages}, "gemini-2.5-flash", {}, "BLOCK_NONE")
    assert refused.value.status == 400 and refused.value.type == "invalid_request_error"


def test_images_audio_and_files_are_inlined() -> None:
    url = "https://example.com/cat.jpg"
    out = convert({"role": "user", "content": [
        {"type": "text", "text": "what?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": url},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "mp3"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}]},
        images={url: ("image/jpeg", "/9j/4AA=")})
    assert out["contents"][0]["parts"] == [
        {"text": "what?"}, {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AA="}},
        {"inlineData": {"mimeType": "audio/mp3", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}]


def test_the_images_to_fetch_are_the_http_ones() -> None:
    payload = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://a/1.png"}},
        {"type": "image_url", "image_url": {"url": "http://b/2.png"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
        {"role": "user", "content": "text only"}]}
    assert image_urls(payload) == {"https://a/1.png", "http://b/2.png"}


@pytest.mark.parametrize("part", [
    {"type": "image_url", "image_url": {"url": "https://not-fetched/x.png"}},
    {"type": "image_url", "image_url": {"url": "data:image/png,raw"}},
    {"type": "image_url", "image_url": {}},
    {"type": "file", "file": {"file_id": "file-1"}},
    {"type": "video", "video": {}}])
def test_content_that_cannot_be_inlined_is_a_400(part) -> None:
    with pytest.raises(RelayError) as refused:
        convert({"role": "user", "content": [part]})
    assert refused.value.status == 400


def test_tool_calls_and_results_round_trip_with_the_thought_signature() -> None:
    out = convert(
        {"role": "user", "content": "weather and time?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call_1{SIGNATURE_MARK}c2lnbmF0dXJl", "type": "function",
             "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "time", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": f"call_1{SIGNATURE_MARK}c2lnbmF0dXJl", "content": '{"temp": 21}'},
        {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
        {"role": "tool", "tool_call_id": "unknown", "name": "extra", "content": "[1, 2]"})
    assert out["contents"][1] == {"role": "model", "parts": [
        {"functionCall": {"name": "weather", "args": {"city": "Oslo"}}, "thoughtSignature": "c2lnbmF0dXJl"},
        {"functionCall": {"name": "time", "args": {}}}]}
    assert out["contents"][2] == {"role": "user", "parts": [  # all answers in one turn
        {"functionResponse": {"name": "weather", "response": {"temp": 21}}},
        {"functionResponse": {"name": "time", "response": {"content": "noon"}}},
        {"functionResponse": {"name": "extra", "response": {"content": [1, 2]}}}]}


def test_a_tool_result_for_no_known_call_or_bad_arguments_is_a_400() -> None:
    with pytest.raises(RelayError):
        convert({"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "nobody", "content": "1"})
    with pytest.raises(RelayError):
        convert({"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
            {"id": "c", "function": {"name": "f", "arguments": "not json"}}]})


def test_tools_become_function_declarations_and_tool_choice_a_tool_config() -> None:
    tools = [{"type": "function", "function": {
        "name": "weather", "description": "Weather now", "strict": True, "parameters": {
            "type": "object", "additionalProperties": False, "$schema": "x", "required": ["city"],
            "properties": {"city": {"type": "string"}, "days": {"type": ["integer", "null"]}}}}},
        {"type": "function", "function": {"name": "noargs", "parameters": {"type": "object", "properties": {}}}}]
    out = convert(tools=tools)
    assert out["tools"] == [{"functionDeclarations": [
        {"name": "weather", "description": "Weather now", "parameters": {
            "type": "object", "required": ["city"],
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "nullable": True}}}},
        {"name": "noargs"}]}]  # Gemini refuses an object schema without properties
    assert "toolConfig" not in out and "toolConfig" not in convert(tools=tools, tool_choice="auto")
    assert convert(tools=tools, tool_choice="none")["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}
    assert convert(tools=tools, tool_choice="required")["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    named = convert(tools=tools, tool_choice={"type": "function", "function": {"name": "weather"}})
    assert named["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}}
    with pytest.raises(RelayError):
        convert(tools=tools, tool_choice="sometimes")
    with pytest.raises(RelayError):
        convert(tools=[{"type": "function", "function": {"description": "no name"}}])


def test_generation_config() -> None:
    out = convert(temperature=0.2, top_p=0.9, top_k=40, seed=7, presence_penalty=0.5, frequency_penalty=-0.5,
                  max_tokens=100, stop="END", n=2, reasoning_effort="low", stream=True, user="u1")
    assert out["generationConfig"] == {
        "temperature": 0.2, "topP": 0.9, "topK": 40, "seed": 7, "presencePenalty": 0.5, "frequencyPenalty": -0.5,
        "maxOutputTokens": 100, "stopSequences": ["END"], "candidateCount": 2,
        "thinkingConfig": {"thinkingBudget": 1024}}
    assert not {"stream", "user", "model"} & set(out)  # not generateContent fields: Gemini refuses them


@pytest.mark.parametrize(("fields", "config"), [
    ({"max_completion_tokens": 50, "max_tokens": 100}, {"maxOutputTokens": 50}),
    ({"stop": ["a", "b", "c", "d", "e", "f"]}, {"stopSequences": ["a", "b", "c", "d", "e"]}),  # Gemini's limit: 5
    ({"n": 1, "stop": [], "max_tokens": 0}, None),
    ({"temperature": 0}, {"temperature": 0}),
    ({"reasoning_effort": "none"}, {"thinkingConfig": {"thinkingBudget": 0}}),
    ({"reasoning_effort": "high"}, {"thinkingConfig": {"thinkingBudget": 24576}}),
    ({"reasoning_effort": "extreme"}, None),
    ({"response_format": {"type": "text"}}, None),
    ({"response_format": {"type": "json_object"}}, {"responseMimeType": "application/json"}),
])
def test_generation_config_fields(fields, config) -> None:
    assert convert(**fields).get("generationConfig") == config


def test_a_json_schema_response_format_becomes_a_response_schema() -> None:
    schema = {"type": "object", "additionalProperties": False, "required": ["n", "when"],
              "properties": {"n": {"type": "integer", "format": "int64"}, "when": {"type": "string", "format": "date-time"},
                             "mail": {"type": "string", "format": "email"}, "kind": {"const": "event"}}}
    out = convert(response_format={"type": "json_schema", "json_schema": {"name": "e", "strict": True, "schema": schema}})
    assert out["generationConfig"] == {"responseMimeType": "application/json", "responseSchema": {
        "type": "object", "required": ["n", "when"],
        "properties": {"n": {"type": "integer", "format": "int64"}, "when": {"type": "string", "format": "date-time"},
                       "mail": {"type": "string"}, "kind": {"enum": ["event"], "type": "string"}}}}


def test_schemas_keep_only_what_gemini_knows_recursively() -> None:
    schema = {"type": "object", "title": "T", "properties": {
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"], "examples": ["a"]}, "maxItems": 3},
        "choice": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "only_null": {"type": ["null"]}}, "patternProperties": {}}
    assert to_gemini_schema(schema) == {"type": "object", "title": "T", "properties": {
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "maxItems": 3},
        "choice": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "only_null": {"nullable": True}}}
    assert to_gemini_schema(True) is True and to_gemini_schema({"enum": ["x", 1]})["enum"] == ["x", "1"]


@pytest.mark.parametrize("schema", [{"type": "integer", "enum": [1, 2, 4]}, {"type": "number", "const": 3},
                                    {"enum": ["a", "b"]}], ids=["integer-enum", "number-const", "untyped-enum"])
def test_every_enum_sent_to_gemini_is_a_string_enum(schema) -> None:
    out = to_gemini_schema({"type": "object", "properties": {"p": schema}})["properties"]["p"]
    if "enum" in out:
        assert out.get("type") == "string" and all(isinstance(v, str) for v in out["enum"])


# --- embeddings -------------------------------------------------------------------------------------------


def test_embeddings_requests() -> None:
    assert to_gemini_embeddings({"input": "hello", "dimensions": 256}, "text-embedding-004") == {"requests": [
        {"model": "models/text-embedding-004", "outputDimensionality": 256, "content": {"parts": [{"text": "hello"}]}}]}
    many = to_gemini_embeddings({"input": ["a", "b"]}, "m")
    assert [r["content"]["parts"][0]["text"] for r in many["requests"]] == ["a", "b"]
    for bad in ([], [1, 2, 3], [[1, 2]], None):
        with pytest.raises(RelayError) as refused:
            to_gemini_embeddings({"input": bad}, "m")
        assert refused.value.param == "input"


def test_refs_into_defs_are_inlined() -> None:
    schema = {"type": "object", "$defs": {"P": {"type": "object", "properties": {"c": {"type": "string"}},
                                                "additionalProperties": False}},
              "properties": {"p": {"$ref": "#/$defs/P", "description": "where"},
                             "q": {"allOf": [{"$ref": "#/$defs/P"}]},
                             "r": {"type": "array", "items": {"$ref": "#/$defs/P"}}}}
    place = {"type": "object", "properties": {"c": {"type": "string"}}}
    assert to_gemini_schema(schema) == {"type": "object", "properties": {
        "p": {**place, "description": "where"}, "q": place, "r": {"type": "array", "items": place}}}
    recursive = to_gemini_schema({"$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
                                  "$ref": "#/$defs/N"})
    assert "next" in recursive["properties"] and "$ref" not in str(recursive)
