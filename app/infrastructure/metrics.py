"""The service's Prometheus metrics (prometheus-client), and the ports measured as they are used.

Each `ServiceMetrics` holds its own registry, built by the composition root, so that two apps in
one process (the tests) never share counts. With `PROMETHEUS_MULTIPROC_DIR` set (several server
processes on one machine), prometheus-client keeps every value in a file of that directory and
`exposition` adds up all the processes' files.

The generators, the illustrator, the moderator and the limits are measured by wrapping their
ports, so that no use case knows about metrics: what a port reports (its result, its usage, the
error it raises) is what is counted. The same wrappers put each model call in a trace span."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Literal

from opentelemetry.trace import Tracer
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from app.application.errors import ContentRejected, RateLimited
from app.application.ports import (
    AddressLimits,
    BookInProgressRepository,
    BooksInProgressPage,
    CharacterSheet,
    ContentModerator,
    ContextGenerator,
    FinishedRecord,
    GenerationCost,
    GenerationLimits,
    IllustrationRequest,
    Illustrator,
    Image,
    IndexRepair,
    PageText,
    ProviderCapacity,
    ProviderWork,
    QuestionGenerator,
    Suggestions,
)
from app.domain.book import Book, BookState
from app.domain.values import BookSpec, Language, StoryContext, Usage, UserId

GenerationKind = Literal["page", "picture", "cover", "questions", "sheet"]
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: a request is milliseconds, a model call seconds, a picture up to a minute.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_GENERATION_BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "Time to the end of the answer, by method, route template and status.",
            ["method", "route", "status"],
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.generations = Counter(
            "littlewriter_generations",
            "Model calls, by kind (page, picture, cover, questions, sheet) and outcome.",
            ["kind", "outcome"],
            registry=r,
        )
        self.generation_seconds = Histogram(
            "littlewriter_generation_seconds",
            "How long a model call took, by kind.",
            ["kind"],
            buckets=_GENERATION_BUCKETS,
            registry=r,
        )
        self.model_tokens = Counter(
            "littlewriter_model_tokens",
            "Model tokens, by direction (in: the prompt, out: the answer).",
            ["direction"],
            registry=r,
        )
        self.images_generated = Counter(
            "littlewriter_images_generated", "Pictures drawn (covers and pages).", registry=r
        )
        self.moderation_rejections = Counter(
            "littlewriter_moderation_rejections",
            "What a child typed that moderation refused.",
            registry=r,
        )
        self.rate_limited = Counter(
            "littlewriter_rate_limited",
            "Requests refused by a limit, by limit (generation: rate and daily quotas; "
            "provider: the model provider's turn too far away; sharing: one address's requests "
            "to shared books; event_streams: a user's open streams).",
            ["limit"],
            registry=r,
        )
        self.provider_wait = Histogram(
            "littlewriter_provider_wait_seconds",
            "How long a job was given to wait for its turn under the model provider's limits.",
            buckets=(0.0, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0),
            registry=r,
        )
        self.event_streams_open = Gauge(
            "littlewriter_event_streams_open",
            "Event streams open now.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.jobs_queued = Gauge(
            "littlewriter_jobs_queued",
            "Generation jobs waiting for a worker (read from the queue at each scrape).",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.job_redeliveries = Counter(
            "littlewriter_job_redeliveries",
            "Generation jobs run again because the worker running them died or stopped.",
            registry=r,
        )
        self.books_finished = Counter(
            "littlewriter_books_finished", "Books finished and kept.", registry=r
        )

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in the Prometheus text format, and its content type."""
        if os.environ.get(MULTIPROCESS_DIR):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def spent(self, usage: Usage) -> None:
        if usage.tokens_in:
            self.model_tokens.labels("in").inc(usage.tokens_in)
        if usage.tokens_out:
            self.model_tokens.labels("out").inc(usage.tokens_out)

    @asynccontextmanager
    async def generation(self, kind: GenerationKind) -> AsyncIterator[None]:
        began = time.perf_counter()
        outcome = "failed"
        try:
            yield
            outcome = "ok"
        finally:
            self.generations.labels(kind, outcome).inc()
            self.generation_seconds.labels(kind).observe(time.perf_counter() - began)


class _ModelCalls:
    """Counts, times and traces the model calls of one port."""

    def __init__(self, *, metrics: ServiceMetrics, tracer: Tracer) -> None:
        self._metrics = metrics
        self._tracer = tracer

    @asynccontextmanager
    async def _call(self, kind: GenerationKind) -> AsyncIterator[None]:
        with self._tracer.start_as_current_span(
            f"model {kind}", attributes={"littlewriter.generation.kind": kind}
        ):
            async with self._metrics.generation(kind):
                yield


