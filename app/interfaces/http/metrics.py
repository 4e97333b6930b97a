"""HTTP metrics and the access log line of every answer, and `GET /metrics` for Prometheus (not
in the API's OpenAPI document: it is for the operator's scraper, not for clients)."""

from __future__ import annotations

import contextlib
import hmac
import logging
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.application.errors import DependencyUnavailable
from app.infrastructure.settings import Environment
from app.interfaces.composition import Services
from app.interfaces.http.problems import Unauthorized

router = APIRouter()
UNMATCHED = "unmatched"  # one label for every path no route has: raw paths would be unbounded


access_log = logging.getLogger("littlewriter.access")


class HttpMetrics:
    """Counts and times every answer by method, route template and status, and logs it (with
    its request id, bound around it). The line replaces uvicorn's access log, which cost a
    quarter of a polled read's CPU (its path quoting and client formatting; bench/README.md),
    and says what uvicorn's did not: how long the answer took."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # One pair of children per label set: `labels()` takes a lock and builds a key each time.
        self._measures: dict[tuple[str, str, str], tuple[Any, Any]] = {}

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
            seconds = time.perf_counter() - began
            services: Services | None = getattr(scope["app"].state, "services", None)
            if services is not None:
                self._measure(services, scope, status, seconds)
                if services.settings.access_log:
                    access_log.info(
                        '"%s %s" %d %.1f ms', scope["method"], scope["path"], status, seconds * 1e3
                    )

    def _measure(self, services: Services, scope: Scope, status: int, seconds: float) -> None:
        template = getattr(scope.get("route"), "path", None) or UNMATCHED
        labels = (scope["method"], template, str(status))
        measures = self._measures.get(labels)
        if measures is None:
            metrics = services.metrics
            measures = (
                metrics.http_requests.labels(*labels),
                metrics.http_duration.labels(*labels),
            )
            self._measures[labels] = measures
        count, duration = measures
        count.inc()
        duration.observe(seconds)


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
