"""A span for every request (OpenTelemetry's ASGI middleware), named by its route template, when
tracing is on; nothing at all when it is off."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import Span
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.application.request_context import current_request_id
from app.interfaces.composition import Services


class RequestTracing:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Built at the first request: the tracer provider exists only once the lifespan has run.
        self._traced: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services: Services | None = getattr(scope["app"].state, "services", None)
        if scope["type"] != "http" or services is None or not services.tracing.enabled:
            await self.app(scope, receive, send)
            return
        if self._traced is None:
            self._traced = OpenTelemetryMiddleware(
                self._named,
                tracer_provider=services.tracing.provider,
                default_span_details=_span_details,
                server_request_hook=_name_request,
                exclude_spans=["receive", "send"],
            )
        await self._traced(scope, receive, send)

    async def _named(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The span is named by the route's template, known once the router has matched it
        (before the answer starts, which may end the span)."""
        span = trace.get_current_span()

        async def naming(message: Message) -> None:
            template = getattr(scope.get("route"), "path", None)
            if message["type"] == "http.response.start" and template and span.is_recording():
                span.update_name(f"{scope['method']} {template}")
                span.set_attribute("http.route", template)
            await send(message)

        await self.app(scope, receive, naming)


def _span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    return scope.get("method", "HTTP"), {}


def _name_request(span: Span, _scope: dict[str, Any]) -> None:
    if span.is_recording() and (request_id := current_request_id()) is not None:
        span.set_attribute("littlewriter.request_id", request_id)
