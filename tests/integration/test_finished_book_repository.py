"""Contract tests of the finished-book repository: the same tests on SQLite and on MariaDB."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from app.application.errors import DatabaseUnavailable, InvalidCursor
from app.application.ports.stores import CURSOR_PATTERN
from app.domain.finished import FinishedBook, FinishedBy, FinishedPage
from app.domain.values import BookSpec, Character, Language, Title, UserId
from app.infrastructure.database import build_engine
from app.infrastructure.database.models import BookRow, PageRow
from app.infrastructure.database.repository import SqlFinishedBookRepository

KST = timezone(timedelta(hours=9))
T0 = datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC)


def make_book(
    user: str = "alice",
    *,
    finished_at: datetime = T0,
    pages: int = 3,
    book_id: uuid.UUID | None = None,
    title: str = "Momo and the Glowing Map",
) -> FinishedBook:
    book_id = book_id or uuid.uuid4()
    return FinishedBook(
        id=book_id,
        user_id=UserId(user),
        title=Title(title),
        spec=BookSpec(
            characters=(Character("Momo", "a brave little rabbit"),),
            page_count=pages,
            language=Language.EN,
            reader_age=5,
            setting="a snowy forest",
        ),
        pages=tuple(
            FinishedPage(n, f"idea {n}", f"text {n}", f"books/{book_id}/pages/{n}.png")
            for n in range(1, pages + 1)
        ),
        cover_key=f"books/{book_id}/cover.png",
        created_at=finished_at - timedelta(minutes=30),
        finished_at=finished_at,
        finished_by=FinishedBy.USER,
    )


def korean_book() -> FinishedBook:
    book_id = uuid.uuid4()
    return FinishedBook(
        id=book_id,
        user_id=UserId("child.kim@example.com"),
        title=Title("모모와 빛나는 지도 🗺️✨"),
        spec=BookSpec(
            characters=(
                Character("모모", "빨간 목도리를 한 용감한 토끼 🐰"),
                Character("Bori 🐻", ""),
            ),
            page_count=2,
            language=Language.KO,
            reader_age=None,
            setting="눈 덮인 숲 ❄️🌲",
        ),
        pages=(
            FinishedPage(
                1,
                "모모가 눈 밑에서 지도를 찾아요 🗺️",
                "모모는 반짝이는 지도를 찾았어요. 🌟",
                "k/1.png",
            ),
            FinishedPage(2, "Bori helps 🐻💕", "둘은 함께 길을 떠났어요 👣", "k/2.png"),
        ),
        cover_key="k/cover.png",
        # Aware but not UTC, with microseconds: must come back as the same instant in UTC.
        created_at=datetime(2026, 3, 1, 9, 15, 30, 654321, tzinfo=KST),
        finished_at=datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=KST),
        finished_by=FinishedBy.ADMIN,
    )


def count(engine: Engine, table: type[BookRow] | type[PageRow]) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_add_then_get_round_trips_every_field_including_korean_emoji_and_microseconds(
    finished_books: SqlFinishedBookRepository,
) -> None:
    book = korean_book()

    returned = await finished_books.add(book)
    stored = await finished_books.get(book.id)

    assert returned == book
    assert stored == book
    assert stored is not None
    assert stored.title.value == "모모와 빛나는 지도 🗺️✨"
    assert stored.spec.characters[0].description == "빨간 목도리를 한 용감한 토끼 🐰"
    assert [p.text for p in stored.pages] == [p.text for p in book.pages]
    for moment in (stored.created_at, stored.finished_at):
        assert moment.tzinfo is not None
        assert moment.utcoffset() == timedelta(0)
    assert stored.finished_at == datetime(2026, 3, 1, 14, 59, 59, 999999, tzinfo=UTC)
    assert stored.created_at.microsecond == 654321


async def test_get_returns_none_for_an_unknown_book(
    finished_books: SqlFinishedBookRepository,
) -> None:
    assert await finished_books.get(uuid.uuid4()) is None


async def test_adding_the_same_book_id_twice_keeps_and_returns_the_first_stored_book(
    finished_books: SqlFinishedBookRepository, migrated_engine: Engine
) -> None:
    first = make_book(pages=3, title="The first try")
    retry = make_book(book_id=first.id, pages=2, title="A later try", finished_at=T0 + timedelta(1))

    await finished_books.add(first)
    returned = await finished_books.add(retry)

    assert returned == first
    assert await finished_books.get(first.id) == first
    assert count(migrated_engine, BookRow) == 1
    assert count(migrated_engine, PageRow) == 3


async def test_concurrent_adds_of_one_book_store_exactly_one_row(
    finished_books: SqlFinishedBookRepository, migrated_engine: Engine
) -> None:
    book = make_book()

    results = await asyncio.gather(*(finished_books.add(book) for _ in range(4)))

    assert results == [book] * 4
    assert count(migrated_engine, BookRow) == 1


async def shelf(
    repository: SqlFinishedBookRepository, user: str, limit: int
) -> list[list[uuid.UUID]]:
    """Every page of the user's shelf, as lists of book ids, following next_cursor to the end."""
    pages: list[list[uuid.UUID]] = []
    cursor: str | None = None
    while True:
        page = await repository.list_for_user(UserId(user), limit, cursor)
        pages.append([item.id for item in page.items])
        if page.next_cursor is None:
            return pages
        assert len(pages) < 100, "the cursor never ends"
        assert re.fullmatch(CURSOR_PATTERN, page.next_cursor), "the documented cursor shape"
        cursor = page.next_cursor


