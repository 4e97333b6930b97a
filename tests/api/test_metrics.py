"""GET /metrics: the counts move as a book is written, labelled by route template; the scrape is
guarded by LW_METRICS_TOKEN, and not served in production without it."""

from __future__ import annotations

import secrets

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from tests.api.conftest import ClientFactory, assert_problem, auth, start, write
from tests.api.test_ai_generation import ai_client
from tests.fake_openai import FakeOpenAI

pytest_plugins = ["tests.fake_openai"]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_the_counts_move_as_a_book_is_written_and_finished(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    await start(client, page_count=2)
    assert (await write(client, "a glowing map")).status_code == 200
    assert (await write(client, "they go home")).status_code == 200
    finished = await client.post("/v1/books/current/finish", json={"title": "T"}, headers=auth())
    book_id = finished.json()["id"]
    assert (await client.get(f"/v1/books/{book_id}", headers=auth())).status_code == 200
    assert (await client.get("/no/such/page")).status_code == 404

    samples = await scrape(client)

    pages = {"method": "POST", "route": "/v1/books/current/pages", "status": "200"}
    assert value(samples, "http_requests_total", **pages) == 2
    assert value(samples, "http_request_duration_seconds_count", **pages) == 2
    one_book = {"method": "GET", "route": "/v1/books/{book_id}", "status": "200"}
    assert value(samples, "http_requests_total", **one_book) == 1
    unknown = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(samples, "http_requests_total", **unknown) == 1
    routes = {dict(labels).get("route") for name, labels in samples if name.startswith("http_")}
    assert not any(book_id in (route or "") for route in routes)  # templates, never raw paths
    # The start: the character sheet, the cover, the first questions; each page: its text and
    # picture, and questions after every page but the last.
    for kind, count in {"sheet": 1, "cover": 1, "questions": 2, "page": 2, "picture": 2}.items():
        assert value(samples, "littlewriter_generations_total", kind=kind, outcome="ok") == count
        assert value(samples, "littlewriter_generation_seconds_count", kind=kind) == count
    assert value(samples, "littlewriter_images_generated_total") == 3
    assert value(samples, "littlewriter_books_finished_total") == 1


async def test_tokens_moderation_and_limits_are_counted(
    make_client: ClientFactory, fake_openai: FakeOpenAI
) -> None:
    client = await ai_client(make_client, fake_openai.base_url, rate_limit_generation="2/minute")
    await start(client, page_count=3)
    fake_openai.moderations.flag("wolf bites")
    assert_problem(await write(client, "the wolf bites Momo"), 422, "content_rejected")
    assert (await write(client, "a glowing map")).status_code == 200
    assert_problem(await write(client, "a third idea"), 429, "rate_limited")

    samples = await scrape(client)
    usage = (
        await client.get("/v1/admin/users/alice/books/current", headers=auth("r", admin=True))
    ).json()["usage"]
    assert (
        value(samples, "littlewriter_model_tokens_total", direction="in") == usage["tokens_in"] > 0
    )
    assert (
        value(samples, "littlewriter_model_tokens_total", direction="out")
        == usage["tokens_out"]
        > 0
    )
    assert value(samples, "littlewriter_moderation_rejections_total") == 1
    assert value(samples, "littlewriter_rate_limited_total", limit="generation") == 1


async def test_the_scrape_needs_the_metrics_token_when_one_is_set(
    make_client: ClientFactory,
) -> None:
    token = secrets.token_hex(32)
    client = await make_client(metrics_token=SecretStr(token))
    assert_problem(await client.get("/metrics"), 401, "unauthorized")
    wrong = await client.get("/metrics", headers={"Authorization": f"Bearer {token[:-1]}x"})
    assert_problem(wrong, 401, "unauthorized")
    user = await client.get("/metrics", headers=auth())  # a user's token is not the scraper's
    assert_problem(user, 401, "unauthorized")
    assert await scrape(client, Authorization=f"Bearer {token}")


async def test_in_production_the_metrics_are_not_served_without_a_token(
    make_client: ClientFactory,
) -> None:
    production = {
        "env": "production",
        "allow_embedded_in_production": True,
        "jwt_secret": SecretStr(secrets.token_hex(32)),
        "image_url_secret": SecretStr(secrets.token_hex(32)),
        "public_base_url": "https://books.example",
    }
    closed = await make_client(**production)
    assert_problem(await closed.get("/metrics"), 404, "not_found")
    token = secrets.token_hex(32)
    guarded = await make_client(**production, metrics_token=SecretStr(token))
    assert await scrape(guarded, Authorization=f"Bearer {token}")
