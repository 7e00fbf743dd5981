"""Log formatting and redaction (mexcbot.telemetry)."""

from __future__ import annotations

import io
import json
import logging

from mexcbot.config import LogFormat
from mexcbot.telemetry import configure_logging, order_context, redactor, request_id_var


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _emit(stream: io.StringIO, message: str, *args: object) -> str:
    handler = configure_logging(LogFormat.AUTO, "INFO", stream=stream)
    try:
        logging.getLogger("mexcbot.test").info(message, *args)
    finally:
        logging.getLogger().removeHandler(handler)
    return stream.getvalue().strip()


def test_json_off_a_terminal_with_context_ids() -> None:
    token = request_id_var.set("req-1")
    try:
        with order_context("mxbabc"):
            line = _emit(io.StringIO(), "placed %s", "it")
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["message"] == "placed it"
    assert entry["request_id"] == "req-1"
    assert entry["client_order_id"] == "mxbabc"
    assert entry["level"] == "INFO"


def test_readable_text_on_a_terminal() -> None:
    line = _emit(_Terminal(), "hello %d", 5)
    assert "INFO" in line
    assert "mexcbot.test: hello 5" in line
    assert not line.startswith("{")


def test_registered_secrets_are_masked() -> None:
    redactor.add("super-secret-value-123", "short")
    try:
        line = _emit(io.StringIO(), "oops %s and short", "super-secret-value-123")
    finally:
        redactor.discard("super-secret-value-123", "short")
    assert "super-secret-value-123" in redactor.redact("super-secret-value-123")
    assert "super-secret-value-123" not in line
    assert "***" in line
    assert "short" in line  # too short to be a secret: never masked
