"""Images on the local disk, in the same staging/permanent layout as the S3 bucket."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

from app.application.errors import ImageNotFound, ImageStorageUnavailable
from app.application.image_keys import is_valid_key
from app.application.ports.generation import Image
from app.application.ports.images import ImageStorage, StoredObject
from app.infrastructure.images.signing import ImageUrlSigner

P = ParamSpec("P")
T = TypeVar("T")

_CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}
_MISSING = (FileNotFoundError, NotADirectoryError)
# A concurrent delete or sweep may remove a folder that put has just created while it is empty.
_WRITE_ATTEMPTS = 3


class LocalImageStorage(ImageStorage):
    """Every file operation runs in a worker thread; an OSError that is not "missing" becomes
    `ImageStorageUnavailable`."""

    def __init__(self, root: Path, signer: ImageUrlSigner) -> None:
        self._root = root
        self._signer = signer

    @property
    def root(self) -> Path:
        return self._root

    async def ensure_root(self) -> None:
        await _io(self._root.mkdir, parents=True, exist_ok=True)

    async def put(self, key: str, image: Image) -> None:
        await _io(_write_atomically, self._path(key), image.data)

    async def promote(self, copies: Mapping[str, str]) -> None:
        # One thread per copy: fsync dominates, so 21 copies take about half as long as in one.
        pairs = [(src, self._path(src), dst, self._path(dst)) for src, dst in copies.items()]
        await asyncio.gather(*(_io(_copy, *pair) for pair in pairs))

    async def delete(self, keys: Sequence[str]) -> None:
        paths = [self._path(key) for key in keys]
        await _io(self._delete_all, paths)

    async def read(self, key: str) -> Image:
        if not _is_layout_key(key):
            raise ImageNotFound(f"no image at {key!r}")
        path = self._root / key
        data = await _io(_read, path, key)
        return Image(data, _CONTENT_TYPES[path.suffix])

    async def put_export(self, key: str, data: bytes, media_type: str) -> None:
        await _io(_write_atomically, self._path(key), data)

    async def read_export(self, key: str) -> bytes:
        return await _io(_read, self._path(key), key)

    async def list_objects(self, prefix: str) -> list[StoredObject]:
        return await _io(_list, self._root, prefix)

    def url(self, key: str) -> str:
        _check_layout_key(key)
        return self._signer.sign(key)

    def verify(self, key: str, expires: str | None, signature: str | None) -> None:
        """For the HTTP route that serves `url`'s links; raises `ImageLinkRejected`."""
        self._signer.verify(key, expires, signature)

    async def ping(self) -> None:
        await _io(_probe, self._root)

    def _path(self, key: str) -> Path:
        _check_layout_key(key)
        return self._root / key

    def _delete_all(self, paths: Iterable[Path]) -> None:
        folders: set[Path] = set()
        for path in paths:
            with suppress(*_MISSING):
                path.unlink()
            folders.add(path.parent)
        for folder in sorted(folders, key=lambda folder: len(folder.parts), reverse=True):
            prune_empty_folders(folder, self._root)


def prune_empty_folders(folder: Path, root: Path) -> None:
    """Remove `folder` and its ancestors while they are empty, stopping below `root`."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            return  # not empty (or not ours to remove): its ancestors are not empty either
        folder = folder.parent


def _list(root: Path, prefix: str) -> list[StoredObject]:
    found = []
    for path in root.rglob("*"):  # pictures and exports; anything else is not a layout key
        key = path.relative_to(root).as_posix()
        if key.startswith(prefix) and _is_layout_key(key):
            with suppress(*_MISSING):
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                found.append(StoredObject(key, modified))
    return sorted(found, key=lambda item: item.key)


def _check_layout_key(key: str) -> None:
    if not _is_layout_key(key):
        raise ValueError(f"not an image key of the storage layout: {key!r}")


def _is_layout_key(key: str) -> bool:
    # The layout's user id may be ".", which a path would silently collapse.
    return is_valid_key(key) and "." not in key.split("/")


async def _io(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except OSError as error:
        raise ImageStorageUnavailable(f"the local image storage failed: {error}") from error


def _write_atomically(path: Path, data: bytes) -> None:
    for attempt in range(1, _WRITE_ATTEMPTS + 1):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor, temporary = tempfile.mkstemp(
                dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
            )
            break
        except FileNotFoundError:
            if attempt == _WRITE_ATTEMPTS:
                raise
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


def _copy(source_key: str, source: Path, target_key: str, target: Path) -> None:
    if target.exists():
        return  # an earlier try made this copy; the staged one may already be gone
    try:
        data = source.read_bytes()
    except _MISSING:
        if target.exists():
            return  # a concurrent promote made the copy and the staged one was deleted
        raise ImageNotFound(
            f"no staged image {source_key!r} and no permanent copy {target_key!r}"
        ) from None
    _write_atomically(target, data)


def _read(path: Path, key: str) -> bytes:
    try:
        return path.read_bytes()
    except _MISSING:
        raise ImageNotFound(f"no image at {key!r}") from None


def _probe(root: Path) -> None:
    if not root.is_dir():
        raise ImageStorageUnavailable(f"the image folder {root} does not exist")
    with tempfile.TemporaryFile(dir=root):
        pass
