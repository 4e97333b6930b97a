"""Providers put the user and their roles in different claims: the settings say where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.infrastructure.settings import Settings
from app.infrastructure.tokens import InvalidToken, TokenCodec
from tests.jwks_server import ISSUER, SigningKey

KEY = SigningKey("k1")


def _codec(tmp_path: Path, **settings: Any) -> TokenCodec:
    return TokenCodec(
        Settings(
            data_dir=tmp_path,
            jwt_algorithm="RS256",
            jwt_public_key=KEY.public_pem.decode(),
            jwt_issuer=ISSUER,
            **settings,
        )
    )


def test_keycloak_realm_roles_by_a_dotted_path(tmp_path: Path) -> None:
    codec = _codec(tmp_path, jwt_roles_claim="realm_access.roles", jwt_admin_role="lw-admin")
    admin = KEY.token("0b6a3d55-9f29-4a57-9a43-3c1b7a1e2f10", realm_access={"roles": ["lw-admin"]})
    user = KEY.token("bob", realm_access={"roles": ["offline_access"]})

    assert codec.verify(admin).is_admin and not codec.verify(user).is_admin


def test_cognito_groups_by_a_name_with_a_colon(tmp_path: Path) -> None:
    codec = _codec(tmp_path, jwt_roles_claim="cognito:groups")

    assert codec.verify(KEY.token("carol", **{"cognito:groups": ["admin"]})).is_admin
    with pytest.raises(InvalidToken):
        codec.verify(KEY.token("dave", **{"cognito:groups": "admin"}))


def test_only_the_configured_admin_role_grants_admin(tmp_path: Path) -> None:
    codec = _codec(tmp_path, jwt_roles_claim="https://lw.example/roles", jwt_admin_role="owner")

    assert not codec.verify(KEY.token("erin", **{"https://lw.example/roles": ["admin"]})).is_admin
    assert codec.verify(KEY.token("erin", **{"https://lw.example/roles": ["owner"]})).is_admin


def test_auth0_subjects_become_stable_digests(tmp_path: Path) -> None:
    as_is, digest = _codec(tmp_path), _codec(tmp_path, jwt_user_id="sub-digest")

    with pytest.raises(InvalidToken):
        as_is.verify(KEY.token("auth0|5f7c8ec7c33c6c004bbafe82"))
    first = digest.verify(KEY.token("auth0|5f7c8ec7c33c6c004bbafe82")).user_id
    again = digest.verify(KEY.token("auth0|5f7c8ec7c33c6c004bbafe82", jti="another token"))
    other = digest.verify(KEY.token("google-oauth2|5f7c8ec7c33c6c004bbafe82")).user_id

    assert first.startswith("u-") and len(first) == 42 and first == again.user_id != other
