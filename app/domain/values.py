"""Value objects: frozen, and each validates itself on construction."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from app.domain.errors import InvalidValue

MAX_CHARACTERS = 5
MAX_PAGES = 20
MAX_QUESTIONS = 3
_USER_ID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


# Bidirectional embeddings, overrides and isolates: they reorder how text around them is shown
# (U+202E makes "gnp.exe" read as "exe.png").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters and symbols that draw nothing (Hangul fillers, the blank braille pattern).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Categories that take no visible place on their own: spaces, format characters (zero-width
# space and joiners), combining marks.
_INVISIBLE = frozenset({"Zs", "Zl", "Zp", "Cf", "Cc", "Mn", "Me"})


def _suspects(*, multiline: bool) -> re.Pattern[str]:
    """Every character `_refusal` can refuse, as one class: text with none of them (nearly all
    text) is checked at the speed of `re`, and only the rest one character at a time. A stored
    book's texts are checked again each time it is read."""
    noncharacters = "".join(f"\\U{plane:04X}FFFE-\\U{plane:04X}FFFF" for plane in range(1, 17))
    controls = "\\x00-\\x09\\x0b-\\x1f" if multiline else "\\x00-\\x1f"
    return re.compile(
        f"[{controls}\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069\\ud800-\\udfff"
        f"\\ufdd0-\\ufdef\\ufffe\\uffff{noncharacters}]"
    )


_SUSPECTS = {multiline: _suspects(multiline=multiline) for multiline in (False, True)}


def _is_noncharacter(char: str) -> bool:
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def is_visible(char: str) -> bool:
    """Whether a character can be seen (not a space, a format character or a mark alone)."""
    return unicodedata.category(char) not in _INVISIBLE and char not in _BLANK_LETTERS


def visible_length(text: str) -> int:
    """How many characters of `text` can be seen: what a minimum length counts."""
    return sum(1 for char in text if is_visible(char))


def is_refused(char: str, *, multiline: bool) -> bool:
    """Whether typed text may not hold this character, as typed (see `text_problem`)."""
    kept = char if char != "\r" and unicodedata.is_normalized("NFC", char) else _normalised(char)
    return any(_refusal(c, multiline=multiline) is not None for c in kept)


def _refusal(char: str, *, multiline: bool) -> str | None:
    """Why `char` has no place in typed text, if it has none."""
    category = unicodedata.category(char)
    if char == "\n" and multiline:
        return None
    if category == "Cc":
        where = "" if multiline else " (it is one line)"
        return f"must not contain control characters{where}"
    if char in _BIDI_CONTROLS:
        return "must not contain text-direction override characters"
    if category == "Cs" or _is_noncharacter(char):
        return "must not contain characters that are not text"
    return None


def _normalised(value: str) -> str:
    return unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))


def text_problem(value: str, *, multiline: bool = False, min_visible: int = 0) -> str | None:
    """Why a text someone typed is refused, or None: a control character (but line breaks in a
    `multiline` field), a text-direction override, a noncharacter or lone surrogate, or fewer
    than `min_visible` visible characters. What a request boundary checks."""
    text = _normalised(value)
    if _SUSPECTS[multiline].search(text) is not None:
        for char in text:
            if (reason := _refusal(char, multiline=multiline)) is not None:
                return reason
    if min_visible and visible_length(text.strip()) < min_visible:
        return "must not be blank"
    return None


def typed_text(field_name: str, value: str, *, multiline: bool = False) -> str:
    """What a child or parent typed, as kept: NFC, trimmed, and without what `text_problem`
    refuses (a one-line field's tabs and line breaks become spaces). Lenient, so that text kept
    before these rules still loads; new text is refused at the request boundary."""
    if not isinstance(value, str):
        raise InvalidValue(field_name, "must be a string")
    text = _normalised(value)
    if _SUSPECTS[multiline].search(text) is None:
        return text.strip()
    kept = []
    for char in text:
        if _refusal(char, multiline=multiline) is None:
            kept.append(char)
        elif char in "\n\t":
            kept.append(" ")
    return "".join(kept).strip()


def _text(
    field_name: str, value: str, *, min_len: int, max_len: int, multiline: bool = False
) -> str:
    """`typed_text` of `min_len` to `max_len` characters."""
    trimmed = typed_text(field_name, value, multiline=multiline)
    if len(trimmed) < min_len:
        raise InvalidValue(field_name, "must not be blank" if min_len else "is too short")
    if len(trimmed) > max_len:
        raise InvalidValue(field_name, f"must be at most {max_len} characters")
    return trimmed


