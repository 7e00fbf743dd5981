"""A third-party MEXC client (ccxt's ``mexc``) trades against mexcsim through its unified API.

ccxt was written against the real api.mexc.com, not against this simulator, so if it can load
the markets, read market data, place, query and cancel orders by client order id and read balances
and trades, the simulator speaks MEXC well enough for clients other than ours. Only ccxt's spot
base URLs are pointed at the simulator; every request it builds and every response it parses is
its own. Each value ccxt reports is checked against what the simulator's exchange state says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any, TypeVar

import ccxt.async_support as ccxt
import pytest

from mexcsim import SimServer
from tests.fixtures.sim import SIM_API_KEY, SIM_API_SECRET

T = TypeVar("T")

BTC = "BTC/USDT"
ETH = "ETH/USDT"


class SpotOnlyMexc(ccxt.mexc):  # type: ignore[misc]
    """ccxt's mexc restricted to spot markets.

    ccxt declares ``options['fetchMarkets']['types']`` for mexc, but its ``fetch_markets`` (4.5.x)
    ignores it and always also asks the futures API (``/api/v1/contract/detail``), which is not
    part of spot and not served by mexcsim. This picks the market type only, the way the option
    would; the spot request and its parsing are ccxt's unchanged ``fetch_spot_markets``.
    """

    async def fetch_markets(self, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        markets: list[dict[str, Any]] = await self.fetch_spot_markets(params or {})
        return markets


@pytest.fixture
async def mexc(sim: SimServer) -> AsyncIterator[Any]:
    client = SpotOnlyMexc(
        {
            "apiKey": SIM_API_KEY,
            "secret": SIM_API_SECRET,
            "urls": {"api": {"spot": {"public": sim.url, "private": sim.url}}},
            # ccxt's own client-side throttle would sleep 1.25 s before each 24hr ticker; the
            # simulator enforces MEXC's real limits server-side anyway
            "enableRateLimit": False,
            "options": {
                "fetchMarkets": {
                    "types": {"spot": True, "swap": {"linear": False, "inverse": False}}
                }
            },
        }
    )
    try:
        yield client
    finally:
        await client.close()


async def settled(
    read_sim: Callable[[], T], read_client: Callable[[], Awaitable[Any]]
) -> tuple[T, Any]:
    """The simulator's view and ccxt's answer from one moment of a market that ticks every 50 ms.

    The read is repeated until the simulator's state is the same before and after ccxt's request,
    so the two can be compared exactly.
    """
    for _ in range(20):
        before = read_sim()
        answer = await read_client()
        if read_sim() == before:
            return before, answer
    pytest.fail("the simulated market never held still for the length of one request")


def without(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in keys}


def num(value: object) -> float:
    """A simulator string as ccxt's float (ccxt parses MEXC's decimal strings with float())."""
    return float(str(value))


def sim_order(sim: SimServer, symbol: str, client_order_id: str) -> dict[str, Any]:
    view = sim.exchange.query_order(
        SIM_API_KEY, {"symbol": symbol, "origClientOrderId": client_order_id}
    )
    return dict(view)


async def test_load_markets_reads_exchange_info_and_coin_list(mexc: Any, sim: SimServer) -> None:
    markets = await mexc.load_markets()

    listed = sim.exchange.exchange_info(None)["symbols"]
    assert isinstance(listed, list)
    assert {m["id"] for m in markets.values()} == {s["symbol"] for s in listed}
    assert all(m["spot"] and m["type"] == "spot" and m["active"] for m in markets.values())

    spec = next(s for s in listed if s["symbol"] == "BTCUSDT")
    btc = markets[BTC]
    assert (btc["base"], btc["quote"]) == (spec["baseAsset"], spec["quoteAsset"])
    assert btc["precision"]["amount"] == 10 ** -int(spec["baseAssetPrecision"])
    assert btc["precision"]["price"] == 10 ** -int(spec["quoteAssetPrecision"])
    assert btc["limits"]["amount"]["min"] == num(spec["baseSizePrecision"])
    assert btc["limits"]["cost"]["min"] == num(spec["quoteAmountPrecision"])
    assert btc["limits"]["cost"]["max"] == num(spec["maxQuoteAmount"])
    assert btc["taker"] == num(spec["takerCommission"])
    assert btc["maker"] == num(spec["makerCommission"])

    # ccxt names the currencies from GET /api/v3/capital/config/getall
    assets = {s["baseAsset"] for s in listed} | {s["quoteAsset"] for s in listed}
    assert set(mexc.currencies) == assets
    assert mexc.currencies["BTC"]["name"] == spec["fullName"]
    assert mexc.currencies["USDT"]["name"] == "Tether USD"
    # a simulated account has no chains: every network is closed for deposits and withdrawals
    assert not mexc.currencies["BTC"]["deposit"]
    assert not mexc.currencies["BTC"]["withdraw"]


async def test_tickers_book_and_klines_match_the_simulated_market(
    mexc: Any, sim: SimServer
) -> None:
    exchange = sim.exchange
    await mexc.load_markets()

    stats, ticker = await settled(
        lambda: without(exchange.ticker_24hr("BTCUSDT"), "openTime", "closeTime"),
        lambda: mexc.fetch_ticker(BTC),
    )
    assert ticker["symbol"] == BTC
    for ccxt_field, sim_field in {
        "last": "lastPrice",
        "open": "openPrice",
        "high": "highPrice",
        "low": "lowPrice",
        "bid": "bidPrice",
        "bidVolume": "bidQty",
        "ask": "askPrice",
        "askVolume": "askQty",
        "baseVolume": "volume",
        "quoteVolume": "quoteVolume",
    }.items():
        assert ticker[ccxt_field] == num(stats[sim_field]), ccxt_field

    def last_prices() -> dict[str, str]:
        everything = exchange.ticker_24hr(None)
        assert isinstance(everything, list)
        return {str(t["symbol"]): str(t["lastPrice"]) for t in everything}

    prices, tickers = await settled(last_prices, lambda: mexc.fetch_tickers([BTC, ETH]))
    assert set(tickers) == {BTC, ETH}
    assert tickers[BTC]["last"] == num(prices["BTCUSDT"])
    assert tickers[ETH]["last"] == num(prices["ETHUSDT"])

    depth, book = await settled(
        lambda: without(exchange.depth("BTCUSDT", 20), "timestamp"),
        lambda: mexc.fetch_order_book(BTC, 20),
    )
    assert book["nonce"] == depth["lastUpdateId"]
    assert book["bids"] == [[num(p), num(q)] for p, q in depth["bids"]]
    assert book["asks"] == [[num(p), num(q)] for p, q in depth["asks"]]
    assert book["bids"]
    assert book["asks"]
    assert book["bids"][0][0] < book["asks"][0][0]

    # ccxt's "1h" is MEXC's "60m": the interval vocabulary has to match real MEXC's
    for timeframe, interval in (("1m", "1m"), ("1h", "60m")):
        rows, candles = await settled(
            lambda interval=interval: exchange.klines("BTCUSDT", interval, None, None, 5),
            lambda timeframe=timeframe: mexc.fetch_ohlcv(BTC, timeframe, limit=5),
        )
        assert candles
        assert candles == [[int(r[0]), *(num(v) for v in r[1:6])] for r in rows], timeframe


async def test_limit_order_placed_queried_and_canceled_by_client_order_id(
    mexc: Any, sim: SimServer
) -> None:
    exchange = sim.exchange
    await mexc.load_markets()
    bid = Decimal(str(exchange.book_ticker("BTCUSDT")["bidPrice"]))
    price = (bid * Decimal("0.9")).quantize(Decimal("0.01"), ROUND_DOWN)  # far below: stays open
    amount = Decimal("0.002")
    usdt_before = exchange.balances(SIM_API_KEY)["USDT"]

    placed = await mexc.create_order(
        BTC, "limit", "buy", float(amount), float(price), {"clientOrderId": "ccxt-limit-1"}
    )
    on_sim = sim_order(sim, "BTCUSDT", "ccxt-limit-1")
    assert placed["id"] == on_sim["orderId"]
    assert (placed["price"], placed["amount"]) == (float(price), float(amount))
    assert on_sim["status"] == "NEW"

    fetched = await mexc.fetch_order(None, BTC, {"clientOrderId": "ccxt-limit-1"})
    assert fetched["id"] == on_sim["orderId"]
    assert fetched["clientOrderId"] == "ccxt-limit-1"
    assert (fetched["status"], fetched["type"], fetched["side"]) == ("open", "limit", "buy")
    assert (fetched["price"], fetched["amount"]) == (float(price), float(amount))
    assert (fetched["filled"], fetched["remaining"]) == (0.0, float(amount))

    open_orders = await mexc.fetch_open_orders(BTC)
    assert [o["id"] for o in open_orders] == [on_sim["orderId"]]

    balance = await mexc.fetch_balance()
    free, locked = exchange.balances(SIM_API_KEY)["USDT"]
    assert locked == price * amount
    assert (balance["USDT"]["free"], balance["USDT"]["used"]) == (float(free), float(locked))

    canceled = await mexc.cancel_order(None, BTC, {"clientOrderId": "ccxt-limit-1"})
    assert canceled["id"] == on_sim["orderId"]
    assert canceled["status"] == "canceled"
    assert sim_order(sim, "BTCUSDT", "ccxt-limit-1")["status"] == "CANCELED"

    refetched = await mexc.fetch_order(None, BTC, {"clientOrderId": "ccxt-limit-1"})
    assert refetched["status"] == "canceled"
    assert await mexc.fetch_open_orders(BTC) == []
    balance = await mexc.fetch_balance()
    assert exchange.balances(SIM_API_KEY)["USDT"] == usdt_before
    assert (balance["USDT"]["free"], balance["USDT"]["used"]) == (float(usdt_before[0]), 0.0)

    # canceling it again is MEXC's "Unknown order sent." (-2011), which ccxt maps to BadRequest
    with pytest.raises(ccxt.BadRequest, match="-2011"):
        await mexc.cancel_order(None, BTC, {"clientOrderId": "ccxt-limit-1"})


async def test_market_buys_by_quote_amount_then_balances_and_trades(
    mexc: Any, sim: SimServer
) -> None:
    exchange = sim.exchange
    await mexc.load_markets()
    start = exchange.balances(SIM_API_KEY)

    ack = await mexc.create_market_buy_order_with_cost(BTC, 500, {"clientOrderId": "ccxt-mkt-btc"})
    btc_order = sim_order(sim, "BTCUSDT", "ccxt-mkt-btc")
    assert ack["id"] == btc_order["orderId"]
    assert btc_order["origQuoteOrderQty"] == "500"

    fetched = await mexc.fetch_order(None, BTC, {"clientOrderId": "ccxt-mkt-btc"})
    assert fetched["id"] == btc_order["orderId"]
    assert fetched["clientOrderId"] == "ccxt-mkt-btc"
    assert (fetched["status"], fetched["type"], fetched["side"]) == ("closed", "market", "buy")
    assert fetched["filled"] == num(btc_order["executedQty"]) > 0
    assert fetched["cost"] == num(btc_order["cummulativeQuoteQty"])
    spent_btc = Decimal(str(btc_order["cummulativeQuoteQty"]))
    assert Decimal(499) < spent_btc <= Decimal(500)  # the quote amount, down to lot rounding

    # the other spelling ccxt offers: a plain market order with MEXC's quoteOrderQty parameter
    await mexc.create_order(
        ETH, "market", "buy", None, None, {"quoteOrderQty": 100, "clientOrderId": "ccxt-mkt-eth"}
    )
    eth_order = sim_order(sim, "ETHUSDT", "ccxt-mkt-eth")
    assert eth_order["status"] == "FILLED"
    spent_eth = Decimal(str(eth_order["cummulativeQuoteQty"]))
    assert Decimal(99) < spent_eth <= Decimal(100)

    trades = await mexc.fetch_my_trades(BTC)
    sim_trades = exchange.my_trades(SIM_API_KEY, {"symbol": "BTCUSDT"})
    assert [t["id"] for t in trades] == [str(t["id"]) for t in sim_trades]
    assert {t["order"] for t in trades} == {btc_order["orderId"]}
    for mine, theirs in zip(trades, sim_trades, strict=True):
        assert (mine["side"], mine["takerOrMaker"]) == ("buy", "taker")
        assert mine["price"] == num(theirs["price"])
        assert mine["amount"] == num(theirs["qty"])
        assert mine["cost"] == num(theirs["quoteQty"])
        assert mine["fee"] == {"currency": "BTC", "cost": num(theirs["commission"])}
    bought = sum(Decimal(str(t["qty"])) for t in sim_trades)
    fees = sum(Decimal(str(t["commission"])) for t in sim_trades)
    assert bought == Decimal(str(btc_order["executedQty"]))
    assert fees > 0  # BTCUSDT charges takers 0.05 %, paid in the bought asset

    balance = await mexc.fetch_balance()
    now = exchange.balances(SIM_API_KEY)
    assert now["USDT"] == (start["USDT"][0] - spent_btc - spent_eth, Decimal(0))
    assert now["BTC"] == (start["BTC"][0] + bought - fees, Decimal(0))
    for asset, (free, locked) in now.items():
        assert balance[asset] == {
            "free": float(free),
            "used": float(locked),
            "total": float(free + locked),
        }, asset


async def test_recorded_error_answers_reach_ccxt_as_its_own_error_classes(
    mexc: Any, sim: SimServer
) -> None:
    """What ccxt 4.5.90 makes of each of MEXC's recorded error answers (issue 15).

    ccxt maps MEXC's codes itself (``exceptions['exact']``, after ``['broad']`` on the body): it
    knows no ``-2013`` (so: ``ExchangeError``) and maps ``-2011`` and ``400`` to ``BadRequest``;
    neither reaches its ``OrderNotFound``. These assertions pin ccxt's real behaviour.
    """
    exchange = sim.exchange
    await mexc.load_markets()

    # query of an unknown order: -2013 "Order does not exist." with "_extend":null
    with pytest.raises(ccxt.ExchangeError, match="-2013") as unknown:
        await mexc.fetch_order(None, BTC, {"clientOrderId": "ccxt-never-placed"})
    assert type(unknown.value) is ccxt.ExchangeError
    # cancel of an unknown order: -2011 "Unknown order sent."
    with pytest.raises(ccxt.BadRequest, match="Unknown order sent"):
        await mexc.cancel_order(None, BTC, {"clientOrderId": "ccxt-never-placed"})

    # too many decimals: ccxt rounds create_order's amounts to the market's precision itself, so
    # the raw endpoint (ccxt's own signing and error handling) sends the extra decimal
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001"}
    with pytest.raises(ccxt.BadRequest, match="price scale is invalid"):
        await mexc.spot_private_post_order({**order, "price": "30000.001"})
    with pytest.raises(ccxt.BadRequest, match="quantity scale is invalid"):
        await mexc.spot_private_post_order({**order, "quantity": "0.0010000", "price": "30000"})

    # 500 open orders: 30029 "Cannot exceed the maximum order limit"
    bid = Decimal(str(exchange.book_ticker("BTCUSDT")["bidPrice"]))
    low = (bid * Decimal("0.9")).quantize(Decimal("0.01"), ROUND_DOWN)
    resting = {**order, "quantity": "0.0001", "price": str(low)}
    while len(exchange.open_orders(SIM_API_KEY, {})) < 500:
        exchange.place_order(SIM_API_KEY, resting)
    with pytest.raises(ccxt.InvalidOrder, match="Cannot exceed the maximum order limit"):
        await mexc.create_order(BTC, "limit", "buy", 0.0001, float(low))
    exchange.cancel_open_orders(SIM_API_KEY, {"symbol": "BTCUSDT"})


async def test_post_only_order_that_would_take_is_accepted_then_canceled(
    mexc: Any, sim: SimServer
) -> None:
    await mexc.load_markets()
    ask = Decimal(str(sim.exchange.book_ticker("BTCUSDT")["askPrice"]))
    crossing = (ask * Decimal("1.01")).quantize(Decimal("0.01"), ROUND_DOWN)
    placed = await mexc.create_order(
        BTC, "limit", "buy", 0.001, float(crossing), {"postOnly": True, "clientOrderId": "ccxt-pm"}
    )
    on_sim = sim_order(sim, "BTCUSDT", "ccxt-pm")
    assert placed["id"] == on_sim["orderId"]
    assert (on_sim["type"], on_sim["status"], on_sim["executedQty"]) == (
        "LIMIT_MAKER",
        "CANCELED",
        "0",
    )
    fetched = await mexc.fetch_order(None, BTC, {"clientOrderId": "ccxt-pm"})
    assert (fetched["status"], fetched["filled"]) == ("canceled", 0.0)
