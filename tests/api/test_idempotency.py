"""Idempotency-Key on the POST routes: a repeat gets the first answer and never runs twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.application.errors import GenerationFailed
from app.infrastructure.store.redis_idempotency import RedisIdempotencyStore, idempotency_key
from app.interfaces.composition import Overrides, Services
from app.interfaces.http.app import create_app
from app.interfaces.http.idempotency import request_fingerprint
from tests.api.conftest import (
    BOOK,
    ClientFactory,
    assert_problem,
    auth,
    settings_for,
    start,
    write,
)
from tests.integration.services import service_url
from tests.unit.fakes import ScriptedContextGenerator, ScriptedQuestionGenerator, reached

PAGES = "/v1/books/current/pages"
FINISH = "/v1/books/current/finish"
ADMIN_FINISH = "/v1/admin/users/alice/books/current/finish"
KEY = '"8e03978e-40d5-43e8-bc93-6894a57f9324"'
ASYNC = {"Prefer": "respond-async"}


def keyed(key: str = KEY, user: str = "alice", *, admin: bool = False) -> dict[str, str]:
    return {**auth(user, admin=admin), "Idempotency-Key": key}


async def page(
    client: httpx.AsyncClient, text: str, key: str = KEY, user: str = "alice"
) -> httpx.Response:
    return await client.post(PAGES, json={"input": text}, headers=keyed(key, user))


async def current(client: httpx.AsyncClient, user: str = "alice") -> dict[str, Any]:
    response = await client.get("/v1/books/current", headers=auth(user))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_replay(first: httpx.Response, again: httpx.Response) -> None:
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers.get("location") == first.headers.get("location")


@pytest.fixture
def writer() -> ScriptedContextGenerator:
    return ScriptedContextGenerator()


@pytest.fixture
async def client(make_client: ClientFactory, writer: ScriptedContextGenerator) -> httpx.AsyncClient:
    return await make_client(Overrides(context_generator=writer))


async def test_a_repeated_start_replays_the_first_response_and_starts_one_book(
    client: httpx.AsyncClient, writer: ScriptedContextGenerator
) -> None:
    first = await client.post("/v1/books", json=BOOK, headers=keyed())
    assert first.status_code == 201 and first.headers["location"] == "/v1/books/current"
    again = await client.post("/v1/books", json=BOOK, headers=keyed())
    assert_replay(first, again)
    assert len(writer.sheets) == 1
    assert (await current(client))["id"] == first.json()["id"]


async def test_a_repeated_page_replays_the_first_response_and_writes_one_page(
    client: httpx.AsyncClient, writer: ScriptedContextGenerator
) -> None:
    await start(client)
    first = await page(client, "a glowing map")
    assert first.status_code == 200
    again = await page(client, "a glowing map")
    assert_replay(first, again)
    assert writer.script.calls == 1
    assert [p["input"] for p in (await current(client))["pages"]] == ["a glowing map"]


async def test_a_repeated_finish_replays_the_first_response_and_keeps_one_book(
    client: httpx.AsyncClient,
) -> None:
    await start(client, page_count=1)
    assert (await write(client, "the end")).status_code == 200
    first = await client.post(FINISH, json={"title": "Once"}, headers=keyed())
    assert first.status_code == 201
    assert first.headers["location"] == f"/v1/books/{first.json()['id']}"
    again = await client.post(FINISH, json={"title": "Once"}, headers=keyed())
    assert_replay(first, again)
    shelf = (await client.get("/v1/books", headers=auth())).json()
    assert [item["id"] for item in shelf["items"]] == [first.json()["id"]]


async def test_a_repeated_admin_finish_replays_the_first_response(
    client: httpx.AsyncClient,
) -> None:
    await start(client, page_count=1)
    assert (await write(client, "the end")).status_code == 200
    body = {"title": "Once", "force": False}
    first = await client.post(ADMIN_FINISH, json=body, headers=keyed(user="root", admin=True))
    assert first.status_code == 201
    assert first.headers["location"] == f"/v1/admin/books/{first.json()['id']}"
    again = await client.post(ADMIN_FINISH, json=body, headers=keyed(user="root", admin=True))
    assert_replay(first, again)
    assert first.json()["finished_by"] == "admin"
    shelf = (await client.get("/v1/books", headers=auth())).json()
    assert [item["id"] for item in shelf["items"]] == [first.json()["id"]]


async def test_the_same_json_in_another_order_and_spacing_is_the_same_request(
    client: httpx.AsyncClient,
) -> None:
    first = await client.post("/v1/books", json=BOOK, headers=keyed())
    reordered = json.dumps(dict(reversed(list(BOOK.items()))), indent=2).encode()
    headers = {**keyed(), "Content-Type": "application/json"}
    again = await client.post("/v1/books", content=reordered, headers=headers)
    assert_replay(first, again)


async def test_the_quoted_and_the_bare_key_are_the_same_key(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/books", json=BOOK, headers=keyed('"abc-123"'))
    again = await client.post("/v1/books", json=BOOK, headers=keyed("abc-123"))
    assert_replay(first, again)


async def test_a_key_reused_with_another_body_or_route_is_422_and_runs_nothing(
    client: httpx.AsyncClient, writer: ScriptedContextGenerator
) -> None:
    await start(client)
    assert (await page(client, "a glowing map")).status_code == 200
    assert_problem(await page(client, "another idea"), 422, "idempotency_key_reused")
    finish = await client.post(FINISH, json={"title": "T"}, headers=keyed())
    assert_problem(finish, 422, "idempotency_key_reused")
    assert writer.script.calls == 1
    assert len((await current(client))["pages"]) == 1


async def test_a_repeat_while_the_first_runs_is_409_with_retry_after(
    client: httpx.AsyncClient, writer: ScriptedContextGenerator
) -> None:
    await start(client)
    gate = writer.script.hold()
    first = asyncio.create_task(page(client, "a glowing map"))
    await reached(writer.script.started)

    during = await page(client, "a glowing map")
    assert_problem(during, 409, "idempotency_key_in_use")
    assert 1 <= int(during.headers["retry-after"]) <= 5
    assert_problem(await page(client, "another idea"), 422, "idempotency_key_reused")

    gate.set()
    done = await asyncio.wait_for(first, 10)
    assert done.status_code == 200
    assert_replay(done, await page(client, "a glowing map"))
    assert writer.script.calls == 1


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        '""',
        "a" * 256,
        '"' + "a" * 256 + '"',
        "a b",
        '"a b"',
        '"abc',
        'abc"',
        '"a"b"',
        '"a\\"b"',
        "a\\b",
        "a,b",
        '"a", "b"',
        '"a";p=1',
        "a\tb",
    ],
)
async def test_a_malformed_key_is_400_and_changes_nothing(
    client: httpx.AsyncClient, writer: ScriptedContextGenerator, value: str
) -> None:
    await start(client)
    assert_problem(await page(client, "a glowing map", key=value), 400, "bad_request")
    assert writer.script.calls == 0
    assert (await current(client))["pages"] == []


async def test_a_key_that_is_not_ascii_is_400(client: httpx.AsyncClient) -> None:
    headers = [(k.encode(), v.encode()) for k, v in auth().items()]
    headers.append((b"Idempotency-Key", "m\u00f6mo".encode()))
    response = await client.post("/v1/books", json=BOOK, headers=headers)
    assert_problem(response, 400, "bad_request")
    no_book = await client.get("/v1/books/current", headers=auth())
    assert_problem(no_book, 404, "no_book_in_progress")


async def test_several_key_headers_are_400(client: httpx.AsyncClient) -> None:
    headers = [*auth().items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    response = await client.post("/v1/books", json=BOOK, headers=headers)
    assert_problem(response, 400, "bad_request")
    no_book = await client.get("/v1/books/current", headers=auth())
    assert_problem(no_book, 404, "no_book_in_progress")


@pytest.mark.parametrize(
    "value", ["a", "~" * 255, f'"{"k" * 255}"', "!#$%&'()*+-./:;<=>?@[]^_`{|}~"]
)
async def test_any_visible_ascii_key_of_1_to_255_characters_is_accepted(
    client: httpx.AsyncClient, value: str
) -> None:
    first = await client.post("/v1/books", json=BOOK, headers=keyed(value))
    assert first.status_code == 201, first.text
    assert_replay(first, await client.post("/v1/books", json=BOOK, headers=keyed(value)))


async def test_keys_are_per_caller(
    client: httpx.AsyncClient, writer: ScriptedContextGenerator
) -> None:
    alice = await client.post("/v1/books", json=BOOK, headers=keyed(user="alice"))
    bob = await client.post("/v1/books", json=BOOK, headers=keyed(user="bob"))
    assert alice.status_code == bob.status_code == 201
    assert "idempotent-replayed" not in bob.headers
    assert alice.json()["id"] != bob.json()["id"]
    assert len(writer.sheets) == 2


async def test_a_failed_generation_is_not_kept_and_the_retry_runs_again(
    client: httpx.AsyncClient, writer: ScriptedContextGenerator
) -> None:
    await start(client)
    writer.script.fail_next(GenerationFailed("the model is down"))
    assert_problem(await page(client, "a glowing map"), 502, "generation_failed")
    retry = await page(client, "a glowing map")
    assert retry.status_code == 200 and "idempotent-replayed" not in retry.headers
    assert_replay(retry, await page(client, "a glowing map"))
    assert writer.script.calls == 2
    assert len((await current(client))["pages"]) == 1


async def test_an_unexpected_error_frees_the_key(make_client: ClientFactory) -> None:
    writer = ScriptedContextGenerator()
    client = await make_client(Overrides(context_generator=writer), raise_app_exceptions=False)
    await start(client)
    writer.script.fail_next(RuntimeError("a bug"))
    assert_problem(await page(client, "a glowing map"), 500, "internal_error")
    retry = await page(client, "a glowing map")
    assert retry.status_code == 200 and "idempotent-replayed" not in retry.headers
    assert writer.script.calls == 2


async def test_a_cancelled_request_frees_the_key(make_client: ClientFactory) -> None:
    asker = ScriptedQuestionGenerator()
    client = await make_client(Overrides(question_generator=asker))
    gate = asker.script.hold()
    first = asyncio.create_task(client.post("/v1/books", json=BOOK, headers=keyed()))
    await reached(asker.script.started)
    first.cancel()  # what a client that disconnects does to its request
    with pytest.raises(asyncio.CancelledError):
        await first
    gate.set()
    retry = await client.post("/v1/books", json=BOOK, headers=keyed())
    assert retry.status_code == 201 and "idempotent-replayed" not in retry.headers


async def test_a_client_error_is_kept_and_replayed(client: httpx.AsyncClient) -> None:
    await start(client)
    first = await client.post("/v1/books", json=BOOK, headers=keyed())
    assert_problem(first, 409, "book_already_in_progress")
    assert (await client.delete("/v1/books/current", headers=auth())).status_code == 204
    again = await client.post("/v1/books", json=BOOK, headers=keyed())
    assert_replay(first, again)
    no_book = await client.get("/v1/books/current", headers=auth())
    assert_problem(no_book, 404, "no_book_in_progress")


async def test_a_storm_of_identical_requests_writes_exactly_one_page(
    client: httpx.AsyncClient, writer: ScriptedContextGenerator
) -> None:
    await start(client)
    responses = await asyncio.gather(*(page(client, "a glowing map") for _ in range(100)))
    fresh = [
        r for r in responses if r.status_code == 200 and "idempotent-replayed" not in r.headers
    ]
    assert len(fresh) == 1
    for response in responses:
        if response is fresh[0]:
            continue
        if response.status_code == 409:
            assert_problem(response, 409, "idempotency_key_in_use")
            assert 1 <= int(response.headers["retry-after"]) <= 5
        else:
            assert_replay(fresh[0], response)
    assert writer.script.calls == 1
    assert len((await current(client))["pages"]) == 1


async def test_requests_without_a_key_are_unchanged(
    client: httpx.AsyncClient, writer: ScriptedContextGenerator
) -> None:
    await start(client)
    first, second = await write(client, "same idea"), await write(client, "same idea")
    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in first.headers
    assert "idempotent-replayed" not in second.headers
    assert [p["input"] for p in (await current(client))["pages"]] == ["same idea", "same idea"]
    assert writer.script.calls == 2


async def test_openapi_documents_the_key_on_the_four_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    routes = {
        "/v1/books": ("201", "BookOut"),
        PAGES: ("200", "BookOut"),
        FINISH: ("201", "FinishedBookOut"),
        "/v1/admin/users/{user_id}/books/current/finish": ("201", "AdminFinishedBookOut"),
    }
    for path, (success, schema) in routes.items():
        operation = spec["paths"][path]["post"]
        headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert "Idempotency-Key" in headers, path
        ok = operation["responses"][success]
        assert ok["content"]["application/json"]["schema"]["$ref"].endswith(f"/{schema}")
        assert "Idempotent-Replayed" in ok["headers"]
        assert {"400", "409", "422"} <= set(operation["responses"])
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if method != "post":
                names = [p["name"] for p in operation.get("parameters", [])]
                assert "Idempotency-Key" not in names, (path, method)


async def test_a_kept_response_survives_a_restart_of_the_embedded_store(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "restart")
    headers = {**auth(), "Idempotency-Key": '"start-once"'}
    responses = []
    for _ in range(2):  # the snapshot is written when the first app stops
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client,
        ):
            responses.append(await client.post("/v1/books", json=BOOK, headers=headers))
    created, replayed = responses
    assert created.status_code == replayed.status_code == 201
    assert "idempotent-replayed" not in created.headers
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == created.json()


def services_of(client: httpx.AsyncClient) -> Services:
    transport = client._transport  # the app under test, in this process
    assert isinstance(transport, httpx.ASGITransport)
    services: Services = transport.app.state.services  # type: ignore[attr-defined]
    return services


async def test_a_key_left_locked_by_a_request_that_died_is_free_within_its_lock(
    make_client: ClientFactory, writer: ScriptedContextGenerator
) -> None:
    client = await make_client(Overrides(context_generator=writer), idempotency_lock_seconds=1)
    await start(client)
    body = json.dumps({"input": "a glowing map"}).encode()
    # What a server that died mid-request leaves: the key locked, nobody renewing it.
    await services_of(client).idempotency.claim(
        "alice", KEY.strip('"'), request_fingerprint("POST", PAGES, body), timedelta(seconds=1)
    )

    during = await page(client, "a glowing map")
    assert_problem(during, 409, "idempotency_key_in_use")
    assert int(during.headers["retry-after"]) == 1
    await asyncio.sleep(1.2)
    after = await page(client, "a glowing map")

    assert after.status_code == 200, after.text
    assert [p["input"] for p in after.json()["pages"]] == ["a glowing map"]


async def test_a_request_that_runs_longer_than_its_lock_keeps_its_key(
    make_client: ClientFactory, writer: ScriptedContextGenerator
) -> None:
    client = await make_client(Overrides(context_generator=writer), idempotency_lock_seconds=1)
    await start(client)
    gate = writer.script.hold()
    first = asyncio.create_task(page(client, "a glowing map"))
    await reached(writer.script.started)
    await asyncio.sleep(1.6)  # past the lock: renewed while the request runs

    assert_problem(await page(client, "a glowing map"), 409, "idempotency_key_in_use")
    gate.set()
    assert (await asyncio.wait_for(first, 10)).status_code == 200
    assert writer.script.calls == 1


async def test_a_retry_whose_first_answer_was_never_kept_is_answered_from_the_book(
    client: httpx.AsyncClient, writer: ScriptedContextGenerator
) -> None:
    await start(client)
    first = await page(client, "a glowing map")
    assert first.status_code == 200
    # The server died after storing the page and before keeping the key's answer.
    idempotency = services_of(client).idempotency
    assert isinstance(idempotency, RedisIdempotencyStore)
    await idempotency._redis.delete(idempotency_key("alice", KEY.strip('"')))

    again = await page(client, "a glowing map")

    assert again.status_code == 200
    assert [p["input"] for p in again.json()["pages"]] == ["a glowing map"]
    assert [p["input"] for p in (await current(client))["pages"]] == ["a glowing map"]
    assert writer.script.calls == 1


@pytest.mark.services
async def test_a_retry_sent_to_another_server_waits_for_its_page_written_there(
    make_client: ClientFactory,
) -> None:
    redis_url = service_url("LW_TEST_REDIS_URL")
    user = f"idem-{uuid.uuid4().hex[:12]}"
    writer = ScriptedContextGenerator()
    here = await make_client(Overrides(context_generator=writer), redis_url=redis_url)
    elsewhere = await make_client(redis_url=redis_url, run_jobs=False)  # an API-only server
    await start(here, user)
    gate = writer.script.hold()
    accepted = await here.post(
        PAGES, json={"input": "a glowing map"}, headers={**keyed(KEY, user), **ASYNC}
    )
    assert accepted.status_code == 202
    await reached(writer.script.started)
    # The answer was never kept (its server died): the same request, sent to another server.
    idempotency = services_of(here).idempotency
    assert isinstance(idempotency, RedisIdempotencyStore)
    await idempotency._redis.delete(idempotency_key(user, KEY.strip('"')))

    during = asyncio.create_task(page(elsewhere, "a glowing map", user=user))
    await asyncio.sleep(0.5)
    assert not during.done()  # it waits for the job on the queue, wherever that runs
    gate.set()
    after = await during

    assert after.status_code == 200, after.text
    assert "idempotent-replayed" not in after.headers
    assert [p["input"] for p in after.json()["pages"]] == ["a glowing map"]
    assert writer.script.calls == 1
