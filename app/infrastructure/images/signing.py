"""Expiring HMAC-signed image URLs, the local-storage stand-in for S3 presigned URLs."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta
from urllib.parse import quote

from app.application.errors import ImageLinkRejected
from app.application.ports.system import Clock

_EXPIRES = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_DOMAIN = b"littlewriter-image-url-v1\n"
MAX_CACHED_LINKS = 20_000


class ImageUrlSigner:
    """Signs `/images/{key}` links valid for at least `ttl`.

    The expiry is rounded up to the next `granularity` boundary, so the links made for one image
    within that window are identical and a client's HTTP cache can reuse the bytes; they are
    also signed once and kept until the window moves (an answer carries a link per page, and
    the HMAC and quoting were most of the cost of a reader's poll).
    """

    def __init__(
        self,
        secret: bytes,
        ttl: timedelta,
        clock: Clock,
        granularity: timedelta = timedelta(minutes=1),
    ) -> None:
        if not secret:
            raise ValueError("the image URL secret is empty")
        if ttl <= timedelta(0):
            raise ValueError("the image URL lifetime must be positive")
        if granularity < timedelta(seconds=1) or granularity % timedelta(seconds=1):
            raise ValueError("the expiry granularity must be a whole number of seconds")
        self._secret = secret
        self._ttl = ttl
        self._clock = clock
        self._granularity = int(granularity.total_seconds())
        self._ttl_seconds = ttl.total_seconds()
        self._links: dict[tuple[str, int], str] = {}
        self._links_expire = 0

    def sign(self, key: str) -> str:
        expires = self._expires()
        if expires != self._links_expire or len(self._links) >= MAX_CACHED_LINKS:
            self._links = {}  # a new window: no link of the last one is made again
            self._links_expire = expires
        link = self._links.get((key, expires))
        if link is None:
            signature = self._signature(key, str(expires))
            link = f"/images/{quote(key, safe='/@')}?expires={expires}&signature={signature}"
            self._links[(key, expires)] = link
        return link

    def verify(self, key: str, expires: str | None, signature: str | None) -> None:
        """Raises `ImageLinkRejected` unless this signer made the link and it has not expired."""
        # Shape first: compare_digest refuses non-ASCII strings and int() accepts "+1" or " 1".
        if expires is None or not _EXPIRES.fullmatch(expires):
            raise ImageLinkRejected("the image link has no valid expiry")
        if signature is None or not _SIGNATURE.fullmatch(signature):
            raise ImageLinkRejected("the image link has no valid signature")
        if not hmac.compare_digest(self._signature(key, expires), signature):
            raise ImageLinkRejected("the image link's signature is wrong")
        if self._clock.now().timestamp() > int(expires):
            raise ImageLinkRejected("the image link has expired")

    def _expires(self) -> int:
        earliest = int(self._clock.now().timestamp() + self._ttl_seconds)
        return (earliest // self._granularity + 1) * self._granularity

    def _signature(self, key: str, expires: str) -> str:
        message = _DOMAIN + key.encode("utf-8", "surrogatepass") + b"\n" + expires.encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
