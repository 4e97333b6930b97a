"""The use cases wired to the ports they need: one function, shared by the composition root
(real adapters) and the unit tests (hand-written fakes), so both run the same wiring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.application.book_changes import BookChanges
from app.application.generation_jobs import GenerationJobs
from app.application.pictures import Pictures
from app.application.ports import (
    BookInProgressRepository,
    Clock,
    ContentModerator,
    ContextGenerator,
    FinishedBookRepository,
    GenerationLimits,
    GenerationQueue,
    IdGenerator,
    Illustrator,
    ImageStorage,
    ProviderCapacity,
    QuestionGenerator,
)
from app.application.ports.audit import AdminAuditLog
from app.application.ports.exports import BookRenderer
from app.application.ports.sharing import ShareLinkRepository, ShareTokens
from app.application.use_cases.admin import AdminConsole
from app.application.use_cases.delete_book import DeleteFinishedBook
from app.application.use_cases.discard_book import DiscardBook
from app.application.use_cases.exports import ExportBook
from app.application.use_cases.finish_book import Checkpoint, FinishBook
from app.application.use_cases.queries import BookQueries
from app.application.use_cases.recover import RecoverStuckGenerations
from app.application.use_cases.redraw_picture import RedrawPicture
from app.application.use_cases.sharing import BookSharing
from app.application.use_cases.start_book import StartBook
from app.application.use_cases.write_page import WritePage
from app.domain.values import BookLifetime


@dataclass(frozen=True, slots=True)
class Timings:
    lifetime: BookLifetime  # how long a book in progress is kept
    lease: timedelta  # how long a page or picture attempt holds the book
    finish_lease: timedelta  # how long a finish holds the book before recovery completes it
    deadline: timedelta | None = None  # how long one generation may take


@dataclass(frozen=True, slots=True)
class UseCases:
    changes: BookChanges
    start_book: StartBook
    write_page: WritePage
    redraw_picture: RedrawPicture
    finish_book: FinishBook
    discard_book: DiscardBook
    delete_book: DeleteFinishedBook
    queries: BookQueries
    recover: RecoverStuckGenerations
    sharing: BookSharing
    exports: ExportBook
    admin: AdminConsole
    jobs: GenerationJobs  # what a worker runs


def build_use_cases(
    *,
    books: BookInProgressRepository,
    finished: FinishedBookRepository,
    images: ImageStorage,
    context_generator: ContextGenerator,
    question_generator: QuestionGenerator,
    illustrator: Illustrator,
    moderator: ContentModerator,
    limits: GenerationLimits,
    queue: GenerationQueue,
    capacity: ProviderCapacity,
    share_links: ShareLinkRepository,
    share_tokens: ShareTokens,
    audit: AdminAuditLog,
    renderer: BookRenderer,
    clock: Clock,
    ids: IdGenerator,
    timings: Timings,
    checkpoint: Checkpoint | None = None,
) -> UseCases:
    changes = BookChanges(books=books, clock=clock)
    pictures = Pictures(
        changes=changes,
        images=images,
        illustrator=illustrator,
        limits=limits,
        deadline=timings.deadline,
        keep_on_cancel=queue.durable,
    )
    finish_book = FinishBook(
        changes=changes,
        books=books,
        finished=finished,
        images=images,
        ids=ids,
        lease=timings.finish_lease,
        checkpoint=checkpoint,
    )
    write_page = WritePage(
        changes=changes,
        books=books,
        context_generator=context_generator,
        question_generator=question_generator,
        pictures=pictures,
        moderator=moderator,
        limits=limits,
        queue=queue,
        capacity=capacity,
        clock=clock,
        ids=ids,
        lease=timings.lease,
        deadline=timings.deadline,
    )
    redraw_picture = RedrawPicture(
        changes=changes,
        books=books,
        pictures=pictures,
        limits=limits,
        queue=queue,
        capacity=capacity,
        clock=clock,
        ids=ids,
        lease=timings.lease,
    )
    start_book = StartBook(
        changes=changes,
        books=books,
        images=images,
        context_generator=context_generator,
        illustrator=illustrator,
        question_generator=question_generator,
        moderator=moderator,
        limits=limits,
        queue=queue,
        capacity=capacity,
        clock=clock,
        ids=ids,
        lifetime=timings.lifetime,
        lease=timings.lease,
        deadline=timings.deadline,
    )
    sharing = BookSharing(
        finished=finished, links=share_links, tokens=share_tokens, clock=clock, ids=ids
    )
    queries = BookQueries(books=books, finished=finished)
    delete_book = DeleteFinishedBook(finished=finished, images=images)
    return UseCases(
        changes=changes,
        start_book=start_book,
        write_page=write_page,
        redraw_picture=redraw_picture,
        finish_book=finish_book,
        discard_book=DiscardBook(changes=changes),
        delete_book=delete_book,
        queries=queries,
        recover=RecoverStuckGenerations(
            changes=changes, books=books, finish=finish_book, clock=clock
        ),
        sharing=sharing,
        exports=ExportBook(finished=finished, images=images, renderer=renderer, sharing=sharing),
        admin=AdminConsole(
            books=books,
            finished=finished,
            audit=audit,
            share_links=share_links,
            queries=queries,
            finish_book=finish_book,
            delete_book=delete_book,
            clock=clock,
            ids=ids,
        ),
        jobs=GenerationJobs(
            start_book=start_book, write_page=write_page, redraw_picture=redraw_picture
        ),
    )