class MeasuredContextGenerator(_ModelCalls, ContextGenerator):
    def __init__(self, *, inner: ContextGenerator, metrics: ServiceMetrics, tracer: Tracer) -> None:
        super().__init__(metrics=metrics, tracer=tracer)
        self._inner = inner

    async def character_sheet(self, spec: BookSpec) -> CharacterSheet:
        async with self._call("sheet"):
            sheet = await self._inner.character_sheet(spec)
        self._metrics.spent(sheet.usage)
        return sheet

    async def create(self, context: StoryContext, child_input: str) -> PageText:
        async with self._call("page"):
            page = await self._inner.create(context, child_input)
        self._metrics.spent(page.usage)
        return page


class MeasuredQuestionGenerator(_ModelCalls, QuestionGenerator):
    def __init__(
        self, *, inner: QuestionGenerator, metrics: ServiceMetrics, tracer: Tracer
    ) -> None:
        super().__init__(metrics=metrics, tracer=tracer)
        self._inner = inner

    async def create(self, context: StoryContext) -> Suggestions:
        async with self._call("questions"):
            suggestions = await self._inner.create(context)
        self._metrics.spent(suggestions.usage)
        return suggestions


class MeasuredIllustrator(_ModelCalls, Illustrator):
    def __init__(self, *, inner: Illustrator, metrics: ServiceMetrics, tracer: Tracer) -> None:
        super().__init__(metrics=metrics, tracer=tracer)
        self._inner = inner

    async def draw(self, request: IllustrationRequest) -> Image:
        kind: GenerationKind = "cover" if request.kind.value == "cover" else "picture"
        async with self._call(kind):
            image = await self._inner.draw(request)
        self._metrics.images_generated.inc()
        self._metrics.spent(image.usage)
        return image


class MeasuredModerator(ContentModerator):
    def __init__(self, *, inner: ContentModerator, metrics: ServiceMetrics, tracer: Tracer) -> None:
        self._inner = inner
        self._metrics = metrics
        self._tracer = tracer

    async def check(self, texts: list[str], language: Language) -> None:
        with self._tracer.start_as_current_span("model moderation"):
            try:
                await self._inner.check(texts, language)
            except ContentRejected:
                self._metrics.moderation_rejections.inc()
                raise


class MeasuredLimits(GenerationLimits):
    def __init__(self, *, inner: GenerationLimits, metrics: ServiceMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def take(self, user_id: UserId, cost: GenerationCost) -> None:
        try:
            await self._inner.take(user_id, cost)
        except RateLimited:
            self._metrics.rate_limited.labels("generation").inc()
            raise

    async def give_back(self, user_id: UserId, cost: GenerationCost) -> None:
        await self._inner.give_back(user_id, cost)


class MeasuredAddressLimits(AddressLimits):
    def __init__(self, *, inner: AddressLimits, metrics: ServiceMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def hit(self, address: str) -> None:
        try:
            await self._inner.hit(address)
        except RateLimited:
            self._metrics.rate_limited.labels("sharing").inc()
            raise


class MeasuredProviderCapacity(ProviderCapacity):
    def __init__(self, *, inner: ProviderCapacity, metrics: ServiceMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def reserve(self, work: ProviderWork) -> timedelta:
        try:
            wait = await self._inner.reserve(work)
        except RateLimited:
            self._metrics.rate_limited.labels("provider").inc()
            raise
        self._metrics.provider_wait.observe(wait.total_seconds())
        return wait


class MeasuredBookStore(BookInProgressRepository):
    """Counts a book finished when its book in progress is removed as kept: that happens once
    per book, whatever retries the finish took (a removal whose reply was lost is not counted)."""

    def __init__(self, *, inner: BookInProgressRepository, metrics: ServiceMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def get(self, user_id: UserId) -> Book | None:
        return await self._inner.get(user_id)

    async def add(self, book: Book) -> None:
        await self._inner.add(book)

    async def update(self, book: Book, expected_version: int) -> None:
        await self._inner.update(book, expected_version)

    async def remove(
        self, book: Book, expected_version: int, finished: FinishedRecord | None = None
    ) -> None:
        await self._inner.remove(book, expected_version, finished)
        if finished is not None:
            self._metrics.books_finished.inc()

    async def last_finished(self, user_id: UserId) -> FinishedRecord | None:
        return await self._inner.last_finished(user_id)

    async def with_passed_leases(self, now: datetime, limit: int) -> list[UserId]:
        return await self._inner.with_passed_leases(now, limit)

    async def list_in_progress(
        self,
        *,
        state: BookState | None,
        user_id: UserId | None,
        limit: int,
        cursor: str | None,
    ) -> BooksInProgressPage:
        return await self._inner.list_in_progress(
            state=state, user_id=user_id, limit=limit, cursor=cursor
        )

    async def rebuild_indexes(self) -> IndexRepair:
        return await self._inner.rebuild_indexes()

    async def ping(self) -> None:
        await self._inner.ping()
