"""The one question the trading routes ask about a symbol: does the exchange list it?

Every route naming a symbol asks it here, through ``require_known_symbol``, so an unknown symbol
is a 404 naming it on every route (the market routes ask the engine's symbol catalog the same
way). When the exchange cannot be asked (down, throttling us) and the cached list has expired,
the routes that read the database still answer: an outage must not hide the orders we hold.
"""

from __future__ import annotations

import logging

from mexcbot.api.context import ApiContext
from mexcbot.engine.ports import ExchangePortError

log = logging.getLogger(__name__)


async def require_known_symbol(ctx: ApiContext, symbol: str, *, required: bool = False) -> None:
    """Raise the 404 ``unknown_symbol`` problem unless the exchange lists ``symbol``.

    ``required=True``: the route cannot work without the exchange anyway, so an outage
    propagates (as a 503) instead of being passed over."""
    try:
        await ctx.market.symbol(symbol)  # UnknownSymbol (404) propagates
    except ExchangePortError as exc:
        if required:
            raise
        log.info("symbol %s not checked: no symbol list from the exchange: %s", symbol, exc)
