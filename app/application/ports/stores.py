"""Storage ports for books: the one in progress, and the finished ones."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from app.domain.book import Book, BookState
from app.domain.finished import FinishedBook, FinishedBookSummary
from app.domain.values import Usage, UserId

# What every cursor a repository hands out looks like (it is otherwise opaque).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,200}$"


@dataclass(frozen=True, slots=True)
class FinishedRecord:
    """Which book a finish kept, and which request finished it: a retry of that request that
    comes after the book in progress is gone is answered with the kept book."""

    book_id: UUID
    request_id: str


@dataclass(frozen=True, slots=True)
class BooksInProgressPage:
    """One page of the books in progress across users; `next_cursor` is None on the last one."""

    items: list[Book]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class IndexRepair:
    """What rebuilding the indexes of the books in progress found: books whose entries were
    written again, and users whose entries were left by a book that is gone."""

    books: int
    stale_removed: int


class BookInProgressRepository(ABC):
    """One book in progress per user. Raises `StoreUnavailable` when the store cannot be reached."""

    @abstractmethod
    async def get(self, user_id: UserId) -> Book | None: ...

    @abstractmethod
    async def add(self, book: Book) -> None:
        """Store a new book unless the user already has one (`BookAlreadyInProgress`)."""

    @abstractmethod
    async def update(self, book: Book, expected_version: int) -> None:
        """Store `book`, with the events it recorded (in the same atomic write), only if the
        stored one is the same book (same id) and still has
        `expected_version`; else `VersionConflict`. The id matters: a book discarded and started
        again can reach the version a late writer of the old one expects."""

    @abstractmethod
    async def remove(
        self, book: Book, expected_version: int, finished: FinishedRecord | None = None
    ) -> None:
        """Remove the user's book only if the stored one is this book at `expected_version`
        (else `VersionConflict`, and nothing is removed). A book removed because it was kept
        leaves `finished` behind, in the same atomic write, for `last_finished`."""

    @abstractmethod
    async def last_finished(self, user_id: UserId) -> FinishedRecord | None:
        """The user's book removed last because it was finished, while that is remembered."""

    @abstractmethod
    async def with_passed_leases(self, now: datetime, limit: int) -> list[UserId]:
        """Users whose book holds a generation or a picture attempt whose lease passed by `now`
        (the process that held it may have died)."""

    @abstractmethod
    async def list_in_progress(
        self,
        *,
        state: BookState | None,
        user_id: UserId | None,
        limit: int,
        cursor: str | None,
    ) -> BooksInProgressPage:
        """Books in progress of every user (or of `user_id`: none or one), in the stored
        `state` when given, newest change first (`updated_at`, then user id, both descending),
        read from an index kept with each change, never by scanning the store. A book gone by
        expiry is not listed. A cursor is a `next_cursor` this returned, matching
        `CURSOR_PATTERN`; any other raises `InvalidCursor`."""

    @abstractmethod
    async def rebuild_indexes(self) -> IndexRepair:
        """Write every stored book's index entries again, and remove those of books that are
        gone: the repair path for books stored before the index existed, or for an index
        updated in a step of its own that did not happen. Reads the whole store: maintenance
        only."""

    @abstractmethod
    async def ping(self) -> None: ...


@dataclass(frozen=True, slots=True)
class FinishedBookPage:
    """One page of a user's shelf; `next_cursor` is None on the last one."""

    items: list[FinishedBookSummary]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """How many books were finished in a span of time, and what generating them cost."""

    books: int
    usage: Usage


class FinishedBookRepository(ABC):
    """Finished books. Raises `DatabaseUnavailable` when the database cannot be reached."""

    @abstractmethod
    async def add(self, book: FinishedBook) -> FinishedBook:
        """Insert unless a book with this id exists; return the stored book either way."""

    @abstractmethod
    async def get(self, book_id: UUID) -> FinishedBook | None: ...

    @abstractmethod
    async def list_for_user(
        self, user_id: UserId, limit: int, cursor: str | None
    ) -> FinishedBookPage:
        """Newest first. A cursor is a `next_cursor` this returned, matching `CURSOR_PATTERN`;
        any other raises `InvalidCursor`."""

    @abstractmethod
    async def list_finished(
        self, user_id: UserId | None, limit: int, cursor: str | None
    ) -> FinishedBookPage:
        """`list_for_user`, or of every user with `user_id` None (for the admin); the same
        order and cursors."""

    @abstractmethod
    async def usage_between(self, start: datetime, end: datetime) -> UsageTotals:
        """The books finished from `start` (included) to `end` (excluded), and their cost."""

    @abstractmethod
    async def delete(self, book_id: UUID) -> bool: ...

    @abstractmethod
    async def existing_ids(self, book_ids: Collection[UUID]) -> set[UUID]:
        """Which of these ids have a finished book."""

    @abstractmethod
    async def ping(self) -> None: ...
