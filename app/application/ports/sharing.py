"""Share links of finished books: where they are kept, and the tokens that open them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from uuid import UUID

from app.domain.sharing import ShareLink


class ShareLinkRepository(ABC):
    """Raises `DatabaseUnavailable` when the database cannot be reached. A link goes with its
    book: deleting the book deletes it."""

    @abstractmethod
    async def active(self, book_id: UUID, now: datetime) -> ShareLink | None:
        """The book's link, if it has one that has not expired by `now`."""

    @abstractmethod
    async def add(self, link: ShareLink, token_digest: str, now: datetime) -> ShareLink:
        """Store `link` as its book's link (an expired one is replaced) and return it; when the
        book has an active link already (another request made one first), return that one.
        `BookNotFound` when there is no such book (deleted meanwhile)."""

    @abstractmethod
    async def revoke(self, book_id: UUID) -> bool:
        """Remove the book's link; False when it had none."""

    @abstractmethod
    async def find(self, token_digest: str) -> ShareLink | None:
        """The link whose token has this digest (expired or not)."""


class ShareTokens(ABC):
    """Tokens are made from the link, not stored: only their digest is."""

    @abstractmethod
    def token(self, link: ShareLink) -> str:
        """The link's token: unguessable, and the same each time for the same link."""

    @abstractmethod
    def digest(self, token: str) -> str:
        """What is stored and looked up instead of the token."""
