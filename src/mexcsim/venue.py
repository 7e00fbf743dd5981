"""One tradable market assembled: rules, matching engine, trade tape and living market."""

from __future__ import annotations

from dataclasses import dataclass

from mexcsim.market import LivingMarket
from mexcsim.matching import MatchingEngine
from mexcsim.symbols import SymbolSpec
from mexcsim.tape import Tape


@dataclass(slots=True)
class Venue:
    spec: SymbolSpec
    engine: MatchingEngine
    tape: Tape
    living: LivingMarket
