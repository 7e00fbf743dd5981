"""Property-based API testing from our own OpenAPI schema (schemathesis 3.x), over real HTTP.

The bot runs as ``mexcbot run`` in a subprocess (paper mode, its own mexcsim) because schemathesis
calls it synchronously. Every operation gets generated valid and invalid inputs, with an admin
token so the requests reach the handlers. Checks: all of schemathesis' (no 5xx, documented status
codes, content types and headers, every response body matches its schema, invalid inputs are
refused, authentication is enforced). ``MAX_EXAMPLES`` per operation and generation method.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import DataGenerationMethod
from schemathesis.checks import ALL_CHECKS
from schemathesis.specs.openapi._hypothesis import get_schema_for_location
from schemathesis.specs.openapi.checks import negative_data_rejection

from tests.fixtures.api import BotProcess, bot_env, run_cli, start_bot_process

# One test fuzzes every operation (~3.7 min on a quiet 2-core box): past the suite-wide 300 s
# timeout whenever the box is busy, so it has its own bound.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
# FastAPI emits OpenAPI 3.1; schemathesis 3.x supports it behind this switch.
schemathesis.experimental.OPEN_API_3_1.enable()

FUZZ_TOKEN_NAME = "schemathesis-fuzz-admin-7f3a9c"
CHECKS = ALL_CHECKS
MAX_EXAMPLES = 100  # 200 would take ~7.5 min of the 10-minute suite (100: ~3.7 min, measured)


@pytest.fixture
def fuzz_bot(tmp_path: Path) -> Iterator[tuple[BotProcess, str]]:
    # The fuzzer's requests all come from 127.0.0.1, many of them deliberately without a token
    # (the ignored_auth check): neither limit may turn its answers into 429s.
    env = bot_env(
        MEXCBOT_API_RATE_LIMIT_PER_MINUTE="1000000", MEXCBOT_API_AUTH_FAILURE_LIMIT="1000000"
    )
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


@schema.hook
def filter_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> bool:
    """Never generate a revocation of the fuzzer's own token (every other name is fair game)."""
    return (path_parameters or {}).get("name") != FUZZ_TOKEN_NAME


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
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_matches_its_schema(case: Any, fuzz_bot: tuple[BotProcess, str]) -> None:
    _, token = fuzz_bot
    # The fuzzer's token always replaces the Authorization header schemathesis generates from the
    # security scheme (random or missing), so every case reaches the route's own validation.
    # Passed apart from the case's own headers, so the ignored_auth check sees it as explicit auth
    # (and removes it to check that the route then refuses the request).
    sendable = _sendable(case.headers or {})
    case.headers = {name: v for name, v in sendable.items() if name.lower() != "authorization"}
    headers = {"Authorization": f"Bearer {token}"}
    response = case.call(headers=headers, timeout=30)
    still_negative = _still_negative(case, headers, sent_query(response.request.url))
    excluded = () if still_negative else (negative_data_rejection,)
    case.validate_response(
        response,
        checks=CHECKS,
        excluded_checks=excluded,
        headers=headers,
        transport_kwargs={"headers": headers, "timeout": 30},
    )


def sent_query(url: str | None) -> dict[str, list[str]]:
    """The query string as it went out: generated values HTTP cannot carry (objects, nulls)
    are dropped by the serialisation, so what was sent is what the check must judge."""
    return parse_qs(urlsplit(url or "").query, keep_blank_values=True)


def _still_negative(case: Any, auth: dict[str, str], query: dict[str, list[str]]) -> bool:
    """Whether a case generated as invalid still is, as sent. Not when its only flaw was a
    missing or malformed Authorization header (replaced by the token), or a header HTTP cannot
    carry (dropped): then "accepted negative data" would be a false alarm."""
    meta = case.meta
    if case.data_generation_method is None or not case.data_generation_method.is_negative:
        return False
    if meta is None:
        return True
    if meta.body and meta.body.is_negative:
        return True
    validator = case.operation.schema.validator_cls
    for location, container in (
        ("path", "path_parameters"),
        ("query", "query"),
        ("header", "headers"),
        ("cookie", "cookies"),
    ):
        generated = getattr(meta, container)
        if generated is None or not generated.is_negative:
            continue
        parameters = getattr(case.operation, container)
        schema = get_schema_for_location(case.operation, location, parameters)
        sent = getattr(case, container) or {}
        if container == "query":
            sent = {name: _as_sent(parameters, name, values) for name, values in query.items()}
        if container == "headers":
            sent = {**sent, **auth}
        if container != "path_parameters":  # extra parameters are ignored, as the check does
            sent = {name: value for name, value in sent.items() if name in parameters}
        if not validator(schema).is_valid(sent):
            return True
    return False


def _as_sent(parameters: Any, name: str, values: list[str]) -> Any:
    """A query parameter as the server reads it: a list for an array, numbers as numbers."""
    schema: dict[str, Any] = {}
    for parameter in parameters:
        if parameter.name == name:
            schema = parameter.definition.get("schema", {})
    kinds = [schema, *schema.get("anyOf", [])]
    types = {kind.get("type") for kind in kinds}
    items = [item.get("items", {}).get("type") for item in kinds if item.get("type") == "array"]

    def typed(value: str, kind: str | None) -> Any:
        if kind == "integer" and re.fullmatch(r"-?[0-9]+", value):
            return int(value)
        return value

    if "array" in types:
        return [typed(value, items[0] if items else None) for value in values]
    return typed(values[0], "integer" if "integer" in types else None)
