"""What one reconciliation pass found: a value the pass fills in and the events carry.

`DISCREPANCY_KINDS` is the one list of the ways the database and the exchange can disagree; the
report's total, the metrics and `/api/v1/status` all read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from mexcbot.engine.orders.discovery import AccountScan

#: Every count of a `ReconciliationReport` that is a discrepancy (database vs exchange).
DISCREPANCY_KINDS: Final = (
    "resolved_unknown",
    "rejected_never_received",
    "status_corrections",
    "quantity_corrections",
    "imported_external",
    "contradictions",
    "lost_on_exchange",
)


@dataclass(slots=True)
class ReconciliationReport:
    """What one reconciliation found and fixed; every count in `DISCREPANCY_KINDS` is a
    discrepancy between the database and the exchange.

    `lost_on_exchange`: orders the exchange had acknowledged and no longer knows (now LOST).
    """

    started_at: datetime
    finished_at: datetime | None = None
    orders_checked: int = 0
    resolved_unknown: int = 0
    rejected_never_received: int = 0
    status_corrections: int = 0
    quantity_corrections: int = 0
    fills_recorded: int = 0
    imported_external: int = 0
    contradictions: int = 0
    lost_on_exchange: int = 0
    unresolved: int = 0
    errors: int = 0
    symbols: list[str] = field(default_factory=list)
    account_scan: AccountScan | None = None
    """The account scan of this pass (None when it failed or the service has no scanner)."""

    def count(self, kind: str) -> int:
        if kind not in DISCREPANCY_KINDS:
            raise KeyError(kind)
        value: int = getattr(self, kind)
        return value

    @property
    def discrepancies(self) -> int:
        return sum(self.count(kind) for kind in DISCREPANCY_KINDS)

    def summary(self) -> dict[str, object]:
        """The JSON-ready figures `/api/v1/status` shows."""
        return {
            "orders_checked": self.orders_checked,
            "discrepancies": self.discrepancies,
            "by_kind": {kind: self.count(kind) for kind in DISCREPANCY_KINDS},
            "fills_recorded": self.fills_recorded,
            "unresolved": self.unresolved,
            "errors": self.errors,
            "account_symbols_scanned": (
                len(self.account_scan.symbols) if self.account_scan is not None else None
            ),
        }
