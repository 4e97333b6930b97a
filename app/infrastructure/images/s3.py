"""Images in an S3 bucket (AWS, MinIO, any S3-compatible server), in the layout of image_keys.

boto3 is blocking, so every call runs in a worker thread; botocore's errors are translated at this
boundary into `ImageNotFound` / `ImageStorageUnavailable`, and none of them escapes.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.application.errors import ImageNotFound, ImageStorageUnavailable
from app.application.image_keys import STAGING_PREFIX, is_valid_key
from app.application.ports.generation import IMAGE_CONTENT_TYPES, Image
from app.application.ports.images import ImageStorage, StoredObject
from app.infrastructure.deadlines import in_thread_within

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        LifecycleRuleOutputTypeDef,
        LifecycleRuleTypeDef,
        LifecycleRuleUnionTypeDef,
    )

LIFECYCLE_RULE_ID = "littlewriter-staging-expiry"
_DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
_NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404"})
_POOL_CONNECTIONS = 32


def build_s3_client(
    endpoint_url: str | None,
    region: str | None,
    *,
    connect_timeout: float,
    read_timeout: float,
    max_attempts: int,
) -> S3Client:
    """One client for the whole process (boto3 clients are thread-safe); credentials come from
    the standard AWS chain (environment, profile, container or instance role)."""
    config = Config(
        region_name=region,
        signature_version="s3v4",
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        max_pool_connections=_POOL_CONNECTIONS,
        # MinIO and moto serve buckets under the path, not as a subdomain of the endpoint.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config
    )


_T = TypeVar("_T")


def _s3_timed_out(why: str) -> ImageStorageUnavailable:
    return ImageStorageUnavailable(f"S3 failed: {why}")


class S3ImageStorage(ImageStorage):
    def __init__(
        self,
        client: S3Client,
        bucket: str,
        url_ttl: timedelta,
        max_concurrency: int = 16,
        presigner: S3Client | None = None,
        deadline: float = 2.5,
    ) -> None:
        """`presigner` signs the links when clients reach S3 at another address (MinIO)."""
        if url_ttl < timedelta(seconds=1):
            raise ValueError("the image URL lifetime must be at least a second")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be positive")
        self._client = client
        self._presigner = presigner or client
        self._bucket = bucket
        self._links = PresignedLinks(int(url_ttl.total_seconds()))
        self._max_concurrency = max_concurrency
        self._deadline = deadline  # each call's, botocore's retries included

    async def _thread(self, work: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        return await in_thread_within(self._deadline, _s3_timed_out, work, *args, **kwargs)

    async def put(self, key: str, image: Image) -> None:
        await self._put(key, image.data, image.content_type)

    async def _put(self, key: str, data: bytes, content_type: str) -> None:
        _check(key)
        with _boundary():
            await self._thread(
                self._client.put_object,
                Bucket=self._bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
            )

    async def promote(self, copies: Mapping[str, str]) -> None:
        for source, target in copies.items():
            _check(source)
            _check(target)
        slots = asyncio.Semaphore(self._max_concurrency)

        async def promote_one(source: str, target: str) -> None:
            async with slots:
                await self._copy(source, target)

        # Every copy is awaited before an error is raised: nothing keeps running after we return.
        outcomes = await asyncio.gather(
            *(promote_one(source, target) for source, target in copies.items()),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            _check(key)
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            with _boundary():
                response = await self._thread(
                    self._client.delete_objects,
                    Bucket=self._bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            errors = response.get("Errors", [])
            if errors:
                first = errors[0]
                raise ImageStorageUnavailable(
                    f"S3 did not delete {len(errors)} image(s), e.g. {first.get('Key')!r}: "
                    f"{first.get('Code')}"
                )

    async def read(self, key: str) -> Image:
        if not is_valid_key(key):
            raise ImageNotFound(f"no image at {key!r}")
        with _boundary(not_found=f"no image at {key!r}"):
            return await self._thread(self._get, key)

    async def put_export(self, key: str, data: bytes, media_type: str) -> None:
        await self._put(key, data, media_type)

    async def read_export(self, key: str) -> bytes:
        _check(key)
        with _boundary(not_found=f"no export at {key!r}"):
            return (await self._thread(self._get, key)).data

    async def list_objects(self, prefix: str) -> list[StoredObject]:
        # Many pages for `littlewriter reconcile`: each request has botocore's own timeouts,
        # the whole listing no deadline.
        with _boundary():
            return await asyncio.to_thread(self._list, prefix)

    def url(self, key: str) -> str:
        _check(key)
        return self._links.get(key, self._presign)

    def _presign(self, key: str, expires_in: int) -> str:
        with _boundary():
            return self._presigner.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in
            )

    async def ping(self) -> None:
        with _boundary():
            await self._thread(self._client.head_bucket, Bucket=self._bucket)

    async def _copy(self, source: str, target: str) -> None:
        # Staged images are never rewritten (each has its own uuid key), so copying again over a
        # copy already made writes the same bytes: no HeadObject first, one request per image.
        # Only when the source is gone does the permanent copy have to be there already.
        try:
            with _boundary(not_found="missing"):
                await self._thread(
                    self._client.copy_object,
                    Bucket=self._bucket,
                    Key=target,
                    CopySource={"Bucket": self._bucket, "Key": source},
                )
        except ImageNotFound:
            if await self._exists(target):
                return  # an earlier (or concurrent) finish copied it and deleted the staged one
            raise ImageNotFound(
                f"no staged image {source!r} and no permanent copy {target!r}"
            ) from None

    async def _exists(self, key: str) -> bool:
        try:
            with _boundary(not_found="missing"):
                await self._thread(self._client.head_object, Bucket=self._bucket, Key=key)
        except ImageNotFound:
            return False
        return True

    def _get(self, key: str) -> Image:
        response = self._client.get_object(Bucket=self._bucket, Key=key)
        with closing(response["Body"]) as body:
            data = body.read()
        content_type = response.get("ContentType", "")
        # Every layout key ends in .png; a type S3 made up (binary/octet-stream) means that.
        return Image(data, content_type if content_type in IMAGE_CONTENT_TYPES else "image/png")

    def _list(self, prefix: str) -> list[StoredObject]:
        found = []
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                key = item.get("Key", "")
                modified = item.get("LastModified")
                if modified is not None and is_valid_key(key):
                    found.append(StoredObject(key, modified.astimezone(UTC)))
        return sorted(found, key=lambda stored: stored.key)


class PresignedLinks:
    """Presigning costs about 0.2 ms a link, and a 20-page book answers 21 of them. A link is
    signed for `ttl + reuse` seconds and handed out again for `reuse` seconds, so every link a
    client gets is still valid for at least `ttl`, and a book's links are signed once a window."""

    def __init__(self, ttl: int, max_links: int = 20_000) -> None:
        self.ttl = ttl
        self.reuse = max(1, min(ttl // 2, 300))
        self._max_links = max_links
        self._links: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def get(self, key: str, presign: Callable[[str, int], str]) -> str:
        now = time.monotonic()
        cached = self._links.get(key)
        if cached is not None and now < cached[1]:
            self._links.move_to_end(key)
            return cached[0]
        url = presign(key, self.ttl + self.reuse)
        self._links[key] = (url, now + self.reuse)
        self._links.move_to_end(key)
        while len(self._links) > self._max_links:
            self._links.popitem(last=False)
        return url


async def ensure_lifecycle_rule(client: S3Client, bucket: str, days: int) -> None:
    """Make the bucket expire `staging/` after `days`, keeping every other rule as it is.

    The configuration is written only when our rule is missing or differs, so a restart of many
    replicas does not rewrite it each time.
    """
    if days < 1:
        raise ValueError("staged images must live at least a day")
    with _boundary():
        await asyncio.to_thread(_ensure_rule, client, bucket, staging_rule(days))


def staging_rule(days: int) -> LifecycleRuleTypeDef:
    return {
        "ID": LIFECYCLE_RULE_ID,
        "Filter": {"Prefix": STAGING_PREFIX},
        "Status": "Enabled",
        "Expiration": {"Days": days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }


def _ensure_rule(client: S3Client, bucket: str, wanted: LifecycleRuleTypeDef) -> None:
    extra: dict[str, Any] = {}
    try:
        current = client.get_bucket_lifecycle_configuration(Bucket=bucket)
    except ClientError as error:
        if _code(error) != "NoSuchLifecycleConfiguration":
            raise
        rules: list[LifecycleRuleOutputTypeDef] = []
    else:
        rules = current.get("Rules", [])
        if "TransitionDefaultMinimumObjectSize" in current:
            extra["TransitionDefaultMinimumObjectSize"] = current[
                "TransitionDefaultMinimumObjectSize"
            ]
    ours = [rule for rule in rules if rule.get("ID") == LIFECYCLE_RULE_ID]
    if len(ours) == 1 and _meaningful(ours[0]) == wanted:
        return
    kept: list[LifecycleRuleUnionTypeDef] = [
        rule for rule in rules if rule.get("ID") != LIFECYCLE_RULE_ID
    ]
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [*kept, wanted]}, **extra
    )


def _meaningful(rule: Mapping[str, Any]) -> dict[str, Any]:
    # Servers differ in echoing empty fields (MinIO sends Prefix ""); they change nothing.
    return {name: value for name, value in rule.items() if value not in (None, "", {}, [])}


def _check(key: str) -> None:
    if not is_valid_key(key):
        raise ValueError(f"not an image key of the storage layout: {key!r}")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def _boundary(not_found: str | None = None) -> Iterator[None]:
    """Translate botocore's errors: a missing object becomes `ImageNotFound(not_found)` when the
    caller expects one; anything else (no connection, a timeout, 5xx, AccessDenied, NoSuchBucket)
    means the storage is unusable right now."""
    try:
        yield
    except ClientError as error:
        code = _code(error)
        if not_found is not None and code in _NOT_FOUND:
            raise ImageNotFound(not_found) from None
        raise ImageStorageUnavailable(
            f"S3 refused {error.operation_name}: {code or 'unknown error'}"
        ) from error
    except BotoCoreError as error:
        raise ImageStorageUnavailable(f"S3 is unreachable: {error}") from error
