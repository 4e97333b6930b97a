"""The identity provider's public keys, from its JWKS URL, with PyJWT's `PyJWKClient`.

Why PyJWT's client: it is the library that already verifies our tokens, it keeps the key set for
a lifespan, fetches it again at once for a `kid` it does not know (at most once per cooldown,
so made-up kids cannot make us hammer the provider), refuses redirects and non-http schemes,
and serialises fetches with a lock. Its per-key cache (`cache_keys`) is left off: it never
forgets a key, so a key the provider removed would stay trusted for the life of the process.

Every call may block on the network: callers run it off the event loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError, PyJWKSetError

from app.application.errors import DependencyUnavailable

# The JWK key type (`kty`) each family of the pinned algorithm takes.
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}


class SigningKeysUnavailable(DependencyUnavailable):
    """The identity provider's key set could not be fetched (a token's key is not known yet)."""


class _BackingOffClient(PyJWKClient):
    """PyJWT's client, except that a JWKS which just failed is not asked again for a while:
    a cooldown counts only successful fetches, and without this every request with an unknown
    kid would wait for its own fetch of an unreachable JWKS."""

    def __init__(self, uri: str, *, backoff: float, timer: Callable[[], float], **kwargs: Any):
        super().__init__(uri, **kwargs)
        self._backoff = backoff
        self._timer = timer
        self._failed_until = float("-inf")

    def fetch_data(self) -> Any:
        if self._timer() < self._failed_until:
            raise PyJWKClientConnectionError("the JWKS did not answer moments ago")
        try:
            return super().fetch_data()
        except (PyJWKClientError, PyJWKSetError, ValueError) as error:
            # No key set: unreachable, not a JSON object, or no key this service can use
            # (PyJWKClientError, PyJWKSetError), or not JSON at all (a proxy's error page: a
            # ValueError, which PyJWT lets out).
            self._failed_until = self._timer() + self._backoff
            raise PyJWKClientConnectionError(str(error)) from None


class JwksKeys:
    """Public keys by `kid`; `lifespan` is also how long a verified token may be remembered
    (a token stays trusted no longer than its key would)."""

    def __init__(
        self, url: str, *, algorithm: str, lifespan: float, cooldown: float, timeout: float
    ) -> None:
        self.lifespan = lifespan
        self._key_type = _KEY_TYPES[algorithm[:2]]
        self._client = _BackingOffClient(
            url,
            backoff=cooldown,
            timer=time.monotonic,  # PyJWT times its own cache and cooldown with it
            cache_keys=False,
            cache_jwk_set=True,
            lifespan=lifespan,
            cooldown_duration=cooldown,
            timeout=timeout,
        )

    def key_for(self, kid: str) -> Any | None:
        """The public key named `kid`, or None when the provider does not publish it.
        Raises `SigningKeysUnavailable` when the key set cannot be fetched."""
        try:
            found = self._client.get_signing_key(kid)
        except PyJWKClientConnectionError as error:
            raise SigningKeysUnavailable(f"could not fetch the JWKS: {error}") from None
        except PyJWKClientError:
            return None
        # A provider publishes keys of several types; one of another type than the pinned
        # algorithm's cannot check this token (PyJWT would raise TypeError on it).
        return found.key if found.key_type == self._key_type else None
