"""mexcbot: a self-hosted trading bot backend for the MEXC spot exchange."""

__version__ = "0.1.0"
