"""The storage layout of images, shared by every ImageStorage adapter (DESIGN.md, Storage)."""

from __future__ import annotations

import re
from uuid import UUID

from app.domain.values import UserId

STAGING_PREFIX = "staging/"
PERMANENT_PREFIX = "books/"
_KEY = re.compile(
    r"(staging/[A-Za-z0-9_.@-]{1,64}/[0-9a-f-]{36}/[0-9a-f-]{36}\.png"
    r"|books/[0-9a-f-]{36}/(cover|pages/[0-9]{1,2})\.png"
    r"|books/[0-9a-f-]{36}/exports/book\.(pdf|epub))"
)


def staging_key(user_id: UserId, book_id: UUID, image_id: UUID) -> str:
    return f"{STAGING_PREFIX}{user_id}/{book_id}/{image_id}.png"


def cover_key(book_id: UUID) -> str:
    return f"{PERMANENT_PREFIX}{book_id}/cover.png"


def page_key(book_id: UUID, number: int) -> str:
    return f"{PERMANENT_PREFIX}{book_id}/pages/{number}.png"


def export_key(book_id: UUID, extension: str) -> str:
    """Where a finished book's export is kept, next to its pictures (deleted with them)."""
    return f"{PERMANENT_PREFIX}{book_id}/exports/book.{extension}"


def book_prefix(book_id: UUID) -> str:
    return f"{PERMANENT_PREFIX}{book_id}/"


def is_valid_key(key: str) -> bool:
    """Only keys of this layout are ever read or written (no path tricks reach a backend)."""
    return _KEY.fullmatch(key) is not None and not {".", ".."} & set(key.split("/"))
