"""Image storage port: staged images that expire, permanent ones that a finished book keeps, and
the book's exports kept beside them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.application.ports.generation import Image


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    modified_at: datetime


class ImageStorage(ABC):
    """Raises `ImageStorageUnavailable` when the storage cannot be reached."""

    @abstractmethod
    async def put(self, key: str, image: Image) -> None: ...

    @abstractmethod
    async def promote(self, copies: Mapping[str, str]) -> None:
        """Copy each staged key to its permanent key. Safe to repeat: staged keys are never
        rewritten, so copying again gives the same image, and when a staged image is gone but
        its permanent copy exists (an earlier finish got further) that copy stands. Both gone:
        `ImageNotFound`."""

    @abstractmethod
    async def delete(self, keys: Sequence[str]) -> None:
        """Delete the keys; a missing key is not an error."""

    @abstractmethod
    async def read(self, key: str) -> Image:
        """The image's bytes; `ImageNotFound` when there is none."""

    @abstractmethod
    async def put_export(self, key: str, data: bytes, media_type: str) -> None:
        """Keep a finished book's export (a PDF, an EPUB) under its permanent prefix."""

    @abstractmethod
    async def read_export(self, key: str) -> bytes:
        """An export's bytes; `ImageNotFound` when there is none."""

    @abstractmethod
    async def list_objects(self, prefix: str) -> list[StoredObject]:
        """Every stored image whose key starts with `prefix` (for reconciling)."""

    @abstractmethod
    def url(self, key: str) -> str:
        """A URL a client may GET without the bearer token, made fresh for each response.
        It may be relative to the service's own base URL (local storage)."""

    @abstractmethod
    async def ping(self) -> None: ...
