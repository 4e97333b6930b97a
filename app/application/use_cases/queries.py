"""Read-only use cases. A user only ever sees their own books."""

from __future__ import annotations

from uuid import UUID

from app.application.errors import BookNotFound, NoBookInProgress
from app.application.ports import BookInProgressRepository, FinishedBookRepository
from app.application.ports.stores import FinishedBookPage
from app.domain.book import Book
from app.domain.finished import FinishedBook
from app.domain.values import UserId


class BookQueries:
    def __init__(
        self, *, books: BookInProgressRepository, finished: FinishedBookRepository
    ) -> None:
        self._books = books
        self._finished = finished

    async def current(self, user_id: UserId) -> Book:
        book = await self._books.get(user_id)
        if book is None:
            raise NoBookInProgress("there is no book in progress")
        return book

    async def finished(self, book_id: UUID, owner: UserId | None) -> FinishedBook:
        """The finished book; with `owner` given (non-admin calls) another's is not found."""
        book = await self._finished.get(book_id)
        if book is None or (owner is not None and book.user_id != owner):
            raise BookNotFound("no such book")
        return book

    async def shelf(self, user_id: UserId, limit: int, cursor: str | None) -> FinishedBookPage:
        return await self._finished.list_for_user(user_id, limit, cursor)
