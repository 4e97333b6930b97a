"""The Book aggregate as the JSON document stored under its user's key."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from app.domain.book import Book, BookState
from app.domain.finished import FinishClaim, FinishedBy
from app.domain.values import (
    BookLifetime,
    BookSpec,
    Character,
    Generation,
    ImageAttempt,
    Language,
    Page,
    Questions,
    Title,
    Usage,
    UserId,
)

SCHEMA = 1


def dumps(book: Book) -> str:
    generation = book.generation
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "id": str(book.id),
        "user_id": book.user_id.value,
        "spec": {
            "characters": [
                {"name": c.name, "description": c.description} for c in book.spec.characters
            ],
            "page_count": book.spec.page_count,
            "language": book.spec.language.value,
            "reader_age": book.spec.reader_age,
            "setting": book.spec.setting,
        },
        "lifetime": {
            "ttl": book.lifetime.ttl.total_seconds(),
            "max_age": book.lifetime.max_age.total_seconds(),
        },
        "state": book.state.value,
        "pages": [_page_doc(p) for p in book.pages],
        "questions": list(book.questions.items),
        "cover_key": book.cover_key,
        "generation": None
        if generation is None
        else {
            "attempt_id": generation.attempt_id,
            "page_number": generation.page_number,
            "input": generation.input,
            "started_at": generation.started_at.isoformat(),
            "lease_deadline": generation.lease_deadline.isoformat(),
            "request_id": generation.request_id,
            "work_starts_at": None
            if generation.work_starts_at is None
            else generation.work_starts_at.isoformat(),
        },
        "finish_claim": None if book.finish_claim is None else _claim_doc(book.finish_claim),
        "recent_changes": list(book.recent_changes),
        "opening_deadline": None
        if book.opening_deadline is None
        else book.opening_deadline.isoformat(),
        "version": book.version,
        "character_sheet": book.character_sheet,
        "summary": book.summary,
        "usage": {
            "tokens_in": book.usage.tokens_in,
            "tokens_out": book.usage.tokens_out,
            "images": book.usage.images,
        },
        "created_at": book.created_at.isoformat(),
        "updated_at": book.updated_at.isoformat(),
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _page_doc(page: Page) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "number": page.number,
        "input": page.input,
        "text": page.text,
        "image_key": page.image_key,
    }
    if page.request_id is not None:
        doc["request_id"] = page.request_id
    if page.picture_request_id is not None:
        doc["picture_request_id"] = page.picture_request_id
    if page.image_attempt is not None:
        doc["image_attempt"] = {
            "attempt_id": page.image_attempt.attempt_id,
            "lease_deadline": page.image_attempt.lease_deadline.isoformat(),
            "request_id": page.image_attempt.request_id,
        }
    return doc


def _claim_doc(claim: FinishClaim) -> dict[str, Any]:
    return {
        "claim_id": claim.claim_id,
        "request_id": claim.request_id,
        "title": claim.title.value,
        "finished_by": claim.finished_by.value,
        "force": claim.force,
        "started_at": claim.started_at.isoformat(),
        "lease_deadline": claim.lease_deadline.isoformat(),
    }


def _claim(doc: dict[str, Any] | None) -> FinishClaim | None:
    if doc is None:
        return None
    return FinishClaim(
        claim_id=doc["claim_id"],
        request_id=doc["request_id"],
        title=Title(doc["title"]),
        finished_by=FinishedBy(doc["finished_by"]),
        force=doc["force"],
        started_at=datetime.fromisoformat(doc["started_at"]),
        lease_deadline=datetime.fromisoformat(doc["lease_deadline"]),
    )


def _page(doc: dict[str, Any]) -> Page:
    attempt = doc.get("image_attempt")
    return Page(
        doc["number"],
        doc["input"],
        doc["text"],
        doc["image_key"],
        None
        if attempt is None
        else ImageAttempt(
            attempt["attempt_id"],
            datetime.fromisoformat(attempt["lease_deadline"]),
            attempt.get("request_id"),
        ),
        request_id=doc.get("request_id"),
        picture_request_id=doc.get("picture_request_id"),
    )


def loads(raw: str | bytes) -> Book:
    doc = json.loads(raw)
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"unknown book document schema {doc.get('schema')!r}")
    spec = doc["spec"]
    generation = doc["generation"]
    return Book(
        id=UUID(doc["id"]),
        user_id=UserId(doc["user_id"]),
        spec=BookSpec(
            characters=tuple(Character(c["name"], c["description"]) for c in spec["characters"]),
            page_count=spec["page_count"],
            language=Language(spec["language"]),
            reader_age=spec["reader_age"],
            setting=spec["setting"],
        ),
        lifetime=BookLifetime(
            ttl=timedelta(seconds=doc["lifetime"]["ttl"]),
            max_age=timedelta(seconds=doc["lifetime"]["max_age"]),
        ),
        created_at=datetime.fromisoformat(doc["created_at"]),
        updated_at=datetime.fromisoformat(doc["updated_at"]),
        state=BookState(doc["state"]),
        pages=[_page(p) for p in doc["pages"]],
        questions=Questions(tuple(doc["questions"])),
        cover_key=doc["cover_key"],
        generation=None
        if generation is None
        else Generation(
            attempt_id=generation["attempt_id"],
            page_number=generation["page_number"],
            input=generation["input"],
            started_at=datetime.fromisoformat(generation["started_at"]),
            lease_deadline=datetime.fromisoformat(generation["lease_deadline"]),
            request_id=generation.get("request_id"),
            work_starts_at=_optional_time(generation.get("work_starts_at")),
        ),
        version=doc["version"],
        # Documents written before these fields existed read as empty: no sheet, no cost yet.
        character_sheet=doc.get("character_sheet", ""),
        summary=doc.get("summary", ""),
        usage=Usage(**doc.get("usage", {})),
        finish_claim=_claim(doc.get("finish_claim")),
        recent_changes=tuple(doc.get("recent_changes", ())),
        opening_deadline=_optional_time(doc.get("opening_deadline")),
    )


def _optional_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
