"""The web dashboard: static pages served by the bot at ``/`` (assets under ``/ui/``).

The dashboard is plain HTML, CSS and ES modules shipped as package data
(``mexcbot/api/dashboard/static``): nothing to build, nothing loaded from elsewhere. It talks to
the same REST API and websocket as every other client, with a token the user types in; the pages
themselves are public (they hold no data), so the request gate lets ``/`` and ``/ui/`` through.

The files are read once, at first use, into memory: a request can only name a file that exists
in the package (no path from the URL reaches the file system), and each answer carries a strong
ETag so a browser revalidates cheaply (``no-cache``: always asks, usually gets a 304).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

from fastapi import APIRouter, Request, Response

router = APIRouter(include_in_schema=False)

ASSET_PREFIX: Final = "/ui/"
_CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_HEADERS: Final = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Only our own files; the websocket is same-origin (ws: or wss:, which 'self' does not cover
    # in every browser).
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


@cache
def assets() -> dict[str, Asset]:
    """Every dashboard file by its path under ``static/`` (``app.js``, ``pages/orders.js``)."""
    root = resources.files("mexcbot").joinpath("api", "dashboard", "static")
    found: dict[str, Asset] = {}
    pending = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        for entry in folder.iterdir():
            name = f"{prefix}{entry.name}"
            if entry.is_dir():
                pending.append((entry, f"{name}/"))
                continue
            suffix = "." + entry.name.rpartition(".")[2]
            if suffix not in _CONTENT_TYPES:
                continue
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            found[name] = Asset(body, _CONTENT_TYPES[suffix], etag)
    return found


def _answer(request: Request, asset: Asset) -> Response:
    headers = {**_HEADERS, "ETag": asset.etag}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


def _missing() -> Response:
    return Response("not found", status_code=404, media_type="text/plain", headers=dict(_HEADERS))


@router.get("/")
async def dashboard(request: Request) -> Response:
    """The dashboard's page; everything else it loads comes from ``/ui/``."""
    return _answer(request, assets()["index.html"])


@router.get(ASSET_PREFIX + "{name:path}")
async def dashboard_asset(name: str, request: Request) -> Response:
    asset = assets().get(name)
    return _missing() if asset is None else _answer(request, asset)
