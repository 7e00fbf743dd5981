"""The API's routers, one per area: trades, market, account, system, admin."""
