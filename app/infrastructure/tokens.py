"""JWT bearer tokens (PyJWT): the signing key, issuing tokens for the CLI, verifying requests.

In development with no LW_JWT_SECRET, `littlewriter serve` generates a secret once into the data
dir; `littlewriter token` and `login-link` read it and never make one (made in another folder it
would sign tokens that the server refuses)."""

from __future__ import annotations

import asyncio
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

from app.infrastructure.jwks import JwksKeys
from app.infrastructure.settings import Environment, Settings

SECRET_FILE = "jwt_secret"  # noqa: S105 - a file name, not a secret
LINK_SECRET_FILE = "image_link_secret"  # noqa: S105 - a file name
_SUB = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
LEEWAY_SECONDS = 5  # clock skew allowed between the token's issuer and this server
VERIFIED_TOKENS_KEPT = 10_000


class InvalidToken(Exception):
    """The bearer token is missing a claim, badly signed, expired or otherwise unusable."""

    def __init__(self, reason: str, *, bad_signature: bool = False) -> None:
        super().__init__(reason)
        self.bad_signature = bad_signature  # well formed, but not signed with our key


class ConfigurationError(Exception):
    """The settings cannot run safely (refused at start-up, with this message)."""


class MissingSecret(ConfigurationError):
    """A command that only signs found no development secret to sign with."""


