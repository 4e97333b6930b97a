"""Ports: small abstract classes, one per concern, that infrastructure adapters implement."""

from app.application.ports.events import (
    EVENT_ID_PATTERN,
    SENT_EVENT_ID_PATTERN,
    BookEventFeed,
    EventSignal,
    StoredEvent,
    parse_event_id,
)
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
from app.application.ports.idempotency import (
    Claim,
    Claimed,
    Completed,
    IdempotencyStore,
    InProgress,
    KeyReused,
    StoredResponse,
)
from app.application.ports.images import ImageStorage, StoredObject
from app.application.ports.jobs import GenerationJob, GenerationQueue, JobKind, JobRunner
from app.application.ports.limits import (
    AddressLimits,
    GenerationCost,
    GenerationLimits,
    ProviderCapacity,
    ProviderWork,
)
from app.application.ports.stores import (
    BookInProgressRepository,
    BooksInProgressPage,
    FinishedBookPage,
    FinishedBookRepository,
    FinishedRecord,
    IndexRepair,
    UsageTotals,
)
from app.application.ports.system import Clock, IdGenerator

__all__ = [
    "EVENT_ID_PATTERN",
    "SENT_EVENT_ID_PATTERN",
    "AddressLimits",
    "BookEventFeed",
    "BookInProgressRepository",
    "BooksInProgressPage",
    "CharacterSheet",
    "Claim",
    "Claimed",
    "Clock",
    "Completed",
    "ContentModerator",
    "ContextGenerator",
    "EventSignal",
    "FinishedBookPage",
    "FinishedBookRepository",
    "FinishedRecord",
    "GenerationCost",
    "GenerationJob",
    "GenerationLimits",
    "GenerationQueue",
    "IdGenerator",
    "IdempotencyStore",
    "IllustrationRequest",
    "Illustrator",
    "Image",
    "ImageStorage",
    "InProgress",
    "IndexRepair",
    "JobKind",
    "JobRunner",
    "KeyReused",
    "PageText",
    "ProviderCapacity",
    "ProviderWork",
    "QuestionGenerator",
    "StoredEvent",
    "StoredObject",
    "StoredResponse",
    "Suggestions",
    "UsageTotals",
    "parse_event_id",
]
