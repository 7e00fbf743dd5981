"""mexcsim: a MEXC-compatible spot exchange simulator. Never imports mexcbot.

The public surface is small on purpose: start a server (`SimServer` with a `SimConfig`), or drive
the exchange core directly (`SimExchange`); arm misbehaviour with a `FaultPlan`. Everything else is
reachable through the subpackages, named after the parts of an exchange:

- ``market/``: symbols and their rules, books, matching, the public tape and its seeded past, the
  liquidity provider, listings, public market data;
- ``accounts/``: the ledger, users' orders (validation, entry, queries), listen keys, wallets;
- ``http/``: the aiohttp server, MEXC's REST paths, the ``/_sim/`` admin API, auth, rate limits,
  faults and the command line (the only package that imports aiohttp);
- ``state/``: the saved world as a JSON document, its journal and the keeper that makes it durable.
"""

from mexcsim.config import SimConfig
from mexcsim.exchange import SimExchange
from mexcsim.http.faults import FaultPlan, OrderFault
from mexcsim.http.server import SimServer

__all__ = ["FaultPlan", "OrderFault", "SimConfig", "SimExchange", "SimServer"]
