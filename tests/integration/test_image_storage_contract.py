"""The ImageStorage contract, run against every adapter: the local disk and S3 (moto's server over
real HTTP, or the server in LW_TEST_S3_ENDPOINT_URL)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID, uuid4

import httpx
import pytest
from mypy_boto3_s3 import S3Client

from app.application.errors import ImageNotFound
from app.application.image_keys import cover_key, export_key, page_key, staging_key
from app.application.ports.generation import Image
from app.application.ports.images import ImageStorage
from app.domain.values import UserId
from app.infrastructure.images import ImageUrlSigner, LocalImageStorage
from app.infrastructure.images.s3 import S3ImageStorage
from app.infrastructure.system import SystemClock

pytest_plugins = ["tests.s3_server"]

TTL = timedelta(minutes=15)
PNG = Image(b"\x89PNG\r\n\x1a\nfake-png-bytes", "image/png")
USER = UserId("kid.one@example-1")
OTHER_USER = UserId("kid-two")
OUTSIDE_LAYOUT = [
    "",
    "../x",
    "/etc/passwd",
    "other/file.png",
    "staging/../../etc/passwd",
    f"books/{UUID(int=1)}/cover.jpg",
    f"books/{UUID(int=1)}/../{UUID(int=1)}/cover.png",
    f"staging/../{UUID(int=1)}/{UUID(int=2)}.png",
]


@dataclass(frozen=True)
class Backend:
    storage: ImageStorage
    fetch: Callable[[str], Awaitable[Image]]
    """Follow a link from `storage.url` as a client without the bearer token would."""
    stored_keys: Callable[[], Awaitable[set[str]]]
    """Every key in the storage, seen without the adapter."""


def local_backend(root: Path) -> Backend:
    storage = LocalImageStorage(root, ImageUrlSigner(b"test-secret", TTL, SystemClock()))

    async def fetch(link: str) -> Image:
        parts = urlsplit(link)
        query = parse_qs(parts.query, strict_parsing=True)
        key = unquote(parts.path.removeprefix("/images/"))
        storage.verify(key, query["expires"][0], query["signature"][0])
        return await storage.read(key)

    def files() -> set[str]:
        return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}

    async def stored_keys() -> set[str]:
        return await asyncio.to_thread(files)

    return Backend(storage, fetch, stored_keys)


def s3_backend(client: S3Client, bucket: str) -> Backend:
    async def fetch(link: str) -> Image:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(link)
        assert response.status_code == 200, response.text
        return Image(response.content, response.headers["content-type"])

    async def stored_keys() -> set[str]:
        listed = client.list_objects_v2(Bucket=bucket)
        return {item["Key"] for item in listed.get("Contents", []) if "Key" in item}

    return Backend(S3ImageStorage(client, bucket, TTL), fetch, stored_keys)


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        root = tmp_path / "images"
        root.mkdir()
        return local_backend(root)
    client: S3Client = request.getfixturevalue("s3_client")
    return s3_backend(client, request.getfixturevalue("s3_bucket"))


@pytest.fixture
def storage(backend: Backend) -> ImageStorage:
    return backend.storage


@pytest.fixture
def book() -> UUID:
    return uuid4()


def staged(book: UUID, user: UserId = USER) -> str:
    return staging_key(user, book, uuid4())


def page_image(number: int) -> Image:
    return Image(PNG.data + f"-page-{number}".encode(), "image/png")


# put / read


async def test_put_then_read_gives_back_the_bytes_and_content_type(
    storage: ImageStorage, book: UUID
) -> None:
    key = staged(book)

    await storage.put(key, PNG)

    assert await storage.read(key) == PNG


async def test_put_replaces_an_earlier_image_under_the_same_key(
    storage: ImageStorage, book: UUID
) -> None:
    key = staged(book)
    await storage.put(key, PNG)

    await storage.put(key, page_image(2))

    assert await storage.read(key) == page_image(2)


async def test_read_of_a_missing_key_is_not_found(storage: ImageStorage, book: UUID) -> None:
    key = staged(book)

    with pytest.raises(ImageNotFound, match=key):
        await storage.read(key)


# promote


async def test_promote_copies_to_the_permanent_keys_and_keeps_the_staged_ones_until_deleted(
    backend: Backend, storage: ImageStorage, book: UUID
) -> None:
    cover, page = staged(book), staged(book)
    await storage.put(cover, PNG)
    await storage.put(page, page_image(1))

    await storage.promote({cover: cover_key(book), page: page_key(book, 1)})

    assert await storage.read(cover_key(book)) == PNG
    assert await storage.read(page_key(book, 1)) == page_image(1)
    assert await backend.stored_keys() == {cover, page, cover_key(book), page_key(book, 1)}

    await storage.delete([cover, page])

    assert await backend.stored_keys() == {cover_key(book), page_key(book, 1)}
    assert await storage.read(page_key(book, 1)) == page_image(1)


async def test_promote_run_twice_gives_the_same_permanent_image(
    storage: ImageStorage, book: UUID
) -> None:
    key = staged(book)
    await storage.put(key, PNG)
    await storage.promote({key: cover_key(book)})

    await storage.promote({key: cover_key(book)})

    assert await storage.read(cover_key(book)) == PNG
    assert await storage.read(key) == PNG


async def test_promote_again_after_the_staged_copies_were_deleted_succeeds(
    backend: Backend, storage: ImageStorage, book: UUID
) -> None:
    cover, page = staged(book), staged(book)
    await storage.put(cover, PNG)
    await storage.put(page, page_image(1))
    copies = {cover: cover_key(book), page: page_key(book, 1)}
    await storage.promote(copies)
    await storage.delete([cover, page])

    await storage.promote(copies)

    assert await backend.stored_keys() == {cover_key(book), page_key(book, 1)}
    assert await storage.read(cover_key(book)) == PNG
    assert await storage.read(page_key(book, 1)) == page_image(1)


async def test_promote_with_neither_the_staged_nor_the_permanent_copy_is_not_found(
    storage: ImageStorage, book: UUID
) -> None:
    present, missing = staged(book), staged(book)
    await storage.put(present, PNG)

    with pytest.raises(ImageNotFound, match=missing):
        await storage.promote({present: cover_key(book), missing: page_key(book, 1)})


async def test_promote_of_a_whole_book_of_21_images_copies_each_to_its_own_key(
    storage: ImageStorage, book: UUID
) -> None:
    images = {staged(book): (cover_key(book), PNG)}
    for number in range(1, 21):
        images[staged(book)] = (page_key(book, number), page_image(number))
    for key, (_, image) in images.items():
        await storage.put(key, image)

    await storage.promote({key: target for key, (target, _) in images.items()})

    for target, image in images.values():
        assert await storage.read(target) == image


async def test_promote_of_no_images_does_nothing(backend: Backend, storage: ImageStorage) -> None:
    await storage.promote({})

    assert await backend.stored_keys() == set()


# delete


async def test_delete_of_missing_keys_is_not_an_error(storage: ImageStorage, book: UUID) -> None:
    await storage.delete([staged(book), cover_key(book), page_key(book, 3)])


async def test_delete_removes_only_the_given_keys(
    backend: Backend, storage: ImageStorage, book: UUID
) -> None:
    gone, kept = staged(book), staged(book)
    await storage.put(gone, PNG)
    await storage.put(kept, PNG)

    await storage.delete([gone])

    assert await backend.stored_keys() == {kept}
    with pytest.raises(ImageNotFound):
        await storage.read(gone)


# list


async def test_list_objects_lists_only_keys_under_the_prefix_with_aware_times(
    storage: ImageStorage, book: UUID
) -> None:
    mine = sorted([staged(book), staged(book)])
    others = [staged(uuid4()), staged(book, OTHER_USER), cover_key(book)]
    for key in [*mine, *others]:
        await storage.put(key, PNG)
    before = datetime.now(UTC) - timedelta(minutes=5)

    listed = await storage.list_objects(f"staging/{USER}/{book}/")

    assert [item.key for item in listed] == mine
    for item in listed:
        assert item.modified_at.utcoffset() == timedelta(0)
        assert before < item.modified_at < datetime.now(UTC) + timedelta(minutes=5)
    assert [item.key for item in await storage.list_objects("books/")] == [cover_key(book)]
    assert len(await storage.list_objects("staging/")) == 4


# links


async def test_url_gives_a_link_that_fetches_the_image_and_its_type(
    backend: Backend, storage: ImageStorage, book: UUID
) -> None:
    key = staged(book)
    await storage.put(key, PNG)
    await storage.promote({key: cover_key(book)})

    assert await backend.fetch(storage.url(key)) == PNG
    assert await backend.fetch(storage.url(cover_key(book))) == PNG


# keys outside the layout


@pytest.mark.parametrize("key", OUTSIDE_LAYOUT)
async def test_a_key_outside_the_layout_is_refused_and_nothing_is_stored(
    backend: Backend, storage: ImageStorage, book: UUID, key: str
) -> None:
    with pytest.raises(ValueError, match="not an image key"):
        await storage.put(key, PNG)
    with pytest.raises(ValueError, match="not an image key"):
        await storage.promote({key: cover_key(book)})
    with pytest.raises(ValueError, match="not an image key"):
        await storage.promote({staged(book): key})
    with pytest.raises(ValueError, match="not an image key"):
        await storage.delete([key])
    with pytest.raises(ValueError, match="not an image key"):
        storage.url(key)
    with pytest.raises(ImageNotFound):
        await storage.read(key)

    assert await backend.stored_keys() == set()


async def test_ping_passes_on_a_working_storage(storage: ImageStorage) -> None:
    await storage.ping()


# exports, kept beside a finished book's pictures


async def test_an_export_is_kept_read_back_listed_and_deleted_with_the_book(
    storage: ImageStorage, book: UUID
) -> None:
    key = export_key(book, "pdf")
    with pytest.raises(ImageNotFound):
        await storage.read_export(key)
    await storage.put_export(key, b"%PDF-1.7 a picture book", "application/pdf")
    assert await storage.read_export(key) == b"%PDF-1.7 a picture book"
    assert [o.key for o in await storage.list_objects(f"books/{book}/")] == [key]
    await storage.delete([key])
    with pytest.raises(ImageNotFound):
        await storage.read_export(key)
