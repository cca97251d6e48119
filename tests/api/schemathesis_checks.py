"""Checks of tests/api/test_schemathesis.py, loaded by the schemathesis CLI (SCHEMATHESIS_HOOKS).

/api answers what the user can fix with HTTP 200 and ``{"success": false, "message": ...}``
(One API's convention; New API's top-up routes say ``"message": "error"`` and why in ``data``),
so schemathesis's ``positive_data_acceptance`` and ``negative_data_rejection``, which judge by
the status code, are run on the answer with such a refusal read as a 400:

* ``envelope_negative_data_rejection``: every refusal counts (a request that breaks the
  document must not succeed);
* ``envelope_positive_data_acceptance``: only a refusal *about the input's shape* counts (a
  field, a query parameter, the body): the document did not declare a constraint the API
  enforces. Other refusals (not found, not allowed, taken, not configured) are what a
  well-formed request may meet, and so are the few constraints the document states where JSON
  Schema cannot check them (``IN_WORDS``).

The document's own string format ``ip-networks`` (a token's subnets) gets a generator here.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

# A refusal about the request's shape: its constraint belongs in the document.
INPUT_REFUSAL = re.compile(
    r"^(invalid field |invalid value: |query parameter |the request body |the path must"
    r"|unknown binding type |invalid email address)"
    r"|must be one of|must be a number between|must not contain NUL|is not valid Unicode"
    r"|must be at most|must be between|must be an integer"
)


# Refusals of constraints the document declares in a way no generator follows: JSON text
# (``contentMediaType: application/json`` with its ``contentSchema``), a channel's config fields
# that its type requires (described on ``config``; they depend on ``type``), ``status`` that
# ``?status_only`` requires (described on the query parameter; a body cannot depend on it), the
# length of a list's items joined with commas (described on the list).
IN_WORDS = re.compile(
    r"^invalid field (group|models): Value should have at most \d+ items after validation"
    r"|^invalid field (model_mapping|config): \w+ (is not valid JSON|must be a JSON object)"
    r"|^invalid field model_mapping: model_mapping values must be model names"
    r"|^invalid field config\.\w+: required for "
    r"|^invalid field status: required with status_only$"
)

_OCTET = st.integers(0, 255).map(str)
_IPV4 = st.tuples(_OCTET, _OCTET, _OCTET, _OCTET).map(".".join)
_NETWORK = st.one_of(_IPV4, st.tuples(_IPV4, st.integers(0, 32)).map(lambda n: f"{n[0]}/{n[1]}"),
                     st.ip_addresses(v=6).map(str))
schemathesis.openapi.format(
    "ip-networks", st.lists(_NETWORK, min_size=0, max_size=3).map(",".join)
)


def _refusal_reason(response: schemathesis.Response) -> str | None:
    """Why the answer refuses the request, or None when it does not."""
    if response.content.strip() == b"fail":  # payment callbacks answer in plain text
        return "fail"
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("success") is not False:
        return None
    message = str(body.get("message", ""))
    if message == "error" and isinstance(body.get("data"), str):
        message = body["data"]
    return message


def _as_bad_request(response: schemathesis.Response) -> schemathesis.Response:
    mapped = copy.copy(response)
    mapped.status_code = 400
    return mapped


@schemathesis.check
def envelope_negative_data_rejection(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    if response.status_code == 200 and _refusal_reason(response) is not None:
        response = _as_bad_request(response)
    return negative_data_rejection(ctx, response, case)


@schemathesis.check
def envelope_positive_data_acceptance(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    reason = _refusal_reason(response)
    if (
        response.status_code == 200
        and reason is not None
        and INPUT_REFUSAL.search(reason)
        and not IN_WORDS.search(reason)
    ):
        response = _as_bad_request(response)
    return positive_data_acceptance(ctx, response, case)
