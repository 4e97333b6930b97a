"""Finish a book and keep it for good: fence first, then keep.

1. Claim the book for this finish (a compare-and-set): from then on no page, picture, discard
   or other finish changes it, and the title is fixed.
2. Copy its images to permanent keys, insert the row (an existing row wins), delete the staged
   images, and remove the book in progress (only if it still holds this claim), leaving behind
   which request finished it.

Every step after the claim is safe to repeat, and a claim is never given up: a retry of the same
request resumes it, and once its lease passes the recovery loop completes it."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from uuid import UUID

from app.application.book_changes import BookChanges
from app.application.errors import NoBookInProgress
from app.application.image_keys import cover_key, page_key
from app.application.ports import (
    BookInProgressRepository,
    FinishedBookRepository,
    FinishedRecord,
    IdGenerator,
    ImageStorage,
)
from app.domain.book import Book
from app.domain.errors import BeingFinished, InvalidBookState
from app.domain.finished import FinishedBook, FinishedBy
from app.domain.values import Title, UserId

# The named steps of a finish at which a `checkpoint` is called, in order.
FINISH_STEPS = (
    "after_claim",
    "after_copies",
    "after_insert",
    "after_staged_delete",
    "before_store_delete",
)

Checkpoint = Callable[[str], None]
# Called with the book's id and the title it is kept with, once this request holds the finish
# (or finished it already).
OnClaimed = Callable[[UUID, Title], Awaitable[None]]


def _no_checkpoint(step: str) -> None:
    return None


def finish_request_id(
    title: Title, finished_by: FinishedBy, force: bool, request_id: str | None
) -> str:
    """What identifies a finish request: the client's idempotency key when it sent one, else
    what it asked for (the same finish sent again without a key is the same request)."""
    if request_id is not None:
        return request_id
    asked = f"{finished_by.value}\n{force}\n{title.value}".encode()
    return "asked:" + hashlib.sha256(asked).hexdigest()[:32]


class FinishBook:
    """`checkpoint`, when given, is called with each name of `FINISH_STEPS` as the finish passes
    it (tests use it to stop the process there and prove that the finish still completes)."""

    def __init__(
        self,
        *,
        changes: BookChanges,
        books: BookInProgressRepository,
        finished: FinishedBookRepository,
        images: ImageStorage,
        ids: IdGenerator,
        lease: timedelta,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self._changes = changes
        self._books = books
        self._finished = finished
        self._images = images
        self._ids = ids
        self._lease = lease
        self._checkpoint = checkpoint or _no_checkpoint

    async def execute(
        self,
        user_id: UserId,
        title: Title,
        *,
        finished_by: FinishedBy = FinishedBy.USER,
        force: bool = False,
        request_id: str | None = None,
        on_claimed: OnClaimed | None = None,
    ) -> FinishedBook:
        """`on_claimed` runs once the claim is held, before anything is carried out: what must
        be written about a finish that, once claimed, completes even if this process dies (the
        recovery loop carries it out). A refused finish never calls it; a retry of the request
        calls it again (it must be safe to repeat)."""
        request = finish_request_id(title, finished_by, force, request_id)
        claim_id = str(self._ids.new_id())

        def claim(book: Book, now: datetime) -> None:
            book.begin_finish(claim_id, request, title, now, self._lease, finished_by, force)

        try:
            book = await self._changes.change(user_id, claim, change_id=claim_id)
        except NoBookInProgress:
            kept = await self._finished_before(user_id, request)
            if on_claimed is not None:
                await on_claimed(kept.id, kept.title)
            return kept
        if on_claimed is not None and book.finish_claim is not None:
            await on_claimed(book.id, book.finish_claim.title)
        self._checkpoint("after_claim")
        return await self.complete(book)

    async def complete(self, book: Book) -> FinishedBook:
        """Carry out the finish that `book` is claimed for (a request's own, or one whose lease
        passed, for the recovery loop)."""
        claim = book.finish_claim
        if claim is None:
            raise InvalidBookState("the book has no finish under way")
        finished = book.finished_book(cover_key(book.id), lambda n: page_key(book.id, n))
        staged = book.image_keys()
        await self._images.promote(dict(zip(staged, finished.image_keys(), strict=True)))
        self._checkpoint("after_copies")
        stored = await self._finished.add(finished)
        self._checkpoint("after_insert")
        await self._images.delete(staged)
        self._checkpoint("after_staged_delete")
        self._checkpoint("before_store_delete")

        def still_claimed(current: Book, now: datetime) -> None:
            held = current.finish_claim
            if held is None or held.claim_id != claim.claim_id:
                # A claim is never replaced or given up: this is a bug (a 500), never a race.
                raise RuntimeError("the book's finish claim changed under its finish")

        await self._changes.remove(
            book.user_id,
            still_claimed,
            book_id=book.id,
            known=book,
            finished=FinishedRecord(book.id, claim.request_id),
        )
        return stored

    async def _finished_before(self, user_id: UserId, request: str) -> FinishedBook:
        """No book in progress: it may be this request's book, kept by an earlier attempt whose
        reply was lost. Else the truth: kept by another finish (409), or never there (404)."""
        record = await self._books.last_finished(user_id)
        if record is None:
            raise NoBookInProgress("there is no book in progress")
        if record.request_id != request:
            raise BeingFinished("the book was finished already, by another request")
        kept = await self._finished.get(record.book_id)
        if kept is None:  # kept, then deleted by its owner
            raise NoBookInProgress("there is no book in progress")
        return kept
