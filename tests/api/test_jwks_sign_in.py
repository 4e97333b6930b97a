"""Tokens from an OpenID Connect provider, verified with the keys of its JWKS (served by the test
on loopback), over HTTP: keys rotated mid-run, the JWKS gone, and tokens that must be refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from pydantic import ValidationError

from app.infrastructure.settings import Settings
from tests.api.conftest import ClientFactory, assert_problem
from tests.jwks_server import AUDIENCE, ISSUER, JwksServer, SigningKey, jwks_server

CACHE_SECONDS = 1.0


@pytest.fixture(scope="module")
def keys() -> tuple[SigningKey, SigningKey]:
    return SigningKey("key-a"), SigningKey("key-b")


@pytest.fixture
def provider(keys: tuple[SigningKey, SigningKey]) -> Iterator[JwksServer]:
    with jwks_server(keys[0]) as server:
        yield server


async def _client(make_client: ClientFactory, provider: JwksServer) -> httpx.AsyncClient:
    return await make_client(
        jwt_secret=None,
        jwt_algorithm="RS256",
        jwt_jwks_url=provider.url,
        jwt_issuer=ISSUER,
        jwt_jwks_cache_seconds=CACHE_SECONDS,
        jwt_jwks_cooldown_seconds=0,
        jwt_jwks_timeout_seconds=2,
    )


async def _books(api: httpx.AsyncClient, token: str) -> httpx.Response:
    return await api.get("/v1/books", headers={"Authorization": f"Bearer {token}"})


async def test_keys_rotated_mid_run(
    make_client: ClientFactory, provider: JwksServer, keys: tuple[SigningKey, SigningKey]
) -> None:
    key_a, key_b = keys
    api = await _client(make_client, provider)
    token_a = key_a.token()
    assert (await _books(api, token_a)).status_code == 200
    assert (await _books(api, key_a.token("bob"))).status_code == 200
    assert provider.fetches == 1  # the set is kept, not fetched per token

    provider.published = [key_a, key_b]  # the provider rotates: B signs from now on
    token_b = key_b.token()
    assert (await _books(api, token_b)).status_code == 200  # unknown kid: fetched again at once
    assert provider.fetches == 2

    provider.published = [key_b]  # A is withdrawn
    await asyncio.sleep(CACHE_SECONDS + 0.2)  # the key set, and tokens checked with it, expire
    refused = await _books(api, token_a)
    assert_problem(refused, 401, "unauthorized")
    assert refused.json()["detail"] == "The bearer token is not valid."
    assert_problem(await _books(api, key_a.token("carol")), 401, "unauthorized")
    assert (await _books(api, token_b)).status_code == 200

    provider.stop()  # the JWKS is gone: a kid it might publish cannot be checked
    unknown = await _books(api, SigningKey("key-c").token())
    assert_problem(unknown, 503, "dependency_unavailable")
    assert unknown.headers["retry-after"]
    assert (await _books(api, token_b)).status_code == 200  # a known token still works


async def test_a_jwks_fetch_does_not_hold_up_other_requests(
    make_client: ClientFactory, provider: JwksServer, keys: tuple[SigningKey, SigningKey]
) -> None:
    api = await _client(make_client, provider)
    provider.delay = 1.0

    started = time.monotonic()

    async def health_time() -> float:
        await asyncio.sleep(0.2)  # while the first token's key set is being fetched
        assert (await api.get("/health")).status_code == 200
        return time.monotonic() - started

    books, waited = await asyncio.gather(_books(api, keys[0].token()), health_time())

    assert books.status_code == 200
    assert waited < 0.2 + 0.5  # not after the fetch's second


def _hs256_with_public_key(key: SigningKey) -> str:
    """The algorithm-confusion attack: HS256, the provider's public key as the HMAC secret."""

    def part(data: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")

    now = int(time.time())
    claims = {"sub": "mallory", "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 600}
    signed = part({"alg": "HS256", "typ": "JWT", "kid": key.kid}) + b"." + part(claims)
    mac = hmac.new(key.public_pem, signed, hashlib.sha256).digest()
    return (signed + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()


def _unsigned(key: SigningKey) -> str:
    now = int(time.time())
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": key.kid}).encode())
    claims = {"sub": "mallory", "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + 600}
    body = base64.urlsafe_b64encode(json.dumps(claims).encode())
    return f"{header.rstrip(b'=').decode()}.{body.rstrip(b'=').decode()}."


REFUSED = {
    "alg confusion": _hs256_with_public_key,
    "alg none": _unsigned,
    "wrong issuer": lambda key: key.token(iss="https://evil.example/"),
    "no issuer": lambda key: key.token(iss=None),
    "wrong audience": lambda key: key.token(aud="another-api"),
    "no kid": lambda key: key.token().replace(
        key.token().split(".")[0],
        base64.urlsafe_b64encode(b'{"alg":"RS256","typ":"JWT"}').rstrip(b"=").decode(),
    ),
    "signed by a key not published": lambda key: SigningKey(key.kid).token(),
    "a sub that is not a user id": lambda key: key.token(sub="auth0|abc"),
}


@pytest.mark.parametrize("case", REFUSED)
async def test_refused_tokens_are_401(
    make_client: ClientFactory,
    provider: JwksServer,
    keys: tuple[SigningKey, SigningKey],
    case: str,
) -> None:
    api = await _client(make_client, provider)

    response = await _books(api, REFUSED[case](keys[0]))

    problem = assert_problem(response, 401, "unauthorized")
    assert problem["detail"] == "The bearer token is not valid."
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_page_learns_the_providers_sign_in_and_the_admin_role_without_a_token(
    make_client: ClientFactory,
) -> None:
    unset = await (await make_client()).get("/auth/config")
    api = await make_client(
        oidc_authorize_url="https://id.example/authorize",
        oidc_token_url="https://id.example/oauth/token",
        oidc_client_id="web",
        oidc_audience="https://lw.example/api",
        jwt_roles_claim="realm_access.roles",
        jwt_admin_role="lw-admin",
    )
    configured = await api.get("/auth/config")

    assert unset.status_code == 200
    assert unset.json() == {"oidc": None, "roles_claim": "roles", "admin_role": "admin"}
    assert configured.json() == {
        "roles_claim": "realm_access.roles",
        "admin_role": "lw-admin",
        "oidc": {
            "authorize_url": "https://id.example/authorize",
            "token_url": "https://id.example/oauth/token",
            "client_id": "web",
            "scope": "openid",
            "token": "access_token",
            "audience": "https://lw.example/api",
        },
    }


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"jwt_algorithm": "HS256"}, "RS256 or ES256"),
        ({"jwt_issuer": None}, "LW_JWT_ISSUER"),
        ({"jwt_public_key": "pem"}, "not both"),
        ({"jwt_jwks_url": "file:///etc/passwd"}, "http(s) URL"),
        ({"oidc_client_id": "web"}, "go together"),
    ],
)
def test_settings_refuse_a_provider_half_set_up(settings: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {
        "jwt_algorithm": "RS256",
        "jwt_jwks_url": "https://id.example/.well-known/jwks.json",
        "jwt_issuer": ISSUER,
    }
    with pytest.raises(ValidationError, match=re.escape(message)):
        Settings(**(values | settings))


async def test_a_token_naming_a_key_of_another_type_is_refused_not_an_error(
    make_client: ClientFactory, provider: JwksServer, keys: tuple[SigningKey, SigningKey]
) -> None:
    """Providers publish keys of several types; a token with the pinned `alg` that names an EC
    key (no signature needed to try it) is a refused token, not a crash of the check."""
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key()
    provider.other_keys = [json.loads(ECAlgorithm.to_jwk(ec_public)) | {"kid": "ec-key"}]
    api = await _client(make_client, provider)
    forged = jwt.encode({"sub": "alice"}, keys[0].private, "RS256", headers={"kid": "ec-key"})

    assert_problem(await _books(api, forged), 401, "unauthorized")
    assert (await _books(api, keys[0].token())).status_code == 200  # the RSA key still works


@pytest.mark.parametrize("answer", [[], {"keys": []}, {"keys": [{"kty": "nonsense"}]}])
async def test_a_jwks_answering_no_usable_key_set_is_unavailable_not_a_refusal(
    make_client: ClientFactory, provider: JwksServer, answer: Any
) -> None:
    provider.answer = answer  # what a misconfigured provider or a proxy in the way might say
    api = await _client(make_client, provider)

    unknown = await _books(api, SigningKey("key-c").token())
    assert_problem(unknown, 503, "dependency_unavailable")
    assert unknown.headers["retry-after"]
