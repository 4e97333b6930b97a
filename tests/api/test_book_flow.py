"""A whole book over HTTP: start, write every page, finish, read, list, delete."""

from __future__ import annotations

import httpx

from tests.api.conftest import BOOK, assert_problem, auth, finished_book, start, write


async def test_starting_a_book_returns_it_open_with_cover_and_questions(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/books", json=BOOK, headers=auth())
    assert response.status_code == 201
    assert response.headers["location"] == "/v1/books/current"
    book = response.json()
    assert book["state"] == "bookInProgress"
    assert book["pages"] == [] and book["page_count"] == 3
    assert 1 <= len(book["questions"]) <= 3
    assert book["cover_image_url"].startswith("http://testserver/images/staging/alice/")
    assert book["characters"] == BOOK["characters"]
    assert (book["language"], book["reader_age"], book["setting"]) == ("en", 5, "a snowy forest")
    assert book["version"] == 1
    assert book["created_at"].endswith("Z") and book["expires_at"] > book["created_at"]


async def test_strings_are_stored_trimmed(client: httpx.AsyncClient) -> None:
    body = {
        **BOOK,
        "characters": [{"name": "  Momo  ", "description": " brave "}],
        "setting": " x ",
    }
    book = (await client.post("/v1/books", json=body, headers=auth())).json()
    assert book["characters"] == [{"name": "Momo", "description": "brave"}]
    assert book["setting"] == "x"
    page = (await write(client, "   a glowing map   ")).json()["pages"][0]
    assert page["input"] == "a glowing map"


async def test_defaults_apply_to_optional_fields(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/books", json={"characters": [{"name": "Momo"}], "page_count": 1}, headers=auth()
    )
    book = response.json()
    assert (book["language"], book["reader_age"], book["setting"]) == ("en", None, "")
    assert book["characters"] == [{"name": "Momo", "description": ""}]


async def test_second_book_is_refused_and_changes_nothing(client: httpx.AsyncClient) -> None:
    first = await start(client)
    response = await client.post("/v1/books", json={**BOOK, "page_count": 9}, headers=auth())
    assert_problem(response, 409, "book_already_in_progress")
    current = (await client.get("/v1/books/current", headers=auth())).json()
    assert current["id"] == first["id"] and current["page_count"] == 3


async def test_pages_are_written_in_order_until_the_book_is_done(client: httpx.AsyncClient) -> None:
    await start(client)
    versions = []
    for n, idea in enumerate(["a glowing map", "a friendly fox", "home for cocoa"], start=1):
        response = await write(client, idea)
        assert response.status_code == 200
        book = response.json()
        assert [p["number"] for p in book["pages"]] == list(range(1, n + 1))
        assert book["pages"][-1]["input"] == idea and book["pages"][-1]["text"]
        assert book["pages"][-1]["image_url"].startswith("http://testserver/images/staging/")
        versions.append(book["version"])
    assert book["state"] == "done" and book["questions"] == []
    assert versions == sorted(versions) and versions[0] == 4  # claimed, its text, its picture


async def test_page_after_done_is_refused(client: httpx.AsyncClient) -> None:
    await start(client, page_count=1)
    assert (await write(client, "the end")).status_code == 200
    assert_problem(await write(client, "one more"), 409, "invalid_book_state")


async def test_reading_the_book_does_not_move_its_expiry(client: httpx.AsyncClient) -> None:
    book = await start(client)
    again = (await client.get("/v1/books/current", headers=auth())).json()
    assert again["expires_at"] == book["expires_at"] and again["version"] == book["version"]


async def test_finishing_keeps_the_book_with_permanent_images(client: httpx.AsyncClient) -> None:
    await start(client)
    for idea in ["a map", "a fox", "home"]:
        await write(client, idea)
    response = await client.post(
        "/v1/books/current/finish", json={"title": "  Momo's Map  "}, headers=auth()
    )
    assert response.status_code == 201
    book = response.json()
    assert response.headers["location"] == f"/v1/books/{book['id']}"
    assert book["title"] == "Momo's Map" and book["finished_by"] == "user"
    assert [p["number"] for p in book["pages"]] == [1, 2, 3]
    assert set(book["pages"][0]) == {"number", "text", "image_url"}
    assert f"/images/books/{book['id']}/cover.png?" in book["cover_image_url"]
    assert f"/images/books/{book['id']}/pages/2.png?" in book["pages"][1]["image_url"]
    assert_problem(
        await client.get("/v1/books/current", headers=auth()), 404, "no_book_in_progress"
    )
    for url in [book["cover_image_url"], *(p["image_url"] for p in book["pages"])]:
        image = await client.get(url)
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content.startswith(b"\x89PNG")
    assert (await client.get(f"/v1/books/{book['id']}", headers=auth())).json() == book


async def test_finishing_is_refused_until_the_book_is_done(client: httpx.AsyncClient) -> None:
    await start(client)
    await write(client, "a map")
    response = await client.post("/v1/books/current/finish", json={"title": "T"}, headers=auth())
    assert_problem(response, 409, "invalid_book_state")
    assert (await client.get("/v1/books/current", headers=auth())).json()["pages"][0]["input"]


async def test_finishing_without_a_book_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/books/current/finish", json={"title": "T"}, headers=auth())
    assert_problem(response, 404, "no_book_in_progress")


async def test_a_new_book_can_start_after_finishing(client: httpx.AsyncClient) -> None:
    first = await finished_book(client, pages=1)
    second = await start(client)
    assert second["id"] != first["id"]


async def test_discarding_drops_the_book(client: httpx.AsyncClient) -> None:
    await start(client)
    response = await client.delete("/v1/books/current", headers=auth())
    assert response.status_code == 204 and response.content == b""
    assert_problem(
        await client.get("/v1/books/current", headers=auth()), 404, "no_book_in_progress"
    )
    assert_problem(
        await client.delete("/v1/books/current", headers=auth()), 404, "no_book_in_progress"
    )


async def test_without_a_book_page_writes_are_404(client: httpx.AsyncClient) -> None:
    assert_problem(await write(client, "hello"), 404, "no_book_in_progress")
    assert_problem(
        await client.get("/v1/books/current", headers=auth()), 404, "no_book_in_progress"
    )


async def test_shelf_lists_finished_books_newest_first_across_pages(
    client: httpx.AsyncClient,
) -> None:
    ids = [(await finished_book(client, title=f"Book {n}", pages=1))["id"] for n in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/books", params=params, headers=auth())).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    item = (await client.get("/v1/books", headers=auth())).json()["items"][0]
    assert set(item) == {"id", "title", "cover_image_url", "page_count", "finished_at"}
    assert item["title"] == "Book 4" and item["page_count"] == 1


async def test_shelf_is_empty_for_a_new_user(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/books", headers=auth("newcomer"))
    assert response.json() == {"items": [], "next_cursor": None}


async def test_deleting_a_finished_book_removes_it_and_its_images(
    client: httpx.AsyncClient,
) -> None:
    book = await finished_book(client, pages=1)
    response = await client.delete(f"/v1/books/{book['id']}", headers=auth())
    assert response.status_code == 204
    assert_problem(
        await client.get(f"/v1/books/{book['id']}", headers=auth()), 404, "book_not_found"
    )
    assert_problem(await client.get(book["cover_image_url"]), 404, "not_found")
    again = await client.delete(f"/v1/books/{book['id']}", headers=auth())
    assert_problem(again, 404, "book_not_found")
    assert (await client.get("/v1/books", headers=auth())).json()["items"] == []


async def test_unknown_or_malformed_book_ids_are_404(client: httpx.AsyncClient) -> None:
    for book_id in ["0b6a3d55-9f29-4a57-9a43-3c1b7a1e2f10", "not-a-uuid", "1"]:
        assert_problem(
            await client.get(f"/v1/books/{book_id}", headers=auth()), 404, "book_not_found"
        )
        assert_problem(
            await client.delete(f"/v1/books/{book_id}", headers=auth()), 404, "book_not_found"
        )


async def test_health_and_ready_need_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {"store": "ok", "database": "ok", "images": "ok"},
    }


async def test_openapi_documents_the_bearer_scheme(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert any(
        s.get("scheme") == "bearer" for s in schema["components"]["securitySchemes"].values()
    )
    assert "/v1/books/current/pages" in schema["paths"]
    assert (await client.get("/docs")).status_code == 200
