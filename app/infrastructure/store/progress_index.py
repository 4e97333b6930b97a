"""The index of books in progress across users, for the admin: sorted sets of user ids scored by
when their book last changed (ms since the epoch), one for every book and one per state. The
book store's scripts keep it in the same atomic step as each change; a page of it is one range
of one sorted set, never a scan of the store."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from app.application.errors import InvalidCursor
from app.application.ports.stores import CURSOR_PATTERN
from app.domain.book import Book, BookState
from app.domain.errors import InvalidValue
from app.domain.values import UserId

PROGRESS_KEY = "lw:progress"
STATES = tuple(BookState)  # the order of the per-state keys in the scripts' KEYS


def state_key(state: BookState) -> str:
    return f"{PROGRESS_KEY}:{state.value}"


# Every book and then one per state, in `STATES` order: what the scripts take as KEYS.
INDEX_KEYS = (PROGRESS_KEY, *(state_key(s) for s in STATES))


def state_place(state: BookState) -> int:
    """The state's place (1-4) among the per-state keys, as the scripts take it."""
    return STATES.index(state) + 1


def changed_ms(book: Book) -> int:
    return math.floor(book.updated_at.timestamp() * 1000)


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """An entry's place in the index: newest first is descending (score, user)."""

    score: int
    user: str


_NOT_OURS = "This cursor is not one the service handed out; ask for the first page without one."
_MAX_SCORE = 253402300799999  # 9999-12-31T23:59:59.999Z


def encode_cursor(position: Position) -> str:
    raw = json.dumps({"s": position.score, "u": position.user}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> Position:
    """Read a cursor from `encode_cursor`; anything else raises `InvalidCursor`."""
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise InvalidCursor(_NOT_OURS)
    try:
        payload: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        score, user = payload["s"], payload["u"]
        if type(score) is not int or not 0 <= score <= _MAX_SCORE or not isinstance(user, str):
            raise TypeError("a cursor holds a whole score and a user id")
        UserId(user)
    except (binascii.Error, InvalidValue, ValueError, TypeError, KeyError) as error:
        raise InvalidCursor(_NOT_OURS) from error
    return Position(score, user)


def _text(member: Any) -> str:
    return member.decode() if isinstance(member, bytes) else str(member)


def _positions(found: Any) -> list[Position]:
    """Entries as redis-py gives them `withscores`: (member, score) pairs."""
    return [Position(int(score), _text(member)) for member, score in found]


async def entries_after(
    client: Redis, key: str, after: Position | None, count: int
) -> list[Position]:
    """Up to `count` entries of the index `key` that come after `after`, newest first."""
    if after is None:
        return _positions(
            await client.zrevrangebyscore(key, "+inf", "-inf", 0, count, withscores=True)
        )
    # Entries with the same score are ordered by user id: those of the cursor's own millisecond
    # that come after it first (few: a millisecond holds few changes), then the older ones.
    tied: Any = await client.zrangebyscore(key, after.score, after.score)
    same = sorted((u for u in map(_text, tied) if u < after.user), reverse=True)[:count]
    entries = [Position(after.score, user) for user in same]
    if len(entries) < count:
        older = await client.zrevrangebyscore(
            key, f"({after.score}", "-inf", 0, count - len(entries), withscores=True
        )
        entries.extend(_positions(older))
    return entries
