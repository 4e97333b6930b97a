"""Failing generators and backends: a clear problem, nothing half-written, and a retry works."""

from __future__ import annotations

from app.application.errors import GenerationFailed
from app.application.ports import PageText
from app.domain.values import StoryContext
from app.infrastructure.generation.offline import OfflineContextGenerator
from app.interfaces.composition import Overrides
from tests.api.conftest import ClientFactory, assert_problem, auth, start, write


class FlakyContextGenerator(OfflineContextGenerator):
    """Fails the first `failures` pages (with `error`), then writes like the offline writer."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.inner = OfflineContextGenerator()

    async def create(self, context: StoryContext, child_input: str) -> PageText:
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        return await self.inner.create(context, child_input)


async def test_a_failed_generation_is_502_and_the_same_request_can_be_retried(
    make_client: ClientFactory,
) -> None:
    secret = "vendor said: quota exceeded for org-123"
    client = await make_client(
        Overrides(context_generator=FlakyContextGenerator(1, GenerationFailed(secret)))
    )
    before = await start(client)
    response = await write(client, "a glowing map")
    problem = assert_problem(response, 502, "generation_failed")
    assert "org-123" not in problem["detail"]
    after = (await client.get("/v1/books/current", headers=auth())).json()
    assert after["state"] == "bookInProgress" and after["pages"] == []
    assert after["questions"] == before["questions"] and after["version"] > before["version"]
    retry = await write(client, "a glowing map")
    assert retry.status_code == 200 and retry.json()["pages"][0]["number"] == 1


async def test_an_unexpected_error_is_a_500_without_internals_and_releases_the_book(
    make_client: ClientFactory,
) -> None:
    writer = FlakyContextGenerator(1, RuntimeError("Traceback: secret internals at 0xdeadbeef"))
    client = await make_client(Overrides(context_generator=writer), raise_app_exceptions=False)
    await start(client)
    problem = assert_problem(await write(client, "an idea"), 500, "internal_error")
    assert "0xdeadbeef" not in problem["detail"] and "Traceback" not in problem["detail"]
    book = (await client.get("/v1/books/current", headers=auth())).json()
    assert book["state"] == "bookInProgress" and book["pages"] == []
    assert (await write(client, "an idea")).status_code == 200


async def test_an_unreachable_store_is_503_with_retry_after(make_client: ClientFactory) -> None:
    client = await make_client(redis_url="redis://127.0.0.1:1/0")
    response = await client.get("/v1/books/current", headers=auth())
    problem = assert_problem(response, 503, "dependency_unavailable")
    assert int(response.headers["retry-after"]) > 0 and "127.0.0.1" not in problem["detail"]
    ready = await client.get("/ready")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable" and body["checks"]["store"] != "ok"
    assert body["checks"]["database"] == "ok" and body["checks"]["images"] == "ok"
