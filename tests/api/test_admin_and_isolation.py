"""Admins see and finish any user's book; users only ever see their own."""

from __future__ import annotations

import httpx

from tests.api.conftest import assert_problem, auth, finished_book, start, write


async def test_admin_reads_a_users_book_in_progress(client: httpx.AsyncClient) -> None:
    book = await start(client, "bob")
    response = await client.get(
        "/v1/admin/users/bob/books/current", headers=auth("root", admin=True)
    )
    assert response.status_code == 200 and response.json()["id"] == book["id"]
    missing = await client.get(
        "/v1/admin/users/carol/books/current", headers=auth("root", admin=True)
    )
    assert_problem(missing, 404, "no_book_in_progress")
    invalid = await client.get(
        "/v1/admin/users/no%20such/books/current", headers=auth("r", admin=True)
    )
    assert_problem(invalid, 404, "no_book_in_progress")


async def test_admin_finishes_a_done_book_as_admin(client: httpx.AsyncClient) -> None:
    await start(client, "bob", page_count=1)
    await write(client, "the end", "bob")
    response = await client.post(
        "/v1/admin/users/bob/books/current/finish",
        json={"title": "Bob's Book"},
        headers=auth("root", admin=True),
    )
    assert response.status_code == 201
    book = response.json()
    assert book["finished_by"] == "admin" and response.headers["location"].endswith(book["id"])
    assert book["user_id"] == "bob"
    mine = await client.get(f"/v1/books/{book['id']}", headers=auth("bob"))
    assert mine.status_code == 200 and mine.json()["finished_by"] == "admin"


async def test_admin_force_finishes_a_book_with_the_pages_it_has(client: httpx.AsyncClient) -> None:
    await start(client, "bob", page_count=5)
    await write(client, "one", "bob")
    await write(client, "two", "bob")
    response = await client.post(
        "/v1/admin/users/bob/books/current/finish",
        json={"title": "Short", "force": True},
        headers=auth("root", admin=True),
    )
    assert response.status_code == 201
    assert response.json()["page_count"] == 2 and len(response.json()["pages"]) == 2


async def test_admin_finish_without_force_needs_a_done_book(client: httpx.AsyncClient) -> None:
    await start(client, "bob", page_count=5)
    await write(client, "one", "bob")
    response = await client.post(
        "/v1/admin/users/bob/books/current/finish",
        json={"title": "Short"},
        headers=auth("root", admin=True),
    )
    assert_problem(response, 409, "invalid_book_state")


async def test_admin_force_with_no_page_is_refused(client: httpx.AsyncClient) -> None:
    await start(client, "bob")
    response = await client.post(
        "/v1/admin/users/bob/books/current/finish",
        json={"title": "Empty", "force": True},
        headers=auth("root", admin=True),
    )
    assert_problem(response, 409, "invalid_book_state")
    missing = await client.post(
        "/v1/admin/users/carol/books/current/finish",
        json={"title": "x"},
        headers=auth("root", admin=True),
    )
    assert_problem(missing, 404, "no_book_in_progress")


async def test_admin_reads_any_finished_book(client: httpx.AsyncClient) -> None:
    book = await finished_book(client, "bob", pages=1)
    response = await client.get(f"/v1/admin/books/{book['id']}", headers=auth("root", admin=True))
    assert response.status_code == 200 and response.json()["id"] == book["id"]
    assert response.json()["user_id"] == "bob" and "user_id" not in book  # the owner's: no need
    gone = await client.get(
        "/v1/admin/books/0b6a3d55-9f29-4a57-9a43-3c1b7a1e2f10", headers=auth("root", admin=True)
    )
    assert_problem(gone, 404, "book_not_found")


async def test_another_users_finished_book_is_404(client: httpx.AsyncClient) -> None:
    book = await finished_book(client, "bob", pages=1)
    assert_problem(
        await client.get(f"/v1/books/{book['id']}", headers=auth("mallory")), 404, "book_not_found"
    )
    assert_problem(
        await client.delete(f"/v1/books/{book['id']}", headers=auth("mallory")),
        404,
        "book_not_found",
    )
    assert (await client.get(f"/v1/books/{book['id']}", headers=auth("bob"))).status_code == 200
    assert (await client.get("/v1/books", headers=auth("mallory"))).json()["items"] == []


async def test_books_in_progress_are_per_user(client: httpx.AsyncClient) -> None:
    bob = await start(client, "bob")
    alice = await start(client, "alice")
    assert bob["id"] != alice["id"]
    await write(client, "bob's idea", "bob")
    mine = (await client.get("/v1/books/current", headers=auth("alice"))).json()
    assert mine["id"] == alice["id"] and mine["pages"] == []


async def test_admin_views_show_what_the_book_cost_and_user_views_do_not(
    client: httpx.AsyncClient,
) -> None:
    await start(client, "bob", page_count=1)
    await write(client, "the end", "bob")
    mine = (await client.get("/v1/books/current", headers=auth("bob"))).json()
    assert "usage" not in mine
    admin = await client.get("/v1/admin/users/bob/books/current", headers=auth("root", admin=True))
    # Offline generators cost nothing: the fields are there, at zero.
    assert admin.json()["usage"] == {"tokens_in": 0, "tokens_out": 0, "images": 0}
    finished = await client.post(
        "/v1/books/current/finish", json={"title": "Kept"}, headers=auth("bob")
    )
    assert "usage" not in finished.json()
    book_id = finished.json()["id"]
    assert "usage" not in (await client.get(f"/v1/books/{book_id}", headers=auth("bob"))).json()
    kept = await client.get(f"/v1/admin/books/{book_id}", headers=auth("root", admin=True))
    assert kept.json()["usage"] == {"tokens_in": 0, "tokens_out": 0, "images": 0}
