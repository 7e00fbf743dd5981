"""MEXC's wallet coin list (``GET /api/v3/capital/config/getall``), derived from the listed markets.

Real MEXC serves every coin with its deposit/withdraw networks. Clients such as ccxt read it when
they load markets (it names the currencies), so the simulator answers it in the same shape. The
simulator has no wallets or chains: each coin gets one network named after itself, with deposits
and withdrawals switched off, which is the honest description of what a simulated account can do.
"""

from __future__ import annotations

from collections.abc import Mapping

QUOTE_ASSET_NAMES: Mapping[str, str] = {
    "USDT": "Tether USD",
    "USDC": "USD Coin",
    "BTC": "Bitcoin",
    "ETH": "Ethereum",
}
"""Full names of quote assets: exchangeInfo's ``fullName`` only ever names the base asset."""

_ZERO = "0.000000000000000000"


def _network(coin: str, name: str) -> dict[str, object]:
    return {
        "coin": coin,
        "depositDesc": None,
        "depositEnable": False,
        "minConfirm": 0,
        "name": name,
        "network": coin,
        "withdrawEnable": False,
        "withdrawFee": _ZERO,
        "withdrawIntegerMultiple": None,
        "withdrawMax": _ZERO,
        "withdrawMin": _ZERO,
        "sameAddress": False,
        "contract": "",
        "withdrawTips": None,
        "depositTips": None,
        "netWork": coin,
    }


def coin_config(exchange_info: Mapping[str, object]) -> list[dict[str, object]]:
    """Every asset of the exchangeInfo ``symbols`` once, in MEXC's capital/config/getall shape."""
    names: dict[str, str] = {}
    symbols = exchange_info.get("symbols")
    for entry in symbols if isinstance(symbols, list) else []:
        base = str(entry["baseAsset"])
        quote = str(entry["quoteAsset"])
        names.setdefault(base, str(entry.get("fullName") or base))
        names.setdefault(quote, QUOTE_ASSET_NAMES.get(quote, quote))
    return [
        {"coin": coin, "name": name, "networkList": [_network(coin, name)]}
        for coin, name in sorted(names.items())
    ]
