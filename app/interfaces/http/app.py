"""The FastAPI application factory. Every client is built in the lifespan, none at import."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp

from app.infrastructure.logging import configure_logging
from app.infrastructure.settings import Settings
from app.interfaces.composition import Overrides, build_services
from app.interfaces.http import docs, openapi, problems
from app.interfaces.http.body_limit import BodyLimit
from app.interfaces.http.event_stream import StreamSlots
from app.interfaces.http.headers import SecurityHeaders
from app.interfaces.http.idempotency import REPLAYED_HEADER
from app.interfaces.http.metrics import HttpMetrics
from app.interfaces.http.metrics import router as metrics_router
from app.interfaces.http.request_ids import HEADER as REQUEST_ID_HEADER
from app.interfaces.http.request_ids import RequestIds
from app.interfaces.http.routes import (
    admin,
    books,
    console,
    creator,
    events,
    health,
    images,
    reader,
    sharing,
    sign_in,
)
from app.interfaces.http.tracing import RequestTracing

HERE = Path(__file__).parent
DESCRIPTION = """A child and a parent write an illustrated picture book, one page at a time.

Get a token with `littlewriter token USER_ID`, press **Authorize**, then start a book,
write its pages and finish it. Errors are RFC 9457 problem details with a stable `code`."""


# Young collections every 50,000 allocations rather than 700: a request's objects are mostly
# freed by reference counting before a collection could see them, so the collector runs about
# 70 times less often for the same work, and a full pass (which stalls the loop for up to
# 100-200 ms with 1,000 streams open) comes every 100 million allocations instead of every
# 70,000. Measured with bench/async_bench.py (bench/README.md).
GC_THRESHOLDS = (50_000, 20, 100)


class LittleWriterApp(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outside Starlette's ServerErrorMiddleware, so that a 500 names its request too.
        return RequestIds(HttpMetrics(RequestTracing(super().build_middleware_stack())))


def create_app(settings: Settings | None = None, overrides: Overrides | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with build_services(settings, overrides) as services:
            app.state.services = services
            app.state.stream_slots = StreamSlots(
                per_user=settings.events_max_streams_per_user,
                total=settings.events_max_streams,
                metrics=services.metrics,
            )
            # What start-up built lives as long as the process: keep it out of every later
            # collection, whose full passes would otherwise stall the loop for 100-200 ms.
            gc.collect()
            gc.freeze()
            previous = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLDS)
            try:
                yield
            finally:
                gc.set_threshold(*previous)

    app = LittleWriterApp(
        title="LittleWriter",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served by `openapi.serve`, off the event loop
        # Operation ids are the routes' names: what generated clients call their methods.
        generate_unique_id_function=lambda route: route.name,
    )
    openapi.install(app)
    if settings.docs_enabled:
        openapi.serve(app)
        docs.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "Prefer",
                "Last-Event-ID",
                REQUEST_ID_HEADER,
            ],
            expose_headers=[
                "Retry-After",
                "Location",
                "Preference-Applied",
                REPLAYED_HEADER,
                REQUEST_ID_HEADER,
            ],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    problems.install(app)
    app.include_router(books.polled)
    app.include_router(health.router)
    app.include_router(sign_in.router)
    app.include_router(books.changes)
    app.include_router(books.router)
    app.include_router(events.router)
    app.include_router(sharing.router)
    app.include_router(reader.router)
    app.include_router(creator.router)
    app.include_router(console.router)
    # The web pages' templates, scripts and stylesheets ship with the app: no build step.
    app.state.templates = Jinja2Templates(directory=HERE / "templates")
    app.mount(reader.STATIC, StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(admin.changes)
    app.include_router(admin.router)
    app.include_router(images.router)
    app.include_router(metrics_router)
    return app


def create_served_app() -> FastAPI:
    """The app of `littlewriter serve`, made in each server process (several with `--workers`):
    the process's logging first, then the app."""
    settings = Settings()
    configure_logging(settings)
    return create_app(settings)
