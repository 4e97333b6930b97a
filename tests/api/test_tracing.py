"""OpenTelemetry tracing: off without an OTLP endpoint; on, one trace per request that goes on
into its page job, with the model calls, Redis (real), S3 (moto's server) and SQL in it."""

from __future__ import annotations

import uuid

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.domain.values import UserId
from app.infrastructure.tracing import Tracing
from app.interfaces.composition import Overrides
from tests.api.conftest import ClientFactory, auth
from tests.api.test_idempotency import services_of
from tests.integration.services import service_url

pytest_plugins = ["tests.s3_server"]


def test_tracing_is_off_unless_an_otlp_endpoint_is_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert not Tracing.from_environment().enabled
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "littlewriter-test")
    tracing = Tracing.from_environment()
    try:
        assert tracing.enabled and isinstance(tracing.provider, TracerProvider)
        assert tracing.provider.resource.attributes["service.name"] == "littlewriter-test"
    finally:
        tracing.close()


def _in_trace(spans: tuple[ReadableSpan, ...], trace_id: int) -> list[ReadableSpan]:
    return [
        span for span in spans if span.context is not None and span.context.trace_id == trace_id
    ]


@pytest.mark.services
async def test_a_page_is_one_trace_from_the_request_through_its_job_to_every_backend(
    make_client: ClientFactory, s3_bucket: str, s3_endpoint_url: str
) -> None:
    exporter = InMemorySpanExporter()
    client = await make_client(
        Overrides(span_exporter=exporter),
        redis_url=service_url("LW_TEST_REDIS_URL"),
        s3_bucket=s3_bucket,
        s3_endpoint_url=s3_endpoint_url,
    )
    user = f"trace-{uuid.uuid4().hex[:12]}"
    book = {"characters": [{"name": "Momo"}], "page_count": 1}
    assert (await client.post("/v1/books", json=book, headers=auth(user))).status_code == 201
    exporter.clear()

    written = await client.post(
        "/v1/books/current/pages",
        json={"input": "a glowing map"},
        headers={**auth(user), "X-Request-ID": "trace-me-1"},
    )
    assert written.status_code == 200, written.text
    spans = exporter.get_finished_spans()
    (request,) = [s for s in spans if s.name == "POST /v1/books/current/pages"]
    assert request.attributes is not None
    assert request.attributes["littlewriter.request_id"] == "trace-me-1"
    assert request.attributes["http.route"] == "/v1/books/current/pages"
    assert request.context is not None
    trace = _in_trace(spans, request.context.trace_id)
    names = {span.name for span in trace}
    assert {"job page", "model moderation", "model page", "model picture"} <= names
    (job,) = [s for s in trace if s.name == "job page"]
    (page,) = [s for s in trace if s.name == "model page"]
    assert job.parent is not None and page.parent is not None
    assert page.parent.span_id == job.context.span_id  # type: ignore[union-attr]
    systems = {(s.attributes or {}).get("db.system") for s in trace}
    assert "redis" in systems
    assert any((s.attributes or {}).get("rpc.service") == "S3" for s in trace)

    exporter.clear()
    finished = await client.post(
        "/v1/books/current/finish", json={"title": "Lights"}, headers=auth(user)
    )
    assert finished.status_code == 201, finished.text
    spans = exporter.get_finished_spans()
    (finish,) = [s for s in spans if s.name == "POST /v1/books/current/finish"]
    assert finish.context is not None
    trace = _in_trace(spans, finish.context.trace_id)
    assert "sqlite" in {(s.attributes or {}).get("db.system") for s in trace}

    # A backend call outside any request or job (the queue's workers wait for jobs on Redis
    # all the time) starts no trace of its own.
    exporter.clear()
    await services_of(client).store.get(UserId(user))
    assert exporter.get_finished_spans() == ()
