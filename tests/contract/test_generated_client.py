"""A client generated from the OpenAPI document (openapi-python-client, as a mobile developer
would generate theirs) drives a whole book against a real `littlewriter serve`: every answer,
errors included, parses into the type the document promised for its status.

The generator makes no typed method for `GET /images/{key}` (it takes one media type per
response; an image is PNG, JPEG or WebP): pictures are loaded by their links, as an app does."""

from __future__ import annotations

import importlib
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.processes import CLI, running_server

PACKAGE = "littlewriter_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@contextmanager
def generated_client(document: dict[str, Any], where: Path) -> Iterator[ModuleType]:
    """A client generated from `document`, importable as `littlewriter_client` meanwhile."""
    where.mkdir()
    (where / "openapi.json").write_text(json.dumps(document))
    (where / "config.yaml").write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n")
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            "openapi.json",
            "--config",
            "config.yaml",
            "--meta",
            "none",
            "--output-path",
            PACKAGE,
        ],
        cwd=where,
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def api(name: str) -> Any:
    """An operation's module: `api("books.start_book").sync_detailed(...)`."""
    return module(f"api.{name}")


def key() -> str:
    return str(uuid.uuid4())


def problem(response: Any, status: int, code: str) -> Any:
    problem_out = module("models").ProblemOut
    assert response.status_code == status, response.content
    assert isinstance(response.parsed, problem_out), response.parsed
    assert response.parsed.status == status and response.parsed.code == code
    return response.parsed


def test_a_whole_book_through_a_generated_client(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LW_")}
    env.update(LW_DATA_DIR=str(tmp_path / "data"), LW_JWT_SECRET=secrets.token_hex(32))

    def token(user: str, *flags: str) -> str:
        return subprocess.run(
            [*CLI, "token", user, *flags], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    with (
        running_server(env) as (server, _),
        generated_client(server.get("/openapi.json").json(), tmp_path / "client") as generated,
    ):
        models = module("models")
        base = str(server.base_url)
        user = generated.AuthenticatedClient(base_url=base, token=token("grace"))
        boss = generated.AuthenticatedClient(base_url=base, token=token("boss", "--admin"))
        anonymous = generated.Client(base_url=base)

        assert api("health.health").sync(client=anonymous).status == "ok"
        problem(api("books.current_book").sync_detailed(client=user), 404, "no_book_in_progress")

        spec = models.StartBookIn(
            characters=[
                models.CharacterIn(name="Momo", description="a brave little rabbit"),
                models.CharacterIn(name="Tori"),
            ],
            page_count=3,
            language=models.StartBookInLanguage.EN,
            reader_age=5,
            setting="a snowy forest",
        )
        started = api("books.start_book").sync_detailed(
            client=user, body=spec, idempotency_key=key()
        )
        assert started.status_code == 201 and isinstance(started.parsed, models.BookOut)
        assert started.parsed.state == models.BookOutState.BOOKINPROGRESS
        again = api("books.start_book").sync_detailed(client=user, body=spec, idempotency_key=key())
        problem(again, 409, "book_already_in_progress")

        blank = api("books.write_page").sync_detailed(
            client=user, body=models.WritePageIn(input_="   "), idempotency_key=key()
        )
        refused = problem(blank, 422, "validation_error")
        assert [e.field for e in refused.errors] == ["body.input"]

        first = api("books.write_page").sync_detailed(
            client=user, body=models.WritePageIn(input_="Momo finds a map"), idempotency_key=key()
        )
        assert first.status_code == 200 and len(first.parsed.pages) == 1
        assert first.parsed.questions, "the child is offered ideas for the next page"
        problem(
            api("books.redraw_picture").sync_detailed(1, client=user, idempotency_key=key()),
            409,
            "invalid_book_state",
        )

        accepted = api("books.write_page").sync_detailed(
            client=user,
            body=models.WritePageIn(input_=first.parsed.questions[0]),
            prefer="respond-async",
            idempotency_key=key(),
        )
        assert accepted.status_code == 202
        assert accepted.parsed.state == models.BookOutState.GENERATING
        deadline = time.monotonic() + 20
        while True:
            book = api("books.current_book").sync(client=user)
            pages_ready = [p.image_status == models.PageOutImageStatus.READY for p in book.pages]
            if book.state != models.BookOutState.GENERATING and all(pages_ready):
                break
            assert time.monotonic() < deadline, book
            time.sleep(0.1)
        assert len(book.pages) == 2

        third = api("books.write_page").sync_detailed(
            client=user, body=models.WritePageIn(input_="They go home"), idempotency_key=key()
        )
        assert third.parsed.state == models.BookOutState.DONE
        problem(
            api("books.write_page").sync_detailed(
                client=user, body=models.WritePageIn(input_="one more"), idempotency_key=key()
            ),
            409,
            "invalid_book_state",
        )

        cover = server.get(third.parsed.cover_image_url.removeprefix(base))
        assert cover.status_code == 200 and cover.headers["content-type"].startswith("image/")

        finished = api("books.finish_book").sync_detailed(
            client=user, body=models.FinishIn(title="Momo and the Map"), idempotency_key=key()
        )
        assert finished.status_code == 201
        assert isinstance(finished.parsed, models.FinishedBookOut)
        book_id = finished.parsed.id
        assert finished.parsed.finished_by == models.FinishedBookOutFinishedBy.USER
        assert [p.number for p in finished.parsed.pages] == [1, 2, 3]

        shelf = api("books.list_books").sync(client=user, limit=10)
        assert isinstance(shelf, models.ShelfOut)
        assert [b.id for b in shelf.items] == [book_id] and shelf.next_cursor is None
        problem(
            api("books.list_books").sync_detailed(client=user, limit=0), 422, "validation_error"
        )

        problem(api("admin.any_book").sync_detailed(book_id, client=user), 403, "forbidden")
        seen = api("admin.any_book").sync_detailed(book_id, client=boss)
        assert isinstance(seen.parsed, models.AdminFinishedBookOut)
        assert seen.parsed.id == book_id and isinstance(seen.parsed.usage, models.UsageOut)
        problem(
            api("admin.user_current_book").sync_detailed("grace", client=boss),
            404,
            "no_book_in_progress",
        )

        assert api("books.delete_book").sync_detailed(book_id, client=user).status_code == 204
        problem(api("books.get_book").sync_detailed(book_id, client=user), 404, "book_not_found")
        problem(api("books.discard_book").sync_detailed(client=user), 404, "no_book_in_progress")
        forged = generated.AuthenticatedClient(base_url=base, token="not-a-token")
        problem(api("books.current_book").sync_detailed(client=forged), 401, "unauthorized")
