"""What each event of the book's stream carries, as the OpenAPI document describes it: one
schema per event (`text/event-stream` is described per event, as OpenAPI 3.2's `itemSchema`
does), its `data` a JSON text whose schema is `contentSchema`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.application.ports import SENT_EVENT_ID_PATTERN
from app.interfaces.http.schemas import BookStateName


class _EventData(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _OfABook(_EventData):
    book_id: str = Field(description="The book in progress the event is about.")
    version: int = Field(description="The book's version after the change.")


class _OfAPage(_OfABook):
    page: int = Field(description="The page's number, from 1.")


class PageTextEvent(_OfAPage):
    """A page's text is stored."""

    input: str = Field(description="The child's idea for the page.")
    text: str = Field(description="The page as written.")


class QuestionsEvent(_OfAPage):
    """Ideas for what could happen next, to offer the child."""

    questions: list[str]


class ImageReadyEvent(_OfAPage):
    """A page's picture is drawn."""

    image_url: str = Field(description="The picture's signed link.")


class PageDoneEvent(_OfAPage):
    """A page is complete (text and picture)."""

    state: BookStateName


class GenerationFailedEvent(_OfAPage):
    """A page's text or picture could not be made; the book is usable and it can be tried again."""

    stage: Literal["text", "illustration"]
    detail: str = Field(description="What went wrong, in words a parent can read.")


class BookDoneEvent(_OfABook):
    """Every page and picture is there: the book can be finished."""

    pages: int


class ResyncEvent(_EventData):
    """Events may be missing: read `GET /v1/books/current` again."""

    reason: Literal["events_expired", "events_lost", "unknown_event_id"]


class BookGoneEvent(_EventData):
    """No book is in progress any more; the stream ends."""

    reason: Literal["no_book_in_progress"]


class TokenExpiredEvent(_EventData):
    """The stream's token expired; the stream ends: reconnect with a fresh token."""

    reason: Literal["token_expired"]


# Event name → its data, and whether the event has an id (a resumable event of the book).
EVENTS: dict[str, tuple[type[_EventData], bool]] = {
    "page_text": (PageTextEvent, True),
    "questions": (QuestionsEvent, True),
    "image_ready": (ImageReadyEvent, True),
    "page_done": (PageDoneEvent, True),
    "generation_failed": (GenerationFailedEvent, True),
    "book_done": (BookDoneEvent, True),
    "resync": (ResyncEvent, False),
    "book_gone": (BookGoneEvent, False),
    "token_expired": (TokenExpiredEvent, False),
}


def event_schema(ref: str) -> dict[str, Any]:
    """One event of the stream: its name, its id if it has one, and its JSON data."""
    variants = []
    for name, (model, has_id) in EVENTS.items():
        variant: dict[str, Any] = {
            "type": "object",
            "title": name,
            "description": model.__doc__,
            "required": ["event", "data"],
            "properties": {
                "event": {"const": name},
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": {"$ref": ref.format(model=model.__name__)},
                },
                "retry": {"type": "integer", "minimum": 0},
            },
        }
        if has_id:
            variant["properties"]["id"] = {"type": "string", "pattern": SENT_EVENT_ID_PATTERN}
            variant["required"].append("id")
        variants.append(variant)
    return {"oneOf": variants}


def event_data_schemas(ref: str) -> dict[str, Any]:
    """The data schemas, to file under the document's components."""
    found: dict[str, Any] = {}
    for model, _ in EVENTS.values():
        schema = model.model_json_schema(ref_template=ref)
        found.update(schema.pop("$defs", {}))
        found[model.__name__] = schema
    return found
