"""The living market of one symbol: a seeded random walk and a synthetic liquidity provider.

On every `tick` the reference price moves by a random number of ticks (integer arithmetic on price
ticks, so no float ever becomes a price), the provider withdraws its quotes and lays a fresh ladder
of levels around the new price, and now and then sends a small taker order. The provider trades
through the real matching engine from its own internal account, so its quotes that cross user orders
fill them for real and every public statistic comes from actual trades. The same seed gives the same
market.

A new listing opens on a thin book, as real ones do: `start_opening_ramp` makes the provider quote
only `OPENING_LEVELS_PER_SIDE` levels per side at `OPENING_SIZE_PERCENT` of their normal size, both
growing linearly (integer steps, at each requote) to the full ladder over the ramp. A sniper's first
order therefore fills against little, and a large one walks the book.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

from mexcsim.accounts.ledger import Ledger
from mexcsim.decimals import ZERO, round_down, step
from mexcsim.market.book import BUY, SELL, Order
from mexcsim.market.matching import IOC, LIMIT, MatchingEngine

PROVIDER = "\x00liquidity-provider"  # cannot arrive as an HTTP api key
# Big enough never to run dry, small enough that balance + fractions fit the 28-digit Decimal
# context exactly (10^12 plus up to 15 decimals), so value stays exactly conserved.
PROVIDER_FUNDING = Decimal(10) ** 12
LEVELS_PER_SIDE = 10
VOLATILITY_PER_TICK = Decimal("0.0003")  # one standard deviation of a tick's move, as a fraction
LEVEL_GAP = Decimal("0.0002")  # distance between ladder levels, as a fraction of the price
TAKER_FLOW_PROBABILITY = 0.6
MIN_NOTIONAL_PER_LEVEL = 300
MAX_NOTIONAL_PER_LEVEL = 4_000
OPENING_LEVELS_PER_SIDE = 3
OPENING_SIZE_PERCENT = 10


class LivingMarket:
    """Moves one market's price and keeps a realistic book around it."""

    def __init__(
        self,
        engine: MatchingEngine,
        ledger: Ledger,
        seed: int,
        next_order_id: Callable[[], str],
    ) -> None:
        self._engine = engine
        self._ledger = ledger
        self._spec = engine.spec
        self._tick_size = step(self._spec.quote_asset_precision)
        self._rng = random.Random(f"{seed}:{self._spec.symbol}")
        self._next_order_id = next_order_id
        self._quotes: list[Order] = []
        self.mid_ticks = 1
        self._ramp_start_ms = 0
        self._ramp_ms = 0
        self._size_percent = 100

    @property
    def mid_price(self) -> Decimal:
        return self.mid_ticks * self._tick_size

    def set_reference(self, price: Decimal) -> None:
        """Move the reference price without touching the book."""
        self.mid_ticks = max(1, int(price / self._tick_size))

    def recenter(self, price: Decimal, now: int) -> None:
        """Jump the reference price to `price`, requote around it and print a trade there."""
        self.set_reference(price)
        self._requote(now)
        self._print(self.mid_price, now)

    def start_opening_ramp(self, now: int, ramp_ms: int) -> None:
        """Quote a thin book from `now`, filling in to the full ladder over `ramp_ms` (call before
        the opening `recenter`; 0 means the full book at once)."""
        self._ramp_start_ms, self._ramp_ms = now, max(0, ramp_ms)

    @property
    def opening_ramp(self) -> tuple[int, int]:
        """(start ms, length ms) of the opening ramp ((0, 0) for a market that never had one)."""
        return self._ramp_start_ms, self._ramp_ms

    def _ramp_percent(self, now: int) -> int:
        """How far the opening ramp has come, 0 to 100."""
        elapsed = now - self._ramp_start_ms
        if self._ramp_ms <= 0 or elapsed >= self._ramp_ms:
            return 100
        return max(0, elapsed * 100 // self._ramp_ms)

    def tick(self, now: int) -> None:
        sigma = float(self.mid_ticks * VOLATILITY_PER_TICK)
        move = round(self._rng.gauss(0.0, sigma)) if sigma >= 0.5 else self._rng.choice((-1, 0, 1))
        self.mid_ticks = max(10, self.mid_ticks + move)
        self._requote(now)
        if self._rng.random() < TAKER_FLOW_PROBABILITY:
            side = BUY if move > 0 else SELL if move < 0 else self._rng.choice((BUY, SELL))
            self._take(side, now)

    # --- persistence ---------------------------------------------------------------------------
    def rng_state(self) -> object:
        """The random generator's state, so a restored market walks on exactly as this one would."""
        return self._rng.getstate()

    def quotes(self) -> list[Order]:
        """The provider's resting quotes, withdrawn at the next requote."""
        return list(self._quotes)

    def restore(
        self,
        rng_state: object,
        mid_ticks: int,
        quotes: list[Order],
        opening_ramp: tuple[int, int] = (0, 0),
    ) -> None:
        """Continue from a saved state (the quotes must already rest on the engine's book)."""
        self._rng.setstate(rng_state)  # type: ignore[arg-type]
        self.mid_ticks = mid_ticks
        self._quotes = list(quotes)
        self._ramp_start_ms, self._ramp_ms = opening_ramp

    # --- internals -------------------------------------------------------------------------------
    def _level_qty(self) -> Decimal:
        notional = Decimal(self._rng.randint(MIN_NOTIONAL_PER_LEVEL, MAX_NOTIONAL_PER_LEVEL))
        notional = notional * self._size_percent / 100
        qty = round_down(notional / self.mid_price, self._spec.base_asset_precision)
        return max(qty, self._spec.base_size_precision, step(self._spec.base_asset_precision))

    def _requote(self, now: int) -> None:
        for order in self._quotes:
            if order.is_open:
                self._engine.cancel(order, now)
        self._quotes.clear()
        ramp = self._ramp_percent(now)
        levels = OPENING_LEVELS_PER_SIDE + (LEVELS_PER_SIDE - OPENING_LEVELS_PER_SIDE) * ramp // 100
        self._size_percent = OPENING_SIZE_PERCENT + (100 - OPENING_SIZE_PERCENT) * ramp // 100
        gap = max(1, int(self.mid_ticks * LEVEL_GAP))
        half_spread = self._rng.randint(1, 2)
        for level in range(levels):
            distance = half_spread + level * gap
            for side, ticks in (
                (BUY, self.mid_ticks - distance),
                (SELL, self.mid_ticks + distance),
            ):
                if ticks >= 1:
                    order = self._place(
                        side, LIMIT, ticks * self._tick_size, self._level_qty(), now
                    )
                    if order.is_open:
                        self._quotes.append(order)

    def _take(self, side: str, now: int) -> None:
        best = self._engine.book.opposite_of(side).best_price()
        if best is None:
            return
        qty = round_down(
            self._level_qty() * Decimal(self._rng.randint(1, 10)) / 20,
            self._spec.base_asset_precision,
        )
        if qty > ZERO:
            self._place(side, IOC, best, qty, now)

    def _print(self, price: Decimal, now: int) -> None:
        """A small self-trade at exactly `price`, so the last price is where the market was put."""
        qty = self._level_qty()
        resting = self._place(SELL, LIMIT, price, qty, now)
        self._place(BUY, IOC, price, qty, now)
        if resting.is_open:
            self._engine.cancel(resting, now)

    def _place(self, side: str, order_type: str, price: Decimal, qty: Decimal, now: int) -> Order:
        spec = self._spec
        if side == BUY:
            asset, amount = spec.quote_asset, price * qty
        else:
            asset, amount = spec.base_asset, qty
        self._ledger.lock(PROVIDER, asset, amount)
        order = Order(
            order_id=self._next_order_id(),
            owner=PROVIDER,
            symbol=spec.symbol,
            side=side,
            order_type=order_type,
            price=price,
            orig_qty=qty,
            orig_quote_qty=None,
            client_order_id=None,
            time=now,
            update_time=now,
            locked=amount,
        )
        self._engine.submit(order, now)
        return order