async def test_pagination_lists_every_book_once_newest_first_even_with_equal_finish_times(
    finished_books: SqlFinishedBookRepository,
) -> None:
    # Only 4 distinct finish times for 25 books: every page boundary falls inside a tie.
    books = [
        make_book(finished_at=T0 + timedelta(microseconds=i % 4), pages=1 + i % 3)
        for i in range(25)
    ]
    random.Random(7).shuffle(books)
    for book in books:
        await finished_books.add(book)
    newest_first = sorted(books, key=lambda b: (b.finished_at, str(b.id)), reverse=True)

    pages = await shelf(finished_books, "alice", 10)

    assert [len(page) for page in pages] == [10, 10, 5]
    assert [book_id for page in pages for book_id in page] == [b.id for b in newest_first]


async def test_listing_returns_summaries_with_page_count_and_cover(
    finished_books: SqlFinishedBookRepository,
) -> None:
    book = await finished_books.add(korean_book())

    page = await finished_books.list_for_user(book.user_id, 20, None)

    assert page.items == [book.summary()]
    assert page.next_cursor is None


async def test_a_shelf_of_exactly_limit_books_has_no_next_cursor(
    finished_books: SqlFinishedBookRepository,
) -> None:
    for i in range(10):
        await finished_books.add(make_book(finished_at=T0 + timedelta(seconds=i)))

    page = await finished_books.list_for_user(UserId("alice"), 10, None)

    assert len(page.items) == 10
    assert page.next_cursor is None


async def test_an_empty_shelf_is_one_empty_page(
    finished_books: SqlFinishedBookRepository,
) -> None:
    page = await finished_books.list_for_user(UserId("nobody"), 10, None)

    assert page.items == []
    assert page.next_cursor is None


async def test_a_book_finished_while_paging_neither_repeats_nor_hides_older_books(
    finished_books: SqlFinishedBookRepository,
) -> None:
    books = [make_book(finished_at=T0 + timedelta(seconds=i)) for i in range(5)]
    for book in books:
        await finished_books.add(book)

    first = await finished_books.list_for_user(UserId("alice"), 2, None)
    await finished_books.add(make_book(finished_at=T0 + timedelta(days=1)))
    assert first.next_cursor is not None
    rest = await shelf_from(finished_books, "alice", 2, first.next_cursor)

    listed = [item.id for item in first.items] + rest
    assert listed == [b.id for b in reversed(books)]


async def shelf_from(
    repository: SqlFinishedBookRepository, user: str, limit: int, cursor: str
) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    next_cursor: str | None = cursor
    while next_cursor is not None:
        page = await repository.list_for_user(UserId(user), limit, next_cursor)
        ids += [item.id for item in page.items]
        next_cursor = page.next_cursor
    return ids


async def test_other_users_books_are_never_listed(
    finished_books: SqlFinishedBookRepository,
) -> None:
    mine = [make_book("alice", finished_at=T0 + timedelta(seconds=i)) for i in range(3)]
    theirs = [make_book("bob", finished_at=T0 + timedelta(seconds=i)) for i in range(4)]
    for book in mine + theirs:
        await finished_books.add(book)

    alice = await shelf(finished_books, "alice", 2)
    bob = await shelf(finished_books, "bob", 100)

    assert {i for page in alice for i in page} == {b.id for b in mine}
    assert {i for page in bob for i in page} == {b.id for b in theirs}


