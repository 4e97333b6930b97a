"""IdempotencyStore on Redis: one JSON record per scoped key. A claim is a SET NX with the lock's
expiry; completing and releasing check the claim's random token under WATCH/MULTI (no Lua, which
the embedded fakeredis lacks), so a request whose lock passed can never touch a newer claim."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.application.errors import StoreUnavailable
from app.application.ports import (
    Claim,
    Claimed,
    Completed,
    IdempotencyStore,
    InProgress,
    KeyReused,
    StoredResponse,
)

KEY_PREFIX = "lw:idem:"
_RUNNING = "running"
_DONE = "done"
# A record can vanish between a failed SET NX and the read that follows (its lock passed, or it
# was released); trying again is right, but never forever.
_CLAIM_ATTEMPTS = 5


def idempotency_key(scope: str, key: str) -> str:
    # Hashed: a client's key is opaque and may hold any visible character, colons included.
    return f"{KEY_PREFIX}{scope}:{hashlib.sha256(key.encode()).hexdigest()}"


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as error:
        raise StoreUnavailable(
            f"the idempotency store is unreachable: {type(error).__name__}"
        ) from error
    except WatchError:
        raise
    except RedisError as error:
        raise StoreUnavailable(f"the idempotency store failed: {type(error).__name__}") from error


def _ms(duration: timedelta) -> int:
    return max(1, math.ceil(duration.total_seconds() * 1000))


def _running(fingerprint: str, token: str) -> str:
    return json.dumps({"state": _RUNNING, "fingerprint": fingerprint, "token": token})


def _done(fingerprint: str, response: StoredResponse) -> str:
    return json.dumps(
        {
            "state": _DONE,
            "fingerprint": fingerprint,
            "status": response.status,
            "headers": [list(pair) for pair in response.headers],
            "body": base64.b64encode(response.body).decode("ascii"),
        }
    )


def _record(raw: bytes | str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    record: dict[str, Any] = json.loads(raw)
    return record


def _response(record: dict[str, Any]) -> StoredResponse:
    return StoredResponse(
        status=int(record["status"]),
        headers=tuple((str(name), str(value)) for name, value in record["headers"]),
        body=base64.b64decode(record["body"]),
    )


def _is_held_by(record: dict[str, Any] | None, token: str) -> bool:
    return record is not None and record["state"] == _RUNNING and record["token"] == token


class RedisIdempotencyStore(IdempotencyStore):
    def __init__(self, client: Redis) -> None:
        self._redis = client

    async def claim(self, scope: str, key: str, fingerprint: str, lock: timedelta) -> Claim:
        name = idempotency_key(scope, key)
        token = secrets.token_hex(16)
        async with _translated():
            for _ in range(_CLAIM_ATTEMPTS):
                if await self._redis.set(name, _running(fingerprint, token), nx=True, px=_ms(lock)):
                    return Claimed(token)
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.get(name)
                    pipe.pttl(name)
                    raw, pttl = await pipe.execute()
                record = _record(raw)
                if record is None:
                    continue
                if record.get("token") == token:
                    # Our own SET applied, its reply lost and the command sent again.
                    return Claimed(token)
                if record["fingerprint"] != fingerprint:
                    return KeyReused()
                if record["state"] == _DONE:
                    return Completed(_response(record))
                return InProgress(max(1, math.ceil(pttl / 1000)))
        # Claimed and freed again every time we looked: someone is busy with it right now.
        return InProgress(1)

    async def complete(
        self,
        scope: str,
        key: str,
        token: str,
        fingerprint: str,
        response: StoredResponse,
        keep: timedelta,
    ) -> None:
        name = idempotency_key(scope, key)
        async with _translated(), self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(name)
                if not _is_held_by(_record(await pipe.get(name)), token):
                    return
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.set(name, _done(fingerprint, response), px=_ms(keep))
                await pipe.execute()
            except WatchError:
                return  # changed under us: only a newer claim can have changed it

    async def renew(self, scope: str, key: str, token: str, lock: timedelta) -> bool:
        name = idempotency_key(scope, key)
        async with _translated(), self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(name)
                if not _is_held_by(_record(await pipe.get(name)), token):
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.pexpire(name, _ms(lock))
                await pipe.execute()
            except WatchError:
                return False
            return True

    async def release(self, scope: str, key: str, token: str) -> None:
        name = idempotency_key(scope, key)
        async with _translated(), self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(name)
                if not _is_held_by(_record(await pipe.get(name)), token):
                    return
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.delete(name)
                await pipe.execute()
            except WatchError:
                return
