"""Shared fixtures live in tests/fixtures/, one module per concern."""

pytest_plugins = [
    "tests.fixtures.sim",
    "tests.fixtures.mexc",
    "tests.fixtures.sim_core",
    "tests.fixtures.db",
    "tests.fixtures.api",
    "tests.fixtures.ws_exchange",
    "tests.fixtures.telegram",
]
