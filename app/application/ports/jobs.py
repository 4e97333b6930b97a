"""Accepted generation work, run by a worker: in this process or in another one."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from uuid import UUID

from app.domain.values import UserId


class JobKind(StrEnum):
    PAGE = "page"  # write the claimed page: text first, then its picture
    PICTURE = "picture"  # draw a page's failed picture again
    COVER = "cover"  # write the character sheet, draw the cover, ask the opening questions


@dataclass(frozen=True, slots=True)
class GenerationJob:
    """What a worker needs to do the work the book was claimed for; the rest is on the book."""

    kind: JobKind
    user_id: UserId
    book_id: UUID
    attempt_id: str  # the book's fence: the job does its work only while it holds the book
    request_id: str | None = None  # the request that asked for it, for the logs
    # Its turn under the model provider's limits: no worker takes it before this has passed.
    delay: timedelta = timedelta(0)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.attempt_id}"

    @property
    def delay_seconds(self) -> float:
        return max(0.0, self.delay.total_seconds())


class JobRunner(ABC):
    """Does a job's work, in whichever process a queue runs it."""

    @abstractmethod
    async def run(self, job: GenerationJob, *, redelivered: bool = False) -> None:
        """Raise why the work could not be done. `redelivered`: an earlier run of this job may
        have done part of it before its worker died."""


class GenerationQueue(ABC):
    """Delivery is at least once: a job whose worker died is run again, and finds on the book
    what it had done already."""

    @property
    @abstractmethod
    def durable(self) -> bool:
        """A job stopped with its process (a deploy) runs again later: what it holds is kept
        for it, not given back."""

    @abstractmethod
    async def enqueue(self, job: GenerationJob) -> None:
        """Queue the job, to be taken once its `delay` has passed; while a job with its key is
        queued or running, nothing more.
        Raises `DependencyUnavailable` when the queue cannot be reached."""

    @abstractmethod
    async def result(self, job: GenerationJob) -> None:
        """Wait until the job has run; raise what it failed with (`GenerationFailed`,
        `NoBookInProgress`, a `DependencyUnavailable`, or an error for a bug). `JobNotFound`
        when no such job is queued, running or recently ended."""

    @abstractmethod
    async def waiting(self) -> int:
        """How many jobs wait for a worker or for their turn."""
