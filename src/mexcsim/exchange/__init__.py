"""The exchange core: `SimExchange`, the facade the HTTP layer and tests talk to."""

from mexcsim.exchange.facade import SimExchange

__all__ = ["SimExchange"]
