"""A route served without FastAPI's per-request dependency solving, for the read clients poll.

It is documented like any other APIRoute (its response model, its security from the route's
`dependencies`, which declare it for OpenAPI), but its endpoint takes the `Request` alone and
finds what it needs with the same functions the dependencies call. Solving even one dependency
was about a third of a poll's CPU in the app (bench/read_path_bench.py)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

PlainEndpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class PlainRoute(APIRoute):
    def get_route_handler(self) -> PlainEndpoint:
        endpoint: PlainEndpoint = self.endpoint
        return endpoint
