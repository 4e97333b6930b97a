"""JWT bearer tokens (PyJWT): the signing key, issuing tokens for the CLI, verifying requests.

In development with no LW_JWT_SECRET, a secret is generated once into the data dir so that
`littlewriter serve` and `littlewriter token` agree across restarts."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cachetools import TLRUCache

from app.infrastructure.settings import Environment, Settings

SECRET_FILE = "jwt_secret"  # noqa: S105 - a file name, not a secret
LINK_SECRET_FILE = "image_link_secret"  # noqa: S105 - a file name
_SUB = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
LEEWAY_SECONDS = 5  # clock skew allowed between the token's issuer and this server
VERIFIED_TOKENS_KEPT = 10_000


class InvalidToken(Exception):
    """The bearer token is missing a claim, badly signed, expired or otherwise unusable."""


class ConfigurationError(Exception):
    """The settings cannot run safely (refused at start-up, with this message)."""


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    roles: frozenset[str]
    expires_at: datetime  # the token's `exp`: what it allows ends then, open streams included

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def resolve_secret(settings: Settings) -> str:
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    return _secret_file(settings, SECRET_FILE, "LW_JWT_SECRET")


def resolve_link_key(settings: Settings) -> bytes:
    """The key that signs the service's own image links: its own setting, or derived from the
    JWT secret so that one secret is enough for every process of a deployment."""
    return hmac.new(_link_secret(settings), b"littlewriter image links", hashlib.sha256).digest()


def resolve_share_key(settings: Settings) -> bytes:
    """The key that makes share tokens: derived from the image links' secret, for another use."""
    return hmac.new(_link_secret(settings), b"littlewriter share links", hashlib.sha256).digest()


def _link_secret(settings: Settings) -> bytes:
    if settings.image_url_secret is not None:
        return settings.image_url_secret.get_secret_value().encode()
    if settings.jwt_algorithm.startswith("HS"):
        return resolve_secret(settings).encode()
    return _secret_file(settings, LINK_SECRET_FILE, "LW_IMAGE_URL_SECRET").encode()


def _secret_file(settings: Settings, name: str, setting: str) -> str:
    if settings.env is Environment.PRODUCTION:
        raise ConfigurationError(f"{setting} must be set in production")
    path = settings.data_dir / name
    if not path.exists():
        _write_new_secret(path)
    return path.read_text().strip()


def _write_new_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process (serve or token) created it first; use theirs
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))


class TokenCodec:
    """Issues and verifies tokens. A verified token is remembered until its own `exp` (a client
    sends the same token with every request, and checking its signature again is a fifth of the
    CPU of a small request); `timer` is the wall clock that `exp` is compared with."""

    def __init__(self, settings: Settings, *, timer: Callable[[], float] = time.time) -> None:
        self._algorithm = settings.jwt_algorithm
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        symmetric = self._algorithm.startswith("HS")
        secret = resolve_secret(settings) if symmetric else None
        self._verify_key: Any = secret if symmetric else settings.jwt_public_key
        self._signing_key: Any = secret
        self._max_ttl = timedelta(seconds=settings.jwt_max_ttl_seconds)
        self._timer = timer
        self._verified: TLRUCache[str, Principal, float] = TLRUCache(
            maxsize=VERIFIED_TOKENS_KEPT, ttu=_usable_until, timer=timer
        )
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def issue(self, user_id: str, now: datetime, ttl: timedelta, *, admin: bool = False) -> str:
        if self._signing_key is None:
            raise ConfigurationError(
                f"tokens for {self._algorithm} are issued by the identity provider, not here"
            )
        if not _SUB.fullmatch(user_id) or user_id in {".", ".."}:
            raise ValueError("USER_ID must be 1-64 characters of A-Z a-z 0-9 _ . @ -")
        if ttl > self._max_ttl:
            raise ValueError(
                f"a token lives at most {int(self._max_ttl.total_seconds())} s "
                "(LW_JWT_MAX_TTL_SECONDS)"
            )
        claims: dict[str, Any] = {
            "sub": user_id,
            "aud": self._audience,
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
        }
        if self._issuer:
            claims["iss"] = self._issuer
        if admin:
            claims["roles"] = ["admin"]
        return jwt.encode(claims, self._signing_key, algorithm=self._algorithm)

    def verify(self, token: str) -> Principal:
        """The token's principal; `InvalidToken` says why not (for the log, not the client)."""
        with self._lock:
            principal = self._verified.get(token)
        if principal is None:
            principal = self._decode(token)
            with self._lock:
                self._verified[token] = principal
        if self._timer() >= _usable_until(token, principal, 0.0):
            raise InvalidToken("Signature has expired")
        return principal

    def _decode(self, token: str) -> Principal:
        # `exp` is required and checked by `verify` against `timer`, for cached tokens too.
        required = ["sub", "exp", "iat", "aud"] + (["iss"] if self._issuer else [])
        try:
            claims = jwt.decode(
                token,
                self._verify_key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": required, "verify_exp": False},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not _SUB.fullmatch(sub) or sub in {".", ".."}:
            raise InvalidToken("sub must be 1-64 characters of A-Z a-z 0-9 _ . @ -")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidToken("roles must be a list of strings")
        expires, issued = claims["exp"], claims["iat"]
        for name, value in (("exp", expires), ("iat", issued)):
            if type(value) not in (int, float):  # PyJWT also takes "123" (and True) as a time
                raise InvalidToken(f"{name} must be a number")
        if expires - issued > self._max_ttl.total_seconds():
            raise InvalidToken("the token lives longer than LW_JWT_MAX_TTL_SECONDS allows")
        return Principal(sub, frozenset(roles), datetime.fromtimestamp(expires, UTC))


def _usable_until(_token: str, principal: Principal, _now: float) -> float:
    return principal.expires_at.timestamp() + LEEWAY_SECONDS
