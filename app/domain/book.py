"""The Book aggregate: a book in progress and the only way to change it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from app.domain.errors import (
    BeingFinished,
    BookComplete,
    BookNotDone,
    EmptyBook,
    GenerationInProgress,
    IllustrationNotNeeded,
    IllustrationsNotReady,
    InvalidBookState,
    InvalidValue,
    PageNotFound,
    StaleGeneration,
)
from app.domain.events import BookEvent, EventName, FailedStage
from app.domain.finished import FinishClaim, FinishedBook, FinishedBy, FinishedPage
from app.domain.values import (
    MAX_SHEET,
    MAX_SUMMARY,
    BookLifetime,
    BookSpec,
    ChildInput,
    Generation,
    ImageAttempt,
    ImageStatus,
    Page,
    Questions,
    StoryContext,
    Title,
    Usage,
    UserId,
    bounded_text,
)


class BookState(StrEnum):
    INIT = "bookInit"
    IN_PROGRESS = "bookInProgress"
    GENERATING = "generating"
    DONE = "done"


RECENT_CHANGES_KEPT = 16

# The one table of allowed moves. Finishing turns a `done` book into a FinishedBook (not a state).
TRANSITIONS: dict[BookState, frozenset[BookState]] = {
    BookState.INIT: frozenset({BookState.IN_PROGRESS}),
    BookState.IN_PROGRESS: frozenset({BookState.GENERATING}),
    BookState.GENERATING: frozenset({BookState.IN_PROGRESS, BookState.DONE}),
    BookState.DONE: frozenset(),
}


@dataclass(eq=False)
class Book:
    id: UUID
    user_id: UserId
    spec: BookSpec
    lifetime: BookLifetime
    created_at: datetime
    updated_at: datetime
    state: BookState = BookState.INIT
    pages: list[Page] = field(default_factory=list)
    questions: Questions = field(default_factory=Questions)
    cover_key: str | None = None
    generation: Generation | None = None
    version: int = 0
    character_sheet: str = ""
    summary: str = ""
    usage: Usage = field(default_factory=Usage)
    finish_claim: FinishClaim | None = None
    # The ids of the latest changes stored, newest last: whoever made a change whose outcome it
    # could not see (a lost reply) reads the book and finds whether it was stored.
    recent_changes: tuple[str, ...] = ()
    # While the book is being opened (bookInit): when the lease of the request opening it passes.
    # The book is stored before anything is generated, so that a second start is refused at once.
    opening_deadline: datetime | None = None
    # Recorded by the changes below; the repository stores them with the change that made them.
    _events: list[BookEvent] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._check_invariants()

    def copy(self) -> Book:
        """An independent copy of the book as it is, with no events pending: every field but
        the list of pages holds immutable values, so they are shared."""
        return replace(self, pages=list(self.pages))

    @property
    def pending_events(self) -> tuple[BookEvent, ...]:
        return tuple(self._events)

    def events_stored(self) -> None:
        self._events.clear()

    def mark_change(self, change_id: str) -> None:
        """Name the change being made, so that it can be found stored (see `has_change`)."""
        if not change_id:
            raise InvalidValue("change_id", "must not be empty")
        self.recent_changes = (*self.recent_changes, change_id)[-RECENT_CHANGES_KEPT:]

    def has_change(self, change_id: str) -> bool:
        return change_id in self.recent_changes

    # -- creation --------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        book_id: UUID,
        user_id: UserId,
        spec: BookSpec,
        lifetime: BookLifetime,
        now: datetime,
        *,
        opening_lease: timedelta,
    ) -> Book:
        """A new book, claimed for the request that opens it (draws its cover) for
        `opening_lease`; if that request dies, the book is removed once the lease passes."""
        if now.tzinfo is None:
            raise InvalidValue("now", "must be timezone-aware")
        if opening_lease <= timedelta(0):
            raise InvalidValue("opening_lease", "must be positive")
        return cls(
            id=book_id,
            user_id=user_id,
            spec=spec,
            lifetime=lifetime,
            created_at=now,
            updated_at=now,
            opening_deadline=now + opening_lease,
        )

    def opening_abandoned(self, now: datetime) -> bool:
        """The book is still not open and the lease of the request opening it has passed."""
        return self.opening_deadline is not None and now >= self.opening_deadline

    def ensure_opening_abandoned(self, now: datetime) -> None:
        if not self.opening_abandoned(now):
            raise InvalidBookState("the book is open, or still being opened")

    def open(
        self,
        cover_key: str,
        questions: Questions,
        now: datetime,
        character_sheet: str = "",
        usage: Usage | None = None,
    ) -> None:
        """The cover is drawn and the opening questions asked: the child may write page 1."""
        if self.state is not BookState.INIT:
            raise InvalidBookState(f"only a new book can be opened; this one is {self.state.value}")
        if not cover_key:
            raise InvalidValue("cover_key", "a book needs its cover")
        if not questions.items:
            raise InvalidValue("questions", "an open book needs at least one suggestion")
        sheet = bounded_text("character_sheet", character_sheet, MAX_SHEET)
        self._move_to(BookState.IN_PROGRESS)
        self.opening_deadline = None
        self.cover_key = cover_key
        self.questions = questions
        self.character_sheet = sheet
        self.usage = self.usage + (usage or Usage())
        self._changed(now)

    # -- generation ------------------------------------------------------------------------

    def state_at(self, now: datetime) -> BookState:
        """The state clients see: a generation whose lease has passed no longer holds the book."""
        if (
            self.state is BookState.GENERATING
            and self.generation is not None
            and self.generation.lease_passed(now)
        ):
            return BookState.IN_PROGRESS
        return self.state

    def begin_generation(
        self,
        attempt_id: str,
        child_input: ChildInput,
        now: datetime,
        lease: timedelta,
        request_id: str | None = None,
        *,
        wait: timedelta = timedelta(0),
    ) -> Generation:
        """`wait`: how long the work waits its turn under the model provider's limits before
        it starts; the lease runs from then."""
        self._not_being_finished()
        state = self.state_at(now)
        if state is BookState.GENERATING:
            raise GenerationInProgress("a page is being written; wait for it to finish")
        if state is BookState.DONE:
            raise BookComplete("every page is written; the book can be finished")
        if state is not BookState.IN_PROGRESS:
            raise InvalidBookState(f"a page cannot be written while the book is {state.value}")
        # A generating book whose lease passed is taken over: the dead attempt is replaced.
        replaced = self.generation if self.state is BookState.GENERATING else None
        if replaced is not None:
            self._move_to(BookState.IN_PROGRESS)
        self._move_to(BookState.GENERATING)
        self.generation = Generation(
            attempt_id=attempt_id,
            page_number=len(self.pages) + 1,
            input=child_input.value,
            started_at=now,
            lease_deadline=now + wait + lease,
            request_id=request_id,
            work_starts_at=now + wait if wait > timedelta(0) else None,
        )
        self._changed(now)
        if replaced is not None:
            self._record_given_up(replaced)
        return self.generation

    def complete_page(
        self,
        attempt_id: str,
        text: str,
        image_key: str | None,
        questions: Questions,
        now: datetime,
        summary: str | None = None,
        usage: Usage | None = None,
        image_lease: timedelta | None = None,
    ) -> Page:
        """Append the page. `summary` (when the writer gives one) replaces the running summary.

        With no `image_key` the page is stored text-first: its illustration is still being drawn
        by this same attempt, which holds the page for `image_lease`."""
        generation = self._current_generation(attempt_id, now)
        new_summary = (
            self.summary if summary is None else bounded_text("summary", summary, MAX_SUMMARY)
        )
        drawing = None
        if image_key is None:
            if image_lease is None or image_lease <= timedelta(0):
                raise InvalidValue("image_lease", "a page stored before its picture needs a lease")
            drawing = ImageAttempt(attempt_id, now + image_lease)
        page = Page(
            generation.page_number,
            generation.input,
            text,
            image_key,
            drawing,
            request_id=generation.request_id,
        )
        last = page.number == self.spec.page_count
        if last and questions.items:
            raise InvalidValue("questions", "a finished story asks no more questions")
        if not last and not questions.items:
            raise InvalidValue("questions", "at least one suggestion is needed for the next page")
        was_finishable = self._finishable(now)
        self._move_to(BookState.DONE if last else BookState.IN_PROGRESS)
        self.pages.append(page)
        self.questions = questions
        self.generation = None
        self.summary = new_summary
        self.usage = self.usage + (usage or Usage())
        self._changed(now)
        self._record(EventName.PAGE_TEXT, page=page.number, input=page.input, text=page.text)
        if questions.items:
            self._record(EventName.QUESTIONS, page=page.number, questions=list(questions.items))
        if image_key is not None:
            self._picture_drawn(page, was_finishable, now)
        return page

    def attach_illustration(
        self, page_number: int, attempt_id: str, image_key: str, now: datetime, usage: Usage
    ) -> Page:
        """The picture of a page stored text-first is drawn."""
        page = self._drawing_page(page_number, attempt_id, now)
        was_finishable = self._finishable(now)
        assert page.image_attempt is not None  # checked by _drawing_page
        drawn = replace(
            page,
            image_key=image_key,
            image_attempt=None,
            picture_request_id=page.image_attempt.request_id or page.picture_request_id,
        )
        self.pages[page_number - 1] = drawn
        self.usage = self.usage + usage
        self._changed(now)
        self._picture_drawn(drawn, was_finishable, now)
        return drawn

    def fail_illustration(
        self, page_number: int, attempt_id: str, now: datetime, usage: Usage | None = None
    ) -> None:
        """The attempt could not draw the picture: the page keeps its text, its picture failed."""
        page = self._drawing_page(page_number, attempt_id, now)
        self._picture_failed(page, "the picture could not be drawn", now, usage)

    def begin_illustration(
        self,
        page_number: int,
        attempt_id: str,
        now: datetime,
        lease: timedelta,
        request_id: str | None = None,
        *,
        wait: timedelta = timedelta(0),
    ) -> ImageAttempt:
        """Draw a failed picture again, without rewriting the page; `wait` as for a page."""
        page = self.check_illustration_needed(page_number, now)
        attempt = ImageAttempt(attempt_id, now + wait + lease, request_id)
        self.pages[page_number - 1] = replace(page, image_key=None, image_attempt=attempt)
        self._changed(now)
        if page.image_attempt is not None:  # a dead attempt's picture, taken over
            self._record(
                EventName.GENERATION_FAILED,
                page=page.number,
                stage=FailedStage.ILLUSTRATION.value,
                detail="the picture took too long and was given up",
            )
        return attempt

    def check_illustration_needed(self, page_number: int, now: datetime) -> Page:
        """The page, if its picture may be drawn again now (else the error that says why)."""
        self._not_being_finished()
        page = self._page(page_number)
        status = page.image_status_at(now)
        if status is ImageStatus.READY:
            raise IllustrationNotNeeded(f"page {page_number} already has its picture")
        if status is ImageStatus.PENDING:
            raise IllustrationNotNeeded(f"page {page_number}'s picture is being drawn")
        return page

    def give_up_expired(self, now: datetime) -> bool:
        """Give back what attempts whose lease passed still hold (their process died): the page
        being written, and pictures being drawn. True if anything changed."""
        changed = False
        generation = self.generation
        if self.state is BookState.GENERATING and generation and generation.lease_passed(now):
            self._move_to(BookState.IN_PROGRESS)
            self.generation = None
            self._changed(now)
            self._record_given_up(generation)
            changed = True
        for page in list(self.pages):
            if page.image_attempt is not None and page.image_attempt.lease_passed(now):
                self._picture_failed(page, "the picture took too long and was given up", now)
                changed = True
        return changed

    @property
    def expiring_attempts_at(self) -> datetime | None:
        """When the earliest lease held on this book passes (None when nothing is held)."""
        deadlines = [p.image_attempt.lease_deadline for p in self.pages if p.image_attempt]
        if self.generation is not None:
            deadlines.append(self.generation.lease_deadline)
        if self.finish_claim is not None:
            deadlines.append(self.finish_claim.lease_deadline)
        if self.opening_deadline is not None:
            deadlines.append(self.opening_deadline)
        return min(deadlines, default=None)

    def holds_passed_lease(self, now: datetime) -> bool:
        """Something holds the book past its lease (the process that held it may have died;
        recovery gives it back): the admin sees the book as stuck."""
        passes_at = self.expiring_attempts_at
        return passes_at is not None and passes_at <= now

    def fail_generation(
        self,
        attempt_id: str,
        now: datetime,
        usage: Usage | None = None,
        detail: str = "the page could not be written; it can be written again",
    ) -> None:
        """The attempt gave up: the book is writable again with no page added (what the attempt
        cost is still recorded)."""
        generation = self._current_generation(attempt_id, now)
        self._move_to(BookState.IN_PROGRESS)
        self.generation = None
        self.usage = self.usage + (usage or Usage())
        self._changed(now)
        self._record(
            EventName.GENERATION_FAILED,
            page=generation.page_number,
            stage=FailedStage.TEXT.value,
            detail=detail,
        )

    def story_context(self) -> StoryContext:
        return StoryContext(self.spec, tuple(self.pages), self.character_sheet, self.summary)

    # -- finishing -------------------------------------------------------------------------

    def begin_finish(
        self,
        claim_id: str,
        request_id: str,
        title: Title,
        now: datetime,
        lease: timedelta,
        finished_by: FinishedBy = FinishedBy.USER,
        force: bool = False,
    ) -> FinishClaim:
        """Claim the book for a finish, before anything is copied or kept. A retry of the request
        that holds the claim resumes it (nothing changes); any other finish is refused.

        `force` (admin only) also finishes a book in progress with the pages it has.
        """
        claim = self.finish_claim
        if claim is not None:
            if claim.request_id == request_id:
                return claim
            raise BeingFinished("the book is being finished by another request")
        state = self.state_at(now)
        if force and state is BookState.IN_PROGRESS:
            if not self.pages:
                raise EmptyBook("a book with no page cannot be finished")
        elif state is not BookState.DONE:
            left = self.spec.page_count - len(self.pages)
            raise BookNotDone(
                f"only a done book can be finished; this one is {state.value}, with {left} of "
                f"its {self.spec.page_count} pages still to write"
            )
        waiting = [p.number for p in self.pages if p.image_status_at(now) is not ImageStatus.READY]
        if waiting:
            numbers = ", ".join(str(n) for n in waiting)
            raise IllustrationsNotReady(
                f"the pictures of pages {numbers} are not drawn yet (retry the failed ones)"
            )
        lapsed = self.generation if self.state is BookState.GENERATING else None
        if lapsed is not None:  # its lease passed (else the state check refused): replaced
            self._move_to(BookState.IN_PROGRESS)
            self.generation = None
            self._record_given_up(lapsed)
        self.finish_claim = FinishClaim.taken(
            claim_id, request_id, title, finished_by, force, now, lease
        )
        self._changed(now)
        return self.finish_claim

    def finished_book(self, cover_key: str, page_key: Callable[[int], str]) -> FinishedBook:
        """The book as it is kept, its images under the permanent keys the caller names: the same
        every time it is asked for under one claim, so a retried finish keeps the same book."""
        claim = self.finish_claim
        if claim is None:
            raise InvalidBookState("the book has no finish under way")
        assert self.cover_key is not None  # an open book always has its cover
        return FinishedBook(
            id=self.id,
            user_id=self.user_id,
            title=claim.title,
            spec=self.spec.with_page_count(len(self.pages)),
            pages=tuple(
                FinishedPage(p.number, p.input, p.text, page_key(p.number)) for p in self.pages
            ),
            cover_key=cover_key,
            created_at=self.created_at,
            finished_at=claim.started_at,
            finished_by=claim.finished_by,
            usage=self.usage,
        )

    def ensure_discardable(self) -> None:
        """A book may be discarded in any state but while it is being finished."""
        self._not_being_finished()

    def page_drawn_by(self, attempt_id: str) -> Page | None:
        """The page whose picture this attempt is drawing (its text stored already)."""
        for page in self.pages:
            if page.image_attempt is not None and page.image_attempt.attempt_id == attempt_id:
                return page
        return None

    def page_written_by(self, request_id: str) -> Page | None:
        """The page that the client request `request_id` wrote, if it was stored."""
        return next((p for p in self.pages if p.request_id == request_id), None)

    def picture_asked_by(self, page_number: int, request_id: str, now: datetime) -> bool:
        """True when the client request `request_id` drew the page's picture, or draws it now."""
        page = self._page(page_number)
        attempt = page.image_attempt
        if attempt is not None and not attempt.lease_passed(now):
            return attempt.request_id == request_id
        return page.image_key is not None and page.picture_request_id == request_id

    def generating_for(self, request_id: str, now: datetime) -> bool:
        """True while the client request `request_id` holds the book's generation."""
        return (
            self.state_at(now) is BookState.GENERATING
            and self.generation is not None
            and self.generation.request_id == request_id
        )

    def image_keys(self) -> list[str]:
        keys = [p.image_key for p in self.pages if p.image_key is not None]
        return [self.cover_key, *keys] if self.cover_key else keys

    # -- storage support -------------------------------------------------------------------

    @property
    def expires_at(self) -> datetime:
        return self.lifetime.expires_at(self.created_at, self.updated_at)

    # -- internals -------------------------------------------------------------------------

    def _record(self, name: EventName, **data: object) -> None:
        self._events.append(BookEvent(name, self.id, self.version, dict(data)))

    def _record_given_up(self, generation: Generation) -> None:
        self._record(
            EventName.GENERATION_FAILED,
            page=generation.page_number,
            stage=FailedStage.TEXT.value,
            detail="the page took too long and was given up; it can be written again",
        )

    def _finishable(self, now: datetime) -> bool:
        return self.state is BookState.DONE and all(
            p.image_status_at(now) is ImageStatus.READY for p in self.pages
        )

    def _picture_drawn(self, page: Page, was_finishable: bool, now: datetime) -> None:
        self._record(EventName.IMAGE_READY, page=page.number, image_key=page.image_key)
        self._record(EventName.PAGE_DONE, page=page.number, state=self.state.value)
        if not was_finishable and self._finishable(now):
            self._record(EventName.BOOK_DONE, pages=len(self.pages))

    def _picture_failed(
        self, page: Page, detail: str, now: datetime, usage: Usage | None = None
    ) -> None:
        self.pages[page.number - 1] = replace(page, image_key=None, image_attempt=None)
        self.usage = self.usage + (usage or Usage())
        self._changed(now)
        self._record(
            EventName.GENERATION_FAILED,
            page=page.number,
            stage=FailedStage.ILLUSTRATION.value,
            detail=detail,
        )

    def _not_being_finished(self) -> None:
        if self.finish_claim is not None:
            raise BeingFinished("the book is being finished; it can no longer change")

    def _page(self, page_number: int) -> Page:
        if not 1 <= page_number <= len(self.pages):
            raise PageNotFound(f"the book has no page {page_number}")
        return self.pages[page_number - 1]

    def _drawing_page(self, page_number: int, attempt_id: str, now: datetime) -> Page:
        page = self._page(page_number)
        attempt = page.image_attempt
        if attempt is None or attempt.attempt_id != attempt_id:
            raise StaleGeneration("this picture's attempt is no longer the page's current one")
        if attempt.lease_passed(now):
            raise StaleGeneration("this picture's lease has passed")
        return page

    def _current_generation(self, attempt_id: str, now: datetime) -> Generation:
        if (
            self.state is not BookState.GENERATING
            or self.generation is None
            or self.generation.attempt_id != attempt_id
        ):
            raise StaleGeneration("this generation is no longer the book's current one")
        if self.generation.lease_passed(now):
            raise StaleGeneration("this generation's lease has passed")
        return self.generation

    def _move_to(self, target: BookState) -> None:
        if target not in TRANSITIONS[self.state]:
            raise InvalidBookState(f"cannot go from {self.state.value} to {target.value}")
        self.state = target

    def _changed(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise InvalidValue("now", "must be timezone-aware")
        self.updated_at = max(self.updated_at, now)
        self.version += 1
        self._check_invariants()

    def _check_invariants(self) -> None:
        numbers = [p.number for p in self.pages]
        if numbers != list(range(1, len(numbers) + 1)):
            raise InvalidValue("pages", "pages must run 1..n with no gap")
        if len(self.pages) > self.spec.page_count:
            raise InvalidValue("pages", "more pages than the book has")
        if (self.state is BookState.DONE) != (len(self.pages) == self.spec.page_count):
            raise InvalidValue("state", "a book is done exactly when its last page is written")
        if (self.state is BookState.GENERATING) != (self.generation is not None):
            raise InvalidValue("generation", "a generation is recorded exactly while generating")
        if self.state is not BookState.INIT and self.cover_key is None:
            raise InvalidValue("cover_key", "an open book has its cover")
        if self.state is BookState.INIT and self.pages:
            raise InvalidValue("pages", "a book that is not open yet has no page")
        if (self.state is BookState.INIT) != (self.opening_deadline is not None):
            raise InvalidValue("opening_deadline", "a book is held for its opening until it opens")
        if bool(self.questions.items) != (
            self.state in (BookState.IN_PROGRESS, BookState.GENERATING)
        ):
            raise InvalidValue("questions", "1-3 suggestions while pages remain, none otherwise")
        if self.generation is not None and self.generation.page_number != len(self.pages) + 1:
            raise InvalidValue("generation", "a generation writes the next page")
        if self.version < 0:
            raise InvalidValue("version", "must not be negative")
        if self.finish_claim is not None and (
            self.generation is not None
            or self.state not in (BookState.IN_PROGRESS, BookState.DONE)
            or not self.pages
            or any(p.image_key is None for p in self.pages)
        ):
            raise InvalidValue("finish_claim", "only a book with every picture drawn is finished")
