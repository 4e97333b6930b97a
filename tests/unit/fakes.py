"""Hand-written in-memory fakes of every port, for the unit tests of the use cases.

Each fake keeps the semantics its port documents (compare-and-set, add-if-absent, idempotent
promote, ...) and lets a test script failures, delays and answers. Every async method yields to the
event loop once, so that concurrent use cases really interleave as they would over a network.
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from app.application.background import BackgroundJobs
from app.application.errors import (
    BookAlreadyInProgress,
    BookNotFound,
    ContentRejected,
    DatabaseUnavailable,
    GenerationFailed,
    ImageNotFound,
    ImageStorageUnavailable,
    InvalidCursor,
    JobNotFound,
    ModerationUnavailable,
    RateLimited,
    StoreUnavailable,
    VersionConflict,
)
from app.application.image_keys import STAGING_PREFIX, is_valid_key
from app.application.ports import (
    BookInProgressRepository,
    BooksInProgressPage,
    CharacterSheet,
    Clock,
    ContentModerator,
    ContextGenerator,
    FinishedBookPage,
    FinishedBookRepository,
    FinishedRecord,
    GenerationCost,
    GenerationJob,
    GenerationLimits,
    GenerationQueue,
    IdGenerator,
    IllustrationRequest,
    Illustrator,
    Image,
    ImageStorage,
    IndexRepair,
    PageText,
    ProviderCapacity,
    ProviderWork,
    QuestionGenerator,
    StoredObject,
    Suggestions,
    UsageTotals,
)
from app.application.ports.audit import AdminAuditLog, AuditPage
from app.application.ports.exports import BookRenderer, ExportFormat
from app.application.ports.sharing import ShareLinkRepository
from app.application.use_cases.delete_book import DeleteFinishedBook
from app.application.use_cases.discard_book import DiscardBook
from app.application.use_cases.finish_book import Checkpoint, FinishBook
from app.application.use_cases.queries import BookQueries
from app.application.use_cases.recover import RecoverStuckGenerations
from app.application.use_cases.redraw_picture import RedrawPicture
from app.application.use_cases.start_book import StartBook
from app.application.use_cases.write_page import WritePage
from app.application.wiring import Timings, UseCases, build_use_cases
from app.domain.audit import AuditEntry
from app.domain.book import Book, BookState
from app.domain.events import BookEvent
from app.domain.finished import FinishedBook
from app.domain.sharing import ShareLink
from app.domain.values import (
    BookLifetime,
    BookSpec,
    Character,
    ChildInput,
    Language,
    Questions,
    StoryContext,
    Usage,
    UserId,
)
from app.infrastructure.jobs.in_process import InProcessGenerationQueue
from app.infrastructure.provider_capacity import ProviderLimits
from app.infrastructure.share_tokens import HmacShareTokens

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\nfake-image"
ALICE = UserId("alice")
BOB = UserId("bob")
LIFETIME = BookLifetime(ttl=timedelta(days=1), max_age=timedelta(days=7))
LEASE = timedelta(seconds=60)
FINISH_LEASE = timedelta(seconds=30)


# -- domain builders -------------------------------------------------------------------------


def make_spec(page_count: int = 3, **kwargs: object) -> BookSpec:
    characters = kwargs.pop("characters", (Character("Momo", "a brave little rabbit"),))
    return BookSpec(characters, page_count, **kwargs)  # type: ignore[arg-type]


def new_book(
    page_count: int = 3,
    *,
    user: UserId = ALICE,
    book_id: UUID | None = None,
    now: datetime = T0,
    lifetime: BookLifetime = LIFETIME,
) -> Book:
    """A book just started: bookInit, version 0."""
    return Book.start(
        book_id or UUID(int=0xB00C), user, make_spec(page_count), lifetime, now, opening_lease=LEASE
    )


def cover_of(book: Book) -> str:
    return f"staging/{book.user_id}/{book.id}/{UUID(int=0xC0)}.png"


def image_of(book: Book, number: int) -> str:
    return f"staging/{book.user_id}/{book.id}/{UUID(int=0x1000 + number)}.png"


def opened_book(page_count: int = 3, *, now: datetime = T0, **kwargs: object) -> Book:
    """A book in bookInProgress with its cover and opening questions, no page yet."""
    book = new_book(page_count, now=now, **kwargs)  # type: ignore[arg-type]
    book.open(cover_of(book), Questions(("Where does Momo go?",)), now)
    return book


def write_pages(book: Book, count: int, *, now: datetime = T0) -> Book:
    """Write `count` pages through the aggregate's own begin/complete moves."""
    for _ in range(count):
        number = len(book.pages) + 1
        attempt = f"attempt-{number}"
        book.begin_generation(attempt, ChildInput(f"idea {number}"), now, LEASE)
        last = number == book.spec.page_count
        questions = Questions() if last else Questions((f"after {number}?",))
        book.complete_page(attempt, f"text {number}", image_of(book, number), questions, now)
    return book


