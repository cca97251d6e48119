"""schemathesis against /api/openapi.json (issue 18): zero 5xx, and the document declares the
constraints the API enforces.

A SQLite gateway of this module's own. ``schemathesis run`` (the CLI, as a CI job would run it)
tests every operation of the document with its examples, coverage (boundary values: one past
every maxLength, minimum, enum, pattern, required, type) and fuzzing phases, valid and invalid
data, a bounded number of cases each, deterministically (no randomness between runs): once with
a normal user's access token, once with root's. Every answer must be

* not a server error (``not_a_server_error``),
* what the document says (``status_code_conformance``, ``content_type_conformance``,
  ``response_schema_conformance``: the envelope, a refusal, ``data`` in its documented shape),
* a refusal when the request breaks the document, and no refusal *about the input's shape* when
  it follows the document (``envelope_negative_data_rejection`` and
  ``envelope_positive_data_acceptance``: schemathesis's own checks, reading One API's "HTTP 200,
  success false" as the refusal it is; tests/api/schemathesis_checks.py).

Strings are generated without NUL characters (``allow-x00 = false``): /api refuses NUL in any
text (no database stores it), which JSON Schema has no keyword for.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import gateway_env
from tests.gateway import ROOT, GatewayProcess, api

#: Generated cases per operation in the fuzzing phase (examples and coverage add theirs).
MAX_EXAMPLES = 6

CONFIG = f"""
workers = 1
request-timeout = 30

[generation]
max-examples = {MAX_EXAMPLES}
deterministic = true
allow-x00 = false
with-security-parameters = false
database = "none"

[phases.stateful]
enabled = false

[checks]
enabled = false
not_a_server_error.enabled = true
status_code_conformance.enabled = true
content_type_conformance.enabled = true
response_schema_conformance.enabled = true
envelope_positive_data_acceptance.enabled = true
envelope_negative_data_rejection.enabled = true
"""

# Operations left out, because they take the run's identity away:
EXCLUDED = [
    "api.user_self.logout.get",  # ends the user's sessions
    "api.user_self.delete_self.delete",  # deletes the user
    "api.user_self.access_token.get",  # replaces the access token the run uses
]


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayProcess]:
    gw = GatewayProcess(gateway_env(), name="schemathesis").start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def root_token(gateway: GatewayProcess) -> str:
    """Root's access token, taken before any run (the root run may rename root)."""
    client = gateway.login()
    try:
        return str(api(client, "GET", "/api/user/token"))
    finally:
        client.close()


def _identity(gateway: GatewayProcess, root_token: str, who: str) -> str:
    """The access token the run sends: root's, or a new normal user's."""
    if who == "root":
        return root_token
    with gateway.client(headers={"Authorization": root_token}) as root:
        api(root, "POST", "/api/user/", json={"username": "stuser", "password": "password123"})
    client = gateway.login("stuser", "password123")
    try:
        return str(api(client, "GET", "/api/user/token"))
    finally:
        client.close()


def _failures(output: str) -> str:
    """The CLI's failures and errors sections (the whole output when it has none)."""
    start = min((i for i in (output.find("== FAILURES =="), output.find("== ERRORS ==")) if i >= 0),
                default=0)
    return output[max(output.rfind("\n", 0, start), 0):]


# The user first: the root run changes what root may change (options, users, channels).
@pytest.mark.timeout(600)
@pytest.mark.parametrize("who", ["user", "root"])
def test_api_follows_its_document(
    gateway: GatewayProcess, root_token: str, who: str, tmp_path: Path
) -> None:
    token = _identity(gateway, root_token, who)
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file", str(config),
        "run", f"{gateway.base_url}/api/openapi.json",
        "--header", f"Authorization: {token}",
        *[arg for op in EXCLUDED for arg in ("--exclude-operation-id", op)],
        "--output-truncate", "false",
    ]  # fmt: skip
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_checks",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
        "NO_COLOR": "1",
    }
    run = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=540)  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"schemathesis found problems ({who}):\n{_failures(output)}"

    # The run was what it claims: every operation but the excluded ones, many cases each ...
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", output)
    assert selected, output[-3000:]
    assert int(selected[1]) == int(selected[2]) - len(EXCLUDED) > 80, selected[0]
    cases = re.search(r"(\d+) generated", output)
    assert cases and int(cases[1]) > 1000, output[-3000:]
    # ... with an identity that still holds at the end.
    with gateway.client(headers={"Authorization": token}) as client:
        me = api(client, "GET", "/api/user/self")
    assert me["role"] == (100 if who == "root" else 1), me