def bounded_text(field_name: str, value: str, max_len: int) -> str:
    """Generated text kept on the book: trimmed, at most `max_len` characters, may be empty."""
    if not isinstance(value, str):
        raise InvalidValue(field_name, "must be a string")
    trimmed = unicodedata.normalize("NFC", value).strip()
    if len(trimmed) > max_len:
        raise InvalidValue(field_name, f"must be at most {max_len} characters")
    return trimmed


def _is_int(value: object) -> bool:
    """A real integer: not a bool, a float or a numeric string."""
    return isinstance(value, int) and not isinstance(value, bool)


def _aware(field_name: str, value: datetime) -> None:
    if value.tzinfo is None:
        raise InvalidValue(field_name, "must be timezone-aware")


class Language(StrEnum):
    EN = "en"
    KO = "ko"


@dataclass(frozen=True, slots=True)
class UserId:
    value: str

    def __post_init__(self) -> None:
        if (
            not isinstance(self.value, str)
            or not _USER_ID.fullmatch(self.value)
            or self.value in {".", ".."}
        ):
            # "." and ".." would name a folder's self or parent in an image key.
            raise InvalidValue("user_id", "must be 1-64 characters of A-Z a-z 0-9 _ . @ -")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Character:
    name: str
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _text("name", self.name, min_len=1, max_len=40))
        object.__setattr__(
            self,
            "description",
            _text("description", self.description, min_len=0, max_len=300, multiline=True),
        )


@dataclass(frozen=True, slots=True)
class BookSpec:
    """What the child asked for when starting the book."""

    characters: tuple[Character, ...]
    page_count: int
    language: Language = Language.EN
    reader_age: int | None = None
    setting: str = ""

    def __post_init__(self) -> None:
        if not 1 <= len(self.characters) <= MAX_CHARACTERS:
            raise InvalidValue("characters", f"must hold 1 to {MAX_CHARACTERS} characters")
        if not _is_int(self.page_count) or not 1 <= self.page_count <= MAX_PAGES:
            raise InvalidValue("page_count", f"must be between 1 and {MAX_PAGES}")
        if self.reader_age is not None and (
            not _is_int(self.reader_age) or not 2 <= self.reader_age <= 12
        ):
            raise InvalidValue("reader_age", "must be between 2 and 12")
        try:
            object.__setattr__(self, "language", Language(self.language))
        except ValueError:
            raise InvalidValue("language", "must be en or ko") from None
        object.__setattr__(self, "setting", _text("setting", self.setting, min_len=0, max_len=200))

    def with_page_count(self, page_count: int) -> BookSpec:
        return BookSpec(self.characters, page_count, self.language, self.reader_age, self.setting)


@dataclass(frozen=True, slots=True)
class ChildInput:
    """The child's short idea for the next page."""

    value: str

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "value", _text("input", self.value, min_len=1, max_len=500, multiline=True)
        )

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Title:
    value: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _text("title", self.value, min_len=1, max_len=100))

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Questions:
    """Suggestions for the next page's input: 1-3 while pages remain, none once the book is done."""

    items: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.items) > MAX_QUESTIONS:
            raise InvalidValue("questions", f"at most {MAX_QUESTIONS} suggestions")
        cleaned = tuple(_text("questions", q, min_len=1, max_len=300) for q in self.items)
        object.__setattr__(self, "items", cleaned)

    def __len__(self) -> int:
        return len(self.items)


class ImageStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ImageAttempt:
    """A page's illustration being drawn: by which attempt, and until when it holds the page."""

    attempt_id: str
    lease_deadline: datetime
    request_id: str | None = None  # the client request that asked for the picture, if it said

    def __post_init__(self) -> None:
        if not self.attempt_id:
            raise InvalidValue("attempt_id", "must not be empty")
        _aware("lease_deadline", self.lease_deadline)

    def lease_passed(self, now: datetime) -> bool:
        return now >= self.lease_deadline


