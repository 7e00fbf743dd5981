"""AutoBuyRules: the rule use cases (create, read, change, enable, delete) and the questions
the trigger watch and the sniper ask (which rules buy this listing, which watch this symbol).

Every rule is held in memory too, indexed by symbol, because the trigger watch asks on every
price (`cached_for_symbol` is a dict lookup). The database stays the authority: the guards
that decide whether a rule may fire are re-checked inside the transaction that begins an
execution (`mexcbot.store.autobuy`), so a stale cache can skip a firing but never allow one.
Listeners (`on_change`) hear of every change: the trigger watch rebuilds the rule's trigger
state and the price feed follows its symbol.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from mexcbot.domain.autobuy import ANY_SYMBOL, AutoBuyRule, TriggerType
from mexcbot.domain.autobuy_triggers import RuleStats, guard_reason
from mexcbot.engine.errors import RuleNotFound
from mexcbot.store import UnitOfWork
from mexcbot.store.autobuy import RulePage, StoredRule

log = logging.getLogger(__name__)

#: Called with the rule's id and the rule as it is now (None: deleted).
RuleListener = Callable[[int, AutoBuyRule | None], None]
#: `AutoBuyRules.list` shadows the builtin inside the class body.
_Rules = list[AutoBuyRule]
_Stored = list[StoredRule]
_Symbols = list[str]


class AutoBuyRules:
    """Build one (in `app.py`); `load()` before use."""

    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], clock: Callable[[], datetime]
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._rules: dict[int, StoredRule] = {}
        self._by_symbol: dict[str, dict[int, StoredRule]] = {}
        self._listeners: list[RuleListener] = []

    def on_change(self, listener: RuleListener) -> None:
        self._listeners.append(listener)

    async def load(self) -> _Stored:
        async with self._uow_factory() as uow:
            stored = await uow.autobuy_rules.all()
        self._rules.clear()
        self._by_symbol.clear()
        for item in stored:
            self._index(item)
        return stored

    # --- use cases ---------------------------------------------------------------------------

    async def create(self, rule: AutoBuyRule) -> StoredRule:
        async with self._uow_factory() as uow:
            stored = await uow.autobuy_rules.add(rule)
            await uow.commit()
        self._changed(stored)
        return stored

    async def get(self, rule_id: int) -> StoredRule:
        async with self._uow_factory() as uow:
            stored = await uow.autobuy_rules.get(rule_id)
        if stored is None:
            raise RuleNotFound(rule_id)
        return stored

    async def list(
        self,
        *,
        enabled: bool | None = None,
        symbol: str | None = None,
        trigger_type: TriggerType | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> RulePage:
        async with self._uow_factory() as uow:
            return await uow.autobuy_rules.list(
                enabled=enabled,
                symbol=symbol,
                trigger_type=trigger_type,
                limit=limit,
                offset=offset,
            )

    async def update(self, rule_id: int, rule: AutoBuyRule) -> StoredRule:
        """Replace every field of the rule; its execution history and counters stay."""
        async with self._uow_factory() as uow:
            stored = await uow.autobuy_rules.update(rule_id, rule)
            if stored is None:
                raise RuleNotFound(rule_id)
            await uow.commit()
        self._changed(stored)
        return stored

    async def set_enabled(self, rule_id: int, enabled: bool) -> StoredRule:
        async with self._uow_factory() as uow:
            stored = await uow.autobuy_rules.set_enabled(rule_id, enabled)
            if stored is None:
                raise RuleNotFound(rule_id)
            await uow.commit()
        self._changed(stored)
        return stored

    async def delete(self, rule_id: int) -> None:
        """Delete the rule and its execution history."""
        async with self._uow_factory() as uow:
            if not await uow.autobuy_rules.delete(rule_id):
                raise RuleNotFound(rule_id)
            await uow.commit()
        old = self._rules.pop(rule_id, None)
        if old is not None:
            self._by_symbol.get(old.rule.symbol, {}).pop(rule_id, None)
        self._notify(rule_id, None)

    # --- what the watch and the sniper ask ---------------------------------------------------

    async def matching_listing(self, symbol: str, base: str, quote: str) -> _Rules:
        """The enabled NEW_LISTING rules that buy the new listing `symbol`, read fresh from
        the database, without those a guard stops now (max executions, cooldown)."""
        async with self._uow_factory() as uow:
            stored = await uow.autobuy_rules.all()
        now = self._clock()
        return [
            item.rule
            for item in stored
            if item.rule.matches_listing(symbol, base, quote)
            and guard_reason(item.rule, item.stats, now) is None
        ]

    async def for_symbol(self, symbol: str) -> _Stored:
        """Every rule naming `symbol` (not the `*` rules), by id."""
        async with self._uow_factory() as uow:
            page = await uow.autobuy_rules.list(symbol=symbol, limit=500)
        return page.rules

    def cached_for_symbol(self, symbol: str) -> _Stored:
        """The rules naming `symbol`, from memory (the trigger watch's per-tick question)."""
        found = self._by_symbol.get(symbol)
        return list(found.values()) if found else []

    def cached_all(self) -> _Stored:
        return [self._rules[rule_id] for rule_id in sorted(self._rules)]

    def cached(self, rule_id: int) -> StoredRule | None:
        return self._rules.get(rule_id)

    def watched_symbols(self) -> _Symbols:
        """Symbols that enabled price/volume rules watch: what the price feed must follow."""
        return sorted(
            {
                item.rule.symbol
                for item in self._rules.values()
                if item.rule.enabled
                and item.rule.symbol != ANY_SYMBOL
                and item.rule.trigger.type is not TriggerType.NEW_LISTING
            }
        )

    def note_stats(self, rule_id: int, stats: RuleStats) -> None:
        """The rule's counters as the last transaction left them (the execution log calls it)."""
        item = self._rules.get(rule_id)
        if item is not None:
            self._index(replace(item, stats=stats))

    def stats(self, rule_id: int) -> RuleStats:
        item = self._rules.get(rule_id)
        return item.stats if item is not None else RuleStats()

    # --- the index ---------------------------------------------------------------------------

    def _changed(self, stored: StoredRule) -> None:
        old = self._rules.get(_id(stored))
        if old is not None and old.rule.symbol != stored.rule.symbol:
            self._by_symbol.get(old.rule.symbol, {}).pop(_id(stored), None)
        self._index(stored)
        self._notify(_id(stored), stored.rule)

    def _index(self, stored: StoredRule) -> None:
        rule_id = _id(stored)
        self._rules[rule_id] = stored
        self._by_symbol.setdefault(stored.rule.symbol, {})[rule_id] = stored

    def _notify(self, rule_id: int, rule: AutoBuyRule | None) -> None:
        for listener in self._listeners:
            try:
                listener(rule_id, rule)
            except Exception:
                log.exception("auto-buy rule listener failed on rule %s", rule_id)


def _id(stored: StoredRule) -> int:
    assert stored.rule.id is not None
    return stored.rule.id