def done_book(page_count: int = 3, *, now: datetime = T0, **kwargs: object) -> Book:
    book = opened_book(page_count, now=now, **kwargs)
    return write_pages(book, page_count, now=now)


# -- time and ids ----------------------------------------------------------------------------


class FakeClock(Clock):
    def __init__(self, start: datetime = T0) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now


class SequentialIds(IdGenerator):
    """UUID(int=1), UUID(int=2), ... so tests can name every id in advance."""

    def __init__(self, start: int = 1) -> None:
        self._next = start
        self.issued: list[UUID] = []

    def new_id(self) -> UUID:
        value = UUID(int=self._next)
        self._next += 1
        self.issued.append(value)
        return value


# -- failure injection -----------------------------------------------------------------------


class Faults:
    """Scripted failures by operation name: `once` raises on the next call only, `always` on all."""

    def __init__(self, default: type[Exception]) -> None:
        self._default = default
        self._once: dict[str, list[tuple[int, BaseException]]] = {}
        self._always: dict[str, BaseException] = {}
        self.calls: dict[str, int] = {}

    def once(self, operation: str, error: BaseException | None = None, *, after: int = 0) -> None:
        """Fail one call of `operation`: the next one, or the one after `after` more succeed."""
        failure = error or self._default(f"{operation} failed")
        self._once.setdefault(operation, []).append((self.calls.get(operation, 0) + after, failure))

    def always(self, operation: str, error: BaseException | None = None) -> None:
        self._always[operation] = error or self._default(f"{operation} failed")

    def clear(self) -> None:
        self._once.clear()
        self._always.clear()

    def check(self, operation: str) -> None:
        seen = self.calls.get(operation, 0)
        self.calls[operation] = seen + 1
        pending = self._once.get(operation, [])
        for index, (at, failure) in enumerate(pending):
            if at == seen:
                del pending[index]
                raise failure
        if operation in self._always:
            raise self._always[operation]


# -- book in progress ------------------------------------------------------------------------


