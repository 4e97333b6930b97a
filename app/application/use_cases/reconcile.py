"""Find the permanent images that no finished book claims, and delete them when asked.

A finish copies a book's images to `books/{book_id}/...` before it inserts the book's row, and
deleting a finished book removes the row before its images; a crash in between leaves permanent
images that nothing refers to. They are orphans only once no finish can still complete them:

- the book has no row (a row claims every image under its prefix);
- every image of the book is older than `grace`, so a finish in flight (copies made, row not yet
  inserted) is never taken for a crash;
- the book has no staged image left. A finish deletes the staged images only after its row is
  stored, so a book that still has them may be finished yet (the finish that crashed after its
  copies is retried, and its copy step keeps the permanent copies it finds). Once the book in
  progress is gone for good its staged images expire, and its permanent copies become orphans.

The staged images are listed before the rows are asked for: a finish that stores its row and
then deletes its staged images between the two is seen with its row, never as an orphan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from app.application.image_keys import PERMANENT_PREFIX, STAGING_PREFIX
from app.application.ports import Clock, FinishedBookRepository, ImageStorage, StoredObject

DEFAULT_GRACE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What a reconcile found. `orphans` are deleted when `applied`, else only listed."""

    orphans: tuple[str, ...]
    orphan_books: int
    applied: bool
    scanned: int
    kept_recent: int
    kept_staged: int

    def summary(self) -> str:
        found = f"{len(self.orphans)} orphan image(s) of {self.orphan_books} book(s)"
        kept = (
            f"{self.scanned} permanent image(s) scanned; kept {self.kept_recent} too recent "
            f"and {self.kept_staged} of books still staged"
        )
        if self.applied:
            return f"deleted {found}; {kept}"
        deleted = "nothing deleted (dry run; --apply deletes them)"
        return f"found {found}, {deleted}; {kept}"


class ReconcileImages:
    def __init__(
        self,
        images: ImageStorage,
        finished: FinishedBookRepository,
        clock: Clock,
        grace: timedelta = DEFAULT_GRACE,
    ) -> None:
        if grace < timedelta(0):
            raise ValueError("the grace period cannot be negative")
        self._images = images
        self._finished = finished
        self._clock = clock
        self._grace = grace

    async def execute(self, apply: bool = False) -> ReconcileReport:
        cutoff = self._clock.now() - self._grace
        permanent = _by_book(await self._images.list_objects(PERMANENT_PREFIX), _permanent_book)
        scanned = sum(len(objects) for objects in permanent.values())
        settled = {
            book_id: objects
            for book_id, objects in permanent.items()
            if all(item.modified_at <= cutoff for item in objects)
        }
        kept_recent = scanned - sum(len(objects) for objects in settled.values())
        staged: set[UUID] = set()
        claimed: set[UUID] = set()
        if settled:
            # Staged images first, rows second (see the module's docstring).
            staged = set(_by_book(await self._images.list_objects(STAGING_PREFIX), _staged_book))
            claimed = await self._finished.existing_ids(list(settled))
        unclaimed = {b: objects for b, objects in settled.items() if b not in claimed}
        orphans = {b: objects for b, objects in unclaimed.items() if b not in staged}
        kept_staged = sum(len(objects) for b, objects in unclaimed.items() if b in staged)

        if apply:
            for objects in orphans.values():
                await self._images.delete([item.key for item in objects])
        return ReconcileReport(
            orphans=tuple(sorted(item.key for objects in orphans.values() for item in objects)),
            orphan_books=len(orphans),
            applied=apply,
            scanned=scanned,
            kept_recent=kept_recent,
            kept_staged=kept_staged,
        )


def _by_book(
    objects: list[StoredObject], book_of: Callable[[str], UUID | None]
) -> dict[UUID, list[StoredObject]]:
    books: defaultdict[UUID, list[StoredObject]] = defaultdict(list)
    for item in objects:
        book_id = book_of(item.key)
        if book_id is not None:  # a key outside the layout is never touched
            books[book_id].append(item)
    return dict(books)


def _permanent_book(key: str) -> UUID | None:
    # books/{book_id}/cover.png, books/{book_id}/pages/{n}.png
    parts = key.split("/")
    return _uuid(parts[1]) if len(parts) >= 3 and parts[0] + "/" == PERMANENT_PREFIX else None


def _staged_book(key: str) -> UUID | None:
    # staging/{user_id}/{book_id}/{image_id}.png
    parts = key.split("/")
    return _uuid(parts[2]) if len(parts) == 4 and parts[0] + "/" == STAGING_PREFIX else None


def _uuid(text: str) -> UUID | None:
    try:
        book_id = UUID(text)
    except ValueError:
        return None
    return book_id if str(book_id) == text else None  # only the layout's own spelling
