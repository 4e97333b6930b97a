"""HTTP metrics for every answer, and `GET /metrics` for Prometheus (not in the API's OpenAPI
document: it is for the operator's scraper, not for clients)."""

from __future__ import annotations

import contextlib
import hmac
import time

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.application.errors import DependencyUnavailable
from app.infrastructure.settings import Environment
from app.interfaces.composition import Services
from app.interfaces.http.problems import Unauthorized

router = APIRouter()
UNMATCHED = "unmatched"  # one label for every path no route has: raw paths would be unbounded


class HttpMetrics:
    """Counts and times every answer by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # what the client gets if the app raises before it answers

        async def measured(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, measured)
        finally:
            services: Services | None = getattr(scope["app"].state, "services", None)
            if services is not None:
                route = scope.get("route")
                template = getattr(route, "path", None) or UNMATCHED
                labels = (scope["method"], template, str(status))
                services.metrics.http_requests.labels(*labels).inc()
                services.metrics.http_duration.labels(*labels).observe(time.perf_counter() - began)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    settings = services.settings
    token = settings.metrics_token
    if token is None:
        if settings.env is Environment.PRODUCTION:
            raise HTTPException(404)  # answered as any unknown address is
    else:
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), expected):
            raise Unauthorized("The metrics need the bearer token set in LW_METRICS_TOKEN.")
    # Unreachable, the scrape still answers: the gauge keeps its last value.
    with contextlib.suppress(DependencyUnavailable):
        services.metrics.jobs_queued.set(await services.queue.waiting())
    body, content_type = services.metrics.exposition()
    return Response(body, media_type=content_type)
