"""The dry run of a rule: would it buy now, what, at what price, and why (or why not).

Nothing is stored or sent. The same guards and the same order preparation as a real firing
(`AutoBuyer.prepare`) answer, so a dry run cannot promise what the rule would refuse. Price
triggers are checked against the last price; the windowed ones against the trigger watch's
rolling state. A NEW_LISTING rule lists the upcoming listings it matches (from the injected
`upcoming_listings`, which the listings service provides).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from mexcbot.domain.autobuy import ANY_SYMBOL, AutoBuyRule, TriggerType
from mexcbot.domain.autobuy_triggers import guard_reason
from mexcbot.domain.listings import Listing
from mexcbot.engine.autobuy.buying import AutoBuyer, Skip
from mexcbot.engine.autobuy.rules import AutoBuyRules
from mexcbot.engine.autobuy.triggers import TriggerWatch
from mexcbot.engine.market import MarketData

_HUNDRED = Decimal(100)
_ONE = Decimal(1)


async def no_listings() -> Sequence[Listing]:
    return []


@dataclass(frozen=True, slots=True)
class Evaluation:
    rule_id: int
    would_buy: bool
    reasons: tuple[str, ...]
    symbol: str | None
    reference_price: Decimal | None = None
    limit_price: Decimal | None = None
    quantity: Decimal | None = None
    quote_amount: Decimal | None = None
    matching_listings: tuple[str, ...] = ()


class DryRun:
    def __init__(
        self,
        rules: AutoBuyRules,
        buyer: AutoBuyer,
        market: MarketData,
        clock: Callable[[], datetime],
        *,
        watch: TriggerWatch | None = None,
        upcoming_listings: Callable[[], Awaitable[Sequence[Listing]]] = no_listings,
    ) -> None:
        self._rules = rules
        self._buyer = buyer
        self._market = market
        self._clock = clock
        self._watch = watch
        self.upcoming_listings = upcoming_listings

    async def evaluate(self, rule_id: int) -> Evaluation:
        stored = await self._rules.get(rule_id)  # RuleNotFound when unknown
        rule, reasons = stored.rule, []
        guard = guard_reason(rule, stored.stats, self._clock())
        if guard is not None:
            reasons.append(guard)
        matching: tuple[str, ...] = ()
        symbol: str | None = None if rule.symbol == ANY_SYMBOL else rule.symbol
        reference: Decimal | None = None
        if rule.trigger.type is TriggerType.NEW_LISTING:
            listings = await self.upcoming_listings()
            matching = tuple(
                item.symbol
                for item in listings
                if rule.matches_listing(item.symbol, item.base_asset, item.quote_asset)
            )
            if not matching:
                reasons.append("trigger: no upcoming listing matches the rule")
            symbol = symbol or (matching[0] if matching else None)
        else:
            assert symbol is not None
            reference = self._market.last_price(symbol)
            if reference is None:
                reference = (await self._market.ticker(symbol)).value.last_price
            trigger = self._trigger(rule, symbol, reference)
            if trigger is not None:
                reasons.append(trigger)
        if symbol is None:
            return Evaluation(rule_id, False, tuple(reasons), None, matching_listings=matching)
        prepared = await self._buyer.prepare(rule, symbol, reference)
        if isinstance(prepared, Skip):
            reasons.append(prepared.reason)
            return Evaluation(
                rule_id, False, tuple(reasons), symbol, reference, matching_listings=matching
            )
        would_buy = not reasons
        if would_buy:
            reasons.append(f"would buy {symbol} for {prepared.quote_amount} now")
        return Evaluation(
            rule_id,
            would_buy,
            tuple(reasons),
            symbol,
            reference,
            prepared.limit_price,
            prepared.quantity,
            prepared.quote_amount,
            matching,
        )

    def _trigger(self, rule: AutoBuyRule, symbol: str, price: Decimal | None) -> str | None:
        """Why the trigger does not hold now (None: it holds)."""
        kind, value = rule.trigger.type, rule.trigger.value
        assert value is not None
        if price is None:
            return f"trigger: no price of {symbol} is known"
        if kind is TriggerType.PRICE_BELOW:
            return None if price < value else f"trigger: the price {price} is not below {value}"
        if kind is TriggerType.PRICE_ABOVE:
            return None if price > value else f"trigger: the price {price} is not above {value}"
        state = self._watch.state(rule) if self._watch is not None else None
        if state is None:
            return f"trigger: {kind} has no price history yet"
        if kind is TriggerType.PERCENT_DROP:
            peak = state.extremes.max
            if peak is not None and price <= peak * (_ONE - value / _HUNDRED):
                return None
            return f"trigger: the price {price} is not {value}% below the window's max {peak}"
        if kind is TriggerType.PERCENT_RISE:
            low = state.extremes.min
            if low is not None and price >= low * (_ONE + value / _HUNDRED):
                return None
            return f"trigger: the price {price} is not {value}% above the window's min {low}"
        typical = state.volumes.median()
        current = state.volumes.current
        if typical is not None and typical > 0 and current >= value * typical:
            return None
        return f"trigger: the window's volume {current} is not {value}x the median {typical}"