class InMemoryBookStore(BookInProgressRepository):
    """One book per user, stored as a deep copy (what a caller does to its Book stays its own).

    `update` is a real compare-and-set: the stored book must be the same book (same id) at the
    expected version, otherwise `VersionConflict`.
    """

    def __init__(self) -> None:
        self._books: dict[UserId, Book] = {}
        self._finished: dict[UserId, FinishedRecord] = {}
        self.faults = Faults(StoreUnavailable)
        self.writes = 0
        self.events: list[BookEvent] = []

    async def get(self, user_id: UserId) -> Book | None:
        await asyncio.sleep(0)
        self.faults.check("get")
        stored = self._books.get(user_id)
        return copy.deepcopy(stored) if stored is not None else None

    async def add(self, book: Book) -> None:
        await asyncio.sleep(0)
        self.faults.check("add")
        if book.user_id in self._books:
            raise BookAlreadyInProgress(f"user {book.user_id} already has a book in progress")
        self._books[book.user_id] = copy.deepcopy(book)
        self.writes += 1

    async def update(self, book: Book, expected_version: int) -> None:
        await asyncio.sleep(0)
        self.faults.check("update")
        stored = self._books.get(book.user_id)
        if stored is None or stored.id != book.id or stored.version != expected_version:
            raise VersionConflict("the stored book changed or is gone")
        self.events.extend(book.pending_events)
        book.events_stored()
        self._books[book.user_id] = copy.deepcopy(book)
        self.writes += 1
        self.faults.check("update_reply")  # stored, and the reply lost on the way back

    async def with_passed_leases(self, now: datetime, limit: int) -> list[UserId]:
        await asyncio.sleep(0)
        self.faults.check("leases")
        due = [
            user
            for user, book in self._books.items()
            if book.expiring_attempts_at is not None and book.expiring_attempts_at <= now
        ]
        return due[:limit]

    async def list_in_progress(
        self,
        *,
        state: BookState | None,
        user_id: UserId | None,
        limit: int,
        cursor: str | None,
    ) -> BooksInProgressPage:
        """Newest change first, by (updated_at in ms, user id) descending; the cursor is
        `at-<ms>-<user>` of the last book given."""
        await asyncio.sleep(0)
        self.faults.check("list_in_progress")
        after = None if cursor is None else _progress_position(cursor)
        listed = sorted(
            (
                (math.floor(book.updated_at.timestamp() * 1000), user.value, book)
                for user, book in self._books.items()
                if (state is None or book.state is state) and (user_id is None or user == user_id)
            ),
            key=lambda entry: (entry[0], entry[1]),
            reverse=True,
        )
        after_cursor = [e for e in listed if after is None or (e[0], e[1]) < after]
        page = after_cursor[:limit]
        more = len(after_cursor) > limit
        next_cursor = f"at-{page[-1][0]}-{page[-1][1]}" if more else None
        return BooksInProgressPage([copy.deepcopy(b) for _, _, b in page], next_cursor)

    async def rebuild_indexes(self) -> IndexRepair:
        await asyncio.sleep(0)
        return IndexRepair(books=len(self._books), stale_removed=0)

    def event_names(self) -> list[str]:
        return [e.name.value for e in self.events]

    async def remove(
        self, book: Book, expected_version: int, finished: FinishedRecord | None = None
    ) -> None:
        await asyncio.sleep(0)
        self.faults.check("remove")
        stored = self._books.get(book.user_id)
        if stored is None or stored.id != book.id or stored.version != expected_version:
            raise VersionConflict("the stored book changed or is gone")
        del self._books[book.user_id]
        if finished is not None:
            self._finished[book.user_id] = finished
        self.faults.check("remove_reply")  # removed, and the reply lost on the way back

    async def last_finished(self, user_id: UserId) -> FinishedRecord | None:
        await asyncio.sleep(0)
        self.faults.check("get")
        return self._finished.get(user_id)

    async def ping(self) -> None:
        self.faults.check("ping")

    # -- test helpers (synchronous peeks, no fault injection) ----------------------------------

    def peek(self, user_id: UserId) -> Book | None:
        stored = self._books.get(user_id)
        return copy.deepcopy(stored) if stored is not None else None

    def put_directly(self, book: Book) -> None:
        self._books[book.user_id] = copy.deepcopy(book)

    def expire(self, user_id: UserId) -> None:
        """The book's time to live passed: it is gone, whatever it held."""
        del self._books[user_id]

    def __len__(self) -> int:
        return len(self._books)


def _progress_position(cursor: str) -> tuple[int, str]:
    at, _, rest = cursor.partition("-")
    score, _, user = rest.partition("-")
    if at != "at" or not score.isdigit() or not user:
        raise InvalidCursor("unknown cursor")
    return int(score), user


# -- finished books --------------------------------------------------------------------------


