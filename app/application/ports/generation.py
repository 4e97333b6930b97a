"""Generation ports: page text, next-page questions, illustrations, and moderation.

Adapters raise `GenerationFailed`, `ContentRejected` or `ModerationUnavailable`, nothing of
their vendor's, and report what each call cost as a `Usage`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

from app.domain.values import BookSpec, Language, StoryContext, Usage

IMAGE_CONTENT_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})


@dataclass(frozen=True, slots=True)
class PageText:
    """The page, and (when the writer keeps one) the running summary of the story up to it."""

    text: str
    summary: str | None = None
    usage: Usage = Usage()


@dataclass(frozen=True, slots=True)
class Suggestions:
    items: tuple[str, ...]
    usage: Usage = Usage()


@dataclass(frozen=True, slots=True)
class CharacterSheet:
    """How the characters look, written once at the start and put into every picture's prompt."""

    text: str
    usage: Usage = Usage()


@dataclass(frozen=True, slots=True)
class Image:
    data: bytes
    content_type: str = "image/png"
    usage: Usage = Usage()

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError("an image has bytes")
        if self.content_type not in IMAGE_CONTENT_TYPES:
            raise ValueError(f"unsupported image type {self.content_type}")


class IllustrationKind(StrEnum):
    COVER = "cover"
    PAGE = "page"


@dataclass(frozen=True, slots=True)
class IllustrationRequest:
    """What to draw. For a page, `scene` is the child's idea: the text is written meanwhile."""

    context: StoryContext
    kind: IllustrationKind
    scene: str
    page_number: int | None = None


class ContextGenerator(ABC):
    """Writes the story: the character sheet at the start, then each page from the story so far
    and the child's idea."""

    @abstractmethod
    async def character_sheet(self, spec: BookSpec) -> CharacterSheet: ...

    @abstractmethod
    async def create(self, context: StoryContext, child_input: str) -> PageText: ...


class QuestionGenerator(ABC):
    """Suggests 1-3 ideas for what could happen on the next page."""

    @abstractmethod
    async def create(self, context: StoryContext) -> Suggestions: ...


class ContentModerator(ABC):
    """Checks what a child typed before anything is generated from it."""

    @abstractmethod
    async def check(self, texts: list[str], language: Language) -> None:
        """Raise `ContentRejected` (child-friendly message) when any text is not for a
        children's book; `ModerationUnavailable` when the check cannot be made (fail closed)."""


class Illustrator(ABC):
    """Draws the cover and the pages."""

    @abstractmethod
    async def draw(self, request: IllustrationRequest) -> Image: ...
