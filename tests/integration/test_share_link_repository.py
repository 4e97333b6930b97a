"""Contract tests of ShareLinkRepository: the same tests on the unit tests' in-memory fake, on
SQLite and on MariaDB (one link per book, found by its digest, gone with its book)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from app.application.errors import BookNotFound, DatabaseUnavailable
from app.application.ports import FinishedBookRepository
from app.application.ports.sharing import ShareLinkRepository
from app.domain.sharing import ShareLink
from app.infrastructure.database import build_engine, upgrade_to_head
from app.infrastructure.database.repository import SqlFinishedBookRepository
from app.infrastructure.database.share_links import SqlShareLinkRepository
from tests.integration.test_finished_book_repository import make_book
from tests.unit.fakes import InMemoryFinishedBooks, InMemoryShareLinks

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass
class Subject:
    books: FinishedBookRepository
    links: ShareLinkRepository


@pytest.fixture(params=["memory", "sqlite", pytest.param("mysql", marks=pytest.mark.services)])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    if request.param == "memory":
        books = InMemoryFinishedBooks()
        yield Subject(books, InMemoryShareLinks(books))
        return
    if request.param == "mysql":
        engine = build_engine(request.getfixturevalue("mysql_migrated_url"))
    else:
        engine = build_engine(f"sqlite:///{tmp_path / 'littlewriter.db'}")
        upgrade_to_head(engine)
    yield Subject(SqlFinishedBookRepository(engine), SqlShareLinkRepository(engine))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM share_links"))
        connection.execute(text("DELETE FROM book_pages"))
        connection.execute(text("DELETE FROM books"))
    engine.dispose()


def a_link(book_id: uuid.UUID, lifetime: timedelta | None = None, at: datetime = NOW) -> ShareLink:
    return ShareLink.create(uuid.uuid4(), book_id, at, lifetime)


async def a_book(subject: Subject) -> uuid.UUID:
    book = make_book()
    await subject.books.add(book)
    return book.id


async def test_a_link_is_found_by_its_digest_and_as_the_books_active_link(
    subject: Subject,
) -> None:
    book_id = await a_book(subject)
    link = a_link(book_id, 30 * DAY)
    assert await subject.links.add(link, "a" * 64, NOW) == link
    assert await subject.links.find("a" * 64) == link
    assert await subject.links.active(book_id, NOW) == link
    assert await subject.links.find("b" * 64) is None


async def test_a_book_keeps_its_active_link_when_another_is_added(subject: Subject) -> None:
    book_id = await a_book(subject)
    first = a_link(book_id)
    await subject.links.add(first, "a" * 64, NOW)
    assert await subject.links.add(a_link(book_id), "b" * 64, NOW) == first
    assert await subject.links.find("b" * 64) is None


async def test_links_added_at_once_leave_one(subject: Subject) -> None:
    book_id = await a_book(subject)
    links = [a_link(book_id) for _ in range(5)]
    stored = await asyncio.gather(
        *(subject.links.add(link, f"{n}" * 64, NOW) for n, link in enumerate(links))
    )
    assert len({link.id for link in stored}) == 1
    assert await subject.links.active(book_id, NOW) == stored[0]


async def test_an_expired_link_is_not_active_and_a_new_one_replaces_it(subject: Subject) -> None:
    book_id = await a_book(subject)
    old = a_link(book_id, DAY)
    await subject.links.add(old, "a" * 64, NOW)
    later = NOW + DAY
    assert await subject.links.active(book_id, later) is None
    assert await subject.links.find("a" * 64) == old  # found, and seen to be expired
    new = a_link(book_id, at=later)
    assert await subject.links.add(new, "b" * 64, later) == new
    assert await subject.links.find("a" * 64) is None


async def test_a_revoked_link_is_gone(subject: Subject) -> None:
    book_id = await a_book(subject)
    await subject.links.add(a_link(book_id), "a" * 64, NOW)
    assert await subject.links.revoke(book_id) is True
    assert await subject.links.find("a" * 64) is None
    assert await subject.links.active(book_id, NOW) is None
    assert await subject.links.revoke(book_id) is False


async def test_deleting_the_book_deletes_its_link(subject: Subject) -> None:
    book_id = await a_book(subject)
    await subject.links.add(a_link(book_id), "a" * 64, NOW)
    assert await subject.books.delete(book_id)
    assert await subject.links.find("a" * 64) is None


async def test_a_link_for_no_book_is_book_not_found(subject: Subject) -> None:
    with pytest.raises(BookNotFound):  # the book was deleted while it was being shared
        await subject.links.add(a_link(uuid.uuid4()), "a" * 64, NOW)
    assert await subject.links.find("a" * 64) is None


async def test_an_unreachable_database_is_database_unavailable(subject: Subject) -> None:
    if isinstance(subject.links, InMemoryShareLinks):
        subject.links.faults.always("find")
    else:
        subject.links = SqlShareLinkRepository(
            build_engine("mysql+pymysql://root@127.0.0.1:1/none"), deadline=1.0
        )
    with pytest.raises(DatabaseUnavailable):
        await subject.links.find("a" * 64)
