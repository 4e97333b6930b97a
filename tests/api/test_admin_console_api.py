"""The admin console's API over HTTP: books in progress of every user, finished books with their
cost, a day's totals, takedowns, and the audit log of what admins did."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.interfaces.composition import Overrides
from app.interfaces.http.app import create_app
from tests.api.conftest import (
    ClientFactory,
    assert_problem,
    auth,
    finished_book,
    settings_for,
    start,
    write,
)
from tests.unit.fakes import FakeClock, ScriptedContextGenerator, reached

ADMIN = auth("root", admin=True)

NEW_ROUTES = [
    ("GET", "/v1/admin/books-in-progress"),
    ("GET", "/v1/admin/books"),
    ("GET", "/v1/admin/usage"),
    ("GET", "/v1/admin/audit"),
    ("DELETE", "/v1/admin/books/00000000-0000-4000-8000-000000000000"),
]


async def listed(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def every_page(client: httpx.AsyncClient, path: str, **params: Any) -> list[list[Any]]:
    pages: list[list[Any]] = []
    cursor = None
    while True:
        body = await listed(client, path, **params, **({"cursor": cursor} if cursor else {}))
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


@pytest.mark.parametrize(("method", "path"), NEW_ROUTES)
async def test_every_new_route_needs_an_admin_token(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    assert_problem(await client.request(method, path, headers=auth("bob")), 403, "forbidden")
    missing = await client.request(method, path)
    assert_problem(missing, 401, "unauthorized")
    assert missing.headers["www-authenticate"].startswith("Bearer")


async def test_books_in_progress_are_listed_newest_change_first_over_pages(
    client: httpx.AsyncClient,
) -> None:
    users = [f"user{n}" for n in range(5)]
    for user in users:
        await start(client, user)
    await write(client, "a new page", "user1")  # user1's book changed last

    pages = await every_page(client, "/v1/admin/books-in-progress", limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    items = [item for page in pages for item in page]
    assert [i["user_id"] for i in items] == ["user1", "user4", "user3", "user2", "user0"]
    first = items[0]
    assert first["state"] == "bookInProgress" and first["pages_written"] == 1
    assert first["page_count"] == 3 and first["stuck"] is False
    assert set(first) == {
        "user_id",
        "id",
        "state",
        "pages_written",
        "page_count",
        "updated_at",
        "expires_at",
        "stuck",
    }
    current = (await client.get("/v1/books/current", headers=auth("user1"))).json()
    assert first["id"] == current["id"] and first["updated_at"] == current["updated_at"]
    assert first["expires_at"] == current["expires_at"]


async def test_books_in_progress_filter_by_state_and_by_user(client: httpx.AsyncClient) -> None:
    await start(client, "ann", page_count=1)
    await write(client, "the end", "ann")
    await start(client, "bea")

    done = await listed(client, "/v1/admin/books-in-progress", state="done")
    assert [i["user_id"] for i in done["items"]] == ["ann"] and done["next_cursor"] is None
    going = await listed(client, "/v1/admin/books-in-progress", state="bookInProgress")
    assert [i["user_id"] for i in going["items"]] == ["bea"]
    assert (await listed(client, "/v1/admin/books-in-progress", state="generating"))["items"] == []

    bea = await listed(client, "/v1/admin/books-in-progress", user_id="bea")
    assert [i["user_id"] for i in bea["items"]] == ["bea"]
    both = await listed(client, "/v1/admin/books-in-progress", user_id="bea", state="done")
    assert both["items"] == []
    for nobody in ("carol", "no such user", "x" * 65):
        empty = await listed(client, "/v1/admin/books-in-progress", user_id=nobody)
        assert empty == {"items": [], "next_cursor": None}


async def test_a_finished_or_discarded_book_leaves_the_list(client: httpx.AsyncClient) -> None:
    await finished_book(client, "ann", pages=1)
    await start(client, "bea")
    assert (await client.delete("/v1/books/current", headers=auth("bea"))).status_code == 204
    assert (await listed(client, "/v1/admin/books-in-progress"))["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"state": "finished"},
        {"state": "GENERATING"},
        {"limit": 0},
        {"limit": 101},
        {"cursor": "not a cursor"},
        {"cursor": "bm90LW91cnM"},
    ],
)
async def test_bad_list_queries_are_422(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    response = await client.get("/v1/admin/books-in-progress", params=params, headers=ADMIN)
    assert_problem(response, 422, "validation_error")


async def test_a_generation_past_its_lease_is_stuck(make_client: ClientFactory) -> None:
    clock = FakeClock(datetime.now(UTC))
    writer = ScriptedContextGenerator()
    client = await make_client(
        Overrides(clock=clock, context_generator=writer), recovery_interval_seconds=3600
    )
    await start(client, "ann")
    gate = writer.script.hold()
    pending = asyncio.create_task(write(client, "an idea", "ann"))
    await reached(writer.script.started)

    generating = await listed(client, "/v1/admin/books-in-progress", state="generating")
    assert [(i["user_id"], i["stuck"]) for i in generating["items"]] == [("ann", False)]
    clock.advance(seconds=121)  # past the lease (LW_GENERATION_LEASE_SECONDS, 120)
    later = await listed(client, "/v1/admin/books-in-progress", state="generating")
    assert [(i["user_id"], i["stuck"]) for i in later["items"]] == [("ann", True)]

    gate.set()
    await asyncio.wait_for(pending, 10)


async def test_finished_books_of_everyone_newest_first_with_their_cost(
    client: httpx.AsyncClient,
) -> None:
    kept = [await finished_book(client, user, title=f"Book of {user}") for user in ("a1", "b2")]
    kept.append(await finished_book(client, "a1", title="Second of a1"))

    pages = await every_page(client, "/v1/admin/books", limit=2)
    assert [len(page) for page in pages] == [2, 1]
    items = [item for page in pages for item in page]
    assert [i["id"] for i in items] == [b["id"] for b in reversed(kept)]
    first = items[0]
    assert first["user_id"] == "a1" and first["title"] == "Second of a1"
    assert first["language"] == "en" and first["finished_by"] == "user"
    assert first["page_count"] == 3 and first["cover_image_url"].startswith("http")
    assert set(first["usage"]) == {"tokens_in", "tokens_out", "images"}
    assert all(value >= 0 for value in first["usage"].values())

    mine = await listed(client, "/v1/admin/books", user_id="b2")
    assert [i["title"] for i in mine["items"]] == ["Book of b2"]
    assert (await listed(client, "/v1/admin/books", user_id="no one!"))["items"] == []
    bad = await client.get("/v1/admin/books", params={"cursor": "bm9wZQ"}, headers=ADMIN)
    assert_problem(bad, 422, "validation_error")


async def test_a_days_usage_totals_the_books_finished_that_day(make_client: ClientFactory) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    client = await make_client(Overrides(clock=clock))
    await finished_book(client, "ann")
    await finished_book(client, "bea")
    clock.advance(timedelta(days=1))
    await finished_book(client, "ann", title="Tomorrow's")

    books = (await listed(client, "/v1/admin/books"))["items"]
    first_day = [b["usage"] for b in books if b["finished_at"].startswith("2026-12-01")]
    today = await listed(client, "/v1/admin/usage", day="2026-12-01")
    assert today["day"] == "2026-12-01" and today["books"] == 2
    for field in ("tokens_in", "tokens_out", "images"):
        assert today["usage"][field] == sum(u[field] for u in first_day)
    assert (await listed(client, "/v1/admin/usage"))["day"] == "2026-12-02"  # the clock's day
    assert (await listed(client, "/v1/admin/usage"))["books"] == 1
    empty = await listed(client, "/v1/admin/usage", day="2025-01-01")
    assert empty == {
        "day": "2025-01-01",
        "books": 0,
        "usage": {"tokens_in": 0, "tokens_out": 0, "images": 0},
    }
    for bad in ("2026-02-30", "2026-1-01", "tomorrow", "1700000000", "9999-12-31", "0001-01-01"):
        response = await client.get("/v1/admin/usage", params={"day": bad}, headers=ADMIN)
        assert_problem(response, 422, "validation_error")


async def test_a_takedown_removes_the_book_its_pictures_export_and_share_link(
    client: httpx.AsyncClient,
) -> None:
    book = await finished_book(client, "ann")
    share = await client.post(f"/v1/books/{book['id']}/share", json={}, headers=auth("ann"))
    token = share.json()["token"]
    export = await client.get(f"/v1/books/{book['id']}/export?format=pdf", headers=auth("ann"))
    assert export.status_code == 200
    picture = await client.get(book["cover_image_url"])
    assert picture.status_code == 200

    response = await client.delete(f"/v1/admin/books/{book['id']}", headers=ADMIN)
    assert response.status_code == 204 and response.content == b""

    assert_problem(
        await client.get(f"/v1/books/{book['id']}", headers=auth("ann")), 404, "book_not_found"
    )
    assert_problem(await client.get(f"/v1/shared/{token}"), 404, "book_not_found")
    assert (await client.get(f"/read/{token}")).status_code == 404
    assert_problem(await client.get(book["cover_image_url"]), 404, "not_found")
    assert_problem(
        await client.get(f"/v1/books/{book['id']}/export?format=pdf", headers=auth("ann")),
        404,
        "book_not_found",
    )
    again = await client.delete(f"/v1/admin/books/{book['id']}", headers=ADMIN)
    assert_problem(again, 404, "book_not_found")
    assert_problem(
        await client.delete("/v1/admin/books/not-a-uuid", headers=ADMIN), 404, "book_not_found"
    )


async def test_admin_actions_are_in_the_audit_log_newest_first(
    client: httpx.AsyncClient,
) -> None:
    await start(client, "ann", page_count=2)
    await write(client, "one", "ann")
    seen = await client.get("/v1/admin/users/ann/books/current", headers=ADMIN)
    assert seen.status_code == 200
    finish = await client.post(
        "/v1/admin/users/ann/books/current/finish",
        json={"title": "Forced", "force": True},
        headers={**ADMIN, "Idempotency-Key": '"finish-1"'},
    )
    assert finish.status_code == 201
    replay = await client.post(
        "/v1/admin/users/ann/books/current/finish",
        json={"title": "Forced", "force": True},
        headers={**ADMIN, "Idempotency-Key": '"finish-1"'},
    )
    assert replay.headers["idempotent-replayed"] == "true"
    book_id = finish.json()["id"]
    assert (await client.get(f"/v1/admin/books/{book_id}", headers=ADMIN)).status_code == 200
    assert (await client.delete(f"/v1/admin/books/{book_id}", headers=ADMIN)).status_code == 204

    # Refused or failed actions, and lists, are not recorded.
    refused = await client.get("/v1/admin/users/bea/books/current", headers=ADMIN)
    assert_problem(refused, 404, "no_book_in_progress")
    gone = await client.get(f"/v1/admin/books/{book_id}", headers=ADMIN)
    assert_problem(gone, 404, "book_not_found")
    await listed(client, "/v1/admin/books-in-progress")
    await listed(client, "/v1/admin/books")

    # Sent again without a key, a finish is the same request: answered with the kept book.
    await start(client, "bea", page_count=1)
    await write(client, "the end", "bea")
    for _ in range(2):
        again = await client.post(
            "/v1/admin/users/bea/books/current/finish", json={"title": "Bea's"}, headers=ADMIN
        )
        assert again.status_code == 201
    beas = await listed(client, "/v1/admin/audit", limit=1)
    assert beas["items"][0]["action"] == "finish" and beas["items"][0]["user_id"] == "bea"
    assert beas["items"][0]["detail"] == {"title": "Bea's", "force": False}

    pages = await every_page(client, "/v1/admin/audit", limit=3)
    assert [len(page) for page in pages] == [3, 2]
    assert pages[0][0] == beas["items"][0]
    pages[0] = pages[0][1:]  # bea's finish: the rest are ann's
    entries = [entry for page in pages for entry in page]
    assert [e["action"] for e in entries] == [
        "takedown",
        "view_book",
        "finish",
        "view_book_in_progress",
    ]
    assert all(e["admin_id"] == "root" and e["user_id"] == "ann" for e in entries)
    assert all(e["book_id"] == book_id for e in entries[:3])
    assert entries[2]["detail"] == {"title": "Forced", "force": True}
    assert entries[0]["detail"] == {"title": "Forced"}
    assert entries[3]["book_id"] and entries[3]["detail"] == {}
    assert all(e["at"].endswith("Z") for e in entries)
    bad = await client.get("/v1/admin/audit", params={"cursor": "bm9wZQ"}, headers=ADMIN)
    assert_problem(bad, 422, "validation_error")


async def test_the_embedded_store_lists_its_books_again_after_a_restart(tmp_path: Path) -> None:
    """The snapshot keeps the books, not their index entries: the restart writes them again."""
    for run in range(2):
        app = create_app(settings_for(tmp_path / "data"))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                if run == 0:
                    await start(client, "ann")
                    await start(client, "bea", page_count=1)
                    await write(client, "the end", "bea")
                listed = await listed_users(client)
                done = await listed_users(client, state="done")
        assert (listed, done) == (["bea", "ann"], ["bea"])


async def listed_users(client: httpx.AsyncClient, **params: Any) -> list[str]:
    body = await listed(client, "/v1/admin/books-in-progress", **params)
    return [item["user_id"] for item in body["items"]]