class InMemoryFinishedBooks(FinishedBookRepository):
    """Add-if-absent by id; newest-first listing with an opaque `after-<id>` cursor."""

    def __init__(self) -> None:
        self._rows: dict[UUID, FinishedBook] = {}
        self.faults = Faults(DatabaseUnavailable)
        self.inserts = 0

    async def add(self, book: FinishedBook) -> FinishedBook:
        await asyncio.sleep(0)
        self.faults.check("add")
        if book.id not in self._rows:
            self._rows[book.id] = book
            self.inserts += 1
        return self._rows[book.id]

    async def get(self, book_id: UUID) -> FinishedBook | None:
        await asyncio.sleep(0)
        self.faults.check("get")
        return self._rows.get(book_id)

    async def list_for_user(
        self, user_id: UserId, limit: int, cursor: str | None
    ) -> FinishedBookPage:
        await asyncio.sleep(0)
        self.faults.check("list_for_user")
        return self._listed(user_id, limit, cursor)

    async def list_finished(
        self, user_id: UserId | None, limit: int, cursor: str | None
    ) -> FinishedBookPage:
        await asyncio.sleep(0)
        self.faults.check("list_finished")
        return self._listed(user_id, limit, cursor)

    def _listed(self, user_id: UserId | None, limit: int, cursor: str | None) -> FinishedBookPage:
        mine = sorted(
            (b for b in self._rows.values() if user_id is None or b.user_id == user_id),
            key=lambda b: (b.finished_at, b.id),
            reverse=True,
        )
        start = 0
        if cursor is not None:
            ids = [str(b.id) for b in mine]
            if not cursor.startswith("after-") or cursor.removeprefix("after-") not in ids:
                raise InvalidCursor("unknown cursor")
            start = ids.index(cursor.removeprefix("after-")) + 1
        window = mine[start : start + limit]
        more = start + limit < len(mine)
        next_cursor = f"after-{window[-1].id}" if more and window else None
        return FinishedBookPage([b.summary() for b in window], next_cursor)

    async def usage_between(self, start: datetime, end: datetime) -> UsageTotals:
        await asyncio.sleep(0)
        self.faults.check("usage_between")
        books = [b for b in self._rows.values() if start <= b.finished_at < end]
        return UsageTotals(len(books), sum((b.usage for b in books), Usage()))

    async def delete(self, book_id: UUID) -> bool:
        await asyncio.sleep(0)
        self.faults.check("delete")
        return self._rows.pop(book_id, None) is not None

    async def existing_ids(self, book_ids: Collection[UUID]) -> set[UUID]:
        await asyncio.sleep(0)
        self.faults.check("existing_ids")
        return {book_id for book_id in book_ids if book_id in self._rows}

    async def ping(self) -> None:
        self.faults.check("ping")

    def rows(self) -> list[FinishedBook]:
        return list(self._rows.values())

    def put_directly(self, book: FinishedBook) -> None:
        self._rows[book.id] = book


# -- images ----------------------------------------------------------------------------------


class InMemoryImages(ImageStorage):
    """Images by key. Only keys of the documented layout are accepted (a wrong key is a bug).

    `promote` is idempotent as the port says: a permanent copy that already exists is kept even
    when its staged original is gone. Fault names: put, promote (before any copy), promote_copy
    (before each copy, to fail half-way), delete, delete_key (before each key), read.
    """

    def __init__(self) -> None:
        self.objects: dict[str, Image] = {}
        self.exports: dict[str, tuple[bytes, str]] = {}
        self.modified: dict[str, datetime] = {}
        self.faults = Faults(ImageStorageUnavailable)

    async def put_export(self, key: str, data: bytes, media_type: str) -> None:
        await asyncio.sleep(0)
        self.faults.check("put_export")
        self._valid(key)
        self.exports[key] = (data, media_type)

    async def read_export(self, key: str) -> bytes:
        await asyncio.sleep(0)
        self.faults.check("read_export")
        try:
            return self.exports[key][0]
        except KeyError:
            raise ImageNotFound(key) from None

    async def put(self, key: str, image: Image) -> None:
        await asyncio.sleep(0)
        self.faults.check("put")
        self._valid(key)
        self.objects[key] = image
        self.modified[key] = datetime(2026, 1, 1, tzinfo=UTC)

    async def promote(self, copies: Mapping[str, str]) -> None:
        await asyncio.sleep(0)
        self.faults.check("promote")
        for staged, permanent in copies.items():
            self._valid(staged)
            self._valid(permanent)
            if not staged.startswith(STAGING_PREFIX) or permanent.startswith(STAGING_PREFIX):
                raise AssertionError(
                    f"promote goes staged -> permanent, not {staged} -> {permanent}"
                )
            self.faults.check("promote_copy")
            if staged in self.objects:
                self.objects[permanent] = self.objects[staged]
                self.modified[permanent] = datetime(2026, 1, 1, tzinfo=UTC)
            elif permanent not in self.objects:
                raise ImageNotFound(staged)

    async def delete(self, keys: Sequence[str]) -> None:
        await asyncio.sleep(0)
        self.faults.check("delete")
        for key in keys:
            self._valid(key)
            self.faults.check("delete_key")
            self.objects.pop(key, None)
            self.exports.pop(key, None)

    async def read(self, key: str) -> Image:
        await asyncio.sleep(0)
        self.faults.check("read")
        try:
            return self.objects[key]
        except KeyError:
            raise ImageNotFound(key) from None

    async def list_objects(self, prefix: str) -> list[StoredObject]:
        await asyncio.sleep(0)
        self.faults.check("list_objects")
        return [
            StoredObject(key, self.modified.get(key, datetime(2026, 1, 1, tzinfo=UTC)))
            for key in sorted([*self.objects, *self.exports])
            if key.startswith(prefix)
        ]

    def url(self, key: str) -> str:
        return f"https://images.test/{key}?sig=fake"

    async def ping(self) -> None:
        self.faults.check("ping")

    def set_modified(self, key: str, when: datetime) -> None:
        """Make an object look last written at `when` (what `list_objects` reports)."""
        assert key in self.objects, key
        self.modified[key] = when

    def staged(self) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(STAGING_PREFIX))

    def permanent(self) -> list[str]:
        return sorted(k for k in self.objects if not k.startswith(STAGING_PREFIX))

    @staticmethod
    def _valid(key: str) -> None:
        if not is_valid_key(key):
            raise AssertionError(f"a use case used a key outside the layout: {key!r}")


