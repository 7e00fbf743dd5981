"""The route class of order placement: FastAPI's handling, without its generic machinery when
the request is the plain case.

FastAPI's request handler for ``POST /api/v1/trades/orders`` reads the body, parses its
Content-Type with the email package, decodes the JSON, then solves the route's parameters (the
body and the `Request`) through its general dependency resolver before it calls the route.
Timed inside ``mexcbot run`` (benchmarks/api_orders.py, loaded 2-core box, p50 per placement):
from the router to the route function ~260 us, of which the resolver ~120 us, more than the
engine's own work around the exchange round trip.

`PlacementRoute` handles the plain case itself: ``Content-Type: application/json`` exactly, a
non-empty body that decodes (``json.loads``, as Starlette's ``Request.json``) to something other
than ``null``, and validates through the route's body parameter (``ModelField.validate`` with
the loc ``("body",)``: the very call FastAPI's resolver makes for a lone body parameter, so the
same model, mode and result). Then the route is called with the validated body and the request.
Everything else (another content type or parameters, a body that is empty, not JSON or invalid)
goes to FastAPI's own handler, which produces exactly the errors it always did: validation is
never skipped, only its scaffolding.
The route must return a `Response` (it serialises its own body). A route with anything but one
body and the request as parameters always uses FastAPI's handler.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

import fastapi.routing
from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_JSON = "application/json"
#: FastAPI's own (private) record of the inclusion a route is built for (0.163). Should a FastAPI
#: release lack it, or a route its other attributes read below, the route keeps FastAPI's
#: handler: slower by the figure above, never different.
_ROUTE_CONTEXT: Any = getattr(fastapi.routing, "_effective_route_context_var", None)


class PlacementRoute(APIRoute):
    """An `APIRoute` whose plain requests skip FastAPI's resolver (see the module docstring)."""

    def get_route_handler(self) -> Handler:
        general = super().get_route_handler()
        if _ROUTE_CONTEXT is None:  # pragma: no cover - another FastAPI
            return general
        # An included route is built once per inclusion, from a context with the inclusion's
        # dependencies merged in (FastAPI's own `get_route_handler` reads the same variable):
        # judge that dependant, not the bare route's.
        context = _ROUTE_CONTEXT.get()
        route: APIRoute | Any = (
            context
            if context is not None and getattr(context, "original_route", None) is self
            else self
        )
        dependant: Dependant | None = getattr(route, "dependant", None)
        embedded: bool | None = getattr(route, "_embed_body_fields", None)
        if dependant is None or embedded is None:  # pragma: no cover - another FastAPI
            return general
        body_field = dependant.body_params[0] if len(dependant.body_params) == 1 else None
        plain = (
            body_field is not None
            and type(body_field.field_info) is params.Body  # not a form, not embedded
            and not embedded
            and dependant.call is not None
            and dependant.request_param_name is not None
            and len(dependant.body_params) == 1
            and not (
                dependant.path_params
                or dependant.query_params
                or dependant.header_params
                or dependant.cookie_params
                or dependant.dependencies
                or dependant.websocket_param_name
                or dependant.http_connection_param_name
                or dependant.response_param_name
                or dependant.background_tasks_param_name
                or dependant.security_scopes_param_name
            )
        )
        request_name = dependant.request_param_name
        if not plain or body_field is None or dependant.call is None or request_name is None:
            return general
        field, endpoint, body_name = body_field, dependant.call, body_field.name

        async def handle(request: Request) -> Response:
            if request.headers.get("content-type") == _JSON:
                raw = await request.body()
                if raw:
                    try:
                        data = json.loads(raw)
                    except Exception:  # not JSON, or nested too deep (RecursionError)
                        data = None  # FastAPI's handler answers it
                    if data is not None:
                        value, errors = field.validate(data, {}, loc=("body",))
                        if not errors:
                            response = await endpoint(**{body_name: value, request_name: request})
                            if not isinstance(response, Response):
                                raise TypeError(f"{self.path}: the route must return a Response")
                            return response
            return await general(request)

        return handle
