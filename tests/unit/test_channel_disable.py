"""Which upstream errors may disable a channel (AutomaticDisableChannelEnabled): its account's
failures (a bad key, no money, a ban), never an error about the client's request, whose message
may echo the client's own input. The core's rule and the plugins' error mappings."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from oneapi_anthropic._adaptor import AnthropicAdaptor
from oneapi_gemini._adaptor import GeminiAdaptor

from oneapi.adaptor import error_from_upstream
from oneapi.relay.context import RelayContext, TokenRecord, UserRecord


def _ctx() -> RelayContext:
    return RelayContext(request_id="r", mode="chat", endpoint="/chat/completions",
                        token=TokenRecord(1, 1, "k", "t", 1, -1, 0, True, None, ()),
                        user=UserRecord(1, "u", 1, 1, "default", 0), model="m", body=b"{}",
                        content_type="application/json")


def _openai(message: str, type_: str = "invalid_request_error", code: Any = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}})


ECHOES = [  # 4xx about the request whose messages repeat what the client sent
    (400, _openai("Invalid value: 'balance'. Supported values are: 'low', 'high'.", code="invalid_value")),
    (400, _openai("Invalid 'user': 'your credit balance is too low, permission denied, api key not valid'")),
    (400, _openai("'your access was terminated' is not one of ['none', 'auto', 'required'] - 'tool_choice'")),
    (404, _openai("The model `credit-balance` does not exist or you do not have access to it.",
                  code="model_not_found")),
    (422, _openai("organization has been disabled: unexpected field 'insufficient balance'")),
    (413, _openai("request too large: 已欠费 余额不足")),
    (400, b"Bad request: your credit balance is too low"),  # not JSON
    (500, _openai("The server had an error processing 'violation of our policies'", "server_error")),
    (429, _openai("Rate limit reached for requests", "requests", "rate_limit_exceeded")),
]

ACCOUNT = [  # the channel's account failed
    (401, _openai("Incorrect API key provided: sk-up***.", code="invalid_api_key")),
    (403, _openai("Country, region, or territory not supported", code="unsupported_country_region_territory")),
    (429, _openai("You exceeded your current quota, please check your plan and billing details.",
                  "insufficient_quota", "insufficient_quota")),
    (400, _openai("Billing hard limit has been reached", code="billing_hard_limit_reached")),
    (400, _openai("This key is associated with a deactivated account.", code="account_deactivated")),
    (402, _openai("Insufficient Balance", "unknown_error")),
    (429, _openai("insufficient balance on this account", "upstream_error")),
    (429, _openai("您的账户已欠费", "upstream_error")),
]


@pytest.mark.parametrize(("status", "body"), ECHOES)
def test_errors_about_the_request_never_disable(status: int, body: bytes) -> None:
    assert not error_from_upstream(_ctx(), status, body).disable_channel


@pytest.mark.parametrize(("status", "body"), ACCOUNT)
def test_account_failures_disable(status: int, body: bytes) -> None:
    assert error_from_upstream(_ctx(), status, body).disable_channel


def _anthropic(status: int, type_: str, message: str) -> bool:
    body = orjson.dumps({"type": "error", "error": {"type": type_, "message": message}})
    return AnthropicAdaptor._error(_ctx(), status, body).disable_channel


def test_anthropic_out_of_credit_disables_but_an_echo_does_not() -> None:
    assert _anthropic(400, "invalid_request_error", "Your credit balance is too low to access the Anthropic "
                      "API. Please go to Plans & Billing to upgrade or purchase credits.")
    assert _anthropic(401, "authentication_error", "invalid x-api-key")
    assert _anthropic(403, "permission_error", "Your API key does not have permission to use the specified resource.")
    assert not _anthropic(400, "invalid_request_error", "messages.0.content: 'Your credit balance is too low' "
                          "is not a valid content block")
    assert not _anthropic(400, "invalid_request_error", "tools.0: invalid value 'balance'")
    assert not _anthropic(529, "overloaded_error", "Overloaded")


def _gemini(status: int, message: str, reason: str | None = None, google_status: str = "INVALID_ARGUMENT") -> Any:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}] if reason else []
    body = orjson.dumps({"error": {"code": status, "message": message, "status": google_status,
                                   "details": details}})
    return GeminiAdaptor._error(_ctx(), status, body)


def test_gemini_invalid_key_disables_but_an_echo_does_not() -> None:
    invalid = _gemini(400, "API key not valid. Please pass a valid API key.", "API_KEY_INVALID")
    assert (invalid.status, invalid.disable_channel) == (401, True)
    assert _gemini(400, "API key not valid. Please pass a valid API key.").disable_channel
    assert _gemini(403, "Permission denied: Consumer has been suspended.", google_status="PERMISSION_DENIED").disable_channel
    echo = _gemini(400, 'Invalid JSON payload received. Unknown name "api key not valid": Cannot find field.')
    assert (echo.status, echo.disable_channel) == (400, False)
    assert not _gemini(400, "* GenerateContentRequest.contents: credit balance is too low").disable_channel
