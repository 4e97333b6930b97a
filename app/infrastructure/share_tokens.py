"""Share tokens: an HMAC-SHA256 of the link's id under a key of the service's (256 bits, in the
URL-safe base64 alphabet), so the token of a book's active link can be given again without
being stored; the database keeps its SHA-256 digest only, and a token is found by its digest."""

from __future__ import annotations

import base64
import hashlib
import hmac

from app.application.ports.sharing import ShareTokens
from app.domain.sharing import ShareLink

TOKEN_LENGTH = 43  # 32 bytes in unpadded base64url


class HmacShareTokens(ShareTokens):
    def __init__(self, *, key: bytes) -> None:
        self._key = key

    def token(self, link: ShareLink) -> str:
        mac = hmac.new(self._key, b"share-link:" + link.id.bytes, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def digest(self, token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
