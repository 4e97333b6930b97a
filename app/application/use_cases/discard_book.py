from __future__ import annotations

from app.application.errors import NoBookInProgress
from app.application.ports import BookInProgressRepository
from app.domain.values import UserId


class DiscardBook:
    """Drop the user's book in progress, whatever its state; its staged images expire."""

    def __init__(self, books: BookInProgressRepository) -> None:
        self._books = books

    async def execute(self, user_id: UserId) -> None:
        if not await self._books.delete(user_id):
            raise NoBookInProgress("there is no book in progress")