# -- generators ------------------------------------------------------------------------------


class Script:
    """What a scripted generator does when called: log, wait at its gate, fail or answer.

    `events` is a log that several generators may share to prove the order they ran in:
    "<name>:start", then "<name>:end" or "<name>:fail".
    """

    def __init__(self, name: str, events: list[str] | None = None) -> None:
        self.name = name
        self.events: list[str] = events if events is not None else []
        self.calls = 0
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self._failures: list[BaseException] = []
        self.always_fail: BaseException | None = None
        self.cancelled = 0

    def hold(self) -> asyncio.Event:
        """From now on every call waits until the returned event is set."""
        self.gate = asyncio.Event()
        return self.gate

    def fail_next(self, error: BaseException | None = None) -> None:
        self._failures.append(error or GenerationFailed(f"{self.name} failed"))

    async def _run(self) -> None:
        self.calls += 1
        self.events.append(f"{self.name}:start")
        self.started.set()
        try:
            await asyncio.sleep(0)
            if self.gate is not None:
                await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            self.events.append(f"{self.name}:cancelled")
            raise
        if self._failures:
            self.events.append(f"{self.name}:fail")
            raise self._failures.pop(0)
        if self.always_fail is not None:
            self.events.append(f"{self.name}:fail")
            raise self.always_fail
        self.events.append(f"{self.name}:end")


class ScriptedContextGenerator(ContextGenerator):
    """Writes a predictable page, a running summary of page numbers, and reports 10/20 tokens."""

    USAGE = Usage(tokens_in=10, tokens_out=20)

    def __init__(self, events: list[str] | None = None) -> None:
        self.script = Script("text", events)
        self.requests: list[tuple[StoryContext, str]] = []
        self.next_texts: list[str] = []
        self.sheets: list[BookSpec] = []

    async def character_sheet(self, spec: BookSpec) -> CharacterSheet:
        self.sheets.append(spec)
        return CharacterSheet(
            "; ".join(f"{c.name} looks the same on every page" for c in spec.characters),
            Usage(tokens_in=5, tokens_out=7),
        )

    async def create(self, context: StoryContext, child_input: str) -> PageText:
        self.requests.append((context, child_input))
        await self.script._run()
        summary = f"{context.summary} p{context.next_page_number}".strip()
        if self.next_texts:
            return PageText(self.next_texts.pop(0), summary, self.USAGE)
        text = f"Page {context.next_page_number}. {child_input}, and then it happened."
        return PageText(text, summary, self.USAGE)


