"""What only the S3 adapter does: the bucket's lifecycle rule, server-side copies, batching, error
translation, presigned links, and fast failure when S3 is down or slow."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from mypy_boto3_s3 import S3Client

from app.application.errors import ImageNotFound, ImageStorageUnavailable
from app.application.image_keys import cover_key, page_key, staging_key
from app.application.ports.generation import Image
from app.domain.values import UserId
from app.infrastructure.images.s3 import (
    LIFECYCLE_RULE_ID,
    PresignedLinks,
    S3ImageStorage,
    build_s3_client,
    ensure_lifecycle_rule,
)

if TYPE_CHECKING:
    from tests.s3_server import MakeClient

pytest_plugins = ["tests.s3_server"]

TTL = timedelta(minutes=15)
PNG = Image(b"\x89PNG\r\n\x1a\nfake-png-bytes", "image/png")
USER = UserId("kid-one")
OUR_RULE = {
    "ID": LIFECYCLE_RULE_ID,
    "Filter": {"Prefix": "staging/"},
    "Status": "Enabled",
    "Expiration": {"Days": 2},
    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
}
FOREIGN_RULES: list[Any] = [
    {
        "ID": "logs-expiry",
        "Filter": {"Prefix": "logs/"},
        "Status": "Enabled",
        "Expiration": {"Days": 30},
    },
    {"ID": "old-exports", "Prefix": "exports/", "Status": "Disabled", "Expiration": {"Days": 7}},
]


class Calls:
    """The S3 operations a client sends, the threads that sent them and how many were in flight."""

    def __init__(self, client: S3Client, delay: float = 0.0) -> None:
        self.names: list[str] = []
        self.threads: set[int] = set()
        self.most_in_flight = 0
        self._in_flight = 0
        self._delay = delay
        self._lock = threading.Lock()
        client.meta.events.register("before-call.s3", self._before)
        client.meta.events.register("after-call.s3", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.names.append(model.name)
            self.threads.add(threading.get_ident())
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
        time.sleep(self._delay)  # a slower server, so that overlapping calls do overlap

    def _after(self, **_: Any) -> None:
        with self._lock:
            self._in_flight -= 1


@pytest.fixture
def storage(s3_client: S3Client, s3_bucket: str) -> S3ImageStorage:
    return S3ImageStorage(s3_client, s3_bucket, TTL)


def staged() -> str:
    return staging_key(USER, uuid4(), uuid4())


def rules_of(client: S3Client, bucket: str) -> list[Any]:
    return list(client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"])


def set_rules(client: S3Client, bucket: str, rules: list[Any]) -> None:
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": rules}
    )


# the client


def test_client_has_timeouts_standard_retries_and_path_style_for_an_endpoint() -> None:
    client = build_s3_client(
        "http://127.0.0.1:9000", "eu-west-1", connect_timeout=1.5, read_timeout=4, max_attempts=3
    )

    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.5, 4)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert config.signature_version == "s3v4"
    assert config.max_pool_connections >= 32
    assert config.s3 == {"addressing_style": "path"}
    assert client.meta.region_name == "eu-west-1"


def test_client_for_aws_itself_keeps_the_default_addressing() -> None:
    client = build_s3_client(None, "eu-west-1", connect_timeout=1, read_timeout=1, max_attempts=1)

    assert not (client.meta.config.s3 or {}).get("addressing_style")
    assert client.meta.endpoint_url == "https://s3.eu-west-1.amazonaws.com"


# the lifecycle rule


async def test_lifecycle_rule_is_created_with_its_exact_shape(
    s3_client: S3Client, s3_bucket: str
) -> None:
    await ensure_lifecycle_rule(s3_client, s3_bucket, 2)

    assert rules_of(s3_client, s3_bucket) == [OUR_RULE]


async def test_lifecycle_rule_is_added_beside_the_bucket_s_other_rules(
    s3_client: S3Client, s3_bucket: str
) -> None:
    set_rules(s3_client, s3_bucket, FOREIGN_RULES)

    await ensure_lifecycle_rule(s3_client, s3_bucket, 2)

    assert rules_of(s3_client, s3_bucket) == [*FOREIGN_RULES, OUR_RULE]


@pytest.mark.parametrize(
    "outdated",
    [
        {**OUR_RULE, "Expiration": {"Days": 9}},
        {**OUR_RULE, "Filter": {"Prefix": "stage/"}},
        {**OUR_RULE, "Status": "Disabled"},
        {
            "ID": LIFECYCLE_RULE_ID,
            "Prefix": "staging/",
            "Status": "Enabled",
            "Expiration": {"Days": 2},
        },
    ],
    ids=["other-days", "other-prefix", "disabled", "legacy-prefix"],
)
async def test_outdated_lifecycle_rule_is_replaced_not_duplicated(
    s3_client: S3Client, s3_bucket: str, outdated: dict[str, Any]
) -> None:
    set_rules(s3_client, s3_bucket, [FOREIGN_RULES[0], outdated, FOREIGN_RULES[1]])

    await ensure_lifecycle_rule(s3_client, s3_bucket, 2)

    assert rules_of(s3_client, s3_bucket) == [*FOREIGN_RULES, OUR_RULE]


async def test_ensuring_the_rule_again_leaves_one_rule_and_writes_nothing(
    s3_client: S3Client, s3_bucket: str
) -> None:
    set_rules(s3_client, s3_bucket, FOREIGN_RULES)
    calls = Calls(s3_client)

    await ensure_lifecycle_rule(s3_client, s3_bucket, 2)
    await ensure_lifecycle_rule(s3_client, s3_bucket, 2)

    assert rules_of(s3_client, s3_bucket) == [*FOREIGN_RULES, OUR_RULE]
    assert calls.names.count("PutBucketLifecycleConfiguration") == 1


async def test_ensuring_the_rule_on_a_missing_bucket_reports_unavailable(
    s3_client: S3Client,
) -> None:
    with pytest.raises(ImageStorageUnavailable):
        await ensure_lifecycle_rule(s3_client, f"lw-missing-{uuid4().hex[:12]}", 2)


# expiry (moto keeps the rule but never applies it: the expiry is simulated by a delete)


async def test_a_staged_image_expired_by_the_bucket_is_not_found_and_cannot_be_promoted(
    storage: S3ImageStorage, s3_client: S3Client, s3_bucket: str
) -> None:
    key = staged()
    await storage.put(key, PNG)

    s3_client.delete_object(Bucket=s3_bucket, Key=key)

    with pytest.raises(ImageNotFound, match=key):
        await storage.read(key)
    with pytest.raises(ImageNotFound, match=key):
        await storage.promote({key: cover_key(uuid4())})


# promotion


async def test_promote_copies_server_side_without_downloading_the_images(
    storage: S3ImageStorage, s3_client: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = uuid4()
    copies = {staged(): cover_key(book), **{staged(): page_key(book, n) for n in range(1, 6)}}
    for key in copies:
        await storage.put(key, PNG)

    def no_download(**_: Any) -> None:
        raise AssertionError("promote downloaded an image")

    monkeypatch.setattr(s3_client, "get_object", no_download)
    calls = Calls(s3_client)

    await storage.promote(copies)

    assert calls.names == ["CopyObject"] * len(copies)  # one request per image
    monkeypatch.undo()
    assert [await storage.read(target) for target in copies.values()] == [PNG] * len(copies)


async def test_promote_runs_copies_concurrently_within_max_concurrency(
    s3_client: S3Client, s3_bucket: str
) -> None:
    storage = S3ImageStorage(s3_client, s3_bucket, TTL, max_concurrency=3)
    book = uuid4()
    copies = {staged(): page_key(book, number) for number in range(1, 13)}
    for key in copies:
        await storage.put(key, PNG)
    calls = Calls(s3_client, delay=0.05)

    await storage.promote(copies)

    assert calls.most_in_flight == 3


async def test_no_s3_call_runs_on_the_event_loop_thread(
    storage: S3ImageStorage, s3_client: S3Client, s3_bucket: str
) -> None:
    calls = Calls(s3_client)
    key, target = staged(), cover_key(uuid4())

    await storage.put(key, PNG)
    await storage.read(key)
    await storage.promote({key: target})
    await storage.list_objects("staging/")
    await storage.delete([key, target])
    await storage.ping()
    await ensure_lifecycle_rule(s3_client, s3_bucket, 2)

    assert len(calls.names) >= 8
    assert threading.get_ident() not in calls.threads


# deletion


async def test_delete_sends_at_most_1000_keys_per_request(
    storage: S3ImageStorage, s3_client: S3Client
) -> None:
    keys = [staged() for _ in range(2001)]
    await storage.put(keys[0], PNG)
    await storage.put(keys[-1], PNG)
    batches: list[int] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        batches.append(len(params["Delete"]["Objects"]))

    s3_client.meta.events.register("provide-client-params.s3.DeleteObjects", record)

    await storage.delete(keys)

    assert batches == [1000, 1000, 1]
    assert await storage.list_objects("staging/") == []


async def test_delete_refused_by_the_server_for_some_keys_reports_unavailable(
    storage: S3ImageStorage, s3_client: S3Client
) -> None:
    key = staged()

    def refuse(parsed: dict[str, Any], **_: Any) -> None:
        parsed["Errors"] = [{"Key": key, "Code": "AccessDenied", "Message": "Access Denied"}]

    s3_client.meta.events.register("after-call.s3.DeleteObjects", refuse)

    with pytest.raises(ImageStorageUnavailable, match="AccessDenied"):
        await storage.delete([key])


# a bucket that is not there is an outage, never a missing image

OPERATIONS = ["put", "read", "promote", "delete", "list", "ping", "ensure-lifecycle-rule"]


def operations_of(
    client: S3Client, bucket: str, key: str
) -> dict[str, Callable[[], Awaitable[object]]]:
    storage = S3ImageStorage(client, bucket, TTL)
    return {
        "put": lambda: storage.put(key, PNG),
        "read": lambda: storage.read(key),
        "promote": lambda: storage.promote({key: cover_key(uuid4())}),
        "delete": lambda: storage.delete([key]),
        "list": lambda: storage.list_objects("staging/"),
        "ping": storage.ping,
        "ensure-lifecycle-rule": lambda: ensure_lifecycle_rule(client, bucket, 2),
    }


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_missing_bucket_makes_the_storage_unavailable(
    s3_client: S3Client, operation: str
) -> None:
    run = operations_of(s3_client, f"lw-missing-{uuid4().hex[:12]}", staged())[operation]

    with pytest.raises(ImageStorageUnavailable):
        await run()


@pytest.mark.parametrize(
    ("status", "code"), [(403, "AccessDenied"), (500, "InternalError"), (503, "SlowDown")]
)
async def test_an_error_answer_from_s3_is_an_outage_not_a_missing_image(
    storage: S3ImageStorage, s3_client: S3Client, status: int, code: str
) -> None:
    key = staged()
    await storage.put(key, PNG)

    def answer(**_: Any) -> tuple[Any, dict[str, Any]]:
        return SimpleNamespace(status_code=status), {"Error": {"Code": code, "Message": code}}

    s3_client.meta.events.register("before-call.s3.GetObject", answer)

    with pytest.raises(ImageStorageUnavailable, match=code):
        await storage.read(key)


# S3 down or slow: a fast ImageStorageUnavailable


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections (in the kernel's backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        host, port = listener.getsockname()[:2]
        yield f"http://{host}:{port}"


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_s3_on_a_closed_port_fails_fast_as_unavailable(
    make_s3_client: MakeClient, operation: str
) -> None:
    client = make_s3_client("http://127.0.0.1:1", connect_timeout=0.5, max_attempts=1)
    run = operations_of(client, "lw-unreachable", staged())[operation]
    started = time.monotonic()

    with pytest.raises(ImageStorageUnavailable) as raised:
        await run()

    assert time.monotonic() - started < 5
    assert isinstance(raised.value.__cause__, EndpointConnectionError)


@pytest.mark.parametrize("operation", ["put", "read", "ping"])
async def test_s3_that_never_answers_fails_fast_as_unavailable(
    make_s3_client: MakeClient, silent_server: str, operation: str
) -> None:
    client = make_s3_client(silent_server, read_timeout=0.5, max_attempts=1)
    run = operations_of(client, "lw-silent", staged())[operation]
    started = time.monotonic()

    with pytest.raises(ImageStorageUnavailable) as raised:
        await run()

    assert time.monotonic() - started < 5
    assert isinstance(raised.value.__cause__, ReadTimeoutError)


# presigned links


def test_presigned_url_is_a_signed_get_of_the_key_lasting_at_least_the_ttl(
    storage: S3ImageStorage, s3_endpoint_url: str, s3_bucket: str
) -> None:
    key = cover_key(uuid4())

    url = storage.url(key)

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert url.startswith(f"{s3_endpoint_url}/{s3_bucket}/{key}?")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    ttl = int(TTL.total_seconds())
    # Signed for the ttl plus the window in which the same link is handed out again.
    assert query["X-Amz-Expires"] == [str(ttl + min(ttl // 2, 300))]


def test_a_link_is_reused_within_its_window_and_always_has_the_ttl_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("app.infrastructure.images.s3.time.monotonic", lambda: clock[0])
    signed: list[tuple[str, int]] = []

    def presign(key: str, expires_in: int) -> str:
        signed.append((key, expires_in))
        return f"https://s3.test/{key}?n={len(signed)}"

    links = PresignedLinks(ttl=3600)
    first = links.get("books/a/cover.png", presign)
    clock[0] += links.reuse - 1
    assert links.get("books/a/cover.png", presign) == first  # signed once, reused
    # handed out at the end of the window, it still has (ttl + reuse) - (reuse - 1) > ttl left
    assert signed == [("books/a/cover.png", 3600 + links.reuse)]
    clock[0] += 2
    assert links.get("books/a/cover.png", presign) != first  # the window passed: signed anew
    assert links.get("books/b/cover.png", presign).endswith("n=3")


def test_the_link_cache_is_bounded() -> None:
    links = PresignedLinks(ttl=60, max_links=3)
    for n in range(10):
        links.get(f"books/{n}/cover.png", lambda key, seconds: key)
    assert len(links._links) == 3


async def test_list_objects_ignores_objects_outside_the_layout(
    storage: S3ImageStorage, s3_client: S3Client, s3_bucket: str
) -> None:
    key = staged()
    await storage.put(key, PNG)
    for stray in ["staging/notes.txt", "staging/a/b/c.png", "staging/x.png"]:
        s3_client.put_object(Bucket=s3_bucket, Key=stray, Body=b"stray")

    listed = await storage.list_objects("staging/")

    assert [item.key for item in listed] == [key]
