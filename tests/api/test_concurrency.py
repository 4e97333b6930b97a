"""Concurrent page requests never lose or duplicate a page."""

from __future__ import annotations

import asyncio

import httpx

from app.application.ports import IllustrationRequest, Illustrator, Image
from app.application.ports.generation import IllustrationKind
from app.infrastructure.generation.offline import PillowIllustrator
from app.interfaces.composition import Overrides
from tests.api.conftest import ClientFactory, assert_problem, auth, start, write
from tests.unit.fakes import ScriptedContextGenerator, reached


class GatedIllustrator(Illustrator):
    """Draws for real, but holds every page drawing until the test opens the gate."""

    def __init__(self) -> None:
        self.inner = PillowIllustrator()
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def draw(self, request: IllustrationRequest) -> Image:
        if request.kind is IllustrationKind.PAGE:
            self.waiting.set()
            await self.gate.wait()
        return await self.inner.draw(request)


async def test_concurrent_page_requests_never_lose_or_duplicate_a_page(
    client: httpx.AsyncClient,
) -> None:
    await start(client, page_count=20)
    responses = await asyncio.gather(*(write(client, f"idea {n}") for n in range(12)))
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    for response in refused:
        assert_problem(response, 409, "invalid_book_state")
    book = (await client.get("/v1/books/current", headers=auth())).json()
    assert len(ok) >= 1 and len(ok) == len(book["pages"])
    assert [p["number"] for p in book["pages"]] == list(range(1, len(ok) + 1))
    assert len({p["input"] for p in book["pages"]}) == len(ok)
    assert book["state"] == "bookInProgress"


async def test_a_write_while_generating_is_409_and_the_first_completes(
    make_client: ClientFactory,
) -> None:
    writer = ScriptedContextGenerator()  # held while writing the text: the book is `generating`
    client = await make_client(Overrides(context_generator=writer))
    await start(client)
    gate = writer.script.hold()
    first = asyncio.create_task(write(client, "the first idea"))
    await reached(writer.script.started)

    during = (await client.get("/v1/books/current", headers=auth())).json()
    assert during["state"] == "generating" and during["questions"]
    assert_problem(await write(client, "a second idea"), 409, "invalid_book_state")
    finish = await client.post("/v1/books/current/finish", json={"title": "T"}, headers=auth())
    assert_problem(finish, 409, "invalid_book_state")

    gate.set()
    response = await asyncio.wait_for(first, 10)
    assert response.status_code == 200
    pages = response.json()["pages"]
    assert [(p["number"], p["input"]) for p in pages] == [(1, "the first idea")]


async def test_discarding_while_generating_ends_the_write_with_404(
    make_client: ClientFactory,
) -> None:
    illustrator = GatedIllustrator()
    client = await make_client(Overrides(illustrator=illustrator))
    await start(client)
    pending = asyncio.create_task(write(client, "an idea"))
    await asyncio.wait_for(illustrator.waiting.wait(), 5)
    assert (await client.delete("/v1/books/current", headers=auth())).status_code == 204
    illustrator.gate.set()
    assert_problem(await asyncio.wait_for(pending, 10), 404, "no_book_in_progress")
    assert_problem(
        await client.get("/v1/books/current", headers=auth()), 404, "no_book_in_progress"
    )


async def test_concurrent_starts_create_one_book(client: httpx.AsyncClient) -> None:
    from tests.api.conftest import BOOK

    responses = await asyncio.gather(
        *(client.post("/v1/books", json=BOOK, headers=auth()) for _ in range(8))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1 and codes.count(409) == 7
    created = next(r for r in responses if r.status_code == 201).json()
    assert (await client.get("/v1/books/current", headers=auth())).json()["id"] == created["id"]


async def test_concurrent_finishes_keep_exactly_one_book(client: httpx.AsyncClient) -> None:
    await start(client, page_count=1)
    await write(client, "the end")
    responses = await asyncio.gather(
        *(
            client.post("/v1/books/current/finish", json={"title": "Once"}, headers=auth())
            for _ in range(5)
        ),
        client.post(
            "/v1/admin/users/alice/books/current/finish",
            json={"title": "Once"},
            headers=auth("root", admin=True),
        ),
    )
    finished_ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(finished_ids) == 1
    for response in responses:
        if response.status_code != 201:  # told the truth: finished by another request
            assert_problem(response, 409, "invalid_book_state")
    shelf = (await client.get("/v1/books", headers=auth())).json()
    assert [item["id"] for item in shelf["items"]] == list(finished_ids)