class ScriptedQuestionGenerator(QuestionGenerator):
    def __init__(self, events: list[str] | None = None) -> None:
        self.script = Script("questions", events)
        self.requests: list[StoryContext] = []
        self.answer: list[str] = ["What does Momo see next?", "Who comes to help?"]

    async def create(self, context: StoryContext) -> Suggestions:
        self.requests.append(context)
        await self.script._run()
        return Suggestions(tuple(self.answer), Usage(tokens_in=3, tokens_out=4))


class ScriptedIllustrator(Illustrator):
    def __init__(self, events: list[str] | None = None) -> None:
        self.script = Script("image", events)
        self.requests: list[IllustrationRequest] = []

    async def draw(self, request: IllustrationRequest) -> Image:
        self.requests.append(request)
        await self.script._run()
        return Image(PNG + f" {request.kind} {request.page_number}".encode(), usage=Usage(images=1))


class ScriptedModerator(ContentModerator):
    """Refuses any text containing one of `banned`; can be made unavailable."""

    def __init__(self) -> None:
        self.banned: set[str] = {"scary monster"}
        self.checked: list[list[str]] = []
        self.unavailable = False

    async def check(self, texts: list[str], language: Language) -> None:
        self.checked.append(list(texts))
        if self.unavailable:
            raise ModerationUnavailable("moderation is down")
        if any(word in text for text in texts for word in self.banned):
            raise ContentRejected(f"try another idea ({language.value})")


class FakeLimits(GenerationLimits):
    """Counts what is taken and given back; refuses while `refuse_for` is set."""

    def __init__(self) -> None:
        self.asked: list[GenerationCost] = []  # every take, refused or not
        self.taken: list[GenerationCost] = []
        self.given_back: list[GenerationCost] = []
        self.refuse_for: int | None = None

    async def take(self, user_id: UserId, cost: GenerationCost) -> None:
        self.asked.append(cost)
        if self.refuse_for is not None:
            raise RateLimited("too many pages at once", self.refuse_for)
        self.taken.append(cost)

    async def give_back(self, user_id: UserId, cost: GenerationCost) -> None:
        self.given_back.append(cost)

    def net(self) -> tuple[int, int]:
        """Pages and pictures counted: taken, less what was given back."""
        pages = sum(c.pages for c in self.taken) - sum(c.pages for c in self.given_back)
        images = sum(c.images for c in self.taken) - sum(c.images for c in self.given_back)
        return pages, images


class InMemoryShareLinks(ShareLinkRepository):
    """One link per book, found by its digest; a link goes with its book (as the foreign key's
    cascade does): one whose book is gone is not found."""

    def __init__(self, finished: InMemoryFinishedBooks) -> None:
        self._finished = finished
        self._links: dict[UUID, tuple[ShareLink, str]] = {}  # by book id
        self.faults = Faults(DatabaseUnavailable)

    def _of_book(self, book_id: UUID) -> tuple[ShareLink, str] | None:
        if book_id not in self._finished._rows:
            self._links.pop(book_id, None)
            return None
        return self._links.get(book_id)

    async def active(self, book_id: UUID, now: datetime) -> ShareLink | None:
        await asyncio.sleep(0)
        self.faults.check("active")
        stored = self._of_book(book_id)
        return stored[0] if stored is not None and stored[0].active_at(now) else None

    async def add(self, link: ShareLink, token_digest: str, now: datetime) -> ShareLink:
        await asyncio.sleep(0)
        self.faults.check("add")
        if link.book_id not in self._finished._rows:
            raise BookNotFound("no such book")
        stored = self._of_book(link.book_id)
        if stored is not None and stored[0].active_at(now):
            return stored[0]
        self._links[link.book_id] = (link, token_digest)
        return link

    async def revoke(self, book_id: UUID) -> bool:
        await asyncio.sleep(0)
        self.faults.check("revoke")
        return self._of_book(book_id) is not None and self._links.pop(book_id) is not None

    async def find(self, token_digest: str) -> ShareLink | None:
        await asyncio.sleep(0)
        self.faults.check("find")
        for book_id in list(self._links):
            stored = self._of_book(book_id)
            if stored is not None and stored[1] == token_digest:
                return stored[0]
        return None


