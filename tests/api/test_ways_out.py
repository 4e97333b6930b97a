"""Refusals that name a state also say the way out: how many pages are left before a book can
be finished, and how to discard the book in progress to start another."""

from __future__ import annotations

import httpx

from tests.api.conftest import assert_problem, auth, start, write


async def test_a_second_start_says_how_to_discard_the_first(client: httpx.AsyncClient) -> None:
    await start(client)
    again = await client.post(
        "/v1/books",
        json={"characters": [{"name": "Momo"}], "page_count": 3},
        headers=auth(),
    )
    detail = assert_problem(again, 409, "book_already_in_progress")["detail"]
    assert "DELETE /v1/books/current" in detail


async def test_finishing_early_says_how_many_pages_are_left(client: httpx.AsyncClient) -> None:
    await start(client, page_count=3)
    assert (await write(client, "Momo finds a map")).status_code == 200
    early = await client.post("/v1/books/current/finish", json={"title": "Soon"}, headers=auth())
    detail = assert_problem(early, 409, "invalid_book_state")["detail"]
    assert "2 of its 3 pages still to write" in detail
