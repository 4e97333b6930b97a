from __future__ import annotations

from datetime import datetime

from app.application.book_changes import BookChanges
from app.application.errors import NoBookInProgress
from app.domain.book import Book
from app.domain.values import UserId


class DiscardBook:
    """Drop the user's book in progress, in any state but while it is being finished; its staged
    images expire."""

    def __init__(self, *, changes: BookChanges) -> None:
        self._changes = changes

    async def execute(self, user_id: UserId) -> None:
        def discardable(book: Book, now: datetime) -> None:
            book.ensure_discardable()

        if not await self._changes.remove(user_id, discardable):
            raise NoBookInProgress("there is no book in progress")
