"""The idempotency-key store: who holds a key, and the response a finished request gave."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response kept for replay, exactly as it was sent (the headers a replay needs only)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claimed:
    """The key is ours until the lock passes; `token` proves it to `complete` and `release`."""

    token: str


@dataclass(frozen=True, slots=True)
class InProgress:
    """Another request with the same key and fingerprint holds the lock for this long still."""

    retry_after_seconds: int


@dataclass(frozen=True, slots=True)
class Completed:
    """A request with the same key and fingerprint finished with `response`."""

    response: StoredResponse


@dataclass(frozen=True, slots=True)
class KeyReused:
    """The key belongs to a request with another fingerprint (running or finished)."""


Claim = Claimed | InProgress | Completed | KeyReused


class IdempotencyStore(ABC):
    """Keys are scoped (per caller). Raises `StoreUnavailable` when the store cannot be reached."""

    @abstractmethod
    async def claim(self, scope: str, key: str, fingerprint: str, lock: timedelta) -> Claim:
        """Take a free key for `lock` (atomically: of concurrent claims exactly one wins), or say
        who has it. The lock is short and renewed (`renew`) while the request runs: one that
        is not renewed passes and frees the key, so a process that died gives it back."""

    @abstractmethod
    async def complete(
        self,
        scope: str,
        key: str,
        token: str,
        fingerprint: str,
        response: StoredResponse,
        keep: timedelta,
    ) -> None:
        """Keep `response` for `keep`, only if the key is still locked with `token`; a claim that
        passed (and maybe went to another request) is left alone."""

    @abstractmethod
    async def renew(self, scope: str, key: str, token: str, lock: timedelta) -> bool:
        """Hold the key for `lock` more, only if it is still locked with `token` (else False)."""

    @abstractmethod
    async def release(self, scope: str, key: str, token: str) -> None:
        """Free the key so that a retry runs again, only if it is still locked with `token`."""
