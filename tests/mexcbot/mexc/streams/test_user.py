"""UserDataStream against the loopback exchange with the real REST client: listen key creation,
the three private channels, decoded private pushes, keepalive, key replacement, deletion."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from mexcbot.domain.orders import OrderStatus
from mexcbot.mexc.rest import MexcClient, MexcClientConfig
from mexcbot.mexc.streams import (
    BalanceUpdate,
    FillUpdate,
    InvalidListenKey,
    OrderUpdate,
    StreamConfig,
    StreamConnected,
    StreamItem,
    UserDataStream,
)
from mexcbot.mexc.streams.channels import PRIVATE_CHANNELS
from mexcproto.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper
from tests.fixtures.ws_exchange import WsExchange


@pytest.fixture
async def rest(ws_exchange: WsExchange) -> AsyncIterator[MexcClient]:
    config = MexcClientConfig(
        api_key="key", api_secret="secret", base_url=ws_exchange.url, rate_limit=False
    )
    async with MexcClient(config) as client:
        yield client


def config(exchange: WsExchange) -> StreamConfig:
    return StreamConfig(url=exchange.ws_url, reconnect_initial_s=0.01, reconnect_max_s=0.05)


async def next_of(stream: UserDataStream, kind: type[StreamItem]) -> StreamItem:
    async with asyncio.timeout(5):
        while True:
            item = await stream.next()
            if isinstance(item, kind):
                return item


def private_pushes() -> list[PushDataV3ApiWrapper]:
    order = PushDataV3ApiWrapper(channel="spot@private.orders.v3.api.pb", symbol="BTCUSDT")
    order.privateOrders.id, order.privateOrders.clientId = "C02__9", "bot-1"
    order.privateOrders.status, order.privateOrders.cumulativeQuantity = 2, "0.01"
    fill = PushDataV3ApiWrapper(channel="spot@private.deals.v3.api.pb", symbol="BTCUSDT")
    fill.privateDeals.tradeId, fill.privateDeals.orderId = "T1", "C02__9"
    fill.privateDeals.feeAmount, fill.privateDeals.feeCurrency = "0.00001", "BTC"
    balance = PushDataV3ApiWrapper(channel="spot@private.account.v3.api.pb", createTime=1)
    balance.privateAccount.vcoinName, balance.privateAccount.balanceAmount = "USDT", "12.5"
    return [order, fill, balance]


async def test_private_pushes_arrive_decoded_and_close_deletes_the_key(
    ws_exchange: WsExchange, rest: MexcClient
) -> None:
    async with UserDataStream(rest, config(ws_exchange), rng=random.Random(6)) as stream:
        await ws_exchange.wait_until(lambda: ws_exchange.subscribed() == set(PRIVATE_CHANNELS))
        (key,) = ws_exchange.keys_created
        assert stream.listen_key == key
        assert ws_exchange.live_peers()[0].listen_key == key
        for push in private_pushes():
            await ws_exchange.publish(push)
        order = await next_of(stream, OrderUpdate)
        fill = await next_of(stream, FillUpdate)
        balance = await next_of(stream, BalanceUpdate)
        assert isinstance(order, OrderUpdate)
        assert isinstance(fill, FillUpdate)
        assert isinstance(balance, BalanceUpdate)
        assert (order.order_id, order.status, order.executed_qty) == (
            "C02__9",
            OrderStatus.FILLED,
            Decimal("0.01"),
        )
        assert (fill.trade_id, fill.fee, fill.fee_asset) == ("T1", Decimal("0.00001"), "BTC")
        assert (balance.asset, balance.free) == ("USDT", Decimal("12.5"))
    assert ws_exchange.deleted_keys == [key]


async def test_invalid_listen_key_gets_a_new_key_and_resubscribes(
    ws_exchange: WsExchange, rest: MexcClient
) -> None:
    async with UserDataStream(rest, config(ws_exchange), rng=random.Random(7)) as stream:
        await next_of(stream, StreamConnected)
        (old,) = ws_exchange.keys_created
        ws_exchange.expire_key(old)
        await ws_exchange.drop_connections()  # the reconnect with the old key is refused
        assert isinstance(await next_of(stream, InvalidListenKey), InvalidListenKey)
        await ws_exchange.wait_until(
            lambda: (
                len(ws_exchange.keys_created) == 2
                and ws_exchange.subscribed() == set(PRIVATE_CHANNELS)
            )
        )
        new = ws_exchange.keys_created[1]
        assert stream.listen_key == new != old
        assert [p.listen_key for p in ws_exchange.live_peers()] == [new]


async def test_keepalive_puts_the_key_and_replaces_it_when_refused(
    ws_exchange: WsExchange, rest: MexcClient
) -> None:
    stream = UserDataStream(
        rest, config(ws_exchange), keepalive_interval_s=0.05, rng=random.Random(8)
    )
    async with stream:
        await ws_exchange.wait_until(lambda: len(ws_exchange.keepalives) >= 2)
        (old,) = ws_exchange.keys_created
        assert set(ws_exchange.keepalives) == {old}
        ws_exchange.expire_key(old)  # the next PUT fails: the stream must move to a new key
        await ws_exchange.wait_until(
            lambda: (
                len(ws_exchange.keys_created) == 2
                and [p.listen_key for p in ws_exchange.live_peers()]
                == [ws_exchange.keys_created[1]]
            )
        )
        await ws_exchange.wait_until(lambda: ws_exchange.keepalives[-1] != old)
