"""OpenTelemetry tracing: off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or its traces-only variant) is
set, as the OpenTelemetry specification's own variables say (`OTEL_SERVICE_NAME`,
`OTEL_EXPORTER_OTLP_HEADERS`, ... are read by the SDK and the exporter themselves).

On: one tracer provider for the process, exporting in batches over OTLP/HTTP; Redis (redis-py),
SQL (SQLAlchemy) and S3 (botocore) are traced by the OpenTelemetry project's instrumentations,
requests by its ASGI middleware (`app/interfaces/http/tracing.py`), and model calls and jobs by
spans of our own around their ports. The instrumentations patch their libraries for the whole
process, so `close` undoes them."""

from __future__ import annotations

import os
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from opentelemetry.context import Context
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, NoOpTracerProvider, SpanKind, Tracer, TraceState
from opentelemetry.trace import TracerProvider as AnyTracerProvider
from opentelemetry.util.types import Attributes
from sqlalchemy import Engine

from app.application.background import BackgroundJobs

T = TypeVar("T")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
DEFAULT_SERVICE_NAME = "littlewriter"


class Tracing:
    """The process's tracing, on or off. Built by the composition root, closed in its lifespan."""

    def __init__(self, *, provider: TracerProvider | None) -> None:
        self._provider = provider
        self._instrumented: list[Any] = []
        self._engine_traced = False

    @classmethod
    def from_environment(cls, exporter: SpanExporter | None = None) -> Tracing:
        """On when an OTLP endpoint is configured, or when a test hands in its own exporter
        (spans then go to it one by one, not in batches)."""
        if exporter is None and not any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
            return cls(provider=None)
        service = os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
        provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: service}),
            sampler=ParentBased(root=_NoLoneCalls()),
        )
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracing = cls(provider=provider)
        tracing._instrument(RedisInstrumentor(), BotocoreInstrumentor())  # type: ignore[no-untyped-call]
        return tracing

    @property
    def enabled(self) -> bool:
        return self._provider is not None

    @property
    def provider(self) -> AnyTracerProvider:
        return self._provider if self._provider is not None else NoOpTracerProvider()

    def tracer(self, name: str) -> Tracer:
        return self.provider.get_tracer(name)

    def trace_engine(self, engine: Engine) -> None:
        """SQL statements on this engine become spans (the engine exists only after start-up
        has built it, so it is handed over then)."""
        if self._provider is None:
            return
        # The instrumentation's engine tracer on its own: its instrumentor declares SQLAlchemy
        # below 2.1 and patches the asyncio engine too (which needs greenlet); the tracer only
        # listens to this engine's cursor events, which 2.1 keeps (the test checks the spans).
        connections = (
            NoOpMeterProvider()
            .get_meter(__name__)
            .create_up_down_counter("db.client.connections.usage")
        )
        tracer = self._provider.get_tracer(EngineTracer.__module__)
        EngineTracer(tracer, engine, connections)  # type: ignore[no-untyped-call]
        self._engine_traced = True

    def _instrument(self, *instrumentors: Any, **options: Any) -> None:
        for instrumentor in instrumentors:
            instrumentor.instrument(tracer_provider=self._provider, **options)
            self._instrumented.append(instrumentor)

    def close(self) -> None:
        for instrumentor in reversed(self._instrumented):
            instrumentor.uninstrument()
        self._instrumented.clear()
        if self._engine_traced:
            EngineTracer.remove_all_event_listeners()  # type: ignore[no-untyped-call]
            self._engine_traced = False
        if self._provider is not None:
            self._provider.shutdown()


class _NoLoneCalls(Sampler):
    """A trace starts with a request or a job, never with a call to a backend on its own (the
    job queue's workers wait for jobs on Redis all the time: a trace a second each)."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        decision = Decision.DROP if kind is SpanKind.CLIENT else Decision.RECORD_AND_SAMPLE
        return SamplingResult(decision, attributes)

    def get_description(self) -> str:
        return "NoLoneCalls"


class TracedBackgroundJobs(BackgroundJobs):
    """Each job is a span: a child of the request that started it (asyncio copies the request's
    context into the job's task), so a page's trace goes on after its 202."""

    def __init__(self, *, tracer: Tracer) -> None:
        super().__init__()
        self._tracer = tracer

    def _run(self, job: Coroutine[Any, Any, T], name: str) -> Coroutine[Any, Any, T]:
        return self._traced(job, name)

    async def _traced(self, job: Coroutine[Any, Any, T], name: str) -> T:
        kind = name.split(":", 1)[0]
        with self._tracer.start_as_current_span(
            f"job {kind}", attributes={"littlewriter.job": name}
        ):
            return await job