@dataclass(frozen=True, slots=True)
class Page:
    """A written page. Its illustration is ready (`image_key`), being drawn (`image_attempt`),
    or failed (neither): pages written text-first are stored before their picture exists."""

    number: int
    input: str
    text: str
    image_key: str | None
    image_attempt: ImageAttempt | None = None
    # The client requests that wrote the page and that last drew its picture (their idempotency
    # keys), so that a retry of either finds its work done instead of doing it twice.
    request_id: str | None = None
    picture_request_id: str | None = None

    def __post_init__(self) -> None:
        if self.number < 1:
            raise InvalidValue("number", "pages are numbered from 1")
        object.__setattr__(
            self, "text", _text("text", self.text, min_len=1, max_len=5000, multiline=True)
        )
        if self.image_key is not None and not self.image_key:
            raise InvalidValue("image_key", "a page's illustration needs its key")
        if self.image_key is not None and self.image_attempt is not None:
            raise InvalidValue("image_attempt", "a drawn illustration is not being drawn")

    @property
    def image_status(self) -> ImageStatus:
        if self.image_key is not None:
            return ImageStatus.READY
        return ImageStatus.FAILED if self.image_attempt is None else ImageStatus.PENDING

    def image_status_at(self, now: datetime) -> ImageStatus:
        """What clients see: an illustration whose attempt's lease has passed has failed."""
        if self.image_attempt is not None and self.image_attempt.lease_passed(now):
            return ImageStatus.FAILED
        return self.image_status


@dataclass(frozen=True, slots=True)
class Generation:
    """The one generation under way: who holds it, for which page, and until when."""

    attempt_id: str
    page_number: int
    input: str
    started_at: datetime
    lease_deadline: datetime
    request_id: str | None = None  # the client request that asked for the page, if it said
    # When its work is expected to start: later than `started_at` when it waits its turn under
    # the model provider's limits. The lease runs from then.
    work_starts_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.attempt_id:
            raise InvalidValue("attempt_id", "must not be empty")
        _aware("started_at", self.started_at)
        _aware("lease_deadline", self.lease_deadline)
        if self.lease_deadline <= self.started_at:
            raise InvalidValue("lease_deadline", "must come after the start")
        if self.work_starts_at is not None:
            _aware("work_starts_at", self.work_starts_at)
            if not self.started_at <= self.work_starts_at < self.lease_deadline:
                raise InvalidValue("work_starts_at", "must fall between the claim and its lease")

    def lease_passed(self, now: datetime) -> bool:
        return now >= self.lease_deadline

    def waiting_until(self, now: datetime) -> datetime | None:
        """When its work starts, while it still waits its turn for the model provider."""
        if self.work_starts_at is None or now >= self.work_starts_at:
            return None
        return self.work_starts_at


@dataclass(frozen=True, slots=True)
class BookLifetime:
    """A book in progress lives `ttl` past its last write, and never more than `max_age` in all."""

    ttl: timedelta
    max_age: timedelta

    def __post_init__(self) -> None:
        if self.ttl <= timedelta(0) or self.max_age <= timedelta(0):
            raise InvalidValue("lifetime", "ttl and max_age must be positive")

    def expires_at(self, created_at: datetime, last_write: datetime) -> datetime:
        return min(last_write + self.ttl, created_at + self.max_age)


@dataclass(frozen=True, slots=True)
class Usage:
    """What generating cost: model tokens in and out, and images drawn by a paid model."""

    tokens_in: int = 0
    tokens_out: int = 0
    images: int = 0

    def __post_init__(self) -> None:
        for name in ("tokens_in", "tokens_out", "images"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise InvalidValue(name, "must be a whole number, not negative")

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.tokens_in + other.tokens_in,
            self.tokens_out + other.tokens_out,
            self.images + other.images,
        )


MAX_SHEET = 4000
MAX_SUMMARY = 4000


@dataclass(frozen=True, slots=True)
class StoryContext:
    """Everything a generator may know about the story when it writes or draws the next page.

    `character_sheet` (written once at the start) fixes how the characters look; `summary` is the
    running summary of the pages so far, so a prompt need not carry every page verbatim."""

    spec: BookSpec
    pages: tuple[Page, ...] = field(default=())
    character_sheet: str = ""
    summary: str = ""

    @property
    def next_page_number(self) -> int:
        return len(self.pages) + 1

    @property
    def is_last_page(self) -> bool:
        """True when the next page to write is the book's last one."""
        return self.next_page_number == self.spec.page_count

    @property
    def is_complete(self) -> bool:
        return len(self.pages) >= self.spec.page_count

    def with_page(self, page: Page, summary: str | None = None) -> StoryContext:
        return StoryContext(
            self.spec,
            (*self.pages, page),
            self.character_sheet,
            self.summary if summary is None else summary,
        )
