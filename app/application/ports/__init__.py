"""Ports: small abstract classes, one per concern, that infrastructure adapters implement."""

from app.application.ports.generation import (
    CharacterSheet,
    ContentModerator,
    ContextGenerator,
    IllustrationRequest,
    Illustrator,
    Image,
    PageText,
    QuestionGenerator,
    Suggestions,
)
from app.application.ports.images import ImageStorage, StoredObject
from app.application.ports.stores import (
    BookInProgressRepository,
    FinishedBookPage,
    FinishedBookRepository,
)
from app.application.ports.system import Clock, IdGenerator

__all__ = [
    "BookInProgressRepository",
    "CharacterSheet",
    "Clock",
    "ContentModerator",
    "ContextGenerator",
    "FinishedBookPage",
    "FinishedBookRepository",
    "IdGenerator",
    "IllustrationRequest",
    "Illustrator",
    "Image",
    "ImageStorage",
    "PageText",
    "QuestionGenerator",
    "StoredObject",
    "Suggestions",
]
