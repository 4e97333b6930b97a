"""Share links over HTTP: the owner opens one (one at a time) and takes it back; anyone with the
link reads the book (no token), never its owner, cost or the child's inputs; a deleted book's
link is gone; requests are limited per client address."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import ClientFactory, assert_problem, auth, finished_book

TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


async def share(
    client: httpx.AsyncClient, book_id: str, user: str = "alice", **body: Any
) -> httpx.Response:
    return await client.post(f"/v1/books/{book_id}/share", json=body, headers=auth(user))


async def test_a_shared_book_is_read_by_its_link_without_a_token(
    client: httpx.AsyncClient,
) -> None:
    book = await finished_book(client, pages=2)
    created = await share(client, book["id"])
    assert created.status_code == 201, created.text
    link = created.json()
    assert TOKEN.fullmatch(link["token"]) and link["expires_at"] is None
    assert link["url"] == f"http://testserver/read/{link['token']}"

    shared = await client.get(f"/v1/shared/{link['token']}")
    assert shared.status_code == 200
    body = shared.json()
    assert set(body) == {
        "title",
        "language",
        "reader_age",
        "characters",
        "page_count",
        "cover_image_url",
        "pages",
        "finished_at",
    }
    assert body["title"] == book["title"] and body["page_count"] == 2
    assert [set(page) for page in body["pages"]] == [{"number", "text", "image_url"}] * 2
    assert [p["text"] for p in body["pages"]] == [p["text"] for p in book["pages"]]
    # Exactly these fields: never the owner, the cost or what the child typed (`input`).
    picture = await client.get(body["pages"][0]["image_url"])
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")


async def test_sharing_again_answers_200_with_the_same_link(client: httpx.AsyncClient) -> None:
    book = await finished_book(client, pages=1)
    first = (await share(client, book["id"], expires_in_days=30)).json()
    again = await share(client, book["id"])
    assert again.status_code == 200 and again.json() == first
    created, expires = (datetime.fromisoformat(first[k]) for k in ("created_at", "expires_at"))
    assert expires - created == timedelta(days=30)


async def test_a_taken_back_link_answers_404_at_once(client: httpx.AsyncClient) -> None:
    book = await finished_book(client, pages=1)
    token = (await share(client, book["id"])).json()["token"]
    gone = await client.delete(f"/v1/books/{book['id']}/share", headers=auth())
    assert gone.status_code == 204
    assert_problem(await client.get(f"/v1/shared/{token}"), 404, "book_not_found")
    again = await client.delete(f"/v1/books/{book['id']}/share", headers=auth())
    assert again.status_code == 204  # nothing to take back: the same answer
    fresh = await share(client, book["id"])
    assert fresh.status_code == 201 and fresh.json()["token"] != token


async def test_deleting_the_book_takes_its_link(client: httpx.AsyncClient) -> None:
    book = await finished_book(client, pages=1)
    token = (await share(client, book["id"])).json()["token"]
    assert (await client.delete(f"/v1/books/{book['id']}", headers=auth())).status_code == 204
    assert_problem(await client.get(f"/v1/shared/{token}"), 404, "book_not_found")


async def test_only_the_owner_shares_and_takes_back(client: httpx.AsyncClient) -> None:
    book = await finished_book(client, pages=1)
    assert_problem(await share(client, book["id"], user="bob"), 404, "book_not_found")
    token = (await share(client, book["id"])).json()["token"]
    theirs = await client.delete(f"/v1/books/{book['id']}/share", headers=auth("bob"))
    assert_problem(theirs, 404, "book_not_found")
    assert (await client.get(f"/v1/shared/{token}")).status_code == 200
    assert_problem(await client.post(f"/v1/books/{book['id']}/share", json={}), 401, "unauthorized")


@pytest.mark.parametrize(
    "token", ["x" * 43, "short", "a" * 44, "%E2%9C%93" * 5, "not a token at all"]
)
async def test_an_unknown_token_is_404(client: httpx.AsyncClient, token: str) -> None:
    assert_problem(await client.get(f"/v1/shared/{token}"), 404, "book_not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"expires_in_days": 0},
        {"expires_in_days": 366},
        {"expires_in_days": "a week"},
        {"expires_in_days": 1.5},
        {"other": 1},
    ],
)
async def test_a_bad_lifetime_is_422_and_makes_no_link(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    book = await finished_book(client, pages=1)
    assert_problem(
        await client.post(f"/v1/books/{book['id']}/share", json=body, headers=auth()),
        422,
        "validation_error",
    )
    admin = await client.get(f"/v1/admin/books/{book['id']}", headers=auth("root", admin=True))
    assert admin.json()["share_link_active"] is False


async def test_the_admin_view_says_whether_a_link_is_open(client: httpx.AsyncClient) -> None:
    book = await finished_book(client, pages=1)
    admin_view = f"/v1/admin/books/{book['id']}"
    admin = auth("root", admin=True)
    assert (await client.get(admin_view, headers=admin)).json()["share_link_active"] is False
    await share(client, book["id"])
    assert (await client.get(admin_view, headers=admin)).json()["share_link_active"] is True


async def test_shared_books_are_limited_per_client_address(make_client: ClientFactory) -> None:
    client = await make_client(rate_limit_sharing="3/minute")
    book = await finished_book(client, pages=1)
    token = (await share(client, book["id"])).json()["token"]  # 1
    assert (await client.get(f"/v1/shared/{token}")).status_code == 200  # 2
    assert (await client.get(f"/v1/shared/{token}")).status_code == 200  # 3
    refused = await client.get(f"/v1/shared/{token}")
    assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_the_owners_reader_page_carries_no_book_and_makes_no_link(
    client: httpx.AsyncClient,
) -> None:
    book = await finished_book(client)

    page = await client.get(f"/books/{book['id']}/read")
    admin = await client.get(f"/v1/admin/books/{book['id']}", headers=auth("root", admin=True))

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "/static/web/owner_reader.js" in page.text
    assert book["title"] not in page.text  # the script fetches it with the owner's token
    assert admin.json()["share_link_active"] is False
