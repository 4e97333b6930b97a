"""Waiting for a generation job, wherever it runs, and reading the book it changed."""

from __future__ import annotations

from app.application.errors import IdempotencyKeyInUse, JobNotFound, NoBookInProgress
from app.application.ports import BookInProgressRepository, GenerationJob, GenerationQueue
from app.domain.book import Book


async def book_after(
    job: GenerationJob,
    *,
    queue: GenerationQueue,
    books: BookInProgressRepository,
    joining: bool,
    work: str,
) -> Book:
    """The book once `job` has run (its failure raised). `joining`: a retry waits for the job
    of the request it repeats, which may be unknown here (another process's, in-process):
    then it is told to try again. `work` names what the job makes, for the messages."""
    try:
        await queue.result(job)
    except JobNotFound:
        if joining:
            raise IdempotencyKeyInUse(
                f"This {work} is still being made; try again shortly."
            ) from None
        # Else it ended long enough ago to be forgotten: the book says what it did.
    book = await books.get(job.user_id)
    if book is None or book.id != job.book_id:
        raise NoBookInProgress(f"the book was discarded while the {work} was being made")
    return book
