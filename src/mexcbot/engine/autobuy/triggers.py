"""TriggerWatch: the price and volume triggers of the auto-buy rules, evaluated on every price.

Prices arrive as `PriceChanged` (the market stream through `PriceFeed`, with the base quantity
traded since the previous one). The bus callback only looks the symbol up in the rules' index
(one dict lookup; a symbol no rule watches costs nothing more) and queues the event; `run`
shows it to each watching rule's `TriggerState` (`mexcbot.domain.autobuy_triggers`) in arrival
order. A firing starts `AutoBuyer.buy` in a task of its own, with the key of the trigger moment,
so a slow order never holds the next prices back; the guards (cooldown, max executions) and the
exactly-once key are the buyer's and the execution log's.

The trigger price is the last trade price, else the bid/ask mid. Volumes come from the stream's
trades rather than klines over REST: they cost no request budget, arrive within ~100 ms, and
any window length works. The price feed follows every symbol an enabled rule watches (`follow`);
`run_timer` evaluates REST last prices for symbols the stream has left without a fresh price.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from mexcbot.domain.autobuy import AutoBuyRule, TriggerType
from mexcbot.domain.autobuy_triggers import TriggerState
from mexcbot.engine.autobuy.buying import AutoBuyer
from mexcbot.engine.autobuy.rules import AutoBuyRules
from mexcbot.engine.bus import EventBus
from mexcbot.engine.events import PriceChanged
from mexcbot.engine.prices import PriceBook

log = logging.getLogger(__name__)

_TWO = Decimal(2)
#: Prices queued beyond this are dropped (logged): the watch must never hold the engine's memory.
MAX_QUEUED = 10_000
#: A symbol without a stream price for this long is evaluated on REST last prices by the timer.
STREAM_STALE_AFTER_S = 10.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


def trigger_price(event: PriceChanged) -> Decimal | None:
    """The price a trigger compares: the last trade, else the mid of bid and ask."""
    if event.last is not None:
        return event.last
    if event.bid is not None and event.ask is not None:
        return (event.bid + event.ask) / _TWO
    return None


class TriggerWatch:
    def __init__(
        self,
        rules: AutoBuyRules,
        buyer: AutoBuyer,
        *,
        prices: PriceBook | None = None,
        follow: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """`follow(symbol)` asks the price feed for a rule's symbol (`PriceFeed.follow`);
        `prices` serves the timer (`run_timer`) when the stream has nothing fresh."""
        self._rules = rules
        self._buyer = buyer
        self._prices = prices
        self._follow = follow
        self._clock = clock
        self._seen_at: dict[str, float] = {}
        self._states: dict[str, dict[int, TriggerState]] = {}
        self._queue: asyncio.Queue[PriceChanged] = asyncio.Queue(MAX_QUEUED)
        self._buying: set[asyncio.Task[object]] = set()
        self._dropped = 0

    def attach(self, events: EventBus) -> None:
        """Index the rules loaded so far and follow prices and rule changes (once)."""
        for stored in list(self._rules_all()):
            assert stored.id is not None
            self._on_rule(stored.id, stored)
        self._rules.on_change(self._on_rule)
        events.subscribe(PriceChanged, self._on_price)

    def state(self, rule: AutoBuyRule) -> TriggerState | None:
        """The rule's trigger state (its rolling windows), for the dry run."""
        if rule.id is None:
            return None
        return self._states.get(rule.symbol, {}).get(rule.id)

    def watching(self, symbol: str) -> int:
        """How many rules watch `symbol` now."""
        return len(self._states.get(symbol, {}))

    async def run(self) -> None:
        """Evaluate queued prices until cancelled."""
        while True:
            event = await self._queue.get()
            try:
                await self.evaluate(event)
            except Exception:
                log.exception("auto-buy triggers failed on %r", event)

    async def run_timer(self, interval: float) -> None:
        """Every `interval` s, show the REST last price to the rules of every symbol without a
        fresh stream price (the stream is down, or has not pushed the symbol yet), so price
        triggers fire without the market stream. No volume: VOLUME_SURGE needs the stream."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.evaluate_stale()
            except Exception:
                log.exception("periodic auto-buy trigger evaluation failed")

    async def evaluate_stale(self) -> None:
        if self._prices is None:
            return
        now = time.monotonic()
        stale = [
            symbol
            for symbol in self._states
            if now - self._seen_at.get(symbol, -STREAM_STALE_AFTER_S) >= STREAM_STALE_AFTER_S
        ]
        if not stale:
            return
        await self._prices.refresh()
        for symbol in stale:
            last = self._prices.last(symbol)
            if last is not None:
                await self.evaluate(PriceChanged(symbol, last, None, None, self._clock()))

    async def evaluate(self, event: PriceChanged) -> int:
        """Show one price to every rule watching its symbol; how many rules fired."""
        states = self._states.get(event.symbol)
        if not states:
            return 0
        price = trigger_price(event)
        fired = 0
        for rule_id, state in list(states.items()):
            hit = state.observe(event.at, price, event.volume)
            if hit is None:
                continue
            stored = self._rules.cached(rule_id)
            if stored is None or not stored.rule.enabled:
                continue
            fired += 1
            log.info("auto-buy rule %s fired on %s: %s", rule_id, event.symbol, hit.reason)
            task = asyncio.create_task(
                self._buyer.buy(
                    stored.rule,
                    event.symbol,
                    key=hit.key,
                    reason=hit.reason,
                    reference_price=hit.reference_price,
                ),
                name=f"mexcbot-autobuy-{rule_id}",
            )
            self._buying.add(task)
            task.add_done_callback(self._bought)
        return fired

    # --- bus and rule callbacks (synchronous, on the publisher's task) -----------------------

    def _on_price(self, event: PriceChanged) -> None:
        if event.symbol not in self._states:
            return
        self._seen_at[event.symbol] = time.monotonic()
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped % 1000 == 1:
                log.warning("auto-buy triggers are behind: %d prices dropped", self._dropped)

    def _on_rule(self, rule_id: int, rule: AutoBuyRule | None) -> None:
        for states in self._states.values():
            states.pop(rule_id, None)
        if rule is None or not rule.enabled or rule.trigger.type is TriggerType.NEW_LISTING:
            self._states = {symbol: s for symbol, s in self._states.items() if s}
            return
        self._states.setdefault(rule.symbol, {})[rule_id] = TriggerState(rule.trigger)
        self._states = {symbol: s for symbol, s in self._states.items() if s}
        if self._follow is not None:
            self._follow(rule.symbol)

    def _bought(self, task: asyncio.Task[object]) -> None:
        self._buying.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("auto-buy failed", exc_info=task.exception())

    def _rules_all(self) -> list[AutoBuyRule]:
        return [stored.rule for stored in self._rules.cached_all()]
