"""Opt-in: one short book against the real OpenAI API.

Not part of the default suite (pyproject's testpaths leave tests/live out); run it with
    LW_LIVE_OPENAI_API_KEY=sk-... .venv/bin/pytest tests/live
It is skipped, with that reason, when no key is given. It costs a few cents: three images
(gpt-image-1, medium quality) and a handful of short text calls.
"""

from __future__ import annotations

import os

import pytest

from tests.api.conftest import ClientFactory, auth, start, write

KEY = os.environ.get("LW_LIVE_OPENAI_API_KEY")
pytestmark = pytest.mark.skipif(not KEY, reason="LW_LIVE_OPENAI_API_KEY is not set")


async def test_a_two_page_book_against_the_real_api(make_client: ClientFactory) -> None:
    client = await make_client(
        openai_api_key=KEY, openai_base_url=os.environ.get("LW_LIVE_OPENAI_BASE_URL")
    )
    book = await start(client, page_count=2, language="ko")
    assert book["questions"]
    page = await write(client, "모모가 눈 속에서 빛나는 지도를 찾았어요")
    assert page.status_code == 200, page.text
    done = await write(client, "모두 함께 집으로 돌아가 코코아를 마셨어요")
    assert done.json()["state"] == "done"
    image = await client.get(done.json()["pages"][-1]["image_url"])
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/")
    admin = await client.get("/v1/admin/users/alice/books/current", headers=auth("r", admin=True))
    assert admin.json()["usage"]["images"] == 3
