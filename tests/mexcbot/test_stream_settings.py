"""The stream settings: a websocket URL is refused unless it is one, symbols are normalised."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mexcbot.config import Settings


def test_exchange_ws_url_must_be_a_websocket_url() -> None:
    with pytest.raises(ValidationError, match="exchange_ws_url must start with ws:// or wss://"):
        Settings(exchange_ws_url="https://wbs-api.mexc.com/ws")


def test_stream_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEXCBOT_EXCHANGE_WS_URL", "wss://example.test/ws")
    monkeypatch.setenv("MEXCBOT_STREAM_SYMBOLS", '["btcusdt", " ethusdt ", ""]')
    settings = Settings()
    assert settings.exchange_ws_url == "wss://example.test/ws"
    assert settings.stream_symbols == ["BTCUSDT", "ETHUSDT"]


def test_unset_ws_url_means_the_default_for_the_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """None: app.py picks MEXC's websocket live and the embedded simulator's /ws in paper mode
    (tests/mexcbot/api/test_stream_status.py runs the paper one)."""
    monkeypatch.delenv("MEXCBOT_EXCHANGE_WS_URL", raising=False)
    assert Settings().exchange_ws_url is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MEXCBOT_LIVE_MARKET_IDLE", "0"),
        ("MEXCBOT_LIVE_MARKET_MAX_SYMBOLS", "-1"),
        ("MEXCBOT_LIVE_MARKET_MAX_SYMBOLS", "1001"),
        ("MEXCBOT_LIVE_MARKET_STALE_AFTER", "0"),
        ("MEXCBOT_LIVE_MARKET_STALE_AFTER", "61"),
        ("MEXCBOT_LIVE_MARKET_TICKER_REFRESH", "-5"),
    ],
)
def test_live_market_settings_out_of_range_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    field = name.removeprefix("MEXCBOT_").lower()
    with pytest.raises(ValidationError, match=field):
        Settings()


def test_live_market_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEXCBOT_LIVE_MARKET_IDLE", "5")
    monkeypatch.setenv("MEXCBOT_LIVE_MARKET_MAX_SYMBOLS", "0")
    settings = Settings()
    assert (settings.live_market_idle, settings.live_market_max_symbols) == (5.0, 0)
    assert (settings.live_market_stale_after, settings.live_market_ticker_refresh) == (3.0, 5.0)
