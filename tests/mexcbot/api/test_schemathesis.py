"""Property-based API testing from our own OpenAPI schema (schemathesis 3.x), over real HTTP.

The bot runs as ``mexcbot run`` in a subprocess (paper mode, its own mexcsim) because schemathesis
calls it synchronously. Every operation gets generated valid and invalid inputs, with an admin
token so the requests reach the handlers. Checks: no 5xx, documented status codes and content
types, and every response body matches its schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import DataGenerationMethod
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.api import BotProcess, bot_env, run_cli, start_bot_process

pytestmark = pytest.mark.slow
# FastAPI emits OpenAPI 3.1; schemathesis 3.x supports it behind this switch.
schemathesis.experimental.OPEN_API_3_1.enable()

FUZZ_TOKEN_NAME = "schemathesis-fuzz-admin-7f3a9c"
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


@pytest.fixture
def fuzz_bot(tmp_path: Path) -> Iterator[tuple[BotProcess, str]]:
    env = bot_env(MEXCBOT_API_RATE_LIMIT_PER_MINUTE="1000000")
    created = run_cli(
        tmp_path, "token", "create", "--role", "admin", "--name", FUZZ_TOKEN_NAME, env=env
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    with start_bot_process(tmp_path, env=env) as bot:
        yield bot, token


@pytest.fixture
def api_schema(fuzz_bot: tuple[BotProcess, str]) -> Any:
    bot, _ = fuzz_bot
    return schemathesis.from_uri(
        f"{bot.base_url}/openapi.json",
        base_url=bot.base_url,
        data_generation_methods=[DataGenerationMethod.positive, DataGenerationMethod.negative],
    )


schema = schemathesis.from_pytest_fixture("api_schema")

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_VALUE = re.compile(r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$")


def _sendable(headers: dict[str, str]) -> dict[str, str]:
    """Only headers HTTP/1.1 can carry: a NUL or a space in a name makes the HTTP parser answer 400
    before any application sees the request, which says nothing about our API."""
    return {
        name: value
        for name, value in headers.items()
        if _TOKEN.fullmatch(name) and _VALUE.fullmatch(value)
    }


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_matches_its_schema(case: Any, fuzz_bot: tuple[BotProcess, str]) -> None:
    _, token = fuzz_bot
    case.headers = _sendable(case.headers or {})
    headers = {"Authorization": f"Bearer {token}", **case.headers}
    revoking = case.method == "DELETE" and case.path == "/api/v1/admin/tokens/{name}"
    if revoking and (case.path_parameters or {}).get("name") == FUZZ_TOKEN_NAME:
        return  # keep the fuzzer's own token
    response = case.call(headers=headers, timeout=30)
    case.validate_response(response, checks=CHECKS)
