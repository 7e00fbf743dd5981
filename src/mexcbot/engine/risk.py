"""Risk checks run before an order is persisted: a refused order leaves no trace but the error.

The engine calls `RiskPolicy.check` after the order passed the symbol's rules and before its
intent is written, so a policy sees the exact (quantized) request that would be sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mexcbot.domain.orders import OrderRequest
from mexcbot.domain.symbols import SymbolRules
from mexcbot.engine.errors import RiskRejected


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What a policy may look at besides the request itself."""

    rules: SymbolRules
    now: datetime


class RiskPolicy(Protocol):
    def check(self, request: OrderRequest, context: RiskContext) -> None:
        """Return if the order may go out; raise `RiskRejected` naming the limit otherwise."""


class AllowAll:
    """The default policy: no limits beyond the exchange's own rules."""

    def check(self, request: OrderRequest, context: RiskContext) -> None:
        return None


__all__ = ["AllowAll", "RiskContext", "RiskPolicy", "RiskRejected"]
