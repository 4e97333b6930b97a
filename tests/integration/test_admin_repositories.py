"""Contract tests of what the admin console reads from the finished-book database: every user's
finished books with their cost, a day's totals, and the audit log, the same tests on the unit
tests' in-memory fakes, on SQLite and on MariaDB."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from app.application.errors import DatabaseUnavailable, InvalidCursor
from app.application.ports import FinishedBookRepository
from app.application.ports.audit import AdminAuditLog
from app.domain.audit import AdminAction, AuditEntry
from app.domain.finished import FinishedBook, FinishedBy
from app.domain.values import Usage, UserId
from app.infrastructure.database import build_engine, upgrade_to_head
from app.infrastructure.database.audit_log import SqlAdminAuditLog
from app.infrastructure.database.repository import SqlFinishedBookRepository
from tests.integration.test_finished_book_repository import make_book
from tests.unit.fakes import InMemoryAuditLog, InMemoryFinishedBooks

DAY = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass
class Subject:
    books: FinishedBookRepository
    audit: AdminAuditLog


@pytest.fixture(params=["memory", "sqlite", pytest.param("mysql", marks=pytest.mark.services)])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    if request.param == "memory":
        yield Subject(InMemoryFinishedBooks(), InMemoryAuditLog())
        return
    if request.param == "mysql":
        engine = build_engine(request.getfixturevalue("mysql_migrated_url"))
    else:
        engine = build_engine(f"sqlite:///{tmp_path / 'littlewriter.db'}")
        upgrade_to_head(engine)
    yield Subject(SqlFinishedBookRepository(engine), SqlAdminAuditLog(engine))
    with engine.begin() as connection:
        for table in ("admin_actions", "share_links", "book_pages", "books"):
            connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our own names
    engine.dispose()


def costly(book: FinishedBook, usage: Usage, by: FinishedBy = FinishedBy.USER) -> FinishedBook:
    return replace(book, usage=usage, finished_by=by)


async def every_page(
    books: FinishedBookRepository, user: UserId | None, limit: int
) -> list[list[uuid.UUID]]:
    pages: list[list[uuid.UUID]] = []
    cursor = None
    while True:
        page = await books.list_finished(user, limit, cursor)
        pages.append([s.id for s in page.items])
        cursor = page.next_cursor
        if cursor is None:
            return pages


# -- every user's finished books -------------------------------------------------------------


async def test_every_users_books_are_listed_newest_first_over_pages(subject: Subject) -> None:
    kept = [
        make_book(user, finished_at=DAY + timedelta(minutes=n))
        for n, user in enumerate(["ann", "bea", "ann", "cat", "bea"])
    ]
    tied = [make_book("dan", finished_at=DAY + timedelta(minutes=2)) for _ in range(2)]
    for book in [*kept, *tied]:
        await subject.books.add(book)

    pages = await every_page(subject.books, None, 2)
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    listed = [book_id for page in pages for book_id in page]
    everything = sorted([*kept, *tied], key=lambda b: (b.finished_at, b.id), reverse=True)
    assert listed == [b.id for b in everything]

    anns = await every_page(subject.books, UserId("ann"), 1)
    assert [ids[0] for ids in anns] == [kept[2].id, kept[0].id]
    assert (await subject.books.list_finished(UserId("eve"), 5, None)).items == []


async def test_summaries_carry_the_owner_language_finisher_and_cost(subject: Subject) -> None:
    book = costly(make_book("ann"), Usage(1200, 340, 4), FinishedBy.ADMIN)
    await subject.books.add(book)
    [summary] = (await subject.books.list_finished(None, 10, None)).items
    assert summary == book.summary()
    assert summary.user_id == UserId("ann") and summary.finished_by is FinishedBy.ADMIN
    assert summary.usage == Usage(1200, 340, 4) and summary.language.value == "en"
    [shelf] = (await subject.books.list_for_user(UserId("ann"), 10, None)).items
    assert shelf == summary


async def test_a_bad_cursor_is_refused(subject: Subject) -> None:
    with pytest.raises(InvalidCursor):
        await subject.books.list_finished(None, 5, "bm9wZQ")


# -- a day's totals --------------------------------------------------------------------------


async def test_a_days_totals_count_the_books_finished_that_day(subject: Subject) -> None:
    on_the_day = [
        costly(make_book("ann", finished_at=DAY), Usage(100, 10, 1)),
        costly(make_book("bea", finished_at=DAY + timedelta(hours=23, minutes=59)), Usage(5, 6, 7)),
    ]
    around = [
        costly(make_book("ann", finished_at=DAY - timedelta(microseconds=1)), Usage(1, 1, 1)),
        costly(make_book("cat", finished_at=DAY + timedelta(days=1)), Usage(2, 2, 2)),
    ]
    for book in [*on_the_day, *around]:
        await subject.books.add(book)

    totals = await subject.books.usage_between(DAY, DAY + timedelta(days=1))
    assert totals.books == 2 and totals.usage == Usage(105, 16, 8)
    empty = await subject.books.usage_between(DAY + timedelta(days=5), DAY + timedelta(days=6))
    assert empty.books == 0 and empty.usage == Usage()


# -- the audit log ---------------------------------------------------------------------------


def an_entry(
    at: datetime, action: AdminAction = AdminAction.VIEW_BOOK, **fields: object
) -> AuditEntry:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "at": at,
        "admin_id": UserId("root"),
        "action": action,
        "user_id": UserId("ann"),
        "book_id": uuid.uuid4(),
        "detail": {},
    }
    values.update(fields)
    return AuditEntry(**values)  # type: ignore[arg-type]


async def test_entries_read_back_newest_first_over_pages(subject: Subject) -> None:
    entries = [an_entry(DAY + timedelta(seconds=n)) for n in range(4)]
    entries += [an_entry(DAY + timedelta(seconds=2)) for _ in range(2)]  # at the same moment
    finish = an_entry(
        DAY + timedelta(seconds=9),
        AdminAction.FINISH,
        detail={"title": "모모의 지도 🗺️", "force": True},
    )
    takedown = an_entry(
        DAY + timedelta(seconds=8), AdminAction.TAKEDOWN, user_id=None, book_id=None
    )
    for entry in [*entries, finish, takedown]:
        await subject.audit.record(entry)

    listed: list[AuditEntry] = []
    cursor = None
    while True:
        page = await subject.audit.entries(3, cursor)
        assert len(page.items) <= 3
        listed.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = sorted([*entries, finish, takedown], key=lambda e: (e.at, e.id), reverse=True)
    assert listed == expected
    assert listed[0].detail == {"title": "모모의 지도 🗺️", "force": True}
    assert listed[1].user_id is None and listed[1].book_id is None


async def test_an_entry_recorded_twice_is_kept_once(subject: Subject) -> None:
    entry = an_entry(DAY, AdminAction.FINISH, detail={"title": "T", "force": False})
    await asyncio.gather(*(subject.audit.record(entry) for _ in range(3)))
    await subject.audit.record(replace(entry, at=DAY + timedelta(hours=1)))
    page = await subject.audit.entries(10, None)
    assert page.items == [entry] and page.next_cursor is None


async def test_a_bad_audit_cursor_is_refused(subject: Subject) -> None:
    with pytest.raises(InvalidCursor):
        await subject.audit.entries(5, "bm9wZQ")


async def test_an_unreachable_audit_database_is_database_unavailable(subject: Subject) -> None:
    if isinstance(subject.audit, InMemoryAuditLog):
        subject.audit.faults.always("record")
    else:
        subject.audit = SqlAdminAuditLog(
            build_engine("mysql+pymysql://root@127.0.0.1:1/none"), deadline=1.0
        )
    with pytest.raises(DatabaseUnavailable):
        await subject.audit.record(an_entry(DAY))