class InMemoryAuditLog(AdminAuditLog):
    """Entries newest first by (at, id); the cursor is `after-<id>` of the last entry given."""

    def __init__(self) -> None:
        self._entries: dict[UUID, AuditEntry] = {}
        self.faults = Faults(DatabaseUnavailable)

    async def record(self, entry: AuditEntry) -> None:
        await asyncio.sleep(0)
        self.faults.check("record")
        self._entries.setdefault(entry.id, entry)

    async def entries(self, limit: int, cursor: str | None) -> AuditPage:
        await asyncio.sleep(0)
        self.faults.check("entries")
        ordered = sorted(self._entries.values(), key=lambda e: (e.at, e.id), reverse=True)
        start = 0
        if cursor is not None:
            ids = [f"after-{e.id}" for e in ordered]
            if cursor not in ids:
                raise InvalidCursor("unknown cursor")
            start = ids.index(cursor) + 1
        window = ordered[start : start + limit]
        more = start + limit < len(ordered)
        return AuditPage(window, f"after-{window[-1].id}" if more and window else None)

    def all(self) -> list[AuditEntry]:
        return sorted(self._entries.values(), key=lambda e: (e.at, e.id))


class CountingRenderer(BookRenderer):
    """Makes a small file naming the book and its format, and counts what it made."""

    def __init__(self) -> None:
        self.made: list[tuple[UUID, ExportFormat]] = []

    async def render(
        self, book: FinishedBook, pictures: Mapping[str, bytes], export_format: ExportFormat
    ) -> bytes:
        await asyncio.sleep(0)
        assert set(pictures) == set(book.image_keys()), "every picture is handed over"
        self.made.append((book.id, export_format))
        return f"{export_format.value}:{book.id}:{len(book.pages)}".encode()


class InMemoryProviderCapacity(ProviderCapacity):
    """The provider's limits kept in memory: each resource's next free moment, pushed on by a
    job's units (as the Redis script does); `reserved` records every wait given."""

    def __init__(self, *, limits: ProviderLimits | None = None, clock: Clock) -> None:
        self.limits = limits or ProviderLimits()
        self._clock = clock
        self._free_at: dict[str, datetime] = {}
        self.reserved: list[timedelta] = []

    async def reserve(self, work: ProviderWork) -> timedelta:
        rules = self.limits.rules(work)
        now = self._clock.now()
        start = max([now, *(self._free_at.get(name, now) for name, _, _ in rules)])
        wait = start - now
        if wait > self.limits.longest_wait:
            over = wait - self.limits.longest_wait
            raise RateLimited("too many stories at once", math.ceil(over.total_seconds()))
        for name, per_unit_ms, units in rules:
            self._free_at[name] = start + timedelta(milliseconds=per_unit_ms * units)
        self.reserved.append(wait)
        return wait


# -- everything together ---------------------------------------------------------------------


