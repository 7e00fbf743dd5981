"""New listings: hidden before the open (10007, zero data), a late API open, a thin opening book
that fills in, the web symbol list and announcements, the acceptance log, and the schedule kept
across a save and a restore."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from mexcsim import SimExchange
from mexcsim.errors import SimError
from mexcsim.market.discovery import GENESIS_OPEN_MS
from mexcsim.market.liquidity import LEVELS_PER_SIDE, OPENING_LEVELS_PER_SIDE
from mexcsim.market.symbols import DEFAULT_SYMBOLS, SymbolSpec
from mexcsim.state.document import decode_world, encode_world
from mexcsim.world import Command
from tests.fixtures.sim_core import ManualClock

NEW = replace(
    DEFAULT_SYMBOLS[3], symbol="NEWUSDT", base_asset="NEW", full_name="New Coin", status="1"
)
ORDER = {"symbol": "NEWUSDT", "side": "BUY", "type": "LIMIT", "quantity": "100", "price": "0.5"}
NOT_SUPPORTED = (400, {"code": 10007, "msg": "symbol not support api"})


def coin(base: str) -> SymbolSpec:
    return replace(NEW, symbol=f"{base}USDT", base_asset=base, full_name=f"{base} Coin")


def refusal(exchange: SimExchange, params: dict[str, str]) -> tuple[int, dict[str, object]]:
    with pytest.raises(SimError) as err:
        exchange.place_order("alice", params)
    return err.value.http_status, err.value.body()


def ask_levels(exchange: SimExchange) -> list[list[str]]:
    asks = exchange.depth("NEWUSDT", 50)["asks"]
    assert isinstance(asks, list)
    return asks


def test_listing_before_and_after_open(live_exchange: SimExchange, clock: ManualClock) -> None:
    opens = clock.now + 60_000
    live_exchange.schedule_listing(NEW, opens, Decimal("0.5"))
    assert "NEWUSDT" not in live_exchange.default_symbols()["data"]  # type: ignore[operator]
    entry = live_exchange.exchange_info(["NEWUSDT"])["symbols"][0]  # type: ignore[index]
    assert (entry["status"], entry["firstOpenTime"]) == ("2", opens)
    assert refusal(live_exchange, ORDER) == NOT_SUPPORTED
    coins = live_exchange.new_coin_calendar()["data"]["newCoins"]  # type: ignore[index]
    assert coins[0]["vcoinName"] == "NEW"
    assert coins[0]["vcoinNameFull"] == "New Coin"
    assert coins[0]["firstOpenTime"] == opens
    assert len(coins[0]["vcoinId"]) == 32

    clock.advance(60_000)
    assert "NEWUSDT" in live_exchange.default_symbols()["data"]  # type: ignore[operator]
    entry = live_exchange.exchange_info(["NEWUSDT"])["symbols"][0]  # type: ignore[index]
    assert (entry["status"], entry["firstOpenTime"]) == ("1", opens)
    btc = live_exchange.exchange_info(["BTCUSDT"])["symbols"][0]  # type: ignore[index]
    assert btc["firstOpenTime"] == GENESIS_OPEN_MS
    assert live_exchange.ticker_price("NEWUSDT") == {"symbol": "NEWUSDT", "price": "0.5"}
    ack = live_exchange.place_order("alice", {**ORDER, "price": "0.51"})
    view = live_exchange.query_order("alice", {"symbol": "NEWUSDT", "orderId": ack["orderId"]})
    assert view["status"] == "FILLED"  # against the thin opening book
    live_exchange.advance()


def test_public_data_of_a_pending_listing_is_empty_or_zero(
    live_exchange: SimExchange, clock: ManualClock
) -> None:
    live_exchange.schedule_listing(NEW, clock.now + 60_000, Decimal("0.5"))
    ex = live_exchange
    depth = ex.depth("newusdt", 5)
    assert depth == {"lastUpdateId": 0, "bids": [], "asks": [], "timestamp": clock.now}
    assert ex.ticker_price("NEWUSDT") == {"symbol": "NEWUSDT", "price": "0"}
    assert ex.book_ticker("NEWUSDT") == {
        "symbol": "NEWUSDT",
        "bidPrice": "0",
        "bidQty": "0",
        "askPrice": "0",
        "askQty": "0",
    }
    ticker = ex.ticker_24hr("NEWUSDT")
    assert isinstance(ticker, dict)
    assert ticker["lastPrice"] == ticker["volume"] == ticker["bidPrice"] == "0"
    assert (ticker["count"], ticker["closeTime"]) == (0, clock.now)
    assert ex.trades("NEWUSDT", None) == []
    assert ex.agg_trades("NEWUSDT", None, None, None) == []
    assert ex.klines("NEWUSDT", "1m", None, None, None) == []
    assert ex.avg_price("NEWUSDT") == {"mins": 5, "price": "0"}
    # the list forms hold only open markets; bad parameters and unknown names still fail
    tickers = ex.ticker_price(None)
    assert isinstance(tickers, list)
    assert "NEWUSDT" not in {t["symbol"] for t in tickers}
    with pytest.raises(SimError) as err:
        ex.klines("NEWUSDT", "1h", None, None, None)
    assert "interval" in err.value.msg
    with pytest.raises(SimError) as err:
        ex.depth("NOPEUSDT", 5)
    assert err.value.code == -1121


def test_a_late_listing_shows_its_announced_time_but_opens_after_the_delay(
    live_exchange: SimExchange, clock: ManualClock
) -> None:
    opens = clock.now + 1_000
    live_exchange.schedule_listing(NEW, opens, Decimal("0.5"), api_open_delay_ms=700)
    clock.advance(1_000)  # the announced time has come
    coins = live_exchange.new_coin_calendar()["data"]["newCoins"]  # type: ignore[index]
    assert coins[0]["firstOpenTime"] == opens
    entry = live_exchange.exchange_info(["NEWUSDT"])["symbols"][0]  # type: ignore[index]
    assert (entry["status"], entry["firstOpenTime"]) == ("2", opens)
    assert refusal(live_exchange, ORDER) == NOT_SUPPORTED
    assert [r["status"] for r in live_exchange.listings_report()] == ["pending"]
    clock.advance(699)
    assert refusal(live_exchange, ORDER) == NOT_SUPPORTED
    clock.advance(1)
    assert "orderId" in live_exchange.place_order("alice", ORDER)
    row = live_exchange.listings_report()[0]
    assert (row["status"], row["open_time"], row["api_open_time"]) == ("open", opens, opens + 700)
    assert row["api_open_delay_ms"] == 700


def test_the_opening_book_is_thin_then_fills_in_over_the_ramp(clock: ManualClock) -> None:
    ex = SimExchange(seed=3, now_ms=clock, history=False)
    ex.schedule_listing(NEW, clock.now, Decimal("0.5"), book_ramp_ms=10_000)
    opening = ask_levels(ex)
    assert len(opening) == OPENING_LEVELS_PER_SIDE
    clock.advance(5_000)
    ex.advance()
    halfway = ask_levels(ex)
    assert OPENING_LEVELS_PER_SIDE < len(halfway) < LEVELS_PER_SIDE
    clock.advance(5_000)
    ex.advance()
    full = ask_levels(ex)
    assert len(full) == LEVELS_PER_SIDE

    def notional(levels: list[list[str]]) -> Decimal:
        return sum((Decimal(p) * Decimal(q) for p, q in levels[:3]), Decimal(0))

    assert notional(opening) * 3 < notional(full)  # the first levels are small, too


def test_without_a_ramp_the_listing_opens_on_the_full_book(clock: ManualClock) -> None:
    ex = SimExchange(seed=3, now_ms=clock, history=False, listing_book_ramp_ms=0)
    ex.schedule_listing(NEW, clock.now, Decimal("0.5"))
    assert len(ask_levels(ex)) == LEVELS_PER_SIDE


def test_the_acceptance_log_times_each_accepted_order_and_counts_10007(
    live_exchange: SimExchange, clock: ManualClock
) -> None:
    opens = clock.now + 1_000
    live_exchange.schedule_listing(NEW, opens, Decimal("0.5"))
    refusal(live_exchange, ORDER)
    refusal(live_exchange, ORDER)
    clock.advance(1_000)
    live_exchange.place_order("alice", {**ORDER, "newClientOrderId": "snipe-1"})
    clock.advance(3)
    live_exchange.place_order(
        "alice", {"symbol": "NEWUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "5"}
    )
    with pytest.raises(SimError):  # invalid: never accepted, not a 10007 either
        live_exchange.place_order("alice", {**ORDER, "quantity": "-1"})
    report = live_exchange.accepted_orders("newusdt")
    assert report["symbol"] == "NEWUSDT"
    assert report["refused10007"] == 2
    orders = report["orders"]
    assert isinstance(orders, list)
    assert [(o["clientOrderId"], o["side"], o["type"]) for o in orders] == [
        ("snipe-1", "BUY", "LIMIT"),
        (None, "BUY", "MARKET"),
    ]
    assert [o["acceptedAtUs"] for o in orders] == [opens * 1000, (opens + 3) * 1000]
    assert all(str(o["orderId"]).startswith("C02__") for o in orders)
    assert live_exchange.acceptance_counts() == {
        "accepted": {"NEWUSDT": 2},
        "refused10007": {"NEWUSDT": 2},
    }


def test_web_symbol_list_has_open_markets_and_pending_listings(
    live_exchange: SimExchange, clock: ManualClock
) -> None:
    opens = clock.now + 60_000
    live_exchange.schedule_listing(NEW, opens, Decimal("0.5"))
    answer = live_exchange.web_symbols()
    assert answer["code"] == 0
    groups = answer["data"]["symbols"]  # type: ignore[index]
    assert list(groups) == ["USDT"]
    by_base = {e["vn"]: e for e in groups["USDT"]}
    assert set(by_base) == {"BTC", "ETH", "MX", "KAS", "PEPE", "METAL", "NEW"}
    new = by_base["NEW"]
    calendar = live_exchange.new_coin_calendar()["data"]["newCoins"][0]  # type: ignore[index]
    assert new["cd"] == calendar["vcoinId"]
    assert (new["ot"], new["fn"], new["sts"], new["st"], new["tt"]) == (opens, "New Coin", 2, 2, 4)
    assert (new["ps"], new["qs"]) == (NEW.quote_asset_precision, NEW.base_asset_precision)
    assert by_base["BTC"]["ot"] == GENESIS_OPEN_MS
    assert (by_base["BTC"]["sts"], by_base["BTC"]["tt"]) == (1, 1)
    assert new["mcd"] == by_base["BTC"]["mcd"]  # the same quote currency
    keys = {"mcd", "cd", "vn", "fn", "fne", "srt", "sts", "tp", "in", "ot", "cp", "ci", "ps", "qs"}
    assert keys | {"cdm", "st", "dst", "tt", "ca"} == set(new)
    clock.advance(60_000)
    groups = live_exchange.web_symbols()["data"]["symbols"]  # type: ignore[index]
    new = next(e for e in groups["USDT"] if e["vn"] == "NEW")
    assert (new["ot"], new["sts"], new["tt"]) == (opens, 1, 1)


def test_scheduling_a_listing_posts_an_announcement(
    live_exchange: SimExchange, clock: ManualClock
) -> None:
    clock.now = 1_796_133_600_000 - 3_600_000  # an hour before 2026-12-01 14:00 UTC
    live_exchange.schedule_listing(NEW, 1_796_133_600_000, Decimal("0.5"))
    clock.advance(10)
    live_exchange.schedule_listing(coin("ODD"), 1_796_133_600_000 + 1_500, Decimal("1"))
    answer = live_exchange.announcements(1, 20)
    assert (answer["code"], answer["msg"]) == (0, "success")
    page = answer["data"][0]  # type: ignore[index]
    assert page["totalPage"] == 1
    titles = [d["title"] for d in page["details"]]
    assert titles == [
        "MEXC Will List ODD Coin (ODD), Trading opens 2026-12-01 14:00:01 (UTC)",
        "MEXC Will List New Coin (NEW), Trading opens 2026-12-01 14:00 (UTC)",
    ]
    newest = page["details"][0]
    assert newest["postTime"] == clock.now
    assert newest["language"] == "en-US"
    assert newest["url"].startswith("https://www.mexc.com/support/articles/")
    second = live_exchange.announcements(2, 1)["data"][0]  # type: ignore[index]
    assert second["totalPage"] == 2
    assert [d["title"] for d in second["details"]] == titles[1:]


def test_fifty_listings_open_one_by_one_on_time(
    live_exchange: SimExchange, clock: ManualClock
) -> None:
    first = clock.now + 1_000
    for n in range(50):
        live_exchange.schedule_listing(coin(f"C{n:02d}"), first + n * 1_000, Decimal("0.5"))
    assert live_exchange.next_listing_open_ms() == first
    clock.advance(10_500)  # the first ten have opened (1 s apart from T+1 s)
    live_exchange.default_symbols()
    statuses = [row["status"] for row in live_exchange.listings_report()]
    assert statuses == ["open"] * 10 + ["pending"] * 40
    assert live_exchange.next_listing_open_ms() == first + 10_000
    clock.advance(40_000)
    live_exchange.default_symbols()
    assert live_exchange.next_listing_open_ms() is None
    assert {row["status"] for row in live_exchange.listings_report()} == {"open"}


def test_the_schedule_survives_a_save_and_a_restore(clock: ManualClock) -> None:
    ex = SimExchange(seed=4, now_ms=clock, history=False)
    ex.schedule_listing(NEW, clock.now + 1_000, Decimal("0.5"), api_open_delay_ms=400)
    ex.schedule_listing(coin("RAMP"), clock.now, Decimal("0.5"), book_ramp_ms=20_000)
    clock.advance(5_000)
    ex.advance()
    document = json.loads(json.dumps(encode_world(ex.snapshot())))
    assert document["version"] == 3
    twin = SimExchange(seed=99, now_ms=clock, history=False)
    twin.restore(decode_world(document))
    assert twin.listings_report() == ex.listings_report()
    assert twin.announcements(1, 20) == ex.announcements(1, 20)
    assert twin.depth("RAMPUSDT", 50) == ex.depth("RAMPUSDT", 50)
    for exchange in (twin, ex):  # both keep filling the book in the same way
        clock.advance(5_000)
        exchange.advance()
        clock.advance(-5_000)
    assert twin.depth("RAMPUSDT", 50) == ex.depth("RAMPUSDT", 50)


def test_a_version_2_document_reads_listings_as_on_time_with_a_full_book(
    clock: ManualClock,
) -> None:
    ex = SimExchange(seed=4, now_ms=clock, history=False)
    ex.schedule_listing(NEW, clock.now + 1_000, Decimal("0.5"), api_open_delay_ms=400)
    document = json.loads(json.dumps(encode_world(ex.snapshot())))
    document["version"] = 2
    listings = document["listings"]
    assert isinstance(listings, dict)
    for item in listings["pending"]:
        for name in ("api_open_delay_ms", "announced_at_ms", "book_ramp_ms"):
            del item[name]
    for venue in document["venues"]:  # type: ignore[attr-defined]
        del venue["market"]["opening_ramp"]
    twin = SimExchange(now_ms=clock, history=False)
    twin.restore(decode_world(document))
    row = twin.listings_report()[0]
    assert (row["api_open_delay_ms"], row["book_ramp_ms"]) == (0, 0)
    assert row["announced_at"] == row["open_time"]
    clock.advance(1_000)
    assert len(twin.depth("NEWUSDT", 50)["asks"]) == LEVELS_PER_SIDE  # type: ignore[arg-type]


def test_listing_already_open_at_schedule_time(clock: ManualClock) -> None:
    ex = SimExchange(now_ms=clock)
    ex.schedule_listing(NEW, clock.now - 1, Decimal("0.5"))
    assert "NEWUSDT" in ex.default_symbols()["data"]  # type: ignore[operator]
    with pytest.raises(SimError):
        ex.schedule_listing(NEW, clock.now, Decimal("0.5"))
    with pytest.raises(SimError):
        ex.schedule_listing(coin("NEG"), clock.now, Decimal("0.5"), api_open_delay_ms=-1)


def test_order_queries_on_a_pending_listing_find_nothing_rather_than_an_invalid_symbol(
    live_exchange: SimExchange, clock: ManualClock
) -> None:
    live_exchange.schedule_listing(NEW, clock.now + 60_000, Decimal("0.5"))
    by_client_id = {"symbol": "NEWUSDT", "origClientOrderId": "snipe-1"}
    with pytest.raises(SimError) as err:
        live_exchange.query_order("alice", by_client_id)
    assert err.value.code == -2013
    with pytest.raises(SimError) as err:
        live_exchange.cancel_order("alice", by_client_id)
    assert err.value.code == -2011
    symbol = {"symbol": "NEWUSDT"}
    assert live_exchange.open_orders("alice", symbol) == []
    assert live_exchange.all_orders("alice", symbol) == []
    assert live_exchange.my_trades("alice", symbol) == []
    assert live_exchange.cancel_open_orders("alice", symbol) == []
    with pytest.raises(SimError) as err:
        live_exchange.query_order("alice", {**by_client_id, "symbol": "NOPEUSDT"})
    assert err.value.code == -1121


def test_a_partial_tick_moves_only_the_markets_named_and_replays_exactly(
    clock: ManualClock,
) -> None:
    ex = SimExchange(seed=2, now_ms=clock, history=False)
    base = ex.snapshot()
    commands: list[Command] = []
    ex.record_commands(commands.append)
    ex.schedule_listing(NEW, clock.now, Decimal("0.5"))
    assert ex.market_symbols()[-1] == "NEWUSDT"
    versions = {s: ex.depth(s, 1)["lastUpdateId"] for s in ex.market_symbols()}
    clock.advance(250)
    ex.advance(["BTCUSDT", "NEWUSDT", "NOPEUSDT"])
    moved = {s for s in ex.market_symbols() if ex.depth(s, 1)["lastUpdateId"] != versions[s]}
    assert moved == {"BTCUSDT", "NEWUSDT"}
    clock.advance(250)
    ex.advance()
    twin = SimExchange(seed=2, now_ms=clock, history=False)
    twin.restore(base)
    for command in commands:
        twin.replay(command)
    assert encode_world(twin.snapshot()) == encode_world(ex.snapshot())