@dataclass(frozen=True, slots=True)
class Secret:
    value: str
    source: str  # where it came from, for a person: "LW_JWT_SECRET" or the file's path
    path: Path | None = None  # the development secret's file


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    roles: frozenset[str]
    expires_at: datetime  # the token's `exp`: what it allows ends then, open streams included

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def resolve_secret(settings: Settings, *, create: bool = True) -> Secret:
    """The JWT secret: LW_JWT_SECRET, else (development) the data dir's file, made when missing
    only if `create` (the server does; a command that only signs must not)."""
    if settings.jwt_secret is not None:
        return Secret(settings.jwt_secret.get_secret_value(), "LW_JWT_SECRET")
    path = settings.data_dir / SECRET_FILE
    if not create and settings.env is Environment.DEVELOPMENT and not path.exists():
        raise MissingSecret(
            f"no development secret at {path} (LW_DATA_DIR is {settings.data_dir}). "
            "`littlewriter serve` makes it on its first start: start the server first, and run "
            "this in the folder it runs in or with its LW_DATA_DIR (or set LW_JWT_SECRET)"
        )
    value = _secret_file(settings, SECRET_FILE, "LW_JWT_SECRET")
    return Secret(value, f"the secret in {path}", path)


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
        return resolve_secret(settings).value.encode()
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
    CPU of a small request), and with a JWKS no longer than its key set is kept; `timer` is the
    wall clock that `exp` is compared with. `keys` (the provider's JWKS) is required when
    LW_JWT_JWKS_URL is set; `make_secret` lets the server create the development secret."""

    def __init__(
        self,
        settings: Settings,
        *,
        timer: Callable[[], float] = time.time,
        keys: JwksKeys | None = None,
        make_secret: bool = True,
    ) -> None:
        if settings.jwt_jwks_url is not None and keys is None:
            raise ConfigurationError("LW_JWT_JWKS_URL is set but no JWKS client was given")
        self._algorithm = settings.jwt_algorithm
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._claims = ClaimRules(settings)
        symmetric = self._algorithm.startswith("HS")
        secret = resolve_secret(settings, create=make_secret) if symmetric else None
        self.secret_source = secret.source if secret else None
        self.secret_path = secret.path if secret else None
        self._verify_key: Any = secret.value if secret else settings.jwt_public_key
        self._signing_key: Any = secret.value if secret else None
        self._keys = keys
        self._max_ttl = timedelta(seconds=settings.jwt_max_ttl_seconds)
        self._timer = timer
        kept_for = keys.lifespan if keys is not None else float("inf")

        def usable_until(token: str, principal: Principal, now: float) -> float:
            return min(_usable_until(token, principal, now), now + kept_for)

        self._verified: TLRUCache[str, Principal, float] = TLRUCache(
            maxsize=VERIFIED_TOKENS_KEPT, ttu=usable_until, timer=timer
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
        """The token's principal; `InvalidToken` says why not (for the log, not the client).
        With a JWKS this may wait for the network: on the event loop, use `authenticate`."""
        return self._checked(token, self._remembered(token) or self._decoded(token))

    async def authenticate(self, token: str) -> Principal:
        """`verify` for the event loop: a token not seen before is checked in a thread when its
        key may have to be fetched. `SigningKeysUnavailable` when the JWKS cannot be reached."""
        principal = self._remembered(token)
        if principal is None:
            if self._keys is None:
                principal = self._decoded(token)
            else:
                principal = await asyncio.to_thread(self._decoded, token)
        return self._checked(token, principal)

    def _remembered(self, token: str) -> Principal | None:
        with self._lock:
            return self._verified.get(token)

    def _decoded(self, token: str) -> Principal:
        principal = self._decode(token)
        with self._lock:
            self._verified[token] = principal
        return principal

    def _checked(self, token: str, principal: Principal) -> Principal:
        if self._timer() >= _usable_until(token, principal, 0.0):
            raise InvalidToken("Signature has expired")
        return principal

    def _key_for(self, token: str) -> Any:
        """The key to check this token with; its header's `alg` must be the pinned one (never
        taken from the token) before any key is looked up."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from None
        if header.get("alg") != self._algorithm:
            raise InvalidToken(f"alg {header.get('alg')!r} is not {self._algorithm}")
        if self._keys is None:
            return self._verify_key
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("a token from the identity provider needs a kid")
        key = self._keys.key_for(kid)
        if key is None:
            raise InvalidToken(f"the JWKS has no key {kid!r}", bad_signature=True)
        return key

    def _decode(self, token: str) -> Principal:
        # `exp` is required and checked by `verify` against `timer`, for cached tokens too.
        required = ["sub", "exp", "iat", "aud"] + (["iss"] if self._issuer else [])
        key = self._key_for(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": required, "verify_exp": False},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.InvalidSignatureError as error:
            raise InvalidToken(str(error), bad_signature=True) from None
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from None
        user_id = self._claims.user_id(claims)
        roles = self._claims.roles(claims)
        expires, issued = claims["exp"], claims["iat"]
        for name, value in (("exp", expires), ("iat", issued)):
            if type(value) not in (int, float):  # PyJWT also takes "123" (and True) as a time
                raise InvalidToken(f"{name} must be a number")
        if expires - issued > self._max_ttl.total_seconds():
            raise InvalidToken("the token lives longer than LW_JWT_MAX_TTL_SECONDS allows")
        return Principal(user_id, roles, datetime.fromtimestamp(expires, UTC))


class ClaimRules:
    """Who the token names and what it may do, from the claims where its issuer puts them."""

    def __init__(self, settings: Settings) -> None:
        self._roles_claim = settings.jwt_roles_claim
        self._admin_role = settings.jwt_admin_role
        self._digest = settings.jwt_user_id == "sub-digest"

    def user_id(self, claims: dict[str, Any]) -> str:
        sub = claims.get("sub")
        if self._digest:
            if not isinstance(sub, str) or not 1 <= len(sub) <= 255:
                raise InvalidToken("sub must be 1-255 characters")
            # The issuer too: two providers' equal subjects are two people.
            digest = hashlib.sha256(f"{claims.get('iss', '')}\n{sub}".encode()).hexdigest()
            return f"u-{digest[:40]}"
        if not isinstance(sub, str) or not _SUB.fullmatch(sub) or sub in {".", ".."}:
            raise InvalidToken("sub must be 1-64 characters of A-Z a-z 0-9 _ . @ -")
        return sub

    def roles(self, claims: dict[str, Any]) -> frozenset[str]:
        roles = _claim(claims, self._roles_claim)
        if roles is None:
            return frozenset()
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidToken(f"{self._roles_claim} must be a list of strings")
        # Only the configured role grants admin: a provider's own "admin" means something else.
        granted = {role for role in roles if role != "admin"}
        return frozenset(granted | ({"admin"} if self._admin_role in roles else set()))


def _claim(claims: dict[str, Any], name: str) -> Any:
    """A top-level claim by its whole name (`cognito:groups`, `https://x.example/roles`), else
    a dotted path into nested objects (`realm_access.roles`)."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _usable_until(_token: str, principal: Principal, _now: float) -> float:
    return principal.expires_at.timestamp() + LEEWAY_SECONDS
