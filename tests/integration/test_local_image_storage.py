"""The embedded image storage on a real folder: layout, atomic writes, promotion, signed links,
and the sweep that expires staged images."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID, uuid4

import pytest

from app.application.errors import ImageLinkRejected, ImageNotFound, ImageStorageUnavailable
from app.application.image_keys import cover_key, page_key, staging_key
from app.application.ports.generation import Image
from app.application.ports.system import Clock
from app.domain.values import UserId
from app.infrastructure.images import (
    ImageUrlSigner,
    LocalImageStorage,
    run_sweeper,
    sweep_staging,
)

TTL = timedelta(minutes=15)
START = datetime(2026, 3, 1, 9, 0, 10, tzinfo=UTC)
PNG = Image(b"\x89PNG\r\n\x1a\nfake-png-bytes", "image/png")
USER = UserId("kid.one@example-1")
BOOK = UUID("11111111-2222-4333-8444-555555555555")
OUTSIDE_LAYOUT = [
    "",
    "../x",
    "staging/../../etc/passwd",
    "/etc/passwd",
    "/tmp/x.png",
    "other/file.png",
    f"books/{BOOK}/cover.jpg",
    f"books/{BOOK}/../{BOOK}/cover.png",
    f"staging/./{BOOK}/{BOOK}.png",
    f"staging/../{BOOK}/{BOOK}.png",
    f"staging/{USER}/{BOOK}/{BOOK}.png/../../../../x",
]


class FakeClock(Clock):
    def __init__(self, now: datetime = START) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    return folder


@pytest.fixture
def storage(root: Path, clock: FakeClock) -> LocalImageStorage:
    return LocalImageStorage(root, ImageUrlSigner(b"test-secret", TTL, clock))


def staged() -> str:
    return staging_key(USER, BOOK, uuid4())


def files_under(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def entries_of(folder: Path) -> list[str]:
    """The names in `folder`; raises when it is not a folder."""
    return sorted(entry.name for entry in folder.iterdir())


def link_parts(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query, strict_parsing=True)
    return (
        unquote(parts.path.removeprefix("/images/")),
        query["expires"][0],
        query["signature"][0],
    )


def set_age(path: Path, now: datetime, age: timedelta) -> None:
    moment = (now - age).timestamp()
    os.utime(path, (moment, moment))


# put / read


async def test_put_then_read_gives_back_the_bytes_and_content_type(
    storage: LocalImageStorage,
) -> None:
    key = staged()

    await storage.put(key, PNG)

    assert await storage.read(key) == Image(PNG.data, "image/png")


async def test_put_writes_the_key_under_the_root_and_leaves_no_temporary_file(
    storage: LocalImageStorage, root: Path
) -> None:
    key = staged()

    await storage.put(key, PNG)

    assert files_under(root) == {key}
    assert (root / key).read_bytes() == PNG.data


async def test_put_replaces_an_earlier_image_under_the_same_key(
    storage: LocalImageStorage,
) -> None:
    key = staged()
    await storage.put(key, PNG)

    await storage.put(key, Image(b"second", "image/png"))

    assert (await storage.read(key)).data == b"second"


async def test_failed_put_leaves_no_temporary_file_and_reports_unavailable(
    storage: LocalImageStorage, root: Path
) -> None:
    key = staged()
    (root / key).mkdir(parents=True)  # os.replace cannot put a file over a folder

    with pytest.raises(ImageStorageUnavailable):
        await storage.put(key, PNG)

    assert files_under(root) == set()


@pytest.mark.parametrize("key", OUTSIDE_LAYOUT)
async def test_put_refuses_a_key_outside_the_layout(
    storage: LocalImageStorage, tmp_path: Path, key: str
) -> None:
    with pytest.raises(ValueError, match="not an image key"):
        await storage.put(key, PNG)

    assert files_under(tmp_path) == set()


@pytest.mark.parametrize("key", OUTSIDE_LAYOUT)
async def test_read_of_a_key_outside_the_layout_is_not_found(
    storage: LocalImageStorage, key: str
) -> None:
    with pytest.raises(ImageNotFound):
        await storage.read(key)


async def test_read_cannot_reach_a_file_beside_the_root(
    storage: LocalImageStorage, tmp_path: Path
) -> None:
    (tmp_path / "secret.png").write_bytes(b"secret")

    with pytest.raises(ImageNotFound):
        await storage.read("../secret.png")


async def test_read_of_a_missing_image_is_not_found(storage: LocalImageStorage) -> None:
    key = staged()

    with pytest.raises(ImageNotFound, match=key):
        await storage.read(key)


async def test_read_failing_for_another_reason_reports_unavailable(
    storage: LocalImageStorage, root: Path
) -> None:
    key = staged()
    (root / key).mkdir(parents=True)

    with pytest.raises(ImageStorageUnavailable):
        await storage.read(key)


# promote


async def test_promote_copies_to_the_permanent_key_and_keeps_the_staged_copy(
    storage: LocalImageStorage,
) -> None:
    cover, page = staged(), staged()
    await storage.put(cover, PNG)
    await storage.put(page, Image(b"page one", "image/png"))

    await storage.promote({cover: cover_key(BOOK), page: page_key(BOOK, 1)})

    assert (await storage.read(cover_key(BOOK))).data == PNG.data
    assert (await storage.read(page_key(BOOK, 1))).data == b"page one"
    assert (await storage.read(cover)).data == PNG.data
    assert (await storage.read(page)).data == b"page one"


async def test_promote_run_twice_keeps_the_first_copy(
    storage: LocalImageStorage, root: Path
) -> None:
    key = staged()
    await storage.put(key, PNG)
    await storage.promote({key: cover_key(BOOK)})
    await storage.put(key, Image(b"changed since", "image/png"))

    await storage.promote({key: cover_key(BOOK)})

    assert (await storage.read(cover_key(BOOK))).data == PNG.data
    assert files_under(root) == {key, cover_key(BOOK)}


async def test_promote_again_after_the_staged_copies_were_deleted_succeeds(
    storage: LocalImageStorage,
) -> None:
    cover, page = staged(), staged()
    await storage.put(cover, PNG)
    await storage.put(page, PNG)
    copies = {cover: cover_key(BOOK), page: page_key(BOOK, 1)}
    await storage.promote(copies)
    await storage.delete([cover, page])

    await storage.promote(copies)

    assert (await storage.read(cover_key(BOOK))).data == PNG.data
    assert (await storage.read(page_key(BOOK, 1))).data == PNG.data


async def test_promote_with_neither_copy_raises_image_not_found_naming_the_key(
    storage: LocalImageStorage,
) -> None:
    present, missing = staged(), staged()
    await storage.put(present, PNG)

    with pytest.raises(ImageNotFound, match=missing):
        await storage.promote({present: cover_key(BOOK), missing: page_key(BOOK, 1)})


@pytest.mark.parametrize("key", OUTSIDE_LAYOUT)
async def test_promote_refuses_a_key_outside_the_layout(
    storage: LocalImageStorage, key: str
) -> None:
    with pytest.raises(ValueError, match="not an image key"):
        await storage.promote({key: cover_key(BOOK)})
    with pytest.raises(ValueError, match="not an image key"):
        await storage.promote({staged(): key})


# delete


async def test_delete_of_missing_keys_is_not_an_error(storage: LocalImageStorage) -> None:
    await storage.delete([staged(), cover_key(BOOK)])


async def test_delete_removes_the_images_and_the_folders_left_empty_but_not_the_root(
    storage: LocalImageStorage, root: Path
) -> None:
    staged_key = staged()
    await storage.put(staged_key, PNG)
    await storage.put(page_key(BOOK, 1), PNG)

    await storage.delete([staged_key, page_key(BOOK, 1)])

    assert entries_of(root) == []


async def test_delete_keeps_folders_that_still_hold_images(
    storage: LocalImageStorage, root: Path
) -> None:
    gone, kept = staged(), staged()
    await storage.put(gone, PNG)
    await storage.put(kept, PNG)

    await storage.delete([gone])

    assert files_under(root) == {kept}


async def test_delete_refuses_a_key_outside_the_layout(
    storage: LocalImageStorage, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"keep me")

    with pytest.raises(ValueError, match="not an image key"):
        await storage.delete(["../victim.png"])

    assert victim.exists()


# ping


async def test_ping_passes_on_a_writable_root(storage: LocalImageStorage) -> None:
    await storage.ping()


async def test_ping_fails_when_the_root_is_a_file(tmp_path: Path, clock: FakeClock) -> None:
    root = tmp_path / "images"
    root.write_bytes(b"not a folder")
    storage = LocalImageStorage(root, ImageUrlSigner(b"secret", TTL, clock))

    with pytest.raises(ImageStorageUnavailable):
        await storage.ping()


async def test_ping_fails_when_the_root_is_missing_until_it_is_created(
    tmp_path: Path, clock: FakeClock
) -> None:
    storage = LocalImageStorage(tmp_path / "data" / "images", ImageUrlSigner(b"s", TTL, clock))
    with pytest.raises(ImageStorageUnavailable):
        await storage.ping()

    await storage.ensure_root()

    await storage.ping()


async def test_ensure_root_over_a_file_reports_unavailable(
    tmp_path: Path, clock: FakeClock
) -> None:
    root = tmp_path / "images"
    root.write_bytes(b"not a folder")
    storage = LocalImageStorage(root, ImageUrlSigner(b"secret", TTL, clock))

    with pytest.raises(ImageStorageUnavailable):
        await storage.ensure_root()


# signed links


def test_signed_url_points_at_the_image_route_and_verifies(storage: LocalImageStorage) -> None:
    key = staged()

    url = storage.url(key)

    assert url.startswith(f"/images/{key}?")
    storage.verify(*link_parts(url))


def test_url_refuses_a_key_outside_the_layout(storage: LocalImageStorage) -> None:
    with pytest.raises(ValueError, match="not an image key"):
        storage.url("../../etc/passwd")


def test_tampered_signature_is_rejected(storage: LocalImageStorage) -> None:
    key, expires, signature = link_parts(storage.url(staged()))
    tampered = ("0" if signature[0] != "0" else "1") + signature[1:]

    with pytest.raises(ImageLinkRejected):
        storage.verify(key, expires, tampered)


def test_signature_of_another_key_is_rejected(storage: LocalImageStorage) -> None:
    _, expires, signature = link_parts(storage.url(staged()))

    with pytest.raises(ImageLinkRejected):
        storage.verify(cover_key(BOOK), expires, signature)


def test_extended_expiry_is_rejected(storage: LocalImageStorage) -> None:
    key, expires, signature = link_parts(storage.url(staged()))

    with pytest.raises(ImageLinkRejected):
        storage.verify(key, str(int(expires) + 3600), signature)


def test_link_signed_with_another_secret_is_rejected(
    storage: LocalImageStorage, clock: FakeClock
) -> None:
    other = ImageUrlSigner(b"another-secret", TTL, clock)

    with pytest.raises(ImageLinkRejected):
        storage.verify(*link_parts(other.sign(staged())))


@pytest.mark.parametrize("expires", [None, "", "soon", "+1772360000", " 1772360000", "١٢٣"])
def test_missing_or_non_numeric_expiry_is_rejected(
    storage: LocalImageStorage, expires: str | None
) -> None:
    key, _, signature = link_parts(storage.url(staged()))

    with pytest.raises(ImageLinkRejected):
        storage.verify(key, expires, signature)


@pytest.mark.parametrize("shape", ["missing", "empty", "short", "upper", "non-ascii"])
def test_missing_or_malformed_signature_is_rejected(storage: LocalImageStorage, shape: str) -> None:
    key, expires, signature = link_parts(storage.url(staged()))
    malformed = {
        "missing": None,
        "empty": "",
        "short": signature[:-2],
        "upper": signature.upper(),
        "non-ascii": "é" * 64,
    }[shape]
    if shape == "upper" and malformed == signature:
        malformed = "A" + signature[1:]

    with pytest.raises(ImageLinkRejected):
        storage.verify(key, expires, malformed)


def test_expired_link_is_rejected(storage: LocalImageStorage, clock: FakeClock) -> None:
    key, expires, signature = link_parts(storage.url(staged()))

    clock.current = datetime.fromtimestamp(int(expires) + 1, UTC)

    with pytest.raises(ImageLinkRejected, match="expired"):
        storage.verify(key, expires, signature)


def test_link_is_rejected_once_ttl_and_the_rounding_have_passed(
    storage: LocalImageStorage, clock: FakeClock
) -> None:
    parts = link_parts(storage.url(staged()))

    clock.advance(TTL + timedelta(minutes=1, seconds=1))

    with pytest.raises(ImageLinkRejected):
        storage.verify(*parts)


@pytest.mark.parametrize("second", [0, 1, 30, 59])
def test_link_stays_valid_for_at_least_ttl(
    storage: LocalImageStorage, clock: FakeClock, second: int
) -> None:
    clock.current = START.replace(second=second, microsecond=999_999)
    parts = link_parts(storage.url(staged()))

    clock.advance(TTL)

    storage.verify(*parts)


def test_links_made_moments_apart_are_identical(
    storage: LocalImageStorage, clock: FakeClock
) -> None:
    key = staged()
    first = storage.url(key)

    clock.advance(timedelta(seconds=20))

    assert storage.url(key) == first


def test_signer_refuses_an_empty_secret_or_a_non_positive_ttl(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="secret"):
        ImageUrlSigner(b"", TTL, clock)
    with pytest.raises(ValueError, match="lifetime"):
        ImageUrlSigner(b"secret", timedelta(0), clock)


# sweep


async def test_sweep_deletes_only_old_staged_files_and_never_books(
    storage: LocalImageStorage, root: Path
) -> None:
    now = datetime.now(UTC)
    old, fresh = staged(), staging_key(UserId("other-kid"), uuid4(), uuid4())
    for key in (old, fresh, cover_key(BOOK)):
        await storage.put(key, PNG)
    set_age(root / old, now, timedelta(days=3))
    set_age(root / fresh, now, timedelta(days=1))
    set_age(root / cover_key(BOOK), now, timedelta(days=300))

    removed = sweep_staging(root, timedelta(days=2), now)

    assert removed == 1
    assert files_under(root) == {fresh, cover_key(BOOK)}
    assert not (root / old).parent.parent.exists()  # its user's folder was left empty


def test_sweep_without_a_staging_folder_removes_nothing(root: Path) -> None:
    assert sweep_staging(root, timedelta(days=2), datetime.now(UTC)) == 0
    assert root.is_dir()


def test_sweep_refuses_a_non_positive_age(root: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        sweep_staging(root, timedelta(0), datetime.now(UTC))


async def wait_until_gone(path: Path) -> None:
    for _ in range(500):
        if not await asyncio.to_thread(path.exists):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} is still there")


async def test_sweeper_sweeps_at_start_and_stops_cleanly_when_cancelled(
    storage: LocalImageStorage, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = staged()
    await storage.put(key, PNG)
    set_age(root / key, datetime.now(UTC), timedelta(days=3))
    caplog.set_level(logging.INFO, logger="app.infrastructure.images.sweep")

    sweeper = asyncio.create_task(
        run_sweeper(root, timedelta(days=2), FakeClock(datetime.now(UTC)), timedelta(hours=1))
    )
    await wait_until_gone(root / key)
    sweeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sweeper

    assert sweeper.cancelled()
    assert "removed 1 file" in caplog.text


class FailingOnceClock(Clock):
    def __init__(self) -> None:
        self.calls = 0

    def now(self) -> datetime:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("the clock broke once")
        return datetime.now(UTC)


async def test_sweeper_keeps_sweeping_after_a_failed_sweep(
    storage: LocalImageStorage, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = staged()
    await storage.put(key, PNG)
    set_age(root / key, datetime.now(UTC), timedelta(days=3))

    sweeper = asyncio.create_task(
        run_sweeper(root, timedelta(days=2), FailingOnceClock(), timedelta(milliseconds=10))
    )
    try:
        await wait_until_gone(root / key)
    finally:
        sweeper.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sweeper

    assert "the clock broke once" in caplog.text


async def test_sweeper_refuses_a_non_positive_interval(root: Path, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="positive"):
        await run_sweeper(root, timedelta(days=2), clock, timedelta(0))
