"""Share a finished book by a public link, take the link back, and read a book by its link."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from app.application.errors import BookNotFound
from app.application.ports import Clock, FinishedBookRepository, IdGenerator
from app.application.ports.sharing import ShareLinkRepository, ShareTokens
from app.domain.finished import FinishedBook
from app.domain.sharing import ShareLink
from app.domain.values import UserId


@dataclass(frozen=True, slots=True)
class Shared:
    """A book's link and its token; `created` is False when the book's active link was kept."""

    link: ShareLink
    token: str
    created: bool


class BookSharing:
    def __init__(
        self,
        *,
        finished: FinishedBookRepository,
        links: ShareLinkRepository,
        tokens: ShareTokens,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._finished = finished
        self._links = links
        self._tokens = tokens
        self._clock = clock
        self._ids = ids

    async def share(self, owner: UserId, book_id: UUID, lifetime: timedelta | None) -> Shared:
        """The book's link: its active one if it has one (one link at a time), else a new one
        living `lifetime` (None: until taken back)."""
        await self._owned(owner, book_id)
        now = self._clock.now()
        active = await self._links.active(book_id, now)
        if active is not None:
            return Shared(active, self._tokens.token(active), created=False)
        new = ShareLink.create(self._ids.new_id(), book_id, now, lifetime)
        token = self._tokens.token(new)
        stored = await self._links.add(new, self._tokens.digest(token), now)
        if stored.id != new.id:  # another request made the book's link at the same moment
            return Shared(stored, self._tokens.token(stored), created=False)
        return Shared(stored, token, created=True)

    async def unshare(self, owner: UserId, book_id: UUID) -> None:
        """Take the book's link back: it is not found from now on. Idempotent."""
        await self._owned(owner, book_id)
        await self._links.revoke(book_id)

    async def read(self, token: str) -> FinishedBook:
        """The book a link opens; `BookNotFound` for an unknown, revoked or expired link."""
        digest = self._tokens.digest(token)
        link = await self._links.find(digest)
        # Found by its digest; compared again in constant time, whatever the lookup did.
        if (
            link is None
            or not hmac.compare_digest(self._tokens.digest(self._tokens.token(link)), digest)
            or not link.active_at(self._clock.now())
        ):
            raise BookNotFound("no such book")
        book = await self._finished.get(link.book_id)
        if book is None:
            raise BookNotFound("no such book")
        return book

    async def _owned(self, owner: UserId, book_id: UUID) -> FinishedBook:
        book = await self._finished.get(book_id)
        if book is None or book.user_id != owner:
            raise BookNotFound("no such book")
        return book