@dataclass
class World:
    """Every fake, wired once per test."""

    clock: FakeClock = field(default_factory=FakeClock)
    ids: SequentialIds = field(default_factory=SequentialIds)
    books: InMemoryBookStore = field(default_factory=InMemoryBookStore)
    finished: InMemoryFinishedBooks = field(default_factory=InMemoryFinishedBooks)
    images: InMemoryImages = field(default_factory=InMemoryImages)
    events: list[str] = field(default_factory=list)
    context_generator: ScriptedContextGenerator = field(init=False)
    question_generator: ScriptedQuestionGenerator = field(init=False)
    illustrator: ScriptedIllustrator = field(init=False)
    moderator: ScriptedModerator = field(default_factory=ScriptedModerator)
    limits: FakeLimits = field(default_factory=FakeLimits)
    capacity: InMemoryProviderCapacity = field(init=False)
    share_links: InMemoryShareLinks = field(init=False)
    audit: InMemoryAuditLog = field(default_factory=InMemoryAuditLog)
    renderer: CountingRenderer = field(default_factory=CountingRenderer)
    share_tokens: HmacShareTokens = field(
        default_factory=lambda: HmacShareTokens(key=b"unit-test share key")
    )
    jobs: BackgroundJobs = field(default_factory=BackgroundJobs)
    queue: GenerationQueue | None = None  # else the in-process queue, on `jobs`

    lifetime: BookLifetime = LIFETIME
    lease: timedelta = LEASE
    finish_lease: timedelta = FINISH_LEASE

    def __post_init__(self) -> None:
        self.context_generator = ScriptedContextGenerator(self.events)
        self.question_generator = ScriptedQuestionGenerator(self.events)
        self.illustrator = ScriptedIllustrator(self.events)
        self.capacity = InMemoryProviderCapacity(clock=self.clock)
        self.share_links = InMemoryShareLinks(self.finished)

    # -- the use cases, wired to the fakes by the app's own wiring ------------------------------

    def use_cases(self, checkpoint: Checkpoint | None = None) -> UseCases:
        # The in-process queue is the embedded defaults' own: jobs are tasks in `self.jobs`.
        in_process = InProcessGenerationQueue(jobs=self.jobs)
        queue = self.queue or in_process
        cases = build_use_cases(
            books=self.books,
            finished=self.finished,
            images=self.images,
            context_generator=self.context_generator,
            question_generator=self.question_generator,
            illustrator=self.illustrator,
            moderator=self.moderator,
            limits=self.limits,
            queue=queue,
            capacity=self.capacity,
            share_links=self.share_links,
            share_tokens=self.share_tokens,
            audit=self.audit,
            renderer=self.renderer,
            clock=self.clock,
            ids=self.ids,
            timings=Timings(
                lifetime=self.lifetime, lease=self.lease, finish_lease=self.finish_lease
            ),
            checkpoint=checkpoint,
        )
        in_process.serve(cases.jobs)
        return cases

    def start_book(self) -> StartBook:
        return self.use_cases().start_book

    def write_page(self) -> WritePage:
        return self.use_cases().write_page

    def redraw_picture(self) -> RedrawPicture:
        return self.use_cases().redraw_picture

    def recover(self) -> RecoverStuckGenerations:
        return self.use_cases().recover

    def finish_book(self, checkpoint: Checkpoint | None = None) -> FinishBook:
        return self.use_cases(checkpoint).finish_book

    def discard_book(self) -> DiscardBook:
        return self.use_cases().discard_book

    def delete_finished(self) -> DeleteFinishedBook:
        return self.use_cases().delete_book

    def queries(self) -> BookQueries:
        return self.use_cases().queries

    # -- common journeys -------------------------------------------------------------------

    async def started(self, page_count: int = 3, user: UserId = ALICE) -> Book:
        return await self.start_book().execute(user, make_spec(page_count))

    async def write(self, text: str = "Momo finds a map", user: UserId = ALICE) -> Book:
        return await self.write_page().execute(user, ChildInput(text))

    async def done(self, page_count: int = 3, user: UserId = ALICE) -> Book:
        book = await self.started(page_count, user)
        for number in range(1, page_count + 1):
            book = await self.write(f"idea {number}", user)
        return book


async def wait_until(condition: Callable[[], bool], *, turns: int = 10_000) -> None:
    """Let the event loop run until `condition` holds (fails the test instead of hanging)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never came true")


async def reached(event: asyncio.Event, *, seconds: float = 2.0) -> None:
    """Wait for `event`, failing the test instead of hanging when it never comes."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        raise AssertionError("the awaited step never happened") from None


class HeldQueue(GenerationQueue):
    """A durable queue whose jobs wait until the test runs them (as a worker would, and again
    as the worker that takes a job over from a dead one)."""

    def __init__(self) -> None:
        self.jobs: list[GenerationJob] = []

    @property
    def durable(self) -> bool:
        return True

    async def enqueue(self, job: GenerationJob) -> None:
        if job not in self.jobs:
            self.jobs.append(job)

    async def result(self, job: GenerationJob) -> None:
        raise JobNotFound(f"{job.key} is not run by this test's queue")

    async def waiting(self) -> int:
        return len(self.jobs)
