"""Generation ports: page text, next-page questions, illustrations.

Adapters raise `GenerationFailed` (or `ContentRejected`) and nothing of their vendor's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum

from app.domain.values import StoryContext

IMAGE_CONTENT_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})


@dataclass(frozen=True, slots=True)
class PageText:
    text: str


@dataclass(frozen=True, slots=True)
class Image:
    data: bytes
    content_type: str = "image/png"

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
    """Writes the text of the next page from the story so far and the child's idea."""

    @abstractmethod
    async def create(self, context: StoryContext, child_input: str) -> PageText: ...


class QuestionGenerator(ABC):
    """Suggests 1-3 ideas for what could happen on the next page."""

    @abstractmethod
    async def create(self, context: StoryContext) -> list[str]: ...


class Illustrator(ABC):
    """Draws the cover and the pages."""

    @abstractmethod
    async def draw(self, request: IllustrationRequest) -> Image: ...