async def test_user_ids_that_differ_only_in_case_are_different_users(
    finished_books: SqlFinishedBookRepository,
) -> None:
    paula = make_book("paula")
    await finished_books.add(paula)
    assert await shelf(finished_books, "PAULA", 10) == [[]]
    assert await shelf(finished_books, "Paula", 10) == [[]]
    assert await shelf(finished_books, "paula", 10) == [[paula.id]]


MALFORMED_CURSORS = {
    "garbage": "this is not a cursor!",
    "empty": "",
    "non-ascii": "모모",
    "too-long": "A" * 500,
    "base64 of text": b64(b"hello, world"),
    "base64 of bytes": b64(b"\xff\xfe\x00\x01"),
    "base64 of a json list": b64(b"[1, 2]"),
    "base64 of a json string": b64(b'"2026-11-21T10:00:00+00:00"'),
    "missing id": b64(b'{"f": "2026-11-21T10:00:00+00:00"}'),
    "wrong types": b64(b'{"f": 1732183200, "i": 42}'),
    "null fields": b64(b'{"f": null, "i": null}'),
    "bad date": b64(json.dumps({"f": "yesterday", "i": str(uuid.uuid4())}).encode()),
    "naive date": b64(json.dumps({"f": "2026-11-21T10:00:00", "i": str(uuid.uuid4())}).encode()),
    "bad id": b64(b'{"f": "2026-11-21T10:00:00+00:00", "i": "not-a-uuid"}'),
    "date before year 1 in UTC": b64(
        json.dumps({"f": "0001-01-01T00:00:00+05:00", "i": str(uuid.uuid4())}).encode()
    ),
    "date after year 9999 in UTC": b64(
        json.dumps({"f": "9999-12-31T23:00:00-05:00", "i": str(uuid.uuid4())}).encode()
    ),
    "date out of the database's range": b64(
        json.dumps({"f": "0100-01-01T00:00:00+00:00", "i": str(uuid.uuid4())}).encode()
    ),
}


@pytest.mark.parametrize("cursor", MALFORMED_CURSORS.values(), ids=MALFORMED_CURSORS.keys())
async def test_a_malformed_cursor_raises_invalid_cursor(
    finished_books: SqlFinishedBookRepository, cursor: str
) -> None:
    with pytest.raises(InvalidCursor):
        await finished_books.list_for_user(UserId("alice"), 10, cursor)


async def test_delete_removes_the_book_and_cascades_to_its_pages(
    finished_books: SqlFinishedBookRepository, migrated_engine: Engine
) -> None:
    kept = await finished_books.add(make_book(pages=2))
    gone = await finished_books.add(make_book(pages=3))

    assert await finished_books.delete(gone.id) is True

    assert await finished_books.get(gone.id) is None
    assert await finished_books.get(kept.id) == kept
    assert count(migrated_engine, PageRow) == 2
    assert await finished_books.delete(gone.id) is False


async def test_delete_of_an_unknown_book_returns_false(
    finished_books: SqlFinishedBookRepository,
) -> None:
    assert await finished_books.delete(uuid.uuid4()) is False


async def test_ping_succeeds_on_a_reachable_database(
    finished_books: SqlFinishedBookRepository,
) -> None:
    await finished_books.ping()


def unreachable_mysql() -> Engine:
    return build_engine("mysql+pymysql://root@127.0.0.1:1/x", connect_timeout=1)


def unopenable_sqlite(tmp_path: Path) -> Engine:
    # A directory where the database file should be: SQLite cannot open it, even as root.
    (tmp_path / "lw.db").mkdir()
    return build_engine(f"sqlite:///{tmp_path / 'lw.db'}")


Operation = Callable[[SqlFinishedBookRepository], Awaitable[object]]

OPERATIONS: dict[str, Operation] = {
    "ping": lambda repo: repo.ping(),
    "add": lambda repo: repo.add(make_book()),
    "get": lambda repo: repo.get(uuid.uuid4()),
    "list": lambda repo: repo.list_for_user(UserId("alice"), 10, None),
    "delete": lambda repo: repo.delete(uuid.uuid4()),
}


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS.keys())
@pytest.mark.parametrize("backend", ["mysql", "sqlite"])
async def test_an_unreachable_database_raises_database_unavailable(
    backend: str, operation: Operation, tmp_path: Path
) -> None:
    engine = unreachable_mysql() if backend == "mysql" else unopenable_sqlite(tmp_path)
    repository = SqlFinishedBookRepository(engine)

    with pytest.raises(DatabaseUnavailable):
        await operation(repository)
    engine.dispose()
